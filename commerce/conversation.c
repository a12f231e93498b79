/*
 * conversation.c: conversation events, outbox replies and the handoff operations
 * (see conversation.h).
 */
#include "conversation.h"

#include <stdlib.h>
#include <string.h>

#include "commerce_util.h"
#include "log.h"
#include "pg.h"
#include "utf8.h"
#include "util.h"

int conv_event_add(PGconn *conn, const char *tenant_id, const char *conversation_id,
                   const char *event_type, const json_t *payload)
{
	char *js = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	const char *params[4] = {tenant_id, conversation_id, event_type, js ? js : "{}"};
	int rc;

	if (payload && !js)
		return CONV_ERR_DB;
	rc = pg_cmd(
	    conn,
	    "INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)"
	    " VALUES ($1, $2, $3, $4::jsonb)",
	    4, params);
	free(js);
	return rc < 0 ? CONV_ERR_DB : 0;
}

/* Inserts events ($3: [{"type", "payload"}]) in their order: seq follows the array. */
#define CONV_EVENTS_INSERT                                                                         \
	"INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)"        \
	" SELECT $1, $2, x.e->>'type', COALESCE(x.e->'payload', '{}'::jsonb)"                      \
	" FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY x.n"

int conv_events_add(PGconn *conn, const char *tenant_id, const char *conversation_id,
                    const json_t *events)
{
	char *js = json_dumps(events, JSON_COMPACT);
	const char *params[3] = {tenant_id, conversation_id, js};
	int rc;

	if (!js)
		return CONV_ERR_DB;
	rc = pg_cmd(conn, CONV_EVENTS_INSERT, 3, params);
	free(js);
	return rc < 0 ? CONV_ERR_DB : 0;
}

int conv_turn_write(PGconn *conn, const struct conv_turn_write *w)
{
	/* $1 tenant, $2 conversation, $3 events, $4 channel, $5 recipient, $6 reply_to, $7 the
	 * reply or NULL, $8..$13 the conversation's new state, $14 parked */
	static const char sql[] =
	    "WITH ev AS (" CONV_EVENTS_INSERT "), ob AS ("
	    "  INSERT INTO outbox (tenant_id, kind, conversation_id, channel_id, recipient,"
	    "  reply_to, payload, next_attempt_at) SELECT $1, 'reply', $2, $4, $5, $6, $7::jsonb,"
	    "  CASE WHEN $14::boolean THEN 'infinity'::timestamptz ELSE now() END"
	    "  WHERE $7::jsonb IS NOT NULL)"
	    " " CONV_TURN_UPDATE_SET " WHERE tenant_id = $1 AND id = $2";
	/* several of one shop in a group transaction: one statement (sql/112, pg_defer_batched) */
	static const char batch_sql[] =
	    "SELECT conv_turns_write($1::uuid[], $2::uuid[], $3::jsonb[], $4::uuid[], $5::text[],"
	    " $6::text[], $7::jsonb[], $8::text[], $9::jsonb[], $10::jsonb[], $11::text[],"
	    " $12::int[], $13::boolean[], $14::boolean[])";
	char *ev = json_dumps(w->events ? w->events : json_array(), JSON_COMPACT);
	char *ctx = json_dumps(w->context, JSON_COMPACT);
	char *offered = json_dumps(w->offered, JSON_COMPACT);
	char mis[16];
	const char *params[14] = {w->tenant_id, w->conversation_id, ev, w->channel_id,
	                          w->recipient, w->reply_to, w->reply_js, w->state, ctx, offered,
	                          w->lang, mis, w->handoff ? "true" : "false",
	                          w->parked ? "true" : "false"};
	int rc = CONV_ERR_DB;

	snprintf(mis, sizeof(mis), "%d", w->misunderstandings);
	if (ev && ctx && offered) {
		int deferred =
		    w->at_commit ? pg_defer_batched(w->tenant_id, sql, batch_sql, 1, 14, params) : 0;

		if (deferred > 0 || (deferred == 0 && pg_cmd(conn, sql, 14, params) == 0))
			rc = 0;
	}
	free(ev);
	free(ctx);
	free(offered);
	return rc;
}

