/*
 * inbound.c: the platform-neutral inbound flow (see inbound.h). The adapter of the URL's type
 * authenticates the request with the channel's opened secrets and parses it; this file routes
 * each item to its channel, runs the engine in one tenant transaction per message, applies
 * statuses forward-only and answers only after it all committed.
 */
#include "inbound.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel_open.h"
#include "db.h"
#include "engine.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "txgroup.h"
#include "app.h"
#include "util.h"

#define INBOUND_VERIFY_MAX 256 /* the longest answer to a verification handshake */

/* ---- channels ---- */

void inbound_channel_clear(struct inbound_channel *ch)
{
	free(ch->external_id);
	channel_config_free(ch->config);
	memset(ch, 0, sizeof(*ch));
}

static enum inbound_load channel_read(struct app *app, PGconn *conn,
                                      const struct channel_ops *ops, int by_external,
                                      const char *key, struct inbound_channel *ch)
{
	static const char by_id[] =
	    "SELECT tenant_id, channel_id, type, status, external_id, secrets, config::text"
	    " FROM channel_route($1::uuid)";
	static const char by_ext[] =
	    "SELECT tenant_id, channel_id, type, status, external_id, secrets, config::text"
	    " FROM channel_route_external($2, $1)";
	const char *params[2] = {key, ops->type};
	PGresult *res;
	enum inbound_load rc = INBOUND_LOAD_OK;
	char err[160];

	memset(ch, 0, sizeof(*ch));
	res = pg_exec(conn, by_external ? by_ext : by_id, by_external ? 2 : 1, params);
	if (!res)
		return INBOUND_LOAD_DB;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return INBOUND_LOAD_NOT_FOUND;
	}
	snprintf(ch->tenant_id, sizeof(ch->tenant_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(ch->channel_id, sizeof(ch->channel_id), "%s", PQgetvalue(res, 0, 1));
	ch->active = strcmp(PQgetvalue(res, 0, 2), ops->type) == 0 &&
	             strcmp(PQgetvalue(res, 0, 3), "disabled") != 0;
	if (pg_value(res, 0, 4))
		ch->external_id = strdup(PQgetvalue(res, 0, 4));
	if (ch->active &&
	    channel_open_bytea(app_secret_key(app), ch->tenant_id,
	                       pg_value(res, 0, 6), pg_value(res, 0, 5), &ch->config, err,
	                       sizeof(err)) != CHANNEL_OPEN_OK)
		rc = INBOUND_LOAD_SECRETS;
	PQclear(res);
	return rc;
}

/* ---- channels kept in memory ----
 *
 * A webhook needs its channel and routing ids (a WhatsApp phone number) resolved and its
 * secrets opened: a call into the database and an AES-GCM open per request. What was read is
 * kept while this process hears of every change of the channels table (app.h: channels_gen;
 * 059's NOTIFY). Entries are copies: a caller owns what it is given. */

#define CHANNEL_CACHE_SIZE 128

struct cached_channel {
	char key[160]; /* type, "#" or "@" (id or routing id), the key */
	unsigned long gen;
	enum inbound_load rc;
	struct inbound_channel ch;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached_channel cache[CHANNEL_CACHE_SIZE];
static size_t cache_next;

static int channel_copy(struct inbound_channel *dst, const struct inbound_channel *src)
{
	*dst = *src;
	dst->external_id = src->external_id ? strdup(src->external_id) : NULL;
	dst->config = src->config ? json_deep_copy(src->config) : NULL;
	if ((src->external_id && !dst->external_id) || (src->config && !dst->config)) {
		inbound_channel_clear(dst);
		return -1;
	}
	return 0;
}

enum inbound_load inbound_channel_load(struct app *app, PGconn **conn, struct db_pool *pool,
                                       const struct channel_ops *ops, int by_external,
                                       const char *key, struct inbound_channel *ch)
{
	unsigned long gen = atomic_load(&app->channels_gen);
	int watched = atomic_load(&app->channels_watched);
	char ckey[160];
	enum inbound_load rc;
	size_t i;

	memset(ch, 0, sizeof(*ch));
	if (snprintf(ckey, sizeof(ckey), "%s%c%s", ops->type, by_external ? '@' : '#', key) >=
	    (int)sizeof(ckey))
		watched = 0;
	if (watched) {
		pthread_mutex_lock(&cache_lock);
		for (i = 0; i < CHANNEL_CACHE_SIZE; i++)
			if (cache[i].gen == gen && strcmp(cache[i].key, ckey) == 0)
				break;
		rc = i < CHANNEL_CACHE_SIZE ? cache[i].rc : INBOUND_LOAD_DB;
		if (i < CHANNEL_CACHE_SIZE && channel_copy(ch, &cache[i].ch) < 0)
			i = CHANNEL_CACHE_SIZE;
		pthread_mutex_unlock(&cache_lock);
		if (i < CHANNEL_CACHE_SIZE)
			return rc;
	}
	if (!*conn && pool)
		*conn = db_pool_acquire(pool, DB_POOL_WAIT_MS);
	if (!*conn)
		return INBOUND_LOAD_DB;
	rc = channel_read(app, *conn, ops, by_external, key, ch);
	if (!watched || rc != INBOUND_LOAD_OK) /* unknown ids are not kept: they would crowd */
		return rc;                     /* out the real ones */
	pthread_mutex_lock(&cache_lock);
	{
		struct cached_channel *c = &cache[cache_next];

		cache_next = (cache_next + 1) % CHANNEL_CACHE_SIZE;
		inbound_channel_clear(&c->ch);
		c->key[0] = '\0';
		if (channel_copy(&c->ch, ch) == 0) {
			snprintf(c->key, sizeof(c->key), "%s", ckey);
			c->gen = gen; /* read before the row: a change meanwhile makes it stale */
			c->rc = rc;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	return rc;
}

/* ---- one batch ---- */

/* Where the items for one routing id go, resolved once per batch. */
enum route_state { ROUTE_OK, ROUTE_UNKNOWN, ROUTE_FOREIGN };

struct route {
	const char *key; /* borrowed from the batch */
	enum route_state state;
	struct inbound_channel ch;
	const struct inbound_channel *use; /* ch, or the batch's own channel */
	int reported;
};

/* The state of one batch. */
struct run {
	struct app *app;
	PGconn **conn;        /* the caller's; with pool, lent back while a group writes */
	struct db_pool *pool; /* where *conn came from, or NULL: the caller's own */
	const struct channel_ops *ops;
	const struct inbound_channel *own; /* the channel the batch came for */
	struct route *routes;
	size_t nroutes;
	struct inbound_result *out;
};

/* The run's connection, borrowed again from its pool when a group commit took it back; NULL
 * when none can be had (the statement then fails as with a lost connection). */
static PGconn *run_conn(struct run *p)
{
	if (!*p->conn && p->pool)
		*p->conn = db_pool_acquire(p->pool, DB_POOL_WAIT_MS);
	return *p->conn;
}

static struct route *route_get(struct run *p, const char *key)
{
	const char *auth = p->ops->auth_secret;
	struct route *r, *nr;
	enum inbound_load rc;
	size_t i;

	for (i = 0; i < p->nroutes; i++)
		if (strcmp(p->routes[i].key, key) == 0)
			return &p->routes[i];
	nr = realloc(p->routes, (p->nroutes + 1) * sizeof(*nr));
	if (!nr) {
		p->out->db_error = PG_ERR_ABORT; /* out of memory: 503, the platform retries */
		return NULL;
	}
	p->routes = nr;
	r = &p->routes[p->nroutes];
	memset(r, 0, sizeof(*r));
	r->key = key;
	if (p->own->external_id && strcmp(p->own->external_id, key) == 0) {
		/* the common case: the routing id of the batch's own channel */
		r->use = p->own;
		r->state = ROUTE_OK;
	} else {
		rc = inbound_channel_load(p->app, p->conn, p->pool, p->ops, 1, key, &r->ch);
		if (rc == INBOUND_LOAD_DB) {
			p->out->db_error = PG_ERR_UNAVAILABLE;
			inbound_channel_clear(&r->ch);
			return NULL;
		}
		r->use = &r->ch;
		if (rc != INBOUND_LOAD_OK || !r->ch.active)
			r->state = ROUTE_UNKNOWN;
		else if (!auth || !util_ct_streq(channel_config_str(r->ch.config, auth),
		                                 channel_config_str(p->own->config, auth)))
			/* another app's channel: this request's signature does not vouch for it */
			r->state = ROUTE_FOREIGN;
		else
			r->state = ROUTE_OK;
	}
	p->nroutes++;
	return r;
}

/* Inserts a channel_events row in its own tenant transaction. */
struct event_tx {
	const char *tenant_id, *channel_id, *type;
	json_t *payload;
};

static int event_tx_fn(PGconn *conn, void *arg)
{
	struct event_tx *e = arg;
	char *payload = json_dumps(e->payload, JSON_COMPACT);
	const char *params[4] = {e->tenant_id, e->channel_id, e->type, payload};
	int rc;

	if (!payload)
		return PG_ERR_ABORT;
	rc = pg_cmd(conn,
	            "INSERT INTO channel_events (tenant_id, channel_id, event_type, payload)"
	            " VALUES ($1, $2, $3, $4::jsonb)",
	            4, params);
	free(payload);
	return rc < 0 ? PG_ERR_QUERY : 0;
}

/* Stores a channel event "<type>_<event>" (takes payload). */
static void channel_event(struct run *p, const struct inbound_channel *ch, const char *event,
                          json_t *payload)
{
	char type[64];
	struct event_tx e = {ch->tenant_id, ch->channel_id, type, payload};
	int rc;

	if (!payload)
		return;
	snprintf(type, sizeof(type), "%s_%s", p->ops->type, event);
	rc = pg_tx_run(run_conn(p), ch->tenant_id, event_tx_fn, &e);
	if (rc == PG_ERR_UNAVAILABLE || rc == PG_ERR_RETRY)
		p->out->db_error = rc;
	json_decref(payload);
}

/* The channel an item with routing id key goes to (NULL key: the batch's own), or NULL when
 * it is skipped: logged and recorded once per routing id. */
static const struct inbound_channel *route_for(struct run *p, const char *key)
{
	struct route *r;
	struct log_ctx lc = {p->own->tenant_id, p->own->channel_id, NULL};
	const char *noun = p->ops->external_noun ? p->ops->external_noun : "id";

	if (!key)
		return p->own;
	r = route_get(p, key);
	if (!r)
		return NULL;
	if (r->state == ROUTE_OK)
		return r->use;
	if (!r->reported) {
		r->reported = 1;
		log_warn(&lc, "%s: change for %s %s skipped: %s%s%s", p->ops->type,
		         p->ops->external_field, key,
		         r->state == ROUTE_UNKNOWN ? "no active channel has that " : "that ", noun,
		         r->state == ROUTE_UNKNOWN ? "" : "'s channel is of another app");
		channel_event(p, p->own, "unknown_number",
		              json_pack("{s:s, s:s}", p->ops->external_field, key, "reason",
		                        r->state == ROUTE_UNKNOWN ? "unknown" : "other_app"));
	}
	return NULL;
}

/* ---- messages ---- */

struct msg_tx {
	struct engine *engine;
	const struct msg_inbound *m;
	struct engine_result res;
	int rc;
	const struct inbound_channel *ch; /* its after_turn, when set */
};

static int msg_tx_fn(PGconn *conn, void *arg)
{
	struct msg_tx *t = arg;

	memset(&t->res, 0, sizeof(t->res));
	t->rc = engine_handle(t->engine, conn, t->m, &t->res);
	if (t->rc == 0 && t->ch && t->ch->after_turn &&
	    t->ch->after_turn(conn, t->res.conversation_id, t->ch->after_turn_arg) < 0)
		return PG_ERR_QUERY;
	return t->rc < 0 ? t->rc : 0;
}

struct fail_tx {
	const struct msg_inbound *m;
	const char *error;
	int final;
};

static int fail_tx_fn(PGconn *conn, void *arg)
{
	struct fail_tx *f = arg;

	return engine_inbound_failed(conn, f->m, f->error, &f->final) < 0 ? PG_ERR_QUERY : 0;
}

/* A message that failed for good (a constraint, a bug: not the database being away). Its
 * tries are counted across redeliveries: before the last, 503 (the platform sends the batch
 * again, and what was handled in it is a duplicate then); at the last it is recorded as
 * failed and the batch answered 200, so one bad message cannot keep the others retrying for
 * ever. */
static void message_failed(struct run *p, const struct msg_inbound *m, int rc,
                           const struct log_ctx *lc)
{
	const char *type = p->ops->type;
	char error[96];
	struct fail_tx f = {m, error, 0};
	int frc;

	snprintf(error, sizeof(error), "the engine could not handle it (error %d, SQLSTATE %s)",
	         rc, pg_last_sqlstate()[0] ? pg_last_sqlstate() : "none");
	frc = pg_tx_run(run_conn(p), m->tenant_id, fail_tx_fn, &f);
	if (frc != 0) {
		p->out->db_error = frc;
		metrics_inbound_observe(type, "unavailable");
		log_error(lc, "%s: message %s not handled, nor its failure recorded (%d)", type,
		          m->message_id, frc);
		return;
	}
	if (!f.final) {
		p->out->retry_later = 1; /* 503 once the rest is done: tried again at redelivery */
		metrics_inbound_observe(type, "retrying");
		log_error(lc, "%s: message %s not handled: %s; it will be delivered again", type,
		          m->message_id, error);
		return;
	}
	p->out->failed++;
	metrics_inbound_observe(type, "failed");
	log_error(lc, "%s: message %s failed for good after %d tries: %s", type, m->message_id,
	          ENGINE_INBOUND_TRIES, error);
}

static void run_message(struct run *p, struct channel_message *cm)
{
	const struct inbound_channel *ch = route_for(p, cm->route);
	const char *type = p->ops->type;
	struct msg_inbound *m = cm->msg;
	struct msg_tx t = {.engine = p->app->engine, .m = m};
	struct log_ctx lc = {NULL, NULL, NULL};
	char key[384];
	int rc;

	if (!ch) {
		p->out->skipped++;
		metrics_inbound_observe(type, "skipped");
		return;
	}
	memcpy(m->tenant_id, ch->tenant_id, sizeof(m->tenant_id));
	memcpy(m->channel_id, ch->channel_id, sizeof(m->channel_id));
	t.ch = ch;
	lc.tenant = m->tenant_id;
	lc.channel = m->channel_id;
	/* the conversation's key: two messages of one chat never sit in groups running at once */
	snprintf(key, sizeof(key), "%s:%s", m->channel_id, m->chat_id ? m->chat_id : "");
	rc = txgroup_run(ch->alone ? NULL : p->app->txgroup, p->pool, p->conn, m->tenant_id, key,
	                 msg_tx_fn, &t);
	if (rc == 0 && t.rc == ENGINE_DUPLICATE) {
		p->out->duplicates++;
		metrics_inbound_observe(type, "duplicate");
		log_debug(&lc, "%s: %s already handled", type, m->message_id);
	} else if (rc == 0) {
		p->out->handled++;
		p->out->replies += t.res.replies;
		metrics_inbound_observe(type, "handled");
		lc.conversation = t.res.conversation_id;
		log_debug(&lc, "%s: %s (%s) handled, %d replies", type, m->message_id,
		          msg_kind_name(m->kind), t.res.replies);
	} else if (rc == ENGINE_ERR_INVALID) {
		p->out->skipped++;
		metrics_inbound_observe(type, "invalid");
		log_warn(&lc, "%s: message %s is not one the engine can take; skipped", type,
		         m->message_id);
	} else if (rc == PG_ERR_UNAVAILABLE || rc == PG_ERR_RETRY) {
		/* transient: 503, the platform delivers the batch again */
		p->out->db_error = rc;
		metrics_inbound_observe(type, "unavailable");
		log_warn(&lc, "%s: message %s not handled now (database unavailable)", type,
		         m->message_id);
	} else {
		message_failed(p, m, rc, &lc);
	}
}

/* ---- statuses ---- */

/* outbox rank: pending/sending/dead/undeliverable 0 < sent 1 < delivered 2 < read 3; a
 * failure applies only before delivery and is final. */
#define STATUS_RANK(col)                                                                           \
	"(CASE " col " WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3"              \
	" WHEN 'failed' THEN 4 ELSE 0 END)"

struct status_tx {
	const struct channel_status *st;
	const char *type;
	const char *channel_id;
	int updated;
	int pending; /* kept for when the send's outcome is written (053) */
};

/* The event payload of a status, without the outbox id (heap JSON text, or NULL). */
static char *status_payload(const char *type, const struct channel_status *st)
{
	json_t *pj = json_pack("{s:s, s:s, s:s?, s:I}", "platform_message_id",
	                       st->platform_message_id, "channel", type, "recipient",
	                       st->recipient, "timestamp", (json_int_t)st->timestamp);
	char *out;

	if (pj && st->kind == CHANNEL_STATUS_FAILED) {
		json_object_set_new(pj, "error_code", json_integer(st->error_code));
		if (st->error_title)
			json_object_set_new(pj, "error_title", json_string(st->error_title));
		if (st->error_details)
			json_object_set_new(pj, "error_details", json_string(st->error_details));
	}
	out = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
	json_decref(pj);
	return out;
}

/* No outbox row has the status's id yet: the send's outcome is still to be written (the
 * status won the race) unless the message is known and the status simply stale. */
static int status_keep(PGconn *conn, struct status_tx *t, const char *const upd[6])
{
	PGresult *res =
	    pg_exec(conn,
	            "INSERT INTO pending_statuses (tenant_id, channel_id, platform_message_id,"
	            " status, error_code, error_text, payload)"
	            " SELECT app_tenant_id(), $1::uuid, $2, $3, $4::bigint, $5, $6::jsonb"
	            " WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id ="
	            " app_tenant_id() AND o.channel_id = $1::uuid AND o.platform_message_id"
	            " = $2) RETURNING 1",
	            6, upd);

	if (!res)
		return PG_ERR_QUERY;
	t->pending = PQntuples(res);
	PQclear(res);
	if (t->pending && pg_cmd(conn,
	                         "DELETE FROM pending_statuses WHERE tenant_id = app_tenant_id()"
	                         " AND received_at < now() - interval '1 day'",
	                         0, NULL) < 0)
		return PG_ERR_QUERY;
	return 0;
}

static int status_tx_fn(PGconn *conn, void *arg)
{
	struct status_tx *t = arg;
	const struct channel_status *st = t->st;
	char code[24] = "";
	char *payload = status_payload(t->type, st);
	const char *upd[6];
	const char *ev[4];
	const char *event = st->kind == CHANNEL_STATUS_READ        ? "message_read"
	                    : st->kind == CHANNEL_STATUS_DELIVERED ? "message_delivered"
	                    : st->kind == CHANNEL_STATUS_FAILED    ? "message_failed"
	                                                           : NULL;
	PGresult *res = NULL;
	int rc = PG_ERR_QUERY;

	t->updated = 0;
	t->pending = 0;
	if (!payload)
		return PG_ERR_ABORT;
	if (st->error_code)
		snprintf(code, sizeof(code), "%ld", st->error_code);
	upd[0] = t->channel_id;
	upd[1] = st->platform_message_id;
	upd[2] = channel_status_kind_name(st->kind);
	upd[3] = code[0] ? code : NULL;
	upd[4] = st->error_title ? st->error_title : st->error_details;
	upd[5] = payload;
	/* one message's statuses and its send outcome, one at a time (the dispatcher takes the
	 * same lock before it stores the id): a status is either applied or kept, never lost */
	if (pg_cmd(conn, "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))", 2,
	           upd) < 0)
		goto out;
	res = pg_exec(conn,
	              "UPDATE outbox o SET status = $3,"
	              " error_code = CASE WHEN $3 = 'failed' THEN $4::bigint ELSE o.error_code END,"
	              " last_error = CASE WHEN $3 = 'failed' THEN $5 ELSE o.last_error END"
	              " WHERE o.tenant_id = app_tenant_id() AND o.channel_id = $1::uuid"
	              " AND o.platform_message_id = $2"
	              " AND CASE WHEN $3 = 'failed' THEN " STATUS_RANK("o.status") " < 2"
	              " ELSE o.status <> 'failed' AND " STATUS_RANK("o.status") " < "
	                  STATUS_RANK("$3") " END"
	              " RETURNING o.id, o.conversation_id",
	              5, upd);
	if (!res)
		goto out;
	t->updated = PQntuples(res);
	if (t->updated && event && pg_value(res, 0, 1)) {
		ev[0] = PQgetvalue(res, 0, 1);
		ev[1] = event;
		ev[2] = payload;
		ev[3] = PQgetvalue(res, 0, 0);
		if (pg_cmd(conn,
		           "INSERT INTO conversation_events (tenant_id, conversation_id, event_type,"
		           " payload) VALUES (app_tenant_id(), $1::uuid, $2,"
		           " $3::jsonb || jsonb_build_object('outbox_id', $4::text))",
		           4, ev) < 0)
			goto out;
	}
	rc = t->updated ? 0 : status_keep(conn, t, upd);
out:
	free(payload);
	PQclear(res);
	return rc;
}

static void run_status(struct run *p, const struct channel_status *st)
{
	const struct inbound_channel *ch = route_for(p, st->route);
	struct status_tx t = {st, p->ops->type, NULL, 0, 0};
	struct log_ctx lc = {NULL, NULL, NULL};
	const char *kept;
	int rc;

	if (!ch || st->kind == CHANNEL_STATUS_OTHER)
		return;
	t.channel_id = ch->channel_id;
	lc.tenant = ch->tenant_id;
	lc.channel = ch->channel_id;
	rc = pg_tx_run(run_conn(p), ch->tenant_id, status_tx_fn, &t);
	if (rc < 0) {
		p->out->db_error = rc;
		return;
	}
	p->out->statuses += t.updated;
	kept = t.pending ? " (kept until the send's outcome is written)" : NULL;
	if (st->kind == CHANNEL_STATUS_FAILED)
		log_warn(&lc, "%s: message %s to %s failed: %ld %s%s", t.type,
		         st->platform_message_id, st->recipient ? st->recipient : "?",
		         st->error_code, st->error_title ? st->error_title : "",
		         t.updated ? "" : kept ? kept : " (not recorded: already delivered)");
	else
		log_debug(&lc, "%s: message %s %s%s", t.type, st->platform_message_id, st->name,
		          t.updated ? "" : kept ? kept : " (no newer state to record)");
}

/* ---- chat events ---- */

struct chat_tx {
	const struct channel_chat_event *e;
	const char *channel_id;
	int duplicate;
};

/* Records the event once (by its id, as messages are de-duplicated), sets or clears the
 * conversation's blocked_at, and adds a conversation event when the chat has one. */
static int chat_tx_fn(PGconn *conn, void *arg)
{
	struct chat_tx *t = arg;
	const struct channel_chat_event *e = t->e;
	const char *kind = channel_chat_kind_name(e->kind);
	char *payload = json_dumps(e->payload, JSON_COMPACT);
	const char *p[5] = {t->channel_id, e->event_id, kind, e->chat_id, payload};
	PGresult *res = NULL;
	int rc = PG_ERR_QUERY;

	if (!payload)
		return PG_ERR_ABORT;
	res = pg_exec(conn,
	              "INSERT INTO inbound_messages (tenant_id, channel_id, platform_message_id, kind)"
	              " VALUES (app_tenant_id(), $1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
	              3, p);
	if (!res)
		goto out;
	t->duplicate = PQntuples(res) == 0;
	PQclear(res);
	res = NULL;
	if (t->duplicate) {
		rc = 0;
		goto out;
	}
	if (pg_cmd(conn,
	           "WITH c AS (UPDATE conversations SET blocked_at = CASE $3"
	           "   WHEN 'bot_blocked' THEN COALESCE(blocked_at, now())"
	           "   WHEN 'bot_unblocked' THEN NULL ELSE blocked_at END"
	           " WHERE tenant_id = app_tenant_id() AND channel_id = $1 AND external_chat_id = $4"
	           " RETURNING id)"
	           " INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)"
	           " SELECT app_tenant_id(), c.id, $3, $5::jsonb"
	           "   || jsonb_build_object('platform_message_id', $2::text) FROM c",
	           5, p) < 0)
		goto out;
	rc = 0;
out:
	PQclear(res);
	free(payload);
	return rc;
}

static void run_chat(struct run *p, const struct channel_chat_event *e)
{
	const struct inbound_channel *ch = route_for(p, e->route);
	struct chat_tx t = {e, NULL, 0};
	struct log_ctx lc = {NULL, NULL, NULL};
	int rc;

	if (!ch)
		return;
	t.channel_id = ch->channel_id;
	lc.tenant = ch->tenant_id;
	lc.channel = ch->channel_id;
	rc = pg_tx_run(run_conn(p), ch->tenant_id, chat_tx_fn, &t);
	if (rc < 0) {
		p->out->db_error = rc;
		return;
	}
	if (t.duplicate) {
		p->out->duplicates++;
		return;
	}
	p->out->handled++;
	metrics_inbound_observe(p->ops->type, channel_chat_kind_name(e->kind));
	log_info(&lc, "%s: chat %s: %s", p->ops->type, e->chat_id, channel_chat_kind_name(e->kind));
}

/* ---- notices ---- */

static void run_notice(struct run *p, struct channel_notice *n)
{
	const struct inbound_channel *ch = route_for(p, n->route);
	struct log_ctx lc;

	if (!ch)
		return; /* skipped: already logged and recorded */
	lc = (struct log_ctx){ch->tenant_id, ch->channel_id, NULL};
	log_error(&lc, "%s: %s", p->ops->type, n->summary);
	channel_event(p, ch, n->event, n->payload);
	n->payload = NULL;
}

void inbound_run(struct app *app, PGconn **conn, struct db_pool *pool,
                 const struct channel_ops *ops, const struct inbound_channel *ch,
                 struct channel_batch *b, struct inbound_result *out)
{
	struct run p = {app, conn, pool, ops, ch, NULL, 0, out};
	size_t i;

	for (i = 0; i < b->nmessages && !out->db_error; i++)
		run_message(&p, &b->messages[i]);
	for (i = 0; i < b->nstatuses && !out->db_error; i++)
		run_status(&p, &b->statuses[i]);
	for (i = 0; i < b->nnotices && !out->db_error; i++)
		run_notice(&p, &b->notices[i]);
	for (i = 0; i < b->nchats && !out->db_error; i++)
		run_chat(&p, &b->chats[i]);
	/* local replies are not the dispatcher's; a handled message may also have written seller
	 * notifications, and its rows were written without a NOTIFY when the engine knows this
	 * process wakes its dispatcher (engine_set_wake_local, sql/099) */
	if ((out->replies || out->handled) && !ops->deliver_local)
		app_outbox_kick(app);
	for (i = 0; i < p.nroutes; i++)
		inbound_channel_clear(&p.routes[i].ch);
	free(p.routes);
}

/* ---- the webhook routes ---- */

static const char *http_header_of(const void *req, const char *name)
{
	return http_request_header(req, name);
}

static int http_query_of(const void *req, const char *name, char *out, size_t outlen)
{
	return http_query_get(req, name, out, outlen);
}

static void http_view(const struct http_request *req, struct channel_http *in)
{
	in->body = req->body ? req->body : "";
	in->body_len = req->body_len;
	in->req = req;
	in->header = http_header_of;
	in->query = http_query_of;
}

/* The adapter of the URL's type when it takes webhooks (with parse, or verify on GET). */
static const struct channel_ops *route_ops(const struct http_request *req, int get)
{
	const struct channel_ops *ops =
	    req->nparams > 1 ? channel_ops_find(req->params[0]) : NULL;

	if (!ops || !ops->webhook || !ops->authenticate || !ops->parse)
		return NULL;
	return get && !ops->verify ? NULL : ops;
}

void inbound_webhook_verify(struct http_ctx *ctx, const struct http_request *req,
                            struct http_response *resp)
{
	const struct channel_ops *ops = route_ops(req, 1);
	const char *id = req->nparams > 1 ? req->params[1] : "";
	char answer[INBOUND_VERIFY_MAX] = "", err[128] = "";
	struct inbound_channel ch;
	struct channel_http in;
	struct log_ctx lc = {NULL, id, NULL};
	enum inbound_load rc;
	int vrc;

	memset(&ch, 0, sizeof(ch));
	if (!ops) {
		http_response_error(resp, 404, "not_found", "no such route");
		return;
	}
	http_view(req, &in);
	/* the form first, with no channel (so no token can match): is this a handshake? */
	vrc = ops->verify(&in, NULL, answer, sizeof(answer), err, sizeof(err));
	if (vrc == -1 || !util_uuid_valid(id)) {
		http_response_error(resp, 403, "forbidden", "%s", err);
		goto out;
	}
	rc = inbound_channel_load(ctx->app, &ctx->conn, NULL, ops, 0, id, &ch);
	if (rc == INBOUND_LOAD_DB) {
		http_response_error(resp, 503, "database_unavailable",
		                    "the database is not answering; try again shortly");
		goto out;
	}
	if (rc == INBOUND_LOAD_SECRETS)
		log_error(&lc, "%s: the channel's secrets do not open (CCGW_SECRET_KEY?)",
		          ops->type);
	if (rc == INBOUND_LOAD_OK && ch.active)
		vrc = ops->verify(&in, ch.config, answer, sizeof(answer), err, sizeof(err));
	if (vrc != 0) {
		log_warn(&lc, "%s: webhook verification refused", ops->type);
		http_response_error(resp, 403, "forbidden", "%s", err);
		goto out;
	}
	log_info(&lc, "%s: webhook verified", ops->type);
	http_response_body(resp, 200, "text/plain", answer, strlen(answer));
out:
	explicit_bzero(answer, sizeof(answer));
	inbound_channel_clear(&ch);
}

void inbound_webhook_receive(struct http_ctx *ctx, const struct http_request *req,
                             struct http_response *resp)
{
	const struct channel_ops *ops = route_ops(req, 0);
	const char *id = req->nparams > 1 ? req->params[1] : "";
	struct inbound_result res;
	struct inbound_channel ch;
	struct channel_batch *b = NULL;
	struct channel_http in;
	struct log_ctx lc = {NULL, id, NULL};
	enum channel_auth auth;
	enum inbound_load rc;
	char err[256];

	memset(&res, 0, sizeof(res));
	memset(&ch, 0, sizeof(ch));
	if (!ops || !util_uuid_valid(id)) {
		http_response_error(resp, 404, "not_found", ops ? "unknown channel" : "no such route");
		return;
	}
	if (!ctx->app->engine) {
		http_response_error(resp, 503, "unavailable", "the engine is not running");
		return;
	}
	/* the connection is borrowed only when the channel must be read: a message that joins a
	 * group commit never needs one (txgroup_run) */
	rc = inbound_channel_load(ctx->app, &ctx->conn, ctx->app->pool, ops, 0, id, &ch);
	if (rc == INBOUND_LOAD_DB) {
		http_response_error(resp, 503, "database_unavailable",
		                    "the database is not answering; try again shortly");
		goto out;
	}
	if (rc == INBOUND_LOAD_NOT_FOUND || !ch.active) {
		http_response_error(resp, 404, "not_found", "unknown channel");
		goto out;
	}
	lc.tenant = ch.tenant_id;
	if (rc == INBOUND_LOAD_SECRETS || !channel_config_str(ch.config, ops->auth_secret)) {
		log_error(&lc, "%s: the channel's secrets are not available "
		               "(CCGW_SECRET_KEY changed?)", ops->type);
		http_response_error(resp, 500, "channel_secrets",
		                    "the channel's secrets are not available");
		goto out;
	}
	http_view(req, &in);
	auth = ops->authenticate(&in, ch.config);
	if (auth != CHANNEL_AUTH_OK) {
		log_warn(&lc, "%s: webhook with a %s %s refused", ops->type,
		         auth == CHANNEL_AUTH_MISSING ? "missing" : "wrong", ops->auth_header);
		http_response_error(resp, 401, "bad_signature",
		                    "%s is missing or does not match", ops->auth_header);
		goto out;
	}
	b = ops->parse(in.body, in.body_len, err, sizeof(err));
	if (!b) {
		log_warn(&lc, "%s: webhook body refused: %s", ops->type, err);
		http_response_error(resp, 400, "bad_payload", "%s", err);
		goto out;
	}
	inbound_run(ctx->app, &ctx->conn, ctx->app->pool, ops, &ch, b, &res);
	if (res.db_error || res.retry_later) {
		http_response_error(resp, 503, "database_unavailable",
		                    "the webhook could not be stored; it will be delivered again");
		goto out;
	}
	http_response_json(resp, 200,
	                   json_pack("{s:i, s:i, s:i, s:i, s:i}", "handled", res.handled,
	                             "duplicates", res.duplicates, "skipped", res.skipped,
	                             "statuses", res.statuses, "failed", res.failed));
out:
	channel_batch_free(b);
	inbound_channel_clear(&ch);
}
