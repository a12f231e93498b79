/*
 * admin_orders.c: orders through the admin API: list (?status=, keyset paged, newest
 * first), one order (commerce/order_json.h), and the status change guarded by
 * If-Match: <version> (commerce/order_status.h does the lifecycle, the version bump, the
 * order_status_changed event and the shopper's message on the order's own channel).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "order_json.h"
#include "order_payment.h"
#include "order_status.h"
#include "pg.h"

#define ORDER_MISSING "no such order"

static void answer_order(struct admin_call *call, int status, json_t *order)
{
	json_t *v = json_object_get(order, "version");

	if (json_is_integer(v))
		snprintf(call->ans.etag, sizeof(call->ans.etag), "\"%lld\"",
		         (long long)json_integer_value(v));
	/* admin_answer_json resets the answer: keep the ETag across it */
	{
		char etag[sizeof(call->ans.etag)];

		memcpy(etag, call->ans.etag, sizeof(etag));
		admin_answer_json(call, status, order);
		memcpy(call->ans.etag, etag, sizeof(etag));
	}
}

/* ---- GET /api/v1/orders[?status=S] ---- */

static json_t *order_row(const struct admin_call *call, const PGresult *res, int r)
{
	(void)call; /* an admin_row_fn */
	return admin_col_json(res, r, 0);
}

ADMIN_HANDLER(admin_orders_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " ORDER_JSON_SQL_EXPR ", " ADMIN_CURSOR_SQL("o.created_at", "o.id")
	           " FROM orders o WHERE o.tenant_id = app_tenant_id() "
	           "AND ($4::text IS NULL OR o.status = $4) "
	           "AND " ADMIN_LIST_AFTER_SQL("o.created_at", "o.id", "<")
	           " ORDER BY o.created_at DESC, o.id DESC LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = 1,
	    .row = order_row,
	    .nparams = 1,
	};
	struct admin_call call;
	char status[16];

	if (admin_call_begin_list(&call, ctx, req, resp, &list) < 0)
		goto out;
	if (http_query_get(req, "status", status, sizeof(status)) == 0) {
		if (!order_status_valid(status)) {
			admin_answer_error(
			    &call, 400, "validation", "status",
			    "status: must be one of pending, confirmed, processing, shipped, "
			    "delivered, cancelled, returned");
			goto out;
		}
		list.params[0] = status;
	}
	admin_list_run(&call, &list);
out:
	admin_call_end(&call);
}

/* ---- GET /api/v1/orders/{id} ---- */

static int get_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	int not_found = 0;
	json_t *order = order_json_load(conn, call->id, &not_found);

	(void)arg;
	if (order) {
		answer_order(call, 200, order);
		return 0;
	}
	if (!not_found)
		return PG_ERR_QUERY;
	admin_answer_not_found(call, ORDER_MISSING);
	return 0;
}

ADMIN_HANDLER(admin_orders_get)
{
	admin_id_serve(ctx, req, resp, ORDER_MISSING, get_tx, NULL);
}

/* ---- PATCH /api/v1/orders/{id} with If-Match ---- */

#define IF_MATCH_MISSING (-2)

struct patch_state {
	const char *status;
	const char *payment_status; /* {"payment_status": "paid" | "rejected"} instead */
	long version;
};

/* If-Match: 3, "3" or W/"3" -> 3; -1 when it is none of these. */
static long if_match_parse(const char *v)
{
	char digits[16];
	size_t n = 0;

	while (*v == ' ')
		v++;
	if (strncmp(v, "W/", 2) == 0)
		v += 2;
	if (*v == '"')
		v++;
	while (isdigit((unsigned char)*v) && n < sizeof(digits) - 1)
		digits[n++] = *v++;
	digits[n] = '\0';
	if (*v == '"')
		v++;
	while (*v == ' ')
		v++;
	if (n == 0 || n > 9 || *v)
		return -1;
	return atol(digits);
}

