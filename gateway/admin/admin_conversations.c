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
#define CONV_MISSING   "no such conversation"

static json_t *conv_json(const struct admin_call *call, const PGresult *res, int r)
{
	(void)call; /* an admin_row_fn */
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
	                 admin_col_string(res, r, 0), "channel_id", admin_col_string(res, r, 1),
	                 "channel", admin_col_string(res, r, 2), "customer_id",
	                 admin_col_string(res, r, 3), "external_chat_id",
	                 admin_col_string(res, r, 4), "state", admin_col_string(res, r, 5),
	                 "handoff", admin_col_bool(res, r, 6), "lang", admin_col_string(res, r, 7),
	                 "last_message_at", admin_col_string(res, r, 8), "created_at",
	                 admin_col_string(res, r, 9), "updated_at", admin_col_string(res, r, 10));
}

/* ---- GET /api/v1/conversations[?handoff=true|false] ---- */

ADMIN_HANDLER(admin_conversations_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " CONV_COLS ", " ADMIN_CURSOR_SQL("v.created_at", "v.id") CONV_FROM
	           "WHERE v.tenant_id = app_tenant_id() "
	           "AND ($4::boolean IS NULL OR v.handoff = $4::boolean) "
	           "AND " ADMIN_LIST_AFTER_SQL("v.created_at", "v.id", "<")
	           " ORDER BY v.created_at DESC, v.id DESC LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = CONV_NCOLS,
	    .row = conv_json,
	    .nparams = 1,
	};
	struct admin_call call;

	if (admin_call_begin_list(&call, ctx, req, resp, &list) == 0 &&
	    admin_query_bool(&call, "handoff", &list.params[0]) == 0)
		admin_list_run(&call, &list);
	admin_call_end(&call);
}

/* ---- GET /api/v1/conversations/{id} ---- */

ADMIN_HANDLER(admin_conversations_get)
{
	static const struct admin_row_op op = {
	    .sql =
	        "SELECT " CONV_COLS CONV_FROM "WHERE v.tenant_id = app_tenant_id() AND v.id = $1",
	    .row = conv_json,
	    .missing = CONV_MISSING,
	};

	admin_row_serve(ctx, req, resp, &op);
}

/* ---- GET /api/v1/conversations/{id}/events ---- */

struct events_state {
	struct admin_page page;
	char seq[24];
	int has_cursor;
};

static json_t *event_json(const struct admin_call *call, const PGresult *res, int r)
{
	(void)call; /* an admin_row_fn */
	return json_pack("{s:o,s:o,s:o,s:o,s:o}", "id", admin_col_string(res, r, 0), "seq",
	                 admin_col_int(res, r, 1), "event_type", admin_col_string(res, r, 2),
	                 "payload", admin_col_json(res, r, 3), "created_at",
	                 admin_col_string(res, r, 4));
}

static int events_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct events_state *st = arg;
	char limit[24];
	const char *params[3];
	PGresult *res;
	int found;

	params[0] = call->id;
	res = pg_exec(conn,
	              "SELECT 1 FROM conversations WHERE tenant_id = app_tenant_id() AND id = $1",
	              1, params);
	if (!res)
		return PG_ERR_QUERY;
	found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		admin_answer_not_found(call, CONV_MISSING);
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
	admin_answer_page(call, res, st->page.limit, 1, event_json);
	PQclear(res);
	return 0;
}

ADMIN_HANDLER(admin_conversations_events)
{
	struct admin_call call;
	struct events_state st;
	int rc;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin_id(&call, ctx, req, resp, CONV_MISSING) < 0)
		goto out;
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

static int message_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	const char *text = arg;
	int rc;

	rc = conversation_agent_message(conn, call->id, text);
	if (rc == CONV_ERR_NOT_FOUND) {
		admin_answer_not_found(call, CONV_MISSING);
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
	                  json_pack("{s:s,s:s,s:b}", "conversation_id", call->id, "status",
	                            "queued", "handoff", 1));
	return 0;
}

ADMIN_HANDLER(admin_conversations_message)
{
	static const char *const fields[] = {"text", NULL};
	struct admin_call call;
	struct jfield_error err;
	const char *text = NULL;
	json_t *body = NULL;

	if (admin_call_begin_id(&call, ctx, req, resp, CONV_MISSING) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (jfield_known(body, "", fields, &err) < 0 ||
	    jfield_string(body, "", "text", 1, 1, AGENT_TEXT_MAX, &text, &err) < 0)
		goto invalid;
	if (strlen(text) > AGENT_TEXT_MAX) {
		jfield_error_set(&err, "", "text", "must be at most %d bytes", AGENT_TEXT_MAX);
		goto invalid;
	}
	if (strspn(text, " \t\r\n") == strlen(text)) {
		jfield_error_set(&err, "", "text", "must not be empty");
		goto invalid;
	}
	admin_call_run(&call, message_tx, (void *)text);
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
	const char *params[1] = {call->id};
	PGresult *res;
	int found, handoff, rc;

	(void)arg;
	res = pg_exec(
	    conn, "SELECT handoff FROM conversations WHERE tenant_id = app_tenant_id() AND id = $1",
	    1, params);
	if (!res)
		return PG_ERR_QUERY;
	found = PQntuples(res) == 1;
	handoff = found && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!found) {
		admin_answer_not_found(call, CONV_MISSING);
		return ADMIN_ROLLBACK;
	}
	/* not in handoff: nothing to hand back, and no message to puzzle the shopper */
	if (handoff) {
		rc = conversation_release(conn, params[0]);
		if (rc == CONV_ERR_NOT_FOUND) {
			admin_answer_not_found(call, CONV_MISSING);
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
	admin_id_serve(ctx, req, resp, CONV_MISSING, release_tx, NULL);
}
