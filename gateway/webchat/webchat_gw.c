/*
 * webchat_gw.c: the web chat's sockets (see webchat_gw.h): sessions, the hello and message tasks
 * that run on request workers, delivery to the socket, the token, and the listening thread.
 */
#include "webchat_gw.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "inbound.h"
#include "local_delivery.h"
#include "log.h"
#include "pg.h"
#include "tenant.h"
#include "util.h"
#include "webchat.h" /* channels/: the adapter */

#define HUB_SWEEP_MS 5000 /* a look at every socket even without a notification */
#define FLIGHT_MARK_MS 25 /* replies pushed from memory are recorded at most this late */

/* ---- sessions ---- */

struct session {
	struct session *next, *prev; /* every session, for the sweep */
	struct session *id_next;     /* the same bucket of sess_by_id */
	struct session *conv_next;   /* the same bucket of sess_by_conv, once welcomed */
	size_t conv_b;               /* that bucket */
	int in_conv;                 /* in it (a second hello may move it) */
	uint64_t id;
	int refs;
	int closed;     /* the socket is gone */
	int welcomed;   /* the fields below are set */
	int delivering; /* one delivery at a time, in outbox order */
	int again;      /* rows came while delivering: look once more */
	char slug[64], origin[256];
	char tenant_id[37], channel_id[37], conversation_id[37], chat_id[37];
	double tokens;  /* the message rate's bucket (loop thread only) */
	int64_t refill_ms;
	/* its text and postback frames, one turn at a time in the order they came (msg_submit) */
	int msg_running;
	struct msg_task *mq_head, **mq_tail;
	int mq_len;
};

/* Sessions are found by connection id (every frame, every reply) and by conversation (every
 * reply goes to each socket of its conversation) in hashes, so that neither walks all of a
 * process's sockets: with 10,000 open, walks took a worker's time for each message. */
#define SESS_BUCKETS 8192 /* a power of two */

static pthread_mutex_t sess_lock = PTHREAD_MUTEX_INITIALIZER;
static struct session *sess_head;
static struct session *sess_by_id[SESS_BUCKETS];
static struct session *sess_by_conv[SESS_BUCKETS];
static struct app *wc_app;
static unsigned char wc_key[32];

static size_t id_bucket(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)(id & (SESS_BUCKETS - 1));
}

static size_t conv_bucket(const char *conv)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *conv; conv++)
		h = (h ^ (unsigned char)*conv) * 16777619u;
	return h & (SESS_BUCKETS - 1);
}

/* The session of connection id, or NULL; sess_lock held. */
static struct session *sess_find_locked(uint64_t id)
{
	struct session *s;

	for (s = sess_by_id[id_bucket(id)]; s && s->id != id; s = s->id_next)
		;
	return s;
}

/* Takes s out of a bucket chain (by conversation or by id); sess_lock held. */
static void chain_remove(struct session **head, struct session *s, int by_conv)
{
	struct session **pp;

	for (pp = head; *pp; pp = by_conv ? &(*pp)->conv_next : &(*pp)->id_next)
		if (*pp == s) {
			*pp = by_conv ? s->conv_next : s->id_next;
			break;
		}
}

static struct session *sess_get(uint64_t id)
{
	struct session *s;

	pthread_mutex_lock(&sess_lock);
	s = sess_find_locked(id);
	if (s)
		s->refs++;
	pthread_mutex_unlock(&sess_lock);
	return s;
}

static void sess_put(struct session *s)
{
	int gone;

	pthread_mutex_lock(&sess_lock);
	gone = --s->refs == 0;
	pthread_mutex_unlock(&sess_lock);
	if (gone)
		free(s);
}

/* An error frame; client_id (may be NULL) names the message it is about, so the page knows
 * which one to send again. */
static void send_error_for(uint64_t id, const char *code, const char *message,
                           const char *client_id)
{
	json_t *f = json_pack("{s:s, s:s, s:s, s:s*}", "type", "error", "code", code, "message",
	                      message, "client_msg_id", client_id);
	char *t = f ? json_dumps(f, JSON_COMPACT) : NULL;

	if (t)
		ws_send(id, t, strlen(t));
	free(t);
	json_decref(f);
}

static void send_error(uint64_t id, const char *code, const char *message)
{
	send_error_for(id, code, message, NULL);
}

/* The client_msg_id of a frame's text (NULL when none), as a heap copy. */
static char *frame_client_id(const char *frame, size_t len)
{
	json_t *f = json_loadb(frame, len, 0, NULL);
	const char *v = json_string_value(json_object_get(f, "client_msg_id"));
	char *out = v ? strdup(v) : NULL;

	json_decref(f);
	return out;
}

static void send_json(uint64_t id, json_t *f)
{
	char *t = f ? json_dumps(f, JSON_COMPACT) : NULL;

	if (t)
		ws_send(id, t, strlen(t));
	free(t);
	json_decref(f);
}

/* ---- the token: "v1.<tenant>.<conversation>.<chat>.<expires>.<hmac>" ---- */

static void token_mac(const unsigned char *key, const char *body, char out[65])
{
	util_hmac_sha256_hex(key, 32, body, strlen(body), out);
}

void webchat_token_make(const unsigned char *key, const char *tenant, const char *conv,
                        const char *chat, long long expires, char *out, size_t outlen)
{
	char body[160], mac[65];

	snprintf(body, sizeof(body), "v1.%s.%s.%s.%lld", tenant, conv, chat, expires);
	token_mac(key, body, mac);
	snprintf(out, outlen, "%s.%s", body, mac);
}

