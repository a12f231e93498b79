/*
 * engine.c: the entry of the conversation engine (see engine.h). In the caller's transaction:
 * records the platform message id (a redelivery stops here), finds or creates the customer
 * and the conversation, locks the conversation row so its messages are handled one at a
 * time across threads and processes, runs the state machine (engine_fsm.c) and saves the
 * conversation. Outside text is cleaned (valid UTF-8, bounded) before anything stores it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce_util.h"
#include "conversation.h"
#include "engine_internal.h"
#include "pg.h"
#include "trust.h"

struct engine *engine_new(const struct nlp *nlp)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (e)
		e->nlp = nlp;
	return e;
}

void engine_free(struct engine *e)
{
	free(e);
}

void engine_set_wake_local(struct engine *e, int on)
{
	if (e)
		e->wake_local = on;
}

void engine_set_push_local(struct engine *e, int on)
{
	if (e)
		e->push_local = on;
}

/* The turn's ccgw.wake_local (sql/099, sql/102): "on" when the process wakes its own
 * dispatcher after the commit and the channel is one the dispatcher sends for (not a local
 * one, whose replies are parked and announced on ccgw_local); "push" for a web chat turn whose
 * replies the caller pushes itself (its seller notifications still notify ccgw_outbox). Set by
 * the turn's first statement, so that every outbox row of the turn (replies, seller
 * notifications) sees it, and a group transaction's earlier message does not decide for a
 * later one. */
static const char *turn_wake(const struct turn *t)
{
	if (t->m->channel == MSG_CHANNEL_WEBCHAT)
		return t->e->push_local ? "push" : "off";
	return t->e->wake_local && t->m->channel != MSG_CHANNEL_CONSOLE ? "on" : "off";
}

/* A cleaned copy of the message's strings; numbers and lines are shared with the input. */
struct clean_msg {
	struct msg_inbound m;
	char *owned[16];
	size_t nowned;
	int failed;
};

static char *clean_str(struct clean_msg *c, const char *s, size_t max)
{
	char *r;

	if (!s)
		return NULL;
	r = cm_utf8_clean(s, strlen(s), max);
	if (!r || c->nowned >= sizeof(c->owned) / sizeof(c->owned[0])) {
		free(r);
		c->failed = 1;
		return NULL;
	}
	c->owned[c->nowned++] = r;
	return r;
}

static void clean_free(struct clean_msg *c)
{
	size_t i;

	for (i = 0; i < c->nowned; i++)
		free(c->owned[i]);
}

static int clean_msg_init(struct clean_msg *c, const struct msg_inbound *in)
{
	memset(c, 0, sizeof(*c));
	c->m = *in;
	c->m.chat_id = clean_str(c, in->chat_id, 256);
	c->m.user_id = clean_str(c, in->user_id ? in->user_id : in->chat_id, 256);
	c->m.display_name = clean_str(c, in->display_name, 100);
	c->m.phone = clean_str(c, in->phone, 32);
	c->m.message_id = clean_str(c, in->message_id, 256);
	/* kept whole (up to ENGINE_TEXT_KEEP) for the event: during a handoff a person reads it;
	 * texts over ENGINE_TEXT_MAX are not parsed */
	c->m.text = clean_str(c, in->text, ENGINE_TEXT_KEEP);
	c->m.payload = clean_str(c, in->payload, 256);
	c->m.location_name = clean_str(c, in->location_name, 200);
	c->m.location_address = clean_str(c, in->location_address, 500);
	c->m.contact_name = clean_str(c, in->contact_name, 100);
	c->m.contact_phone = clean_str(c, in->contact_phone, 32);
	c->m.media_type = clean_str(c, in->media_type, 32);
	c->m.reply_to = clean_str(c, in->reply_to, 256);
	return c->failed ? -1 : 0;
}

