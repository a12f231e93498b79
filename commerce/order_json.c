/*
 * order_json.c: builds the contract's order object in one SQL statement (see order_json.h).
 */
#include "order_json.h"

#include "pg.h"
#include "util.h"

json_t *order_json_load(PGconn *conn, const char *order_id, int *not_found)
{
	static const char sql[] =
	    "SELECT (" ORDER_JSON_SQL_EXPR ")::text FROM orders o WHERE o.id = $1";
	PGresult *res;
	json_t *j = NULL;

	if (not_found)
		*not_found = 0;
	if (!util_uuid_valid(order_id)) {
		if (not_found)
			*not_found = 1;
		return NULL;
	}
	res = pg_exec(conn, sql, 1, &order_id);
	if (!res)
		return NULL;
	if (PQntuples(res) != 1) {
		if (not_found)
			*not_found = 1;
	} else {
		j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	}
	PQclear(res);
	return j;
}