int webchat_token_check(const unsigned char *key, const char *token, long long now,
                        char tenant[37], char conv[37], char chat[37])
{
	char body[160], mac[65], t[37], c[37], h[37];
	const char *dot;
	long long expires;
	size_t n;

	if (!token || strncmp(token, "v1.", 3) != 0)
		return -1;
	dot = strrchr(token, '.');
	n = dot ? (size_t)(dot - token) : 0;
	if (!dot || n >= sizeof(body) || strlen(dot + 1) != 64)
		return -1;
	memcpy(body, token, n);
	body[n] = '\0';
	token_mac(key, body, mac);
	if (!util_ct_streq(mac, dot + 1))
		return -1;
	if (sscanf(body, "v1.%36[0-9a-f-].%36[0-9a-f-].%36[0-9a-f-].%lld", t, c, h, &expires) != 4 ||
	    !util_uuid_valid(t) || !util_uuid_valid(c) || !util_uuid_valid(h) || expires < now)
		return -1;
	memcpy(tenant, t, 37);
	memcpy(conv, c, 37);
	memcpy(chat, h, 37);
	return 0;
}

/* ---- replies in flight ----
 *
 * A message's turn reads the replies it wrote inside its own transaction (inbound's
 * after_turn) and registers them here before the commit; right after the commit they are
 * pushed to the conversation's sockets from memory, each frame with its outbox id ("id").
 * The listening thread records pushed replies as sent (one statement per tenant for all of
 * them, every FLIGHT_MARK_MS at most), then forgets them. While registered, a reply is left
 * out of every claim in this process (the listening thread's, a hello's), so it is pushed
 * once. A reply whose socket closed before it was recorded is not recorded: it stays pending
 * and the shopper's next hello sends it again (at least once; the page ignores an id it has
 * shown). */

struct flight {
	struct flight *next;
	const void *owner; /* the turn that registered it; NULL once pushed */
	uint64_t sess;     /* pushed: the socket of the turn */
	char tenant[37], conv[37], id[37];
};

static pthread_mutex_t flight_lock = PTHREAD_MUTEX_INITIALIZER;
static struct flight *flights;
static int flights_pushed;              /* flights with owner NULL */
static int flight_pipe[2] = {-1, -1};   /* wakes the listening thread to record them */

static struct flight *flight_find_locked(const char *id)
{
	struct flight *f;

	for (f = flights; f && strcmp(f->id, id) != 0; f = f->next)
		;
	return f;
}

/* The ids of the flights of tenant (and of conv when not NULL) as a uuid[] literal. */
static void flight_except(const char *tenant, const char *conv, struct sbuf *out)
{
	struct flight *f;
	int n = 0;

	sbuf_puts(out, "{");
	pthread_mutex_lock(&flight_lock);
	for (f = flights; f; f = f->next)
		if (strcmp(f->tenant, tenant) == 0 && (!conv || strcmp(f->conv, conv) == 0))
			sbuf_printf(out, "%s%s", n++ ? "," : "", f->id);
	pthread_mutex_unlock(&flight_lock);
	sbuf_puts(out, "}");
}

/* Forgets owner's flights except those whose ids are in pushed (rows, may be NULL), which
 * become pushed to socket sess. */
static void flight_settle(const void *owner, const json_t *pushed, uint64_t sess)
{
	struct flight **pp = &flights, *f;
	int woke = 0;
	char b = 1;

	pthread_mutex_lock(&flight_lock);
	while ((f = *pp)) {
		size_t i;
		int keep = 0;

		if (f->owner != owner) {
			pp = &f->next;
			continue;
		}
		for (i = 0; pushed && i < json_array_size(pushed) && !keep; i++)
			keep = strcmp(json_string_value(json_object_get(json_array_get(pushed, i), "id")),
			              f->id) == 0;
		if (keep) {
			f->owner = NULL;
			f->sess = sess;
			woke = flights_pushed++ == 0;
			pp = &f->next;
		} else {
			*pp = f->next;
			free(f);
		}
	}
	pthread_mutex_unlock(&flight_lock);
	if (woke && flight_pipe[1] >= 0 && write(flight_pipe[1], &b, 1) < 0) {
		/* full: the thread is awake anyway */
	}
}

/* ---- delivery ---- */

struct push_sink {
	uint64_t ws;
	const char *oid; /* the reply's outbox id, added to its frame as "id" */
};

static int sink_write(void *user, const char *text, size_t len)
{
	const struct push_sink *p = user;
	struct sbuf b;
	int rc;

	/* a frame is a JSON object: the id goes in before its closing brace */
	if (!p->oid || len < 2 || text[len - 1] != '}')
		return ws_send(p->ws, text, len);
	sbuf_init(&b);
	sbuf_append(&b, text, len - 1);
	sbuf_printf(&b, "%s\"id\":\"%s\"}", len > 2 ? "," : "", p->oid);
	rc = b.failed || !b.data ? ws_send(p->ws, text, len) : ws_send(p->ws, b.data, b.len);
	sbuf_free(&b);
	return rc;
}

struct take_tx {
	const char *conv;
	const char *except;
	json_t *rows;
};

static int take_tx_fn(PGconn *conn, void *arg)
{
	struct take_tx *t = arg;

	return local_take_replies_except(conn, t->conv, webchat_channel_ops.type, t->except,
	                                 t->rows) < 0
	           ? PG_ERR_QUERY
	           : 0;
}

#define CONV_SOCKETS_MAX 8 /* sockets of one conversation in this process that get a reply */

/* Writes rows ({"seq", "payload", "id"}), in outbox order, to every open socket of s's
 * conversation in this process, s first: a shopper with the chat open twice (a page and the
 * shop's widget, two tabs) sees replies in both, and a socket whose close the server has not
 * seen yet cannot swallow a reply meant for the one that replaced it. */