static int patch_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct patch_state *st = arg;
	const char *params[1] = {call->id};
	PGresult *res;
	json_t *order;
	long version = 0;
	int rc, not_found = 0;

	if (st->version == IF_MATCH_MISSING) {
		/* another tenant's (or no) order is 404 whatever the request lacks */
		res = pg_exec(conn,
		              "SELECT 1 FROM orders WHERE tenant_id = app_tenant_id() AND id = $1",
		              1, params);
		if (!res)
			return PG_ERR_QUERY;
		if (PQntuples(res) == 1)
			admin_answer_error(
			    call, 428, "precondition_required", "If-Match",
			    "If-Match: <version> is required to change an order (read "
			    "the order first; its version is in the body and the ETag)");
		else
			admin_answer_not_found(call, ORDER_MISSING);
		PQclear(res);
		return ADMIN_ROLLBACK;
	}
	if (st->payment_status)
		rc = order_payment_transition(conn, call->id, st->payment_status, st->version,
		                              "seller", &version);
	else
		rc = order_status_transition_ex(conn, call->id, st->status, st->version, "seller",
		                                &version);
	switch (rc) {
	case 0:
		break;
	case ORDER_ERR_NOT_FOUND:
		admin_answer_not_found(call, ORDER_MISSING);
		return ADMIN_ROLLBACK;
	case ORDER_ERR_INVALID:
		admin_answer_error(call, 400, "validation", "status", "status: not a status name");
		return ADMIN_ROLLBACK;
	case ORDER_ERR_STALE:
		res =
		    pg_exec(conn,
		            "SELECT version, status FROM orders WHERE tenant_id = app_tenant_id() "
		            "AND id = $1",
		            1, params);
		if (res && PQntuples(res) == 1)
			admin_answer_error(call, 412, "version_mismatch", "If-Match",
			                   "If-Match: the order was changed meanwhile: it is now "
			                   "version %s (%s); read it again and retry",
			                   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		else
			admin_answer_error(
			    call, 412, "version_mismatch", "If-Match",
			    "If-Match: the order was changed meanwhile; read it again");
		PQclear(res);
		return ADMIN_ROLLBACK;
	case ORDER_ERR_FORBIDDEN:
		if (st->payment_status) {
			res = pg_exec(conn,
			              "SELECT COALESCE(payment_status, 'none') FROM orders"
			              " WHERE tenant_id = app_tenant_id() AND id = $1",
			              1, params);
			admin_answer_error(call, 409, "transition_forbidden", "payment_status",
			                   "payment_status: a payment that is %s cannot become %s",
			                   res && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0)
			                                              : "in its state",
			                   st->payment_status);
			PQclear(res);
			return ADMIN_ROLLBACK;
		}
		res = pg_exec(
		    conn, "SELECT status FROM orders WHERE tenant_id = app_tenant_id() AND id = $1",
		    1, params);
		admin_answer_error(call, 409, "transition_forbidden", "status",
		                   "status: an order that is %s cannot become %s",
		                   res && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0)
		                                              : "in its state",
		                   st->status);
		PQclear(res);
		return ADMIN_ROLLBACK;
	default:
		return PG_ERR_QUERY;
	}
	call->kick = 1; /* the shopper's message and seller notices are in the outbox */
	order = order_json_load(conn, call->id, &not_found);
	if (!order)
		return PG_ERR_QUERY;
	answer_order(call, 200, order);
	return 0;
}

ADMIN_HANDLER(admin_orders_patch)
{
	static const char *const fields[] = {"status", "payment_status", NULL};
	struct admin_call call;
	struct jfield_error err;
	struct patch_state st;
	const char *if_match;
	json_t *body = NULL;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin_id(&call, ctx, req, resp, ORDER_MISSING) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (jfield_known(body, "", fields, &err) < 0 ||
	    jfield_string(body, "", "payment_status", 0, 1, 32, &st.payment_status, &err) < 0)
		goto invalid;
	if (st.payment_status) {
		if (json_object_get(body, "status")) {
			jfield_error_set(&err, "", "status",
			                 "change the status and the payment_status in two requests");
			goto invalid;
		}
		if (!order_payment_status_valid(st.payment_status)) {
			jfield_error_set(&err, "", "payment_status",
			                 "unknown payment status \"%.32s\": use paid or rejected",
			                 st.payment_status);
			goto invalid;
		}
	} else if (jfield_string(body, "", "status", 1, 1, 32, &st.status, &err) < 0) {
		goto invalid;
	}
	if (!st.payment_status && !order_status_valid(st.status)) {
		jfield_error_set(&err, "", "status",
		               "unknown status \"%.32s\": use pending, confirmed, processing, "
		               "shipped, delivered, cancelled or returned",
		               st.status);
		goto invalid;
	}
	if_match = http_request_header(req, "if-match");
	st.version = if_match ? if_match_parse(if_match) : IF_MATCH_MISSING;
	if (st.version == -1) {
		admin_answer_error(&call, 400, "validation", "If-Match",
		                   "If-Match: must be the order's version, a whole number");
		goto out;
	}
	admin_call_run(&call, patch_tx, &st);
	goto out;
invalid:
	admin_answer_verr(&call, &err);
out:
	json_decref(body);
	admin_call_end(&call);
}
