/*
 * admin_targets.c: where the seller hears of new orders (CONTRACT notification targets): a
 * recipient reached through one of the tenant's channels (its adapter names and checks the
 * recipient field: notify_field, notify_read), or a
 * webhook URL whose deliveries are signed with the target's secret. The secret is sealed
 * (secrets.h) and never answered; commerce/notify.c and the dispatcher use the rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "channel.h"
#include "urlguard.h"
#include "pg.h"
#include "app.h"
#include "util.h"

#define TARGET_COLS                                                                                \
	"t.id, t.kind, t.channel_id, t.chat_id, t.to_number, t.url, t.active, "                    \
	"t.secret IS NOT NULL, to_json(t.created_at)#>>'{}', to_json(t.updated_at)#>>'{}'"
#define TARGET_NCOLS   10
#define TARGET_MISSING "no such notification target"

static json_t *target_json(const struct admin_call *call, const PGresult *res, int r)
{
	const char *kind = pg_value(res, r, 1);
	json_t *o =
	    json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "id", admin_col_string(res, r, 0), "kind",
	              admin_col_string(res, r, 1), "active", admin_col_bool(res, r, 6),
	              "has_secret", admin_col_bool(res, r, 7), "created_at",
	              admin_col_string(res, r, 8), "updated_at", admin_col_string(res, r, 9));

	(void)call; /* an admin_row_fn */
	if (!o || !kind)
		return o;
	if (strcmp(kind, "webhook") == 0) {
		json_object_set_new(o, "url", admin_col_string(res, r, 5));
	} else {
		const struct channel_ops *ops = channel_ops_find(kind);

		json_object_set_new(o, "channel_id", admin_col_string(res, r, 2));
		if (ops && ops->notify_field)
			json_object_set_new(o, ops->notify_field,
			                    admin_col_string(res, r, ops->notify_phone ? 4 : 3));
	}
	return o;
}

/* ---- POST /api/v1/notification-targets ---- */

struct create_state {
	const char *kind;
	const char *channel_id;
	char address[72]; /* the recipient on the channel: a chat id or a phone number */
	int phone;        /* address is a phone number (to_number), else a chat id */
	const char *url;
	char *sealed; /* bytea text of the webhook secret */
};

static int create_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct create_state *st = arg;
	const char *params[6];
	PGresult *res;

	if (st->channel_id) {
		const char *status;
		int found;

		params[0] = st->channel_id;
		res = pg_exec(conn,
		              "SELECT type, status FROM channels WHERE tenant_id = app_tenant_id() "
		              "AND id = $1",
		              1, params);
		if (!res)
			return PG_ERR_QUERY;
		found = PQntuples(res) == 1;
		if (!found) {
			PQclear(res);
			admin_answer_error(call, 404, "not_found", "channel_id",
			                   "channel_id: no such channel");
			return ADMIN_ROLLBACK;
		}
		status = PQgetvalue(res, 0, 1);
		if (strcmp(PQgetvalue(res, 0, 0), st->kind) != 0) {
			admin_answer_error(
			    call, 400, "validation", "channel_id",
			    "channel_id: a %s target needs a %s channel, this one is %s", st->kind,
			    st->kind, PQgetvalue(res, 0, 0));
			PQclear(res);
			return ADMIN_ROLLBACK;
		}
		if (strcmp(status, "disabled") == 0) {
			PQclear(res);
			admin_answer_error(call, 400, "validation", "channel_id",
			                   "channel_id: the channel is disabled");
			return ADMIN_ROLLBACK;
		}
		PQclear(res);
	}
	params[0] = st->kind;
	params[1] = st->channel_id;
	params[2] = st->address[0] && !st->phone ? st->address : NULL;
	params[3] = st->address[0] && st->phone ? st->address : NULL;
	params[4] = st->url;
	params[5] = st->sealed;
	res =
	    pg_exec(conn,
	            "INSERT INTO notification_targets AS t (tenant_id, kind, channel_id, chat_id, "
	            "to_number, url, secret) VALUES (app_tenant_id(), $1, $2::uuid, $3, $4, $5, "
	            "$6::bytea) RETURNING " TARGET_COLS,
	            6, params);
	if (!res)
		return PG_ERR_QUERY;
	admin_answer_json(call, 201, target_json(call, res, 0));
	PQclear(res);
	return 0;
}