int engine_inbound_failed(PGconn *conn, const struct msg_inbound *m, const char *error,
                          int *final)
{
	char tries[12];
	const char *params[6] = {m->tenant_id, m->channel_id, m->message_id, msg_kind_name(m->kind),
	                         error, tries};
	PGresult *res;

	*final = 0;
	snprintf(tries, sizeof(tries), "%d", ENGINE_INBOUND_TRIES);
	res = pg_exec(conn,
	              "INSERT INTO inbound_failures AS f (tenant_id, channel_id, platform_message_id,"
	              " kind, last_error, status) VALUES ($1, $2, $3, $4, $5,"
	              " CASE WHEN 1 >= $6::int THEN 'failed' ELSE 'retrying' END)"
	              " ON CONFLICT (tenant_id, channel_id, platform_message_id) DO UPDATE SET"
	              " attempts = f.attempts + 1, last_error = $5,"
	              " status = CASE WHEN f.attempts + 1 >= $6::int THEN 'failed' ELSE f.status END"
	              " RETURNING status, attempts",
	              6, params);
	if (!res)
		return -1;
	*final = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "failed") == 0;
	snprintf(tries, sizeof(tries), "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : "0");
	PQclear(res);
	if (!*final)
		return 0;
	params[5] = tries;
	if (pg_cmd(conn,
	           "INSERT INTO inbound_messages (tenant_id, channel_id, platform_message_id, kind)"
	           " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
	           4, params) < 0 ||
	    pg_cmd(conn,
	           "INSERT INTO channel_events (tenant_id, channel_id, event_type, payload)"
	           " VALUES ($1, $2, 'message_failed', jsonb_build_object('platform_message_id', $3::text,"
	           " 'kind', $4::text, 'error', $5::text, 'attempts', $6::int))",
	           6, params) < 0)
		return -1;
	return 0;
}

/* Reads the conversation's columns (c, at column `at`) into t. */
static int take_conversation(struct turn *t, PGresult *res, int at)
{
	json_t *j;

	snprintf(t->conv_id, sizeof(t->conv_id), "%s", PQgetvalue(res, 0, at));
	snprintf(t->state, sizeof(t->state), "%s", PQgetvalue(res, 0, at + 1));
	snprintf(t->next, sizeof(t->next), "%s", t->state);
	j = json_loads(PQgetvalue(res, 0, at + 2), 0, NULL);
	t->ctx = json_is_object(j) ? j : json_object();
	if (t->ctx != j)
		json_decref(j);
	j = json_loads(PQgetvalue(res, 0, at + 3), 0, NULL);
	t->offered = json_is_array(j) ? j : json_array();
	if (t->offered != j)
		json_decref(j);
	snprintf(t->lang, sizeof(t->lang), "%s", PQgetvalue(res, 0, at + 4));
	t->misunderstandings = atoi(PQgetvalue(res, 0, at + 5));
	snprintf(t->customer_id, sizeof(t->customer_id), "%s", PQgetvalue(res, 0, at + 6));
	t->idle_seconds = atol(PQgetvalue(res, 0, at + 7));
	t->handoff_seconds = atol(PQgetvalue(res, 0, at + 8));
	t->agent_replied = PQgetvalue(res, 0, at + 9)[0] == 't';
	t->log.conversation = t->conv_id;
	return t->ctx && t->offered ? 0 : -1;
}

/* The conversation's columns a turn needs, from a row source named c. */
#define CONV_COLUMNS                                                                               \
	" c.id, c.state, c.context::text, c.offered::text, c.lang, c.misunderstandings,"           \
	" COALESCE(c.customer_id::text, ''),"                                                      \
	" COALESCE(extract(epoch FROM now() - c.last_inbound_at)::bigint, -1),"                    \
	" COALESCE(extract(epoch FROM now() - c.handoff_at)::bigint, -1),"                         \
	" c.agent_at IS NOT NULL AND c.agent_at >= c.handoff_at"

/* The slow way, statement by statement: when the conversation was created by another
 * transaction while the turn's first statement ran (its snapshot could not see the row). */
