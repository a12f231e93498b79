/*
 * pg.c: parameterized statements and tenant-scoped transactions on libpq (see pg.h).
 */
#include "pg.h"

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
		if (!sqlstate_retryable(last_sqlstate))
			return rc == PG_ERR_QUERY || rc == -1 ? PG_ERR_QUERY : rc;
		rc = PG_ERR_RETRY;
	}
	return rc;
}