static void deliver_to_conversation(struct session *s, json_t *rows)
{
	uint64_t ids[CONV_SOCKETS_MAX];
	struct session *o;
	size_t n = 0, i, k, nrows = json_array_size(rows);
	json_t **v;
	char err[160];

	if (nrows == 0)
		return;
	v = calloc(nrows, sizeof(*v));
	if (!v)
		return;
	for (k = 0; k < nrows; k++)
		v[k] = json_array_get(rows, k);
	qsort(v, nrows, sizeof(*v), local_cmp_seq);
	ids[n++] = s->id;
	pthread_mutex_lock(&sess_lock);
	for (o = sess_by_conv[conv_bucket(s->conversation_id)]; o && n < CONV_SOCKETS_MAX;
	     o = o->conv_next)
		if (o != s && o->welcomed && !o->closed &&
		    strcmp(o->conversation_id, s->conversation_id) == 0)
			ids[n++] = o->id;
	pthread_mutex_unlock(&sess_lock);
	for (i = 0; i < n; i++)
		for (k = 0; k < nrows; k++) {
			struct push_sink ps = {ids[i], json_string_value(json_object_get(v[k], "id"))};
			struct channel_sink sink = {&ps, sink_write};

			if (webchat_channel_ops.deliver_local(&sink, json_object_get(v[k], "payload"), err,
			                                      sizeof(err)) < 0)
				log_debug(NULL, "webchat: a reply was not written: %s", err);
		}
	free(v);
}

/* Sends the session's pending replies that are not in flight, in outbox order, one deliverer
 * at a time. */
static void deliver_pending(PGconn *conn, struct session *s)
{
	struct take_tx t = {s->conversation_id, NULL, json_array()};
	struct sbuf except;
	int go;

	pthread_mutex_lock(&sess_lock);
	if (s->delivering || !s->welcomed || s->closed) {
		s->again = s->delivering;
		pthread_mutex_unlock(&sess_lock);
		json_decref(t.rows);
		return;
	}
	s->delivering = 1;
	pthread_mutex_unlock(&sess_lock);
	do {
		s->again = 0;
		/* the flights first, then the claim: a flight that is gone from the list was
		 * recorded before, so the claim does not see it pending */
		sbuf_init(&except);
		flight_except(s->tenant_id, s->conversation_id, &except);
		t.except = except.data;
		if (conn && !except.failed && pg_tx_run(conn, s->tenant_id, take_tx_fn, &t) == 0 &&
		    json_array_size(t.rows) > 0)
			deliver_to_conversation(s, t.rows);
		sbuf_free(&except);
		pthread_mutex_lock(&sess_lock);
		go = s->again && !s->closed;
		if (!go)
			s->delivering = 0;
		pthread_mutex_unlock(&sess_lock);
	} while (go);
	json_decref(t.rows);
}

/* ---- hello ---- */

struct hello_task {
	uint64_t id;
	char *token; /* NULL: a new session */
};

/* The allowed origins: the gateway's own, then the shop's (storefront_config.chat_origins). */
static int origin_allowed(PGconn *conn, const char *origin)
{
	const char *pub = wc_app->cfg->public_url;
	const char *params[1] = {origin};
	size_t n = 0;
	PGresult *res;
	int ok;

	if (!origin)
		return 1; /* not a browser: Origin proves nothing there */
	/* the public URL's scheme://host[:port] */
	if (pub) {
		const char *p = strstr(pub, "://");

		p = p ? strchr(p + 3, '/') : NULL;
		n = p ? (size_t)(p - pub) : strlen(pub);
		if (strlen(origin) == n && strncmp(origin, pub, n) == 0)
			return 1;
	}
	res = pg_exec(conn,
	              "SELECT 1 FROM storefront_config WHERE tenant_id = app_tenant_id()"
	              " AND $1 = ANY(chat_origins)",
	              1, params);
	ok = res && PQntuples(res) > 0;
	PQclear(res);
	return ok;
}

struct open_tx {
	struct session *s;
	const char *token;
	int origin_ok;
	int resumed;
};

/* In the tenant's transaction: the origin, the channel, and the conversation: the token's
 * when it is good, else a new one. */
static int open_tx_fn(PGconn *conn, void *arg)
{
	struct open_tx *o = arg;
	struct session *s = o->s;
	char tenant[37], conv[37], chat[37];
	const char *params[3];
	PGresult *res;

	o->origin_ok = origin_allowed(conn, s->origin[0] ? s->origin : NULL);
	if (!o->origin_ok)
		return 0;
	if (tenant_channel_ensure(conn, s->tenant_id, webchat_channel_ops.type, s->channel_id) < 0)
		return PG_ERR_QUERY;
	o->resumed = 0;
	if (webchat_token_check(wc_key, o->token, (long long)time(NULL), tenant, conv, chat) == 0 &&
	    strcmp(tenant, s->tenant_id) == 0) {
		params[0] = conv;
		params[1] = s->channel_id;
		params[2] = chat;
		res = pg_exec(conn,
		              "SELECT 1 FROM conversations WHERE tenant_id = app_tenant_id()"
		              " AND id = $1 AND channel_id = $2 AND external_chat_id = $3",
		              3, params);
		if (!res)
			return PG_ERR_QUERY;
		o->resumed = PQntuples(res) == 1;
		PQclear(res);
	}
	if (o->resumed) {
		memcpy(s->conversation_id, conv, 37);
		memcpy(s->chat_id, chat, 37);
		return 0;
	}
	util_uuid_new(chat);
	params[0] = s->channel_id;
	params[1] = chat;
	res = pg_exec(conn,
	              "INSERT INTO conversations (tenant_id, channel_id, external_chat_id,"
	              " external_user_id) VALUES (app_tenant_id(), $1, $2, $2) RETURNING id",
	              2, params);
	if (!res)
		return PG_ERR_QUERY;
	snprintf(s->conversation_id, sizeof(s->conversation_id), "%s", PQgetvalue(res, 0, 0));
	memcpy(s->chat_id, chat, 37);
	PQclear(res);
	return 0;
}