static int open_turn_again(struct turn *t)
{
	const char *params[5] = {t->tenant, t->m->channel_id, t->m->message_id,
	                         msg_kind_name(t->m->kind), turn_wake(t)};
	const char *cp[3] = {t->tenant, t->m->channel_id, t->m->chat_id};
	PGresult *res;
	int fresh;

	res = pg_exec(
	    t->conn,
	    "INSERT INTO inbound_messages (tenant_id, channel_id, platform_message_id, kind)"
	    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
	    " RETURNING id, set_config('ccgw.wake_local', $5, true)",
	    5, params);
	if (!res)
		return -1;
	fresh = PQntuples(res) == 1;
	PQclear(res);
	if (!fresh)
		return ENGINE_DUPLICATE;
	res = pg_exec(t->conn,
	              "SELECT" CONV_COLUMNS " FROM conversations c WHERE c.tenant_id = $1"
	              " AND c.channel_id = $2 AND c.external_chat_id = $3 FOR UPDATE",
	              3, cp);
	if (!res || PQntuples(res) != 1 || take_conversation(t, res, 0) < 0) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return pg_cmd(t->conn,
	              "UPDATE inbound_messages SET conversation_id = $4 WHERE tenant_id = $1"
	              " AND channel_id = $2 AND platform_message_id = $3",
	              4, (const char *const[]){params[0], params[1], params[2], t->conv_id});
}

/* The turn's first statement: the conversation, created on first contact and locked; the
 * message recorded against it (a platform message id seen before is a redelivery); whether
 * the customer's name and phone are on file; the tenant row's version for the settings cache.
 * 0, ENGINE_DUPLICATE or -1. */
static int open_turn(struct turn *t)
{
	static const char sql[] =
	    "WITH ins AS ("
	    "  INSERT INTO conversations (tenant_id, channel_id, external_chat_id,"
	    "  external_user_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING *"
	    "), cur AS ("
	    "  SELECT * FROM conversations WHERE tenant_id = $1 AND channel_id = $2"
	    "  AND external_chat_id = $3 FOR UPDATE"
	    "), c AS ("
	    "  SELECT true AS created, * FROM ins UNION ALL SELECT false, * FROM cur"
	    "), m AS ("
	    "  INSERT INTO inbound_messages (tenant_id, channel_id, platform_message_id, kind,"
	    "  conversation_id) SELECT $1, $2, $5, $6, c.id FROM c"
	    "  ON CONFLICT DO NOTHING RETURNING id"
	    ") SELECT c.created, EXISTS (SELECT 1 FROM m),"
	    " COALESCE((SELECT cu.name IS NOT NULL AND cu.phone IS NOT NULL FROM customers cu"
	    "  WHERE cu.tenant_id = $1 AND cu.id = c.customer_id), false),"
	    " (SELECT xmin::text FROM tenants WHERE id = $1)," CONV_COLUMNS ","
	    " set_config('ccgw.wake_local', $7, true) FROM c";
	const char *params[7] = {t->tenant,     t->m->channel_id, t->m->chat_id,
	                         t->m->user_id, t->m->message_id, msg_kind_name(t->m->kind),
	                         turn_wake(t)};
	PGresult *res = pg_exec(t->conn, sql, 7, params);
	int rc;

	if (!res)
		return -1;
	if (PQntuples(res) != 1) { /* created meanwhile by another transaction */
		PQclear(res);
		return open_turn_again(t);
	}
	if (PQgetvalue(res, 0, 1)[0] != 't') {
		PQclear(res);
		return ENGINE_DUPLICATE;
	}
	t->created = PQgetvalue(res, 0, 0)[0] == 't';
	t->customer_known = PQgetvalue(res, 0, 2)[0] == 't';
	snprintf(t->tenant_version, sizeof(t->tenant_version), "%s", PQgetvalue(res, 0, 3));
	rc = take_conversation(t, res, 4);
	PQclear(res);
	return rc;
}

/* First contact in one statement: the identity's customer when there is one, else a new
 * customer and its identity; either way set on the conversation. Columns: the customer found,
 * the customer created (NULL when another transaction created the identity meanwhile: then
 * the new customers row is left for the caller to remove). $4 the new id, $8 the
 * conversation. */
