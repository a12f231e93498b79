/*
 * ws.c: WebSocket connections on the server's loop (see ws.h). A registry of open connections
 * by id, under one lock, each with its queue of outgoing frames; receiving assembles a
 * message from its fragments, bounded by WS_MAX_FRAME.
 */
#include "ws_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conns.h"
#include "log.h"
#include "util.h"

#define WS_PATH_MAX 512

struct frame {
	struct frame *next;
	size_t len;
	unsigned char data[]; /* LWS_PRE bytes, then the text */
};

struct wsc {
	struct wsc *next, *prev;    /* the registry: its bucket's chain */
	struct wsc *wake_next;      /* on the list of connections with something to write */
	int wake_listed;
	uint64_t id;
	struct lws *wsi;            /* NULL once closed */
	const struct ws_route *route;
	void *user;
	struct frame *head, *tail;  /* to write */
	int want_write;
	int close_status;           /* >0: close after the queued frames */
	char close_reason[64];
	struct sbuf rx;             /* the message being received */
	int rx_dropped;             /* over the limit: the rest is ignored */
	int64_t heard_ms;           /* the peer's last frame (or pong), for the keepalive */
	int ping_due, ping_sent;    /* a ping to write; one written and not answered yet */
	char params[4][128];
	const char *param_ptrs[4];
	size_t nparams;
};

/* The registry is a hash of connection ids, so a send finds its connection without walking
 * every open socket; and the connections given something to write since the last wake are
 * listed, so a wake of the loop (after every queued frame and every HTTP answer) touches only
 * them. Both matter with thousands of idle web chat sockets open. */
#define WS_BUCKETS 4096

static pthread_mutex_t ws_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wsc *ws_buckets[WS_BUCKETS];
static struct wsc *ws_wake_head;
static uint64_t ws_next_id = 1;
static long ws_open;
static struct lws_context *ws_ctx;
static const struct ws_route *ws_routes;
static void wake_list_locked(struct wsc *c);
static int64_t ws_ping_ms = 30000, ws_idle_ms = 75000, ws_swept_ms;

/* The keepalive is this file's, from the server's sweep, rather than libwebsockets' retry
 * and idle policy: that keeps a timer per connection in one sorted list, and each pong
 * re-inserted one by walking the whole list, so with 10,000 idle sockets the loop spent most
 * of its time there. */
void ws_keepalive(int64_t ping_ms, int64_t idle_ms)
{
	ws_ping_ms = ping_ms;
	ws_idle_ms = idle_ms;
}

void ws_sweep(int64_t now_ms)
{
	struct wsc *c;
	size_t b;
	int any = 0;

	/* once a second is fine enough for intervals counted in seconds */
	if (now_ms - ws_swept_ms < 1000)
		return;
	ws_swept_ms = now_ms;
	pthread_mutex_lock(&ws_lock);
	for (b = 0; b < WS_BUCKETS; b++)
		for (c = ws_buckets[b]; c; c = c->next) {
			if (!c->wsi || c->close_status)
				continue;
			if (now_ms - c->heard_ms >= ws_idle_ms) {
				c->close_status = LWS_CLOSE_STATUS_GOINGAWAY;
				snprintf(c->close_reason, sizeof(c->close_reason), "idle");
				wake_list_locked(c);
				any = 1;
			} else if (now_ms - c->heard_ms >= ws_ping_ms && !c->ping_sent) {
				c->ping_due = c->ping_sent = 1;
				wake_list_locked(c);
				any = 1;
			}
		}
	pthread_mutex_unlock(&ws_lock);
	if (any)
		ws_wake();
}

void ws_pong(struct wsc *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&ws_lock);
	c->heard_ms = util_now_ms();
	c->ping_sent = 0;
	pthread_mutex_unlock(&ws_lock);
}

void ws_bind(struct lws_context *ctx, const struct ws_route *routes)
{
	ws_ctx = ctx;
	ws_routes = routes;
}

/* Matches path against "/a/{x}/b", filling c's params; 1 on a match. */
static int path_match(const char *pattern, const char *path, struct wsc *c)
{
	const char *p = pattern, *s = path;

	c->nparams = 0;
	while (*p && *s) {
		if (*p == '{') {
			const char *pe = strchr(p, '}'), *se = strchr(s, '/');
			size_t len = se ? (size_t)(se - s) : strlen(s);

			if (!pe || len == 0 || len >= sizeof(c->params[0]) || c->nparams >= 4)
				return 0;
			memcpy(c->params[c->nparams], s, len);
			c->params[c->nparams][len] = '\0';
			c->param_ptrs[c->nparams] = c->params[c->nparams];
			c->nparams++;
			p = pe + 1;
			s += len;
			continue;
		}
		if (*p++ != *s++)
			return 0;
	}
	return *p == '\0' && *s == '\0';
}