/* The kinds of target, for an error: each channel type that has recipients, or webhook. */
static void target_kinds(char *out, size_t outlen)
{
	const struct channel_ops *ops;
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; (ops = channel_ops_at(i)); i++)
		if (ops->notify_read && n < outlen)
			n += (size_t)snprintf(out + n, outlen - n, "\"%s\", ", ops->type);
	if (n >= 2 && n < outlen)
		out[n - 2] = '\0';
	if (n < outlen)
		snprintf(out + strlen(out), outlen - strlen(out), " or \"webhook\"");
}

ADMIN_HANDLER(admin_targets_create)
{
	static const char *const wh_fields[] = {"kind", "url", "secret", NULL};
	const struct channel_ops *ops;
	char kinds[160];
	struct admin_call call;
	struct jfield_error err;
	struct create_state st;
	json_t *body = NULL;
	const char *secret = NULL;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (jfield_string(body, "", "kind", 1, 1, 16, &st.kind, &err) < 0)
		goto invalid;
	if (strcmp(st.kind, "webhook") == 0) {
		if (jfield_known(body, "", wh_fields, &err) < 0 ||
		    jfield_string(body, "", "url", 1, 8, 2048, &st.url, &err) < 0)
			goto invalid;
		if ((strncmp(st.url, "https://", 8) != 0 && strncmp(st.url, "http://", 7) != 0) ||
		    strpbrk(st.url, " \t\r\n")) {
			jfield_error_set(&err, "", "url", "must be an http:// or https:// URL");
			goto invalid;
		}
		{
			char why[300];

			/* no calls into the operator's network (checked again at every send) */
			if (urlguard_check(st.url, (int)ctx->app->cfg->webhook_allow_private, why,
					   sizeof(why)) < 0) {
				jfield_error_set(&err, "", "url", "%s", why);
				goto invalid;
			}
		}
		if (jfield_string(body, "", "secret", 1, 1, 512, &secret, &err) < 0)
			goto invalid;
		if (admin_seal(&call, secret, strlen(secret), &st.sealed) < 0)
			goto out;
	} else if ((ops = channel_ops_find(st.kind)) && ops->notify_read) {
		const char *const fields[] = {"kind", "channel_id", ops->notify_field, NULL};

		if (jfield_known(body, "", fields, &err) < 0 ||
		    jfield_string(body, "", "channel_id", 1, 36, 36, &st.channel_id, &err) < 0)
			goto invalid;
		if (!util_uuid_valid(st.channel_id)) {
			jfield_error_set(&err, "", "channel_id",
			                 "must be the id of one of your channels");
			goto invalid;
		}
		st.phone = ops->notify_phone;
		if (ops->notify_read(body, st.address, sizeof(st.address), &err) < 0)
			goto invalid;
	} else {
		target_kinds(kinds, sizeof(kinds));
		jfield_error_set(&err, "", "kind", "must be %s", kinds);
		goto invalid;
	}
	admin_call_run(&call, create_tx, &st);
	goto out;
invalid:
	admin_answer_verr(&call, &err);
out:
	free(st.sealed);
	json_decref(body);
	admin_call_end(&call);
}

/* ---- GET /api/v1/notification-targets ---- */

ADMIN_HANDLER(admin_targets_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " TARGET_COLS ", " ADMIN_CURSOR_SQL("t.created_at", "t.id")
	           " FROM notification_targets t WHERE t.tenant_id = app_tenant_id() "
	           "AND " ADMIN_LIST_AFTER_SQL("t.created_at", "t.id", ">")
	           " ORDER BY t.created_at, t.id LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = TARGET_NCOLS,
	    .row = target_json,
	};

	admin_list_serve(ctx, req, resp, &list);
}

/* ---- DELETE /api/v1/notification-targets/{id} ---- */

ADMIN_HANDLER(admin_targets_delete)
{
	/* pending deliveries to it fail as "removed" (outbox.target_id is set to NULL) */
	static const struct admin_row_op op = {
	    .sql = "DELETE FROM notification_targets WHERE tenant_id = app_tenant_id() AND id = $1 "
	           "RETURNING id",
	    .missing = TARGET_MISSING,
	};

	admin_row_serve(ctx, req, resp, &op);
}
