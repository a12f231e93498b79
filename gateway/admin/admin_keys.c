/*
 * admin_keys.c: a tenant's own API keys (GET/POST /api/v1/api-keys, DELETE
 * /api/v1/api-keys/{id}). A key is shown once, in the answer that creates it; afterwards only
 * its prefix (to tell keys apart), name and dates. Revoking takes effect at once: the next
 * request with that key answers 401 (api_key_tenant reads only keys that are not revoked,
 * with no cache). The last key of a tenant cannot be revoked: the seller would lock
 * themselves out.
 */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "pg.h"
#include "tenant.h"

#define KEY_COLS                                                                                   \
	"k.id, k.name, k.prefix, to_json(k.created_at)#>>'{}', to_json(k.last_used_at)#>>'{}', "  \
	"to_json(k.revoked_at)#>>'{}'"
#define KEY_NCOLS   6
#define KEY_MISSING "no such API key"

static json_t *key_json(const struct admin_call *call, const PGresult *res, int r)
{
	(void)call; /* an admin_row_fn */
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:b}", "id", admin_col_string(res, r, 0),
	                 "name", admin_col_string(res, r, 1), "prefix",
	                 admin_col_string(res, r, 2), "created_at", admin_col_string(res, r, 3),
	                 "last_used_at", admin_col_string(res, r, 4), "revoked_at",
	                 admin_col_string(res, r, 5), "active", PQgetisnull(res, r, 5));
}

/* ---- GET /api/v1/api-keys ---- */

ADMIN_HANDLER(admin_keys_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " KEY_COLS ", " ADMIN_CURSOR_SQL("k.created_at", "k.id")
	           " FROM api_keys k WHERE k.tenant_id = app_tenant_id() "
	           "AND " ADMIN_LIST_AFTER_SQL("k.created_at", "k.id", ">")
	           " ORDER BY k.created_at, k.id LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = KEY_NCOLS,
	    .row = key_json,
	};

	admin_list_serve(ctx, req, resp, &list);
}

/* ---- POST /api/v1/api-keys ---- */

struct create_state {
	const char *name;
};

static int create_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct create_state *st = arg;
	char key[TENANT_API_KEY_MAX], hash[65];
	const char *params[1] = {hash};
	PGresult *res;
	json_t *o;

	if (tenant_api_key_add(conn, call->tenant_id, st->name, key) != 0)
		return PG_ERR_QUERY;
	util_sha256_hex(key, strlen(key), hash);
	res = pg_exec(conn,
	              "SELECT " KEY_COLS " FROM api_keys k WHERE k.tenant_id = app_tenant_id()"
	              " AND k.key_hash = $1",
	              1, params);
	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return PG_ERR_QUERY;
	}
	o = key_json(call, res, 0);
	PQclear(res);
	/* the only time the key itself is answered: it is stored as a hash */
	json_object_set_new(o, "api_key", json_string(key));
	admin_answer_json(call, 201, o);
	memset(key, 0, sizeof(key));
	return 0;
}

ADMIN_HANDLER(admin_keys_create)
{
	static const char *const fields[] = {"name", NULL};
	struct admin_call call;
	struct jfield_error err;
	struct create_state st = {"default"};
	json_t *body = NULL;

	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (jfield_known(body, "", fields, &err) < 0 ||
	    jfield_string(body, "", "name", 0, 1, 100, &st.name, &err) < 0) {
		admin_answer_verr(&call, &err);
		goto out;
	}
	/* no Idempotency-Key replay here: a replay is served from a stored answer, and this
	 * answer holds the key, which is never stored (a retried create makes a second key; the
	 * list shows both) */
	call.idem_key = NULL;
	admin_call_run(&call, create_tx, &st);
out:
	json_decref(body);
	admin_call_end(&call);
}

/* ---- DELETE /api/v1/api-keys/{id} ---- */

static int revoke_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	const char *params[1] = {call->id};
	PGresult *res;
	int i, n, found = 0, active = 0;

	(void)arg;
	/* the tenant's active keys, locked: two revokes at once cannot both pass the check */
	res = pg_exec(conn,
	              "SELECT id, revoked_at IS NULL FROM api_keys WHERE tenant_id = app_tenant_id()"
	              " ORDER BY id FOR UPDATE",
	              0, NULL);
	if (!res)
		return PG_ERR_QUERY;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		int is_active = strcmp(PQgetvalue(res, i, 1), "t") == 0;

		active += is_active;
		if (strcmp(PQgetvalue(res, i, 0), call->id) == 0)
			found = is_active ? 1 : 2;
	}
	PQclear(res);
	if (!found) {
		admin_answer_not_found(call, KEY_MISSING);
		return ADMIN_ROLLBACK;
	}
	if (found == 1 && active <= 1) {
		admin_answer_error(call, 409, "last_key", NULL,
		                   "this is the tenant's last active API key: create another one "
		                   "before revoking it");
		return ADMIN_ROLLBACK;
	}
	if (found == 1 && pg_cmd(conn,
	                         "UPDATE api_keys SET revoked_at = now()"
	                         " WHERE tenant_id = app_tenant_id() AND id = $1",
	                         1, params) < 0)
		return PG_ERR_QUERY;
	admin_answer_empty(call, 204); /* revoking a revoked key again changes nothing */
	return 0;
}

ADMIN_HANDLER(admin_keys_delete)
{
	admin_id_serve(ctx, req, resp, KEY_MISSING, revoke_tx, NULL);
}
