/*
 * pg.c: parameterized statements and tenant-scoped transactions on libpq (see pg.h).
 */
#include "pg.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static _Thread_local char last_sqlstate[6];

const char *pg_last_sqlstate(void)
{
	return last_sqlstate;
}

int pg_conn_ok(PGconn *conn)
{
	return conn && PQstatus(conn) == CONNECTION_OK;
}

const char *pg_value(const PGresult *res, int r, int c)
{
	if (PQgetisnull(res, r, c))
		return NULL;
	return PQgetvalue(res, r, c);
}

PGconn *pg_connect(const char *conninfo, const struct pg_session_opts *o)
{
	char options[1024], connect_timeout[24], *perr = NULL;
	const char *keys[12], *vals[12];
	PQconninfoOption *parsed = PQconninfoParse(conninfo ? conninfo : "", &perr), *p;
	size_t n = 0, k = 0;
	PGconn *c;

	options[0] = '\0';
	for (p = parsed; p && p->keyword; p++)
		if (strcmp(p->keyword, "options") == 0 && p->val)
			n = (size_t)snprintf(options, sizeof(options), "%s ", p->val);
	PQconninfoFree(parsed);
	PQfreemem(perr);
	if (n >= sizeof(options))
		n = sizeof(options) - 1;
	n += (size_t)snprintf(options + n, sizeof(options) - n, "-c client_min_messages=warning");
	if (o->statement_timeout_ms > 0 && n < sizeof(options))
		n += (size_t)snprintf(options + n, sizeof(options) - n, " -c statement_timeout=%ld",
				      o->statement_timeout_ms);
	if (o->idle_tx_timeout_ms > 0 && n < sizeof(options))
		n += (size_t)snprintf(options + n, sizeof(options) - n,
				      " -c idle_in_transaction_session_timeout=%ld", o->idle_tx_timeout_ms);
	if (o->extra_options && n < sizeof(options))
		snprintf(options + n, sizeof(options) - n, " %s", o->extra_options);
	snprintf(connect_timeout, sizeof(connect_timeout), "%ld",
		 o->connect_timeout_s > 0 ? o->connect_timeout_s : 10);

	/* the conninfo first (expand_dbname), then ours override it */
	keys[k] = "dbname", vals[k++] = conninfo ? conninfo : "";
	keys[k] = "connect_timeout", vals[k++] = connect_timeout;
	keys[k] = "application_name", vals[k++] = o->application_name ? o->application_name : "ccgw";
	keys[k] = "options", vals[k++] = options;
	keys[k] = "keepalives", vals[k++] = "1";
	keys[k] = "keepalives_idle", vals[k++] = "10";
	keys[k] = "keepalives_interval", vals[k++] = "5";
	keys[k] = "keepalives_count", vals[k++] = "3";
	keys[k] = "tcp_user_timeout", vals[k++] = "15000";
	keys[k] = NULL, vals[k] = NULL;
	c = PQconnectdbParams(keys, vals, 1);
	return c;
}

PGresult *pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *res;
	ExecStatusType st;
	const char *state;

	last_sqlstate[0] = '\0';
	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state) {
		strncpy(last_sqlstate, state, sizeof(last_sqlstate) - 1);
		last_sqlstate[sizeof(last_sqlstate) - 1] = '\0';
	} else if (!pg_conn_ok(conn)) {
		strcpy(last_sqlstate, "08006"); /* connection failure */
	}
	/* constraint violations and serialization failures are expected outcomes for callers */
	if (strncmp(last_sqlstate, "23", 2) == 0 || strcmp(last_sqlstate, "40001") == 0 ||
	    strcmp(last_sqlstate, "40P01") == 0 || strcmp(last_sqlstate, "55P03") == 0)
		log_debug(NULL, "sql: %s [%s]", PQerrorMessage(conn), last_sqlstate);
	else
		log_warn(NULL, "sql failed [%s]: %s", last_sqlstate,
			 res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
	PQclear(res);
	return NULL;
}

int pg_cmd(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = pg_exec(conn, sql, nparams, params);

	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

static int sqlstate_retryable(const char *s)
{
	return strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0;
}

/* Errors that say the database could not take the work now, not that the work is wrong: a
 * statement or lock timeout, a server shutting down, out of resources, a lost connection. */
static int sqlstate_transient(const char *s)
{
	return strcmp(s, "57014") == 0 || strcmp(s, "55P03") == 0 || strncmp(s, "57P", 3) == 0 ||
	       strncmp(s, "53", 2) == 0 || strncmp(s, "08", 2) == 0 || strcmp(s, "25P03") == 0;
}

static void rollback(PGconn *conn)
{
	PGresult *res = PQexec(conn, "ROLLBACK");

	PQclear(res);
}

int pg_tx_run(PGconn *conn, const char *tenant_id, pg_tx_fn fn, void *arg)
{
	const char *params[1] = { tenant_id ? tenant_id : "" };
	int attempt, rc = PG_ERR_QUERY;

	for (attempt = 0; attempt < 4; attempt++) {
		if (!pg_conn_ok(conn))
			return PG_ERR_UNAVAILABLE;
		if (pg_cmd(conn, "BEGIN", 0, NULL) < 0)
			return pg_conn_ok(conn) ? PG_ERR_QUERY : PG_ERR_UNAVAILABLE;
		if (pg_cmd(conn, "SELECT set_config('app.tenant_id', $1, true)", 1, params) < 0) {
			rc = PG_ERR_QUERY;
			goto failed;
		}
		rc = fn(conn, arg);
		if (rc < 0)
			goto failed;
		if (pg_cmd(conn, "COMMIT", 0, NULL) < 0) {
			rc = PG_ERR_QUERY;
			goto failed;
		}
		return 0;
failed:
		if (!pg_conn_ok(conn))
			return PG_ERR_UNAVAILABLE;
		rollback(conn);
		if (sqlstate_transient(last_sqlstate))
			return PG_ERR_UNAVAILABLE;
		if (!sqlstate_retryable(last_sqlstate))
			return rc == PG_ERR_QUERY || rc == -1 ? PG_ERR_QUERY : rc;
		rc = PG_ERR_RETRY;
	}
	return rc;
}