static void hello_run(struct http_ctx *ctx, void *arg)
{
	struct hello_task *h = arg;
	struct session *s = sess_get(h->id);
	struct open_tx o = {s, h->token, 0, 0};
	char token[320];
	int rc;

	if (!s)
		goto out;
	if (!ctx->conn) {
		send_error(h->id, "unavailable", "the shop cannot be reached now; try again shortly");
		ws_close(h->id, 1011, "database unavailable");
		goto out;
	}
	rc = tenant_id_by_slug(ctx->conn, s->slug, s->tenant_id);
	if (rc != 0) {
		send_error(h->id, rc == TENANT_ERR_NOT_FOUND ? "unknown_shop" : "unavailable",
		           rc == TENANT_ERR_NOT_FOUND ? "there is no shop here"
		                                      : "the shop cannot be reached now");
		ws_close(h->id, rc == TENANT_ERR_NOT_FOUND ? 1008 : 1011, "no shop");
		goto out;
	}
	if (pg_tx_run(ctx->conn, s->tenant_id, open_tx_fn, &o) != 0) {
		send_error(h->id, "unavailable", "the shop cannot be reached now; try again shortly");
		ws_close(h->id, 1011, "database unavailable");
		goto out;
	}
	if (!o.origin_ok) {
		send_error(h->id, "origin_not_allowed", "this page may not open the shop's chat");
		ws_close(h->id, 1008, "origin not allowed");
		log_warn(NULL, "webchat: %s refused for origin %s", s->slug, s->origin);
		goto out;
	}
	webchat_token_make(wc_key, s->tenant_id, s->conversation_id, s->chat_id,
	                   (long long)time(NULL) + WEBCHAT_TOKEN_DAYS * 86400LL, token,
	                   sizeof(token));
	/* welcomed before the welcome is queued: a client may write as soon as it reads it */
	pthread_mutex_lock(&sess_lock);
	s->welcomed = 1;
	if (s->in_conv) /* two hellos raced past the check: the last one's conversation holds */
		chain_remove(&sess_by_conv[s->conv_b], s, 1);
	s->in_conv = !s->closed;
	if (s->in_conv) {
		s->conv_b = conv_bucket(s->conversation_id);
		s->conv_next = sess_by_conv[s->conv_b];
		sess_by_conv[s->conv_b] = s;
	}
	pthread_mutex_unlock(&sess_lock);
	send_json(h->id, json_pack("{s:s, s:s, s:s, s:b}", "type", "welcome", "session", token,
	                           "conversation_id", s->conversation_id, "resumed", o.resumed));
	deliver_pending(ctx->conn, s); /* what the shopper missed */
out:
	if (s)
		sess_put(s);
	free(h->token);
	free(h);
}

/* ---- text and postback ---- */

struct msg_task {
	uint64_t id;
	char *frame;
	size_t len;
	struct session *s; /* a reference, taken by msg_submit */
	json_t *rows;      /* the replies the turn wrote (its last run), registered as flights */
	struct msg_task *next; /* waiting behind the session's running turn */
};

#define WEBCHAT_QUEUE_MAX 16 /* a session's frames waiting for its running turn */

/* inbound's after_turn, in the message's transaction: the conversation's pending replies
 * that no one in this process has in flight become this turn's. */
static int turn_replies(PGconn *conn, const char *conv, void *arg)
{
	struct msg_task *t = arg;
	json_t *all = json_array();
	struct sbuf before;
	size_t i;
	int rc = 0;

	if (!all)
		return -1;
	flight_settle(t, NULL, 0); /* an earlier run of this turn was rolled back */
	json_array_clear(t->rows);
	/* the flights first, then the read: one recorded meanwhile is still left out */
	sbuf_init(&before);
	flight_except(t->s->tenant_id, conv, &before);
	if (before.failed || local_read_replies(conn, conv, all) < 0) {
		rc = -1;
		goto out;
	}
	pthread_mutex_lock(&flight_lock);
	for (i = 0; i < json_array_size(all); i++) {
		json_t *row = json_array_get(all, i);
		const char *id = json_string_value(json_object_get(row, "id"));
		struct flight *f;

		if (!id || strlen(id) != 36 || strstr(before.data, id) || flight_find_locked(id))
			continue;
		f = calloc(1, sizeof(*f));
		if (!f)
			continue; /* not pushed: the listening thread's claim takes it */
		f->owner = t;
		memcpy(f->tenant, t->s->tenant_id, 37);
		snprintf(f->conv, sizeof(f->conv), "%s", conv);
		memcpy(f->id, id, 37);
		f->next = flights;
		flights = f;
		json_array_append(t->rows, row);
	}
	pthread_mutex_unlock(&flight_lock);
out:
	sbuf_free(&before);
	json_decref(all);
	return rc;
}

static void msg_run(struct http_ctx *ctx, void *arg);

static void msg_task_free(struct msg_task *t)
{
	sess_put(t->s);
	free(t->frame);
	free(t);
}

/* A session's text and postback frames are handled one after another, in the order they
 * came, as a dialogue engine does for a conversation (Rasa's lock store): otherwise two turns
 * of one socket run on two workers at once, the second can be read before the first, and the
 * first's reply can reach the socket after the second's (each is pushed after its commit).
 * A frame that comes while a turn runs waits in the session, not holding a worker or a
 * connection; at most WEBCHAT_QUEUE_MAX wait (the rate limit keeps a page well under it).
 * Takes a reference on s for t. -1 when t can be neither run nor queued (not taken). */
