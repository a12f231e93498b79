/*
 * tenant.c: tenant creation, API keys and the per-tenant console / web chat channels
 * (see tenant.h).
 */
#include "tenant.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "util.h"

int tenant_slug_valid(const char *slug)
{
	size_t n, i;

	if (!slug)
		return 0;
	n = strlen(slug);
	if (n < 2 || n > 40)
		return 0;
	for (i = 0; i < n; i++)
		if (!((slug[i] >= 'a' && slug[i] <= 'z') || (slug[i] >= '0' && slug[i] <= '9') ||
		      slug[i] == '-'))
			return 0;
	return 1;
}

static int currency_valid(const char *c)
{
	return c && strlen(c) == 3 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' &&
	       c[2] >= 'A' && c[2] <= 'Z';
}

int tenant_api_key_add(PGconn *conn, const char *tenant_id, const char *name, char *api_key)
{
	char token[48], hash[65], prefix[16];
	const char *params[4] = {tenant_id, hash, prefix, name ? name : "default"};

	if (util_random_token(32, token, sizeof(token)) < 0)
		return TENANT_ERR_DB;
	snprintf(api_key, TENANT_API_KEY_MAX, "ccgw_%s", token);
	util_sha256_hex(api_key, strlen(api_key), hash);
	snprintf(prefix, sizeof(prefix), "%.12s", api_key);
	if (pg_cmd(
	        conn,
	        "INSERT INTO api_keys (tenant_id, key_hash, prefix, name) VALUES ($1, $2, $3, $4)",
	        4, params) < 0) {
		api_key[0] = '\0';
		return TENANT_ERR_DB;
	}
	return 0;
}

int tenant_channel_ensure(PGconn *conn, const char *tenant_id, const char *type, char *channel_id)
{
	const char *params[3] = {tenant_id, type, NULL};
	PGresult *res;

	res = pg_exec(
	    conn,
	    "SELECT id FROM channels WHERE tenant_id = $1 AND type = $2 AND status = 'active'"
	    " ORDER BY created_at, id LIMIT 1",
	    2, params);
	if (!res)
		return TENANT_ERR_DB;
	if (PQntuples(res) == 1) {
		snprintf(channel_id, 37, "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		return 0;
	}
	PQclear(res);
	params[2] = strcmp(type, "console") == 0 ? "Terminal console" : "Web chat";
	res = pg_exec(
	    conn, "INSERT INTO channels (tenant_id, type, name) VALUES ($1, $2, $3) RETURNING id",
	    3, params);
	if (!res)
		return TENANT_ERR_DB;
	snprintf(channel_id, 37, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

struct create_args {
	const char *slug, *name, *currency;
	char *tenant_id, *api_key;
};

static int create_tx(PGconn *conn, void *arg)
{
	struct create_args *a = arg;
	const char *params[4] = {a->tenant_id, a->slug, a->name, a->currency};
	char channel_id[37];

	if (pg_cmd(conn, "INSERT INTO tenants (id, slug, name, currency) VALUES ($1, $2, $3, $4)",
	           4, params) < 0)
		return TENANT_ERR_DB;
	if (pg_cmd(conn, "INSERT INTO order_counters (tenant_id) VALUES ($1)", 1, params) < 0)
		return TENANT_ERR_DB;
	if (tenant_api_key_add(conn, a->tenant_id, "default", a->api_key) < 0)
		return TENANT_ERR_DB;
	if (tenant_channel_ensure(conn, a->tenant_id, "console", channel_id) < 0 ||
	    tenant_channel_ensure(conn, a->tenant_id, "webchat", channel_id) < 0)
		return TENANT_ERR_DB;
	return 0;
}

int tenant_create(PGconn *conn, const char *slug, const char *name, const char *currency,
                  char *tenant_id, char *api_key, char *err, size_t errlen)
{
	struct create_args a = {slug, name, currency ? currency : "KES", tenant_id, api_key};
	int rc;

	err[0] = '\0';
	api_key[0] = '\0';
	if (!tenant_slug_valid(slug)) {
		snprintf(err, errlen, "slug must be 2 to 40 characters of a-z, 0-9 and -");
		return TENANT_ERR_INVALID;
	}
	if (!name || !*name || strlen(name) > 200) {
		snprintf(err, errlen, "name must be 1 to 200 characters");
		return TENANT_ERR_INVALID;
	}
	if (!currency_valid(a.currency)) {
		snprintf(err, errlen, "currency must be an ISO 4217 code such as KES");
		return TENANT_ERR_INVALID;
	}
	util_uuid_new(tenant_id);
	rc = pg_tx_run(conn, tenant_id, create_tx, &a);
	if (rc < 0) {
		if (strcmp(pg_last_sqlstate(), "23505") == 0) {
			snprintf(err, errlen, "a tenant with slug '%s' already exists", slug);
			rc = TENANT_ERR_DUPLICATE;
		} else if (strcmp(pg_last_sqlstate(), "22021") == 0 ||
		           strncmp(pg_last_sqlstate(), "23", 2) == 0) {
			snprintf(err, errlen, "the name or currency was refused by the database");
			rc = TENANT_ERR_INVALID;
		} else {
			snprintf(err, errlen, "database error");
			rc = TENANT_ERR_DB;
		}
		tenant_id[0] = '\0';
		api_key[0] = '\0';
		return rc;
	}
	log_info(&(struct log_ctx){.tenant = tenant_id}, "tenant '%s' created", slug);
	return 0;
}

int tenant_id_by_slug(PGconn *conn, const char *slug, char *tenant_id)
{
	PGresult *res;
	int rc = TENANT_ERR_NOT_FOUND;

	if (!tenant_slug_valid(slug))
		return TENANT_ERR_NOT_FOUND;
	res = pg_exec(conn, "SELECT tenant_by_slug($1)", 1, &slug);
	if (!res)
		return TENANT_ERR_DB;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		snprintf(tenant_id, 37, "%s", PQgetvalue(res, 0, 0));
		rc = 0;
	}
	PQclear(res);
	return rc;
}
