/*
 * admin_idempotency.c: the Idempotency-Key of admin POST requests. Within the request's own
 * transaction the key is claimed first (a row in idempotency_keys, so a concurrent request
 * with the same key waits on it), the effect runs, and the answer is stored in the same row
 * before COMMIT: a repeated key within 24 h gets the first answer back and has no second
 * effect; the same key with a different request is refused with 422.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_internal.h"
#include "pg.h"

int admin_idem_claim(PGconn *conn, struct admin_call *call)
{
	const char *params[2] = {call->idem_key, call->idem_hash};
	PGresult *res;
	const char *hash, *body;
	int claimed, status;

	/* a new key, or one whose earlier use expired, becomes ours; a fresh one that another
	 * transaction is writing makes this statement wait until that one ends */
	res = pg_exec(
	    conn,
	    "INSERT INTO idempotency_keys (tenant_id, key, request_hash, status_code, "
	    "response_body) VALUES (app_tenant_id(), $1, $2, 0, '') "
	    "ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, "
	    "status_code = 0, response_body = '', created_at = now() "
	    "WHERE idempotency_keys.created_at < now() - interval '24 hours' "
	    "RETURNING 1",
	    2, params);
	if (!res)
		return PG_ERR_QUERY;
	claimed = PQntuples(res) == 1;
	PQclear(res);
	if (claimed) {
		/* forget this tenant's expired keys while we are here (index on created_at) */
		if (pg_cmd(conn,
		           "DELETE FROM idempotency_keys WHERE tenant_id = app_tenant_id() "
		           "AND created_at < now() - interval '24 hours'",
		           0, NULL) < 0)
			return PG_ERR_QUERY;
		return 0;
	}
	res = pg_exec(conn,
	              "SELECT request_hash, status_code, response_body FROM idempotency_keys "
	              "WHERE tenant_id = app_tenant_id() AND key = $1",
	              1, params);
	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) != 1) {
		/* the row went away between the two statements: let the caller retry */
		PQclear(res);
		admin_answer_error(call, 409, "conflict", "Idempotency-Key",
		                   "a request with this Idempotency-Key is in progress; retry");
		return ADMIN_ROLLBACK;
	}
	hash = pg_value(res, 0, 0);
	status = atoi(pg_value(res, 0, 1) ? pg_value(res, 0, 1) : "0");
	body = pg_value(res, 0, 2);
	if (!hash || strcmp(hash, call->idem_hash) != 0) {
		PQclear(res);
		admin_answer_error(call, 422, "idempotency_key_reused", "Idempotency-Key",
		                   "this Idempotency-Key was used with a different request");
		return ADMIN_ROLLBACK;
	}
	if (status < 200 || status > 299) {
		PQclear(res);
		admin_answer_error(call, 409, "conflict", "Idempotency-Key",
		                   "a request with this Idempotency-Key is in progress; retry");
		return ADMIN_ROLLBACK;
	}
	admin_answer_empty(call, status);
	if (body && body[0]) {
		call->ans.body = strdup(body);
		if (!call->ans.body) {
			PQclear(res);
			return PG_ERR_ABORT;
		}
	}
	call->ans.replayed = 1;
	PQclear(res);
	return 1;
}

int admin_idem_store(PGconn *conn, struct admin_call *call)
{
	char status[12];
	const char *params[3] = {call->idem_key, status, call->ans.body ? call->ans.body : ""};

	snprintf(status, sizeof(status), "%d", call->ans.status);
	if (pg_cmd(conn,
	           "UPDATE idempotency_keys SET status_code = $2::int, response_body = $3 "
	           "WHERE tenant_id = app_tenant_id() AND key = $1",
	           3, params) < 0)
		return PG_ERR_QUERY;
	return 0;
}