int conv_reply_add(PGconn *conn, const char *tenant_id, const char *conversation_id,
                   const char *channel_id, const char *recipient, const char *reply_to,
                   const json_t *reply, char *outbox_id)
{
	char *js = json_dumps(reply, JSON_COMPACT);
	const char *params[6] = {tenant_id, conversation_id, channel_id, recipient, reply_to, js};
	PGresult *res = NULL;
	int rc = CONV_ERR_DB;

	if (!js)
		return CONV_ERR_DB;
	res = pg_exec(conn,
	              "INSERT INTO outbox (tenant_id, kind, conversation_id, channel_id, recipient,"
	              " reply_to, payload) VALUES ($1, 'reply', $2, $3, $4, $5, $6::jsonb)"
	              " RETURNING id",
	              6, params);
	if (!res)
		goto out;
	if (outbox_id)
		snprintf(outbox_id, 37, "%s", PQgetvalue(res, 0, 0));
	if (pg_cmd(conn, "UPDATE conversations SET last_message_at = now() WHERE id = $1", 1,
	           &conversation_id) < 0)
		goto out;
	rc = 0;
out:
	PQclear(res);
	free(js);
	return rc;
}

struct conv_row {
	char tenant_id[37];
	char channel_id[37];
	char *chat_id;
	char lang[3];
	int handoff;
};

static int conv_lock(PGconn *conn, const char *conversation_id, struct conv_row *row)
{
	PGresult *res;

	memset(row, 0, sizeof(*row));
	if (!util_uuid_valid(conversation_id))
		return CONV_ERR_NOT_FOUND;
	res = pg_exec(
	    conn,
	    "SELECT tenant_id, channel_id, external_chat_id, lang, handoff FROM conversations"
	    " WHERE id = $1 FOR UPDATE",
	    1, &conversation_id);
	if (!res)
		return CONV_ERR_DB;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return CONV_ERR_NOT_FOUND;
	}
	snprintf(row->tenant_id, sizeof(row->tenant_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(row->channel_id, sizeof(row->channel_id), "%s", PQgetvalue(res, 0, 1));
	row->chat_id = strdup(PQgetvalue(res, 0, 2));
	snprintf(row->lang, sizeof(row->lang), "%s", PQgetvalue(res, 0, 3));
	row->handoff = PQgetvalue(res, 0, 4)[0] == 't';
	PQclear(res);
	return row->chat_id ? 0 : CONV_ERR_DB;
}

int conversation_release(PGconn *conn, const char *conversation_id)
{
	struct conv_row row;
	json_t *reply = NULL;
	int rc;

	rc = conv_lock(conn, conversation_id, &row);
	if (rc < 0)
		return rc;
	rc = CONV_ERR_DB;
	if (pg_cmd(
	        conn,
	        "UPDATE conversations SET state = 'menu', handoff = false, misunderstandings = 0,"
	        " offered = '[\"menu\"]'::jsonb, handoff_at = NULL WHERE id = $1",
	        1, &conversation_id) < 0)
		goto out;
	if (conv_event_add(conn, row.tenant_id, conversation_id, "handoff_released", NULL) < 0)
		goto out;
	reply = json_pack(
	    "{s:s, s:s, s:[{s:s, s:s}]}", "lang", strcmp(row.lang, "sw") == 0 ? "sw" : "en", "text",
	    strcmp(row.lang, "sw") == 0
	        ? "Umerudi kwa msaidizi wa duka. Niko hapa kukusaidia kununua."
	        : "You're back with the shop assistant. I'm here to help you shop.",
	    "buttons", "title", strcmp(row.lang, "sw") == 0 ? "Menyu" : "Menu", "payload", "menu");
	if (!reply || conv_reply_add(conn, row.tenant_id, conversation_id, row.channel_id,
	                             row.chat_id, NULL, reply, NULL) < 0)
		goto out;
	rc = 0;
out:
	json_decref(reply);
	free(row.chat_id);
	return rc;
}

int conversation_agent_message(PGconn *conn, const char *conversation_id, const char *text)
{
	struct conv_row row;
	json_t *reply = NULL;
	char *clean = NULL;
	int rc;

	if (!text || !*text || strlen(text) > 4096 || !utf8_valid(text, strlen(text)))
		return CONV_ERR_INVALID;
	rc = conv_lock(conn, conversation_id, &row);
	if (rc < 0)
		return rc;
	rc = CONV_ERR_DB;
	clean = cm_utf8_clean(text, strlen(text), 4096);
	if (!clean)
		goto out;
	if (pg_cmd(conn,
	           "UPDATE conversations SET state = 'handoff', handoff = true,"
	           " offered = CASE WHEN handoff THEN offered ELSE '[]'::jsonb END,"
	           " handoff_at = COALESCE(handoff_at, now()), agent_at = now() WHERE id = $1",
	           1, &conversation_id) < 0)
		goto out;
	reply = json_pack("{s:s, s:b}", "text", clean, "agent", 1);
	if (!reply || conv_reply_add(conn, row.tenant_id, conversation_id, row.channel_id,
	                             row.chat_id, NULL, reply, NULL) < 0)
		goto out;
	rc = 0;
out:
	json_decref(reply);
	free(clean);
	free(row.chat_id);
	return rc;
}
