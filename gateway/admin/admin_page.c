/*
 * admin_page.c: the shapes the admin routes share once a request is read: paging (?limit and
 * ?cursor, keyset cursors, the {"data", "next_cursor"} answer), the list, read-by-id and
 * row-operation handlers, and reading result columns into JSON.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin_internal.h"
#include "pg.h"
#include "secrets.h"
#include "app.h"
#include "utf8.h"
#include "util.h"

/* ---- paging ---- */

int admin_page_parse(struct admin_call *call, struct admin_page *page)
{
	char buf[32];
	long v;
	size_t i;

	page->limit = ADMIN_PAGE_DEFAULT;
	page->cursor[0] = '\0';
	if (http_query_get(call->req, "limit", buf, sizeof(buf)) == 0) {
		v = 0;
		for (i = 0; buf[i]; i++) {
			if (!isdigit((unsigned char)buf[i]) || i >= 6) {
				v = -1;
				break;
			}
			v = v * 10 + (buf[i] - '0');
		}
		if (v < 1 || v > ADMIN_PAGE_MAX) {
			admin_answer_error(call, 400, "validation", "limit",
			                   "limit: must be an integer from 1 to %d",
			                   ADMIN_PAGE_MAX);
			return -1;
		}
		page->limit = v;
	}
	if (http_query_get(call->req, "cursor", page->cursor, sizeof(page->cursor)) == 0 &&
	    strlen(page->cursor) >= sizeof(page->cursor) - 1) {
		admin_answer_error(call, 400, "validation", "cursor",
		                   "cursor: not a cursor from this list");
		return -1;
	}
	return 0;
}

static int digits_only(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int admin_cursor_split(struct admin_call *call, const struct admin_page *page, char usec[24],
                       char id[37])
{
	const char *dot;
	size_t n;

	if (!page->cursor[0])
		return 0;
	dot = strchr(page->cursor, '.');
	n = dot ? (size_t)(dot - page->cursor) : 0;
	if (!dot || n > 19 || !digits_only(page->cursor, n) || !util_uuid_valid(dot + 1)) {
		admin_answer_error(call, 400, "validation", "cursor",
		                   "cursor: not a cursor from this list");
		return -1;
	}
	memcpy(usec, page->cursor, n);
	usec[n] = '\0';
	memcpy(id, dot + 1, 36);
	id[36] = '\0';
	return 1;
}

int admin_cursor_seq(struct admin_call *call, const struct admin_page *page, char seq[24])
{
	size_t n = strlen(page->cursor);

	if (n == 0)
		return 0;
	if (n > 18 || !digits_only(page->cursor, n)) {
		admin_answer_error(call, 400, "validation", "cursor",
		                   "cursor: not a cursor from this list");
		return -1;
	}
	memcpy(seq, page->cursor, n + 1);
	return 1;
}

json_t *admin_page_result(json_t *data, const char *next)
{
	if (!data)
		return NULL;
	return json_pack("{s:o,s:o}", "data", data, "next_cursor",
	                 next ? json_string(next) : json_null());
}

void admin_answer_page(struct admin_call *call, const PGresult *res, long limit, int cursor_col,
                       admin_row_fn row)
{
	const char *next = NULL;
	int i, n = PQntuples(res);
	json_t *data = json_array();

	for (i = 0; data && i < n && i < limit; i++)
		json_array_append_new(data, row(call, res, i));
	if (n > limit)
		next = PQgetvalue(res, (int)limit - 1, cursor_col);
	admin_answer_json(call, 200, admin_page_result(data, next));
}

/* ---- the shapes routes share ---- */

int admin_call_begin_list(struct admin_call *call, struct http_ctx *ctx,
                          const struct http_request *req, struct http_response *resp,
                          struct admin_list *list)
{
	int rc;

	if (admin_call_begin(call, ctx, req, resp) < 0 || admin_page_parse(call, &list->page) < 0)
		return -1;
	rc = admin_cursor_split(call, &list->page, list->usec, list->after);
	if (rc < 0)
		return -1;
	list->has_cursor = rc;
	return 0;
}

static int list_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	const struct admin_list *list = arg;
	const char *params[3 + ADMIN_LIST_PARAMS_MAX];
	char limit[24];
	PGresult *res;
	int i;

	snprintf(limit, sizeof(limit), "%ld", list->page.limit + 1);
	params[0] = limit;
	params[1] = list->has_cursor ? list->usec : NULL;
	params[2] = list->has_cursor ? list->after : NULL;
	for (i = 0; i < list->nparams && i < ADMIN_LIST_PARAMS_MAX; i++)
		params[3 + i] = list->params[i];
	res = pg_exec(conn, list->sql, 3 + i, params);
	if (!res)
		return PG_ERR_QUERY;
	admin_answer_page(call, res, list->page.limit, list->cursor_col, list->row);
	PQclear(res);
	return 0;
}

void admin_list_run(struct admin_call *call, struct admin_list *list)
{
	admin_call_run(call, list_tx, list);
}

void admin_list_serve(struct http_ctx *ctx, const struct http_request *req,
                      struct http_response *resp, struct admin_list *list)
{
	struct admin_call call;

	if (admin_call_begin_list(&call, ctx, req, resp, list) == 0)
		admin_list_run(&call, list);
	admin_call_end(&call);
}

static int row_op_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	const struct admin_row_op *op = arg;
	const char *params[1] = {call->id};
	PGresult *res;
	int found;

	res = pg_exec(conn, op->sql, 1, params);
	if (!res)
		return PG_ERR_QUERY;
	found = PQntuples(res) == 1;
	if (!found)
		admin_answer_not_found(call, op->missing);
	else if (op->row)
		admin_answer_json(call, 200, op->row(call, res, 0));
	else
		admin_answer_empty(call, 204);
	PQclear(res);
	if (found && op->then && pg_cmd(conn, op->then, 1, params) < 0)
		return PG_ERR_QUERY;
	return 0;
}

void admin_id_serve(struct http_ctx *ctx, const struct http_request *req,
                    struct http_response *resp, const char *missing, admin_tx_fn fn, void *arg)
{
	struct admin_call call;

	if (admin_call_begin_id(&call, ctx, req, resp, missing) == 0)
		admin_call_run(&call, fn, arg);
	admin_call_end(&call);
}

void admin_row_serve(struct http_ctx *ctx, const struct http_request *req,
                     struct http_response *resp, const struct admin_row_op *op)
{
	admin_id_serve(ctx, req, resp, op->missing, row_op_tx, (void *)op);
}

const char *admin_path_uuid(const struct admin_call *call, size_t i)
{
	const char *v;

	if (i >= call->req->nparams)
		return NULL;
	v = call->req->params[i];
	return v && util_uuid_valid(v) ? v : NULL;
}

/* ---- rows ---- */

json_t *admin_col_string(const PGresult *res, int r, int c)
{
	const char *v = pg_value(res, r, c);

	return v ? json_string(v) : json_null();
}

json_t *admin_col_int(const PGresult *res, int r, int c)
{
	const char *v = pg_value(res, r, c);

	return v ? json_integer(strtoll(v, NULL, 10)) : json_null();
}

json_t *admin_col_bool(const PGresult *res, int r, int c)
{
	const char *v = pg_value(res, r, c);

	return v ? json_boolean(v[0] == 't') : json_null();
}

json_t *admin_col_json(const PGresult *res, int r, int c)
{
	const char *v = pg_value(res, r, c);
	json_t *j;

	if (!v)
		return json_null();
	j = json_loads(v, JSON_DECODE_ANY, NULL);
	return j ? j : json_null();
}