static int msg_submit(struct session *s, struct msg_task *t)
{
	int run = 0, ok = 1;

	pthread_mutex_lock(&sess_lock);
	if (!s->msg_running) {
		s->msg_running = run = 1;
	} else if (s->mq_len < WEBCHAT_QUEUE_MAX) {
		t->next = NULL;
		if (!s->mq_head)
			s->mq_tail = &s->mq_head;
		*s->mq_tail = t;
		s->mq_tail = &t->next;
		s->mq_len++;
	} else {
		ok = 0;
	}
	if (ok) {
		s->refs++;
		t->s = s;
	}
	pthread_mutex_unlock(&sess_lock);
	if (run && server_task(msg_run, t) < 0) {
		/* nothing waits behind it: frames are submitted on the loop thread alone */
		pthread_mutex_lock(&sess_lock);
		s->msg_running = 0;
		s->refs--; /* the caller holds one too */
		pthread_mutex_unlock(&sess_lock);
		return -1;
	}
	return ok ? 0 : -1;
}

/* After a turn of s: the next frame that waited, or none running. A closed session's waiting
 * frames are dropped; one that cannot be started is answered "busy" and the next tried. */
static void msg_next(struct session *s)
{
	struct msg_task *t, *drop = NULL;

	for (;;) {
		pthread_mutex_lock(&sess_lock);
		t = s->mq_head;
		if (t && s->closed) {
			drop = t;
			s->mq_head = NULL;
			s->mq_len = 0;
			t = NULL;
		} else if (t) {
			s->mq_head = t->next;
			s->mq_len--;
		}
		if (!t)
			s->msg_running = 0;
		pthread_mutex_unlock(&sess_lock);
		while (drop) {
			struct msg_task *n = drop->next;

			msg_task_free(drop);
			drop = n;
		}
		if (!t || server_task(msg_run, t) == 0)
			return;
		{
			char *cid = frame_client_id(t->frame, t->len);

			send_error_for(t->id, "busy", "the shop is busy; try again shortly", cid);
			free(cid);
			msg_task_free(t);
		}
	}
}

static void msg_run(struct http_ctx *ctx, void *arg)
{
	struct msg_task *t = arg;
	struct session *s = t->s;
	struct inbound_channel ch;
	struct inbound_result res;
	struct channel_batch *b = NULL;
	struct msg_inbound *m;
	char err[160], mid[128], *cid = NULL;
	int closed;

	memset(&res, 0, sizeof(res));
	cid = frame_client_id(t->frame, t->len);
	pthread_mutex_lock(&sess_lock);
	closed = s->closed;
	pthread_mutex_unlock(&sess_lock);
	if (closed)
		goto out;
	if (!ctx->conn) {
		send_error_for(t->id, "unavailable", "the message was not taken; send it again shortly",
		               cid);
		goto out;
	}
	b = webchat_channel_ops.parse(t->frame, t->len, err, sizeof(err));
	if (!b) {
		send_error_for(t->id, "bad_frame", err, cid);
		goto out;
	}
	m = b->messages[0].msg;
	/* the session is the chat; de-duplication is per session */
	snprintf(mid, sizeof(mid), "%s:%s", s->chat_id, m->message_id);
	free(m->message_id);
	m->message_id = strdup(mid);
	m->chat_id = strdup(s->chat_id);
	m->user_id = strdup(s->chat_id);
	m->timestamp = (int64_t)time(NULL);
	memset(&ch, 0, sizeof(ch));
	memcpy(ch.tenant_id, s->tenant_id, sizeof(ch.tenant_id));
	memcpy(ch.channel_id, s->channel_id, sizeof(ch.channel_id));
	ch.active = 1;
	ch.after_turn = turn_replies;
	ch.after_turn_arg = t;
	ch.alone = !wc_app->cfg->group_commit_webchat;
	t->rows = json_array();
	if (!t->rows) {
		send_error_for(t->id, "busy", "the shop is busy; try again shortly", cid);
		goto out;
	}
	inbound_run(wc_app, &ctx->conn, NULL, &webchat_channel_ops, &ch, b, &res);
	if (res.handled == 1 && !res.db_error && !res.retry_later) {
		/* committed: its replies from memory, now; recorded as sent by the listening
		 * thread */
		deliver_to_conversation(s, t->rows);
		flight_settle(t, t->rows, t->id);
		goto out;
	}
	flight_settle(t, NULL, 0);
	if (res.db_error || res.retry_later) {
		send_error_for(t->id, "try_again", "the message was not taken; send it again shortly",
		               cid);
	} else if (res.duplicates) {
		json_t *f = json_loadb(t->frame, t->len, 0, NULL);

		send_json(t->id, json_pack("{s:s, s:O?, s:b}", "type", "ack", "client_msg_id",
		                           json_object_get(f, "client_msg_id"), "duplicate", 1));
		json_decref(f);
	}
	deliver_pending(ctx->conn, s);
out:
	channel_batch_free(b);
	json_decref(t->rows);
	free(cid);
	free(t->frame);
	free(t);
	msg_next(s);
	sess_put(s);
}

/* ---- the socket's handlers (loop thread) ---- */

static int wc_open(uint64_t id, const char *const *params, size_t nparams, const char *origin,
                   const char *peer, void **user)
{
	struct session *s;

	(void)peer;
	if (nparams < 1 || !tenant_slug_valid(params[0]))
		return -1;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->id = id;
	s->refs = 1;
	s->tokens = WEBCHAT_RATE;
	s->refill_ms = util_now_ms();
	snprintf(s->slug, sizeof(s->slug), "%s", params[0]);
	snprintf(s->origin, sizeof(s->origin), "%s", origin ? origin : "");
	pthread_mutex_lock(&sess_lock);
	s->next = sess_head;
	if (sess_head)
		sess_head->prev = s;
	sess_head = s;
	s->id_next = sess_by_id[id_bucket(id)];
	sess_by_id[id_bucket(id)] = s;
	pthread_mutex_unlock(&sess_lock);
	*user = s;
	return 0;
}

