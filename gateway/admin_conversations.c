/*
 * admin_conversations.c: conversations through the admin API: list (?handoff=true finds the
 * shoppers waiting for a person), one conversation, its events oldest first (paged by
 * sequence), a person on the seller's side writing to the shopper (human handoff: the bot
 * keeps quiet) and handing the conversation back to the bot. The writing itself is
 * commerce/conversation.h; the reply goes out through the outbox like every other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "conversation.h"
#include "pg.h"

#define CONV_COLS                                                                                  \
	"v.id, v.channel_id, ch.type, v.customer_id, v.external_chat_id, v.state, v.handoff, "     \
	"v.lang, to_json(v.last_message_at)#>>'{}', to_json(v.created_at)#>>'{}', "                \
	"to_json(v.updated_at)#>>'{}'"
#define CONV_NCOLS 11
#define CONV_FROM                                                                                  \
	" FROM conversations v JOIN channels ch ON ch.tenant_id = v.tenant_id AND ch.id = "        \
	"v.channel_id "
#define AGENT_TEXT_MAX 4096

static json_t *conv_json(const PGresult *res, int r)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
	                 admin_col_string(res, r, 0), "channel_id", admin_col_string(res, r, 1),
	                 "channel", admin_col_string(res, r, 2), "customer_id",
	                 admin_col_string(res, r, 3), "external_chat_id",
	                 admin_col_string(res, r, 4), "state", admin_col_string(res, r, 5),
	                 "handoff", admin_col_bool(res, r, 6), "lang", admin_col_string(res, r, 7),
	                 "last_message_at", admin_col_string(res, r, 8), "created_at",
	                 admin_col_string(res, r, 9), "updated_at", admin_col_string(res, r, 10));
}

static void answer_missing(struct admin_call *call)
{
	admin_answer_error(call, 404, "not_found", NULL, "no such conversation");
}

/* ---- GET /api/v1/conversations[?handoff=true|false] ---- */

struct list_state {
	struct admin_page page;
	char usec[24], after[37];
	int has_cursor;
	const char *handoff;
};

static int list_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct list_state *st = arg;
	char limit[24];
	const char *params[4];
	const char *next = NULL;
	PGresult *res;
	json_t *data;
	int i, n;

	snprintf(limit, sizeof(limit), "%ld", st->page.limit + 1);
	params[0] = limit;
	params[1] = st->handoff;
	params[2] = st->has_cursor ? st->usec : NULL;
	params[3] = st->has_cursor ? st->after : NULL;
	res = pg_exec(conn,
	              "SELECT " CONV_COLS ", " ADMIN_CURSOR_SQL("v.created_at", "v.id") CONV_FROM
	              "WHERE v.tenant_id = app_tenant_id() "
	              "AND ($2::boolean IS NULL OR v.handoff = $2::boolean) "
	              "AND ($3::bigint IS NULL OR (v.created_at, v.id) < "
	              "('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::uuid)) "
	              "ORDER BY v.created_at DESC, v.id DESC LIMIT $1::int",
	              4, params);
	if (!res)
		return PG_ERR_QUERY;
	n = PQntuples(res);
	data = json_array();
	for (i = 0; data && i < n && i < st->page.limit; i++)
		json_array_append_new(data, conv_json(res, i));
	if (n > st->page.limit)
		next = PQgetvalue(res, (int)st->page.limit - 1, CONV_NCOLS);
	admin_answer_json(call, 200, admin_page_result(data, next));
	PQclear(res);
	return 0;
}

ADMIN_HANDLER(admin_conversations_list)
{
	struct admin_call call;
	struct list_state st;
	char handoff[8];
	int rc;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	if (admin_page_parse(&call, &st.page) < 0)
		goto out;
	rc = admin_cursor_split(&call, &st.page, st.usec, st.after);
	if (rc < 0)
		goto out;
	st.has_cursor = rc;
	if (http_query_get(req, "handoff", handoff, sizeof(handoff)) == 0) {
		if (strcmp(handoff, "true") == 0) {
			st.handoff = "true";
		} else if (strcmp(handoff, "false") == 0) {
			st.handoff = "false";
		} else {
			admin_answer_error(&call, 400, "validation", "handoff",
			                   "handoff: must be true or false");
			goto out;
		}
	}
	admin_call_run(&call, list_tx, &st);
out:
	admin_call_end(&call);
}

/* ---- GET /api/v1/conversations/{id} ---- */

static int get_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	const char *params[1] = {arg};
	PGresult *res;

	res = pg_exec(
	    conn, "SELECT " CONV_COLS CONV_FROM "WHERE v.tenant_id = app_tenant_id() AND v.id = $1",
	    1, params);
	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) == 1)
		admin_answer_json(call, 200, conv_json(res, 0));
	else
		answer_missing(call);
	PQclear(res);
	return 0;
}

ADMIN_HANDLER(admin_conversations_get)
{
	struct admin_call call;
	const char *id;

	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	id = admin_path_uuid(&call, 0);
	if (!id) {
		answer_missing(&call);
		goto out;
	}
	admin_call_run(&call, get_tx, (void *)id);
out:
	admin_call_end(&call);
}

/* ---- GET /api/v1/conversations/{id}/events ---- */

struct events_state {
	const char *id;
	struct admin_page page;
	char seq[24];
	int has_cursor;
};