static const struct ws_route *route_for(const char *path, struct wsc *c)
{
	const struct ws_route *r;

	for (r = ws_routes; r && r->pattern; r++)
		if (path_match(r->pattern, path, c))
			return r;
	return NULL;
}

static int uri_of(struct lws *wsi, char *out, size_t len)
{
	char *q;

	if (lws_hdr_copy(wsi, out, (int)len, WSI_TOKEN_GET_URI) <= 0)
		return -1;
	q = strchr(out, '?');
	if (q)
		*q = '\0';
	return 0;
}

int ws_filter(struct lws *wsi)
{
	struct wsc probe;
	char path[WS_PATH_MAX];

	memset(&probe, 0, sizeof(probe));
	if (uri_of(wsi, path, sizeof(path)) < 0 || !route_for(path, &probe))
		return 1; /* no WebSocket here */
	return 0;
}

struct wsc *ws_established(struct lws *wsi)
{
	struct wsc *c = calloc(1, sizeof(*c));
	char path[WS_PATH_MAX], origin[256] = "", peer[64] = "";
	int has_origin;

	if (!c)
		return NULL;
	if (uri_of(wsi, path, sizeof(path)) < 0 || !(c->route = route_for(path, c))) {
		free(c);
		return NULL;
	}
	has_origin = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0;
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	sbuf_init(&c->rx);
	c->wsi = wsi;
	c->heard_ms = util_now_ms();
	pthread_mutex_lock(&ws_lock);
	c->id = ws_next_id++;
	pthread_mutex_unlock(&ws_lock);
	if (c->route->h->open(c->id, c->param_ptrs, c->nparams, has_origin ? origin : NULL,
	                      peer[0] ? peer : NULL, &c->user) < 0) {
		sbuf_free(&c->rx);
		free(c);
		return NULL;
	}
	/* a socket is not a request: the read deadline stops; the idle policy takes over */
	conns_request_read(wsi);
	pthread_mutex_lock(&ws_lock);
	c->next = ws_buckets[c->id % WS_BUCKETS];
	if (c->next)
		c->next->prev = c;
	ws_buckets[c->id % WS_BUCKETS] = c;
	ws_open++;
	pthread_mutex_unlock(&ws_lock);
	return c;
}

static struct wsc *find_locked(uint64_t id)
{
	struct wsc *c;