/* The per-connection message rate: a bucket of WEBCHAT_RATE refilled each second. */
static int rate_ok(struct session *s)
{
	int64_t now = util_now_ms();

	s->tokens += (double)(now - s->refill_ms) * WEBCHAT_RATE / 1000.0;
	if (s->tokens > WEBCHAT_RATE)
		s->tokens = WEBCHAT_RATE;
	s->refill_ms = now;
	if (s->tokens < 1.0)
		return 0;
	s->tokens -= 1.0;
	return 1;
}

static void wc_message(uint64_t id, void *user, const char *data, size_t len)
{
	struct session *s = user;
	json_t *f;
	const char *type, *cid;
	int welcomed;

	f = json_loadb(data, len, 0, NULL);
	type = json_string_value(json_object_get(f, "type"));
	cid = json_string_value(json_object_get(f, "client_msg_id"));
	if (!rate_ok(s)) {
		send_error_for(id, "rate_limited", "too many messages; wait a moment", cid);
		json_decref(f);
		return;
	}
	pthread_mutex_lock(&sess_lock);
	welcomed = s->welcomed;
	pthread_mutex_unlock(&sess_lock);
	if (type && strcmp(type, "hello") == 0) {
		struct hello_task *h = calloc(1, sizeof(*h));
		const char *token = json_string_value(json_object_get(f, "session"));

		if (welcomed) {
			send_error(id, "bad_frame", "hello was already said on this connection");
		} else if (!h || ((h->id = id), 0) || (token && !(h->token = strdup(token))) ||
		           server_task(hello_run, h) < 0) {
			if (h)
				free(h->token);
			free(h);
			send_error(id, "busy", "the shop is busy; try again shortly");
		}
	} else if (type && (strcmp(type, "text") == 0 || strcmp(type, "postback") == 0)) {
		struct msg_task *t = calloc(1, sizeof(*t));

		if (!welcomed) {
			send_error_for(id, "hello_first", "send hello before messages", cid);
			free(t);
		} else if (!t || !(t->frame = malloc(len + 1))) {
			free(t);
			send_error_for(id, "busy", "the shop is busy; try again shortly", cid);
		} else {
			memcpy(t->frame, data, len);
			t->frame[len] = '\0';
			t->len = len;
			t->id = id;
			if (msg_submit(s, t) < 0) {
				free(t->frame);
				free(t);
				send_error_for(id, "busy", "the shop is busy; try again shortly", cid);
			}
		}
	} else {
		send_error(id, "bad_frame",
		           "a frame is {\"type\": \"hello\" | \"text\" | \"postback\", ...}");
	}
	json_decref(f);
}

static void wc_close(uint64_t id, void *user)
{
	struct session *s = user;

	(void)id;
	pthread_mutex_lock(&sess_lock);
	s->closed = 1;
	chain_remove(&sess_by_id[id_bucket(s->id)], s, 0);
	if (s->in_conv)
		chain_remove(&sess_by_conv[s->conv_b], s, 1);
	s->in_conv = 0;
	if (s->prev)
		s->prev->next = s->next;
	else if (sess_head == s)
		sess_head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	pthread_mutex_unlock(&sess_lock);
	sess_put(s);
}

static const struct ws_handlers wc_handlers = {wc_open, wc_message, wc_close};

const struct ws_route webchat_ws_routes[] = {
	{"/ws/chat/{slug}", &wc_handlers},
	{NULL, NULL},
};

/* ---- the listening thread ---- */

static pthread_t hub_thread;
static volatile int hub_stop;
static int hub_started;

struct hub_item {
	uint64_t id;
	char tenant[37], conv[37];
};

static int hub_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hub_item *)a)->tenant, ((const struct hub_item *)b)->tenant);
}

struct pending_tx {
	const struct hub_item *items;
	size_t n;
	const char *except;
	PGresult *res;
};

static int pending_tx_fn(PGconn *conn, void *arg)
{
	struct pending_tx *p = arg;
	struct sbuf arr;
	const char *params[2];
	size_t i;

	sbuf_init(&arr);
	sbuf_puts(&arr, "{");
	for (i = 0; i < p->n; i++)
		sbuf_printf(&arr, "%s%s", i ? "," : "", p->items[i].conv);
	sbuf_puts(&arr, "}");
	params[0] = arr.data;
	params[1] = p->except;
	PQclear(p->res);
	p->res = arr.failed ? NULL
	                    : pg_exec(conn,
	                              "SELECT DISTINCT conversation_id::text FROM outbox WHERE"
	                              " tenant_id = app_tenant_id() AND kind = 'reply' AND status ="
	                              " 'pending' AND conversation_id = ANY($1::uuid[])"
	                              " AND NOT (id = ANY($2::uuid[]))",
	                              2, params);
	sbuf_free(&arr);
	return p->res ? 0 : PG_ERR_QUERY;
}

/* The sessions of one tenant (items[0..n)) with pending replies that are not in flight get
 * them, on conn. */
static void hub_tenant(PGconn *conn, const struct hub_item *items, size_t n)
{
	struct pending_tx p = {items, n, NULL, NULL};
	struct sbuf except;
	size_t i;
	int j, rc;

	/* the flights first, then the look: one recorded meanwhile is no longer pending */
	sbuf_init(&except);
	flight_except(items[0].tenant, NULL, &except);
	p.except = except.data;
	rc = except.failed ? -1 : pg_tx_run(conn, items[0].tenant, pending_tx_fn, &p);
	sbuf_free(&except);
	if (rc != 0) {
		PQclear(p.res);
		return;
	}
	for (j = 0; j < PQntuples(p.res); j++)
		for (i = 0; i < n; i++)
			if (strcmp(items[i].conv, PQgetvalue(p.res, j, 0)) == 0) {
				struct session *s = sess_get(items[i].id);

				if (s) {
					deliver_pending(conn, s);
					sess_put(s);
				}
			}
	PQclear(p.res);
}