static const char FIRST_CONTACT_SQL[] =
    "WITH found AS ("
    "  SELECT customer_id FROM customer_identities"
    "  WHERE tenant_id = $1 AND channel = $2 AND external_user_id = $3"
    "), c AS ("
    "  INSERT INTO customers (tenant_id, id, name, phone, lang)"
    "  SELECT $1, $4, NULLIF($5, ''), NULLIF($6, ''), $7 WHERE NOT EXISTS (SELECT 1 FROM found)"
    "  RETURNING id"
    "), i AS ("
    "  INSERT INTO customer_identities (tenant_id, channel, external_user_id, customer_id)"
    "  SELECT $1, $2, $3, id FROM c ON CONFLICT DO NOTHING RETURNING customer_id"
    "), who AS ("
    "  SELECT COALESCE((SELECT customer_id FROM found), (SELECT customer_id FROM i)) AS id"
    "), u AS ("
    "  UPDATE conversations SET customer_id = who.id FROM who"
    "  WHERE conversations.id = $8 AND conversations.tenant_id = $1 AND who.id IS NOT NULL"
    "  AND conversations.customer_id IS DISTINCT FROM who.id"
    ") SELECT (SELECT customer_id::text FROM found), (SELECT customer_id::text FROM i)";

/* The customer behind this platform identity, created on first contact. */
static int find_customer(struct turn *t)
{
	const char *ch = msg_channel_name(t->m->channel);
	char new_id[MSG_UUID_LEN];
	PGresult *res;
	int had_customer = t->customer_id[0] != '\0', created = 0;

	if (!had_customer) {
		const char *params[8] = {t->tenant,           ch,         t->m->user_id,
		                         new_id,              t->m->display_name, t->m->phone,
		                         t->lang,             t->conv_id};

		util_uuid_new(new_id);
		res = pg_exec(t->conn, FIRST_CONTACT_SQL, 8, params);
		if (!res || PQntuples(res) != 1) {
			PQclear(res);
			return -1;
		}
		if (!PQgetisnull(res, 0, 0)) {
			snprintf(t->customer_id, sizeof(t->customer_id), "%s", PQgetvalue(res, 0, 0));
		} else if (!PQgetisnull(res, 0, 1)) {
			snprintf(t->customer_id, sizeof(t->customer_id), "%s", PQgetvalue(res, 0, 1));
			created = 1;
		}
		PQclear(res);
	}
	if (!t->customer_id[0]) {
		/* another conversation created this identity meanwhile: use theirs, and remove the
		 * customer this statement made for nothing */
		const char *dp[1] = {new_id};
		const char *fp[3] = {t->tenant, ch, t->m->user_id};

		if (pg_cmd(t->conn, "DELETE FROM customers WHERE id = $1", 1, dp) < 0)
			return -1;
		res = pg_exec(t->conn,
		              "SELECT customer_id FROM customer_identities"
		              " WHERE tenant_id = $1 AND channel = $2 AND external_user_id = $3",
		              3, fp);
		if (!res)
			return -1;
		if (PQntuples(res) == 1)
			snprintf(t->customer_id, sizeof(t->customer_id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		if (!t->customer_id[0] ||
		    pg_cmd(t->conn,
		           "UPDATE conversations SET customer_id = $3 WHERE id = $2 AND tenant_id = $1"
		           " AND customer_id IS DISTINCT FROM $3",
		           3, (const char *const[]){t->tenant, t->conv_id, t->customer_id}) < 0)
			return -1;
	}
	/* learn the name and phone the platform tells us, without overwriting what we know (a
	 * customer made just now has them already) */
	{
		const char *up[4] = {t->customer_id, t->m->display_name, t->m->phone, t->tenant};

		if ((t->m->display_name || t->m->phone) && !created &&
		    !(had_customer && t->customer_known) &&
		    pg_cmd(
		        t->conn,
		        "UPDATE customers SET name = COALESCE(name, NULLIF($2, '')),"
		        " phone = COALESCE(phone, NULLIF($3, '')) WHERE id = $1 AND tenant_id = $4"
		        " AND ((name IS NULL AND NULLIF($2, '') IS NOT NULL)"
		        "  OR (phone IS NULL AND NULLIF($3, '') IS NOT NULL))",
		        4, up) < 0)
			return -1;
	}
	return 0;
}

int engine_write_at_commit(const struct turn *t)
{
	return t->m->channel != MSG_CHANNEL_WEBCHAT && t->m->channel != MSG_CHANNEL_CONSOLE &&
	       !t->res_local;
}

/* The turn's end: its events, its reply and the conversation's new state, in one statement,
 * sent with the COMMIT when it can be (engine_write_at_commit). */
static int save_conversation(struct turn *t)
{
	struct conv_turn_write w = {
	    .tenant_id = t->tenant,
	    .conversation_id = t->conv_id,
	    .events = t->events,
	    .channel_id = t->m->channel_id,
	    .recipient = t->m->chat_id,
	    .reply_to = t->m->message_id,
	    .reply_js = t->reply_js,
	    .state = t->next,
	    .lang = t->lang,
	    .context = t->ctx,
	    .offered = t->offered,
	    .misunderstandings = t->misunderstandings,
	    .handoff = strcmp(t->next, "handoff") == 0,
	    .parked = t->m->channel == MSG_CHANNEL_WEBCHAT || t->m->channel == MSG_CHANNEL_CONSOLE,
	    .at_commit = engine_write_at_commit(t),
	};

	if (t->order)
		return engine_order_write(t, &w);
	return conv_turn_write(t->conn, &w) < 0 ? -1 : 0;
}

static int message_event(struct turn *t, int too_long)
{
	const struct msg_inbound *m = t->m;
	json_t *p =
	    json_pack("{s:s, s:s}", "kind", msg_kind_name(m->kind), "message_id", m->message_id);

	if (!p)
		return -1;
	if (m->text && *m->text)
		json_object_set_new(p, "text", json_string(m->text));
	if (too_long)
		json_object_set_new(p, "too_long", json_true());
	if (m->payload)
		json_object_set_new(p, "payload", json_string(m->payload));
	/* everything a person needs when the bot is not answering (handoff): the place, the
	 * contact, the catalog order's lines */
	if (m->kind == MSG_KIND_LOCATION) {
		json_object_set_new(p, "latitude", json_real(m->latitude));
		json_object_set_new(p, "longitude", json_real(m->longitude));
		if (m->location_name)
			json_object_set_new(p, "location_name", json_string(m->location_name));
		if (m->location_address)
			json_object_set_new(p, "location_address",
			                    json_string(m->location_address));
	}
	if (m->kind == MSG_KIND_CONTACT) {
		if (m->contact_name)
			json_object_set_new(p, "contact_name", json_string(m->contact_name));
		if (m->contact_phone)
			json_object_set_new(p, "contact_phone", json_string(m->contact_phone));
	}
	if (m->kind == MSG_KIND_CATALOG_ORDER) {
		json_t *items = json_array();
		size_t i;

		json_object_set_new(p, "lines", json_integer((json_int_t)m->nlines));
		for (i = 0; items && i < m->nlines && i < ENGINE_LINES_MAX; i++) {
			char *sku = m->lines[i].sku ? cm_utf8_clean(m->lines[i].sku,
			                                            strlen(m->lines[i].sku), 64)
			                            : NULL;

			if (sku)
				json_array_append_new(
				    items, json_pack("{s:s, s:I}", "sku", sku, "quantity",
				                     (json_int_t)m->lines[i].quantity));
			free(sku);
		}
		json_object_set_new(p, "items", items);
	}
	if (m->media_type)
		json_object_set_new(p, "media_type", json_string(m->media_type));
	return turn_event(t, "message_received", p);
}

static int handle(struct turn *t, int too_long)
{
	int rc;

	rc = open_turn(t);
	if (rc != 0)
		return rc;
	if (find_customer(t) < 0)
		return -1;
	t->sw = strcmp(t->lang, "sw") == 0;
	if (t->created &&
	    turn_event(t, "conversation_started",
	               json_pack("{s:s, s:s}", "channel", msg_channel_name(t->m->channel),
	                         "customer_id", t->customer_id)) < 0)
		return -1;
	if (message_event(t, too_long) < 0)
		return -1;
	rc = shop_settings_get(t->conn, t->tenant, t->tenant_version, &t->shop);
	if (rc < 0)
		return -1;
	rc = trust_turn_begin(t); /* flooding, abusive language; throttle and block */
	if (rc < 0)
		return -1;
	if (rc == TRUST_SILENT) {
		t->keep_offered = 1; /* recorded, not answered (trust.h) */
	} else if (too_long && strcmp(t->state, "handoff") == 0 &&
	           t->idle_seconds < ENGINE_IDLE_RESET) {
		t->keep_offered =
		    1; /* a person reads it whole in the event: the bot stays silent */
	} else if (too_long) {
		t->keep_offered = 1;
		turn_say(t,
		         "That message is too long for me. Please write a shorter one, or type "
		         "\"menu\".",
		         "Ujumbe huo ni mrefu mno kwangu. Tafadhali andika mfupi zaidi, au andika "
		         "\"menyu\".");
	} else if (engine_fsm_run(t) < 0) {
		return -1;
	}
	if (turn_reply_flush(t) < 0)
		return -1;
	if (save_conversation(t) < 0)
		return -1;
	snprintf(t->res->conversation_id, sizeof(t->res->conversation_id), "%s", t->conv_id);
	return 0;
}

int engine_handle(struct engine *e, PGconn *conn, const struct msg_inbound *m,
                  struct engine_result *res)
{
	struct engine_result dummy;
	struct clean_msg cm;
	struct turn t;
	int rc, too_long;

	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (!e || !conn || !m || !util_uuid_valid(m->tenant_id) ||
	    !util_uuid_valid(m->channel_id) || !m->chat_id || !*m->chat_id || !m->message_id ||
	    !*m->message_id) {
		log_error(NULL, "engine: message without tenant, channel, chat or message id");
		return ENGINE_ERR_INVALID;
	}
	if (clean_msg_init(&cm, m) < 0) {
		clean_free(&cm);
		return -1;
	}
	too_long = m->text && strlen(m->text) > ENGINE_TEXT_MAX;
	memset(&t, 0, sizeof(t));
	t.q_faq = -1;
	t.e = e;
	t.conn = conn;
	t.m = &cm.m;
	t.tenant = m->tenant_id;
	t.res = res;
	t.res_local = res == &dummy;
	t.text = cm.m.text ? cm.m.text : "";
	t.idle_seconds = -1;
	t.log.tenant = m->tenant_id;
	t.log.channel = msg_channel_name(m->channel);
	sbuf_init(&t.out);
	rc = handle(&t, too_long);
	if (rc < 0 && strcmp(pg_last_sqlstate(), "55P03") == 0) /* a group's short lock wait */
		log_debug(&t.log, "engine: message %s waits for a lock; it is written alone",
		          cm.m.message_id);
	else if (rc < 0 && strcmp(pg_last_sqlstate(), "40001") == 0) /* a line ran short */
		log_debug(&t.log, "engine: message %s runs again (serialization)", cm.m.message_id);
	else if (rc < 0)
		log_warn(&t.log, "engine: message %s not handled (%d)", cm.m.message_id, rc);
	else if (rc == ENGINE_DUPLICATE)
		log_info(&t.log, "engine: message %s is a redelivery", cm.m.message_id);
	if (rc != 0) /* a duplicate or an error changes nothing the caller may report */
		memset(res, 0, sizeof(*res));
	sbuf_free(&t.out);
	json_decref(t.ctx);
	json_decref(t.offered);
	json_decref(t.buttons);
	json_decref(t.rows);
	json_decref(t.card);
	json_decref(t.events);
	free(t.reply_js);
	engine_order_free(t.order);
	shop_settings_clear(&t.shop);
	clean_free(&cm);
	return rc;
}