	for (c = ws_buckets[id % WS_BUCKETS]; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/* c has something to write (or to close): the next wake asks the loop for its callback. */
static void wake_list_locked(struct wsc *c)
{
	c->want_write = 1;
	if (!c->wake_listed) {
		c->wake_listed = 1;
		c->wake_next = ws_wake_head;
		ws_wake_head = c;
	}
}

static int queue_locked(struct wsc *c, const char *text, size_t len)
{
	struct frame *f = malloc(sizeof(*f) + LWS_PRE + len);

	if (!f)
		return -1;
	f->next = NULL;
	f->len = len;
	memcpy(f->data + LWS_PRE, text, len);
	if (c->tail)
		c->tail->next = f;
	else
		c->head = f;
	c->tail = f;
	wake_list_locked(c);
	return 0;
}

int ws_send(uint64_t id, const char *text, size_t len)
{
	struct wsc *c;
	int rc = -1;

	pthread_mutex_lock(&ws_lock);
	c = find_locked(id);
	if (c && c->wsi && !c->close_status)
		rc = queue_locked(c, text, len);
	pthread_mutex_unlock(&ws_lock);
	if (rc == 0 && ws_ctx)
		lws_cancel_service(ws_ctx);
	return rc;
}

int ws_close(uint64_t id, int status, const char *reason)
{
	struct wsc *c;
	int rc = -1;

	pthread_mutex_lock(&ws_lock);
	c = find_locked(id);
	if (c && c->wsi) {
		c->close_status = status;
		snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "");
		wake_list_locked(c);
		rc = 0;
	}
	pthread_mutex_unlock(&ws_lock);
	if (rc == 0 && ws_ctx)
		lws_cancel_service(ws_ctx);
	return rc;
}

long ws_count(void)
{
	long n;

	pthread_mutex_lock(&ws_lock);
	n = ws_open;
	pthread_mutex_unlock(&ws_lock);
	return n;
}

int ws_receive(struct lws *wsi, struct wsc *c, const void *in, size_t len)
{
	static const char too_large[] =
	    "{\"type\":\"error\",\"code\":\"frame_too_large\",\"message\":\"a message may be at most "
	    "16384 bytes\"}";

	if (!c)
		return -1;
	pthread_mutex_lock(&ws_lock);
	c->heard_ms = util_now_ms();
	c->ping_sent = 0;
	pthread_mutex_unlock(&ws_lock);
	if (!c->rx_dropped) {
		if (c->rx.len + len > WS_MAX_FRAME) {
			c->rx_dropped = 1;
			sbuf_free(&c->rx);
			sbuf_init(&c->rx);
			pthread_mutex_lock(&ws_lock);
			if (queue_locked(c, too_large, sizeof(too_large) - 1) == 0) {
				c->close_status = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
				snprintf(c->close_reason, sizeof(c->close_reason), "message too large");
			}
			pthread_mutex_unlock(&ws_lock);
			lws_callback_on_writable(wsi);
		} else {
			sbuf_append(&c->rx, in, len);
		}
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
		return 0;
	if (!c->rx_dropped && c->rx.data)
		c->route->h->message(c->id, c->user, c->rx.data, c->rx.len);
	else if (!c->rx_dropped)
		c->route->h->message(c->id, c->user, "", 0);
	sbuf_free(&c->rx);
	sbuf_init(&c->rx);
	return 0;
}

int ws_writeable(struct lws *wsi, struct wsc *c)
{
	struct frame *f;
	int more, status, ping;
	char reason[64];

	if (!c)
		return -1;
	pthread_mutex_lock(&ws_lock);
	ping = c->ping_due;
	c->ping_due = 0;
	f = ping ? NULL : c->head;
	if (f) {
		c->head = f->next;
		if (!c->head)
			c->tail = NULL;
	}
	/* after a ping, the queued frames or the close come next */
	more = c->head != NULL || (ping && c->close_status);
	status = ping ? 0 : c->close_status;
	snprintf(reason, sizeof(reason), "%s", c->close_reason);
	c->want_write = 0;
	pthread_mutex_unlock(&ws_lock);
	if (ping) {
		/* not empty: libwebsockets does not report an empty pong */
		unsigned char buf[LWS_PRE + 4];

		memcpy(buf + LWS_PRE, "ccgw", 4);
		if (lws_write(wsi, buf + LWS_PRE, 4, LWS_WRITE_PING) < 0)
			return -1;
	}
	if (f) {
		int n = lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);

		free(f);
		if (n < 0)
			return -1;
	}
	if (more) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (status) {
		lws_close_reason(wsi, (enum lws_close_status)status, (unsigned char *)reason,
		                 strlen(reason));
		return -1;
	}
	return 0;
}

void ws_closed(struct wsc *c)
{
	struct frame *f, *next;

	if (!c)
		return;
	pthread_mutex_lock(&ws_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		ws_buckets[c->id % WS_BUCKETS] = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->wake_listed) {
		struct wsc **pp = &ws_wake_head;

		while (*pp && *pp != c)
			pp = &(*pp)->wake_next;
		if (*pp)
			*pp = c->wake_next;
	}
	ws_open--;
	c->wsi = NULL;
	pthread_mutex_unlock(&ws_lock);
	c->route->h->close(c->id, c->user);
	for (f = c->head; f; f = next) {
		next = f->next;
		free(f);
	}
	sbuf_free(&c->rx);
	free(c);
}

void ws_wake(void)
{
	struct wsc *c;

	pthread_mutex_lock(&ws_lock);
	while ((c = ws_wake_head)) {
		ws_wake_head = c->wake_next;
		c->wake_listed = 0;
		c->wake_next = NULL;
		if (c->want_write && c->wsi)
			lws_callback_on_writable(c->wsi);
	}
	pthread_mutex_unlock(&ws_lock);
}

void ws_reset(void)
{
	pthread_mutex_lock(&ws_lock);
	memset(ws_buckets, 0, sizeof(ws_buckets));
	ws_wake_head = NULL;
	ws_open = 0;
	ws_ctx = NULL;
	pthread_mutex_unlock(&ws_lock);
}