/* The conversations notifications named, collected between looks. */
struct hub_wanted {
	char (*convs)[37];
	size_t n, cap;
	int all; /* a notification named none (a bulk insert, an older trigger): look at all */
};

static int conv_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Adds s to items unless it is not welcomed or closed; sess_lock held. -1 when out of memory. */
static int hub_collect(struct session *s, struct hub_item **items, size_t *n, size_t *cap)
{
	if (!s->welcomed || s->closed)
		return 0;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct hub_item *grown = realloc(*items, c * sizeof(**items));

		if (!grown)
			return -1;
		*items = grown;
		*cap = c;
	}
	(*items)[*n].id = s->id;
	memcpy((*items)[*n].tenant, s->tenant_id, 37);
	memcpy((*items)[*n].conv, s->conversation_id, 37);
	(*n)++;
	return 0;
}

/* One look over the welcomed sockets of this process (all of them, or those of the
 * conversations in w, found by the conversation hash), tenant by tenant: one statement per
 * tenant finds the conversations with replies to take. w's list is sorted here, so that a
 * conversation named twice is looked at once. */
static void hub_look(PGconn *conn, struct hub_wanted *w)
{
	struct hub_item *items = NULL;
	struct session *s;
	size_t n = 0, cap = 0, i, k, start;

	if (w && w->n > 1)
		qsort(w->convs, w->n, sizeof(*w->convs), conv_cmp);
	pthread_mutex_lock(&sess_lock);
	if (!w) {
		for (s = sess_head; s; s = s->next)
			if (hub_collect(s, &items, &n, &cap) < 0)
				break;
	} else {
		for (k = 0; k < w->n; k++) {
			if (k > 0 && strcmp(w->convs[k], w->convs[k - 1]) == 0)
				continue;
			for (s = sess_by_conv[conv_bucket(w->convs[k])]; s; s = s->conv_next)
				if (strcmp(s->conversation_id, w->convs[k]) == 0 &&
				    hub_collect(s, &items, &n, &cap) < 0)
					break;
		}
	}
	pthread_mutex_unlock(&sess_lock);
	if (n > 1)
		qsort(items, n, sizeof(*items), hub_cmp);
	for (start = 0, i = 1; i <= n; i++)
		if (i == n || strcmp(items[i].tenant, items[start].tenant) != 0) {
			hub_tenant(conn, items + start, i - start);
			start = i;
		}
	free(items);
}

static void wanted_add_one(struct hub_wanted *w, const char *conv, size_t len)
{
	if (len != 36 || w->all)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		char (*grown)[37] = realloc(w->convs, cap * sizeof(*grown));

		if (!grown) {
			w->all = 1;
			return;
		}
		w->convs = grown;
		w->cap = cap;
	}
	memcpy(w->convs[w->n], conv, 36);
	w->convs[w->n++][36] = '\0';
}

static void wanted_add(struct hub_wanted *w, const char *payload)
{
	const char *p = payload;

	if (!*p) {
		w->all = 1;
		return;
	}
	while (*p && !w->all) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		wanted_add_one(w, p, len);
		p = comma ? comma + 1 : p + len;
	}
}

/* Waits up to ms for notifications on conn (or a push to record) and collects what they
 * name; -1 when the connection failed. */
static int hub_wait(PGconn *conn, int ms, struct hub_wanted *w)
{
	struct pollfd pfd[2] = {{PQsocket(conn), POLLIN, 0}, {flight_pipe[0], POLLIN, 0}};
	PGnotify *nt;
	char buf[64];

	if (poll(pfd, 2, ms) < 0 && errno != EINTR)
		return -1;
	if (pfd[1].revents & POLLIN)
		while (read(flight_pipe[0], buf, sizeof(buf)) > 0)
			;
	if (PQconsumeInput(conn) == 0)
		return -1;
	while ((nt = PQnotifies(conn))) {
		wanted_add(w, nt->extra ? nt->extra : "");
		PQfreemem(nt);
	}
	return 0;
}

struct mark_tx {
	const char *ids;
};

static int mark_tx_fn(PGconn *conn, void *arg)
{
	struct mark_tx *m = arg;

	/* a record lost with a crash only sends the reply once more (at least once, by id) */
	if (pg_cmd(conn, "SET LOCAL synchronous_commit = off", 0, NULL) < 0)
		return PG_ERR_QUERY;
	return local_mark_sent(conn, m->ids, webchat_channel_ops.type) < 0 ? PG_ERR_QUERY : 0;
}

/* Forgets the pushed flight id (flight_lock held). */
static void flight_forget_locked(const char *id)
{
	struct flight **fp, *g;

	for (fp = &flights; (g = *fp) && (g->owner || strcmp(g->id, id) != 0);)
		fp = &g->next;
	if (g) {
		*fp = g->next;
		free(g);
		flights_pushed--;
	}
}

/* Records the pushed flights as sent, one statement per tenant, and forgets them; those
 * whose socket closed first are forgotten unrecorded (still pending: the next hello, or
 * another socket of the conversation, takes them), their conversations added to w. */