static int events_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct events_state *st = arg;
	char limit[24];
	const char *params[3];
	const char *next = NULL;
	PGresult *res;
	json_t *data;
	int i, n, found;

	params[0] = st->id;
	res = pg_exec(conn,
	              "SELECT 1 FROM conversations WHERE tenant_id = app_tenant_id() AND id = $1",
	              1, params);
	if (!res)
		return PG_ERR_QUERY;
	found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		answer_missing(call);
		return 0;
	}
	snprintf(limit, sizeof(limit), "%ld", st->page.limit + 1);
	params[1] = limit;
	params[2] = st->has_cursor ? st->seq : NULL;
	res = pg_exec(conn,
	              "SELECT e.id, e.seq, e.event_type, e.payload, to_json(e.created_at)#>>'{}' "
	              "FROM conversation_events e WHERE e.tenant_id = app_tenant_id() "
	              "AND e.conversation_id = $1 AND ($3::bigint IS NULL OR e.seq > $3::bigint) "
	              "ORDER BY e.seq LIMIT $2::int",
	              3, params);
	if (!res)
		return PG_ERR_QUERY;
	n = PQntuples(res);
	data = json_array();
	for (i = 0; data && i < n && i < st->page.limit; i++)
		json_array_append_new(data, json_pack("{s:o,s:o,s:o,s:o,s:o}", "id",
		                                      admin_col_string(res, i, 0), "seq",
		                                      admin_col_int(res, i, 1), "event_type",
		                                      admin_col_string(res, i, 2), "payload",
		                                      admin_col_json(res, i, 3), "created_at",
		                                      admin_col_string(res, i, 4)));
	if (n > st->page.limit)
		next = PQgetvalue(res, (int)st->page.limit - 1, 1);
	admin_answer_json(call, 200, admin_page_result(data, next));
	PQclear(res);
	return 0;
}

ADMIN_HANDLER(admin_conversations_events)
{
	struct admin_call call;
	struct events_state st;
	int rc;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	st.id = admin_path_uuid(&call, 0);
	if (!st.id) {
		answer_missing(&call);
		goto out;
	}
	if (admin_page_parse(&call, &st.page) < 0)
		goto out;
	rc = admin_cursor_seq(&call, &st.page, st.seq);
	if (rc < 0)
		goto out;
	st.has_cursor = rc;
	admin_call_run(&call, events_tx, &st);
out:
	admin_call_end(&call);
}

/* ---- POST /api/v1/conversations/{id}/messages ---- */

struct message_state {
	const char *id;
	const char *text;
};

static int message_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct message_state *st = arg;
	int rc;

	rc = conversation_agent_message(conn, st->id, st->text);
	if (rc == CONV_ERR_NOT_FOUND) {
		answer_missing(call);
		return ADMIN_ROLLBACK;
	}
	if (rc == CONV_ERR_INVALID) {
		admin_answer_error(call, 400, "validation", "text",
		                   "text: must be 1 to %d bytes of text", AGENT_TEXT_MAX);
		return ADMIN_ROLLBACK;
	}
	if (rc < 0)
		return PG_ERR_QUERY;
	call->kick = 1;
	admin_answer_json(call, 201,
	                  json_pack("{s:s,s:s,s:b}", "conversation_id", st->id, "status", "queued",
	                            "handoff", 1));
	return 0;
}

ADMIN_HANDLER(admin_conversations_message)
{
	static const char *const fields[] = {"text", NULL};
	struct admin_call call;
	struct admin_verr err;
	struct message_state st;
	json_t *body = NULL;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	st.id = admin_path_uuid(&call, 0);
	if (!st.id) {
		answer_missing(&call);
		goto out;
	}
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (admin_fields_known(body, "", fields, &err) < 0 ||
	    admin_field_string(body, "", "text", 1, 1, AGENT_TEXT_MAX, &st.text, &err) < 0)
		goto invalid;
	if (strlen(st.text) > AGENT_TEXT_MAX) {
		admin_verr_set(&err, "", "text", "must be at most %d bytes", AGENT_TEXT_MAX);
		goto invalid;
	}
	if (strspn(st.text, " \t\r\n") == strlen(st.text)) {
		admin_verr_set(&err, "", "text", "must not be empty");
		goto invalid;
	}
	admin_call_run(&call, message_tx, &st);
	goto out;
invalid:
	admin_answer_verr(&call, &err);
out:
	json_decref(body);
	admin_call_end(&call);
}

/* ---- POST /api/v1/conversations/{id}/release ---- */

static int release_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	const char *params[1] = {arg};
	PGresult *res;
	int found, handoff, rc;

	res = pg_exec(
	    conn, "SELECT handoff FROM conversations WHERE tenant_id = app_tenant_id() AND id = $1",
	    1, params);
	if (!res)
		return PG_ERR_QUERY;
	found = PQntuples(res) == 1;
	handoff = found && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!found) {
		answer_missing(call);
		return ADMIN_ROLLBACK;
	}
	/* not in handoff: nothing to hand back, and no message to puzzle the shopper */
	if (handoff) {
		rc = conversation_release(conn, params[0]);
		if (rc == CONV_ERR_NOT_FOUND) {
			answer_missing(call);
			return ADMIN_ROLLBACK;
		}
		if (rc < 0)
			return PG_ERR_QUERY;
		call->kick = 1;
	}
	admin_answer_json(call, 200,
	                  json_pack("{s:s,s:b,s:b}", "conversation_id", params[0], "handoff", 0,
	                            "released", handoff));
	return 0;
}

ADMIN_HANDLER(admin_conversations_release)
{
	struct admin_call call;
	const char *id;

	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	id = admin_path_uuid(&call, 0);
	if (!id) {
		answer_missing(&call);
		goto out;
	}
	admin_call_run(&call, release_tx, (void *)id);
out:
	admin_call_end(&call);
}