static void flights_record(PGconn *conn, struct hub_wanted *w)
{
	struct flight **pp, *f, *mine = NULL, **tail = &mine;
	struct session *s;

	pthread_mutex_lock(&flight_lock);
	if (!flights_pushed) {
		pthread_mutex_unlock(&flight_lock);
		return;
	}
	pthread_mutex_lock(&sess_lock);
	for (pp = &flights; (f = *pp);) {
		if (f->owner) {
			pp = &f->next;
			continue;
		}
		s = sess_find_locked(f->sess);
		if (!s || s->closed) {
			*pp = f->next;
			wanted_add_one(w, f->conv, strlen(f->conv));
			free(f);
			flights_pushed--;
			continue;
		}
		pp = &f->next;
	}
	pthread_mutex_unlock(&sess_lock);
	/* copies of the pushed ones: they stay registered (left out of claims) until their
	 * record commits */
	for (f = flights; f; f = f->next)
		if (!f->owner) {
			struct flight *c = malloc(sizeof(*c));

			if (!c)
				break;
			*c = *f;
			c->next = NULL;
			*tail = c;
			tail = &c->next;
		}
	pthread_mutex_unlock(&flight_lock);
	while (mine) {
		struct sbuf ids;
		struct flight **cp, *c;
		struct mark_tx m;
		char tenant[37];
		int n = 0, rc;

		memcpy(tenant, mine->tenant, sizeof(tenant));
		sbuf_init(&ids);
		sbuf_puts(&ids, "{");
		for (c = mine; c; c = c->next)
			if (strcmp(c->tenant, tenant) == 0)
				sbuf_printf(&ids, "%s%s", n++ ? "," : "", c->id);
		sbuf_puts(&ids, "}");
		m.ids = ids.data;
		rc = ids.failed ? -1 : pg_tx_run(conn, tenant, mark_tx_fn, &m);
		sbuf_free(&ids);
		/* recorded: forgotten; else they stay, to be recorded at the next round */
		pthread_mutex_lock(&flight_lock);
		for (cp = &mine; (c = *cp);) {
			if (strcmp(c->tenant, tenant) != 0) {
				cp = &c->next;
				continue;
			}
			*cp = c->next;
			if (rc == 0)
				flight_forget_locked(c->id);
			free(c);
		}
		pthread_mutex_unlock(&flight_lock);
		if (rc != 0)
			break; /* the database is away: the rest at the next round */
	}
	while (mine) {
		struct flight *c = mine;

		mine = mine->next;
		free(c);
	}
}

static void *hub_main(void *arg)
{
	PGconn *conn = NULL;
	struct hub_wanted w = {NULL, 0, 0, 0};
	int64_t last = 0, marked = 0, now;
	int i, pushed, ms;

	(void)arg;
	while (!hub_stop) {
		if (!conn || !pg_conn_ok(conn)) {
			pg_finish(conn);
			/* its statements join the outbox by conversation: planned at each run, as
			 * the dispatcher's are (dispatch_worker.c) */
			conn = app_db_connect(wc_app->cfg, wc_app->cfg->database_url, "ccgw-webchat",
			                      "-c plan_cache_mode=force_custom_plan");
			/* ccgw_local: replies for local channels (096); ccgw_outbox: the rest,
			 * which a web chat conversation gets only when its row was not parked */
			if (PQstatus(conn) != CONNECTION_OK ||
			    pg_cmd(conn, "LISTEN ccgw_local", 0, NULL) < 0 ||
			    pg_cmd(conn, "LISTEN ccgw_outbox", 0, NULL) < 0) {
				pg_finish(conn);
				conn = NULL;
				for (i = 0; i < 10 && !hub_stop; i++)
					poll(NULL, 0, 100);
				continue;
			}
			w.all = 1; /* notifications may have been missed while away */
		}
		pthread_mutex_lock(&flight_lock);
		pushed = flights_pushed;
		pthread_mutex_unlock(&flight_lock);
		now = util_now_ms();
		ms = !pushed ? 250 : marked + FLIGHT_MARK_MS > now ? (int)(marked + FLIGHT_MARK_MS - now) : 0;
		if (hub_wait(conn, ms, &w) < 0)
			w.all = 1;
		now = util_now_ms();
		if (now - marked >= FLIGHT_MARK_MS) {
			flights_record(conn, &w);
			marked = now;
		}
		/* the sweep: a look at every socket now and then, for what no notification named */
		if (w.all || now - last >= HUB_SWEEP_MS) {
			hub_look(conn, NULL);
			last = util_now_ms();
		} else if (w.n) {
			hub_look(conn, &w);
		}
		w.n = 0;
		w.all = 0;
	}
	if (conn && pg_conn_ok(conn))
		flights_record(conn, &w); /* what was pushed last */
	free(w.convs);
	pg_finish(conn);
	return NULL;
}

int webchat_start(struct app *app)
{
	wc_app = app;
	/* the token key: derived from the secret key, so tokens outlive restarts; without one a
	 * key for this process only */
	if (app->has_secret_key) {
		char hex[65];

		util_hmac_sha256_hex(app->secret_key, sizeof(app->secret_key), "ccgw webchat token v1",
		                     21, hex);
		if (util_hex_decode(hex, wc_key, sizeof(wc_key)) != 32)
			return -1;
	} else if (util_random_bytes(wc_key, sizeof(wc_key)) < 0) {
		return -1;
	}
	if (flight_pipe[0] < 0) {
		if (pipe(flight_pipe) < 0)
			return -1;
		fcntl(flight_pipe[0], F_SETFL, O_NONBLOCK);
		fcntl(flight_pipe[1], F_SETFL, O_NONBLOCK);
	}
	hub_stop = 0;
	if (pthread_create(&hub_thread, NULL, hub_main, NULL) != 0)
		return -1;
	hub_started = 1;
	/* every turn's replies are pushed from its flights: written without the NOTIFY that
	 * would only wake this thread to find them in flight (sql/102) */
	engine_set_push_local(app->engine, 1);
	return 0;
}

void webchat_stop(void)
{
	if (!hub_started)
		return;
	engine_set_push_local(wc_app->engine, 0);
	hub_stop = 1;
	pthread_join(hub_thread, NULL);
	hub_started = 0;
	pthread_mutex_lock(&flight_lock);
	while (flights) {
		struct flight *f = flights;

		flights = f->next;
		free(f);
	}
	flights_pushed = 0;
	pthread_mutex_unlock(&flight_lock);
}
