/*
 * server.c: `ccgw serve`. One libwebsockets event loop reads whole requests (bounded by the
 * body limit and the read timeout) and writes answers; a fixed set of worker threads runs the
 * route handlers, each with a database connection borrowed from the pool, so the loop never
 * waits on PostgreSQL. Finished jobs come back through a locked list and lws_cancel_service().
 */
#include "server.h"

#include <ctype.h>
#include <ev.h>
#include <libwebsockets.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "channel.h"
#include "conns.h"
#include "ws_internal.h"
#include "db.h"
#include "latency.h"
#include "warm.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define SERVER_CHUNK 16384
#define SERVER_MAX_HEADER 65536 /* the largest max_header config value */
#define SERVER_SWEEP_MS 250
#define SERVER_REPEAT_TURNS 20000 /* about 40 ms: see LWS_CALLBACK_HTTP_BODY_COMPLETION */

/* One request from its headers to its last byte written. */
struct job {
	struct lws *wsi;      /* NULL once the connection closed */
	int in_worker;        /* queued for or running in a worker */
	int orphan;           /* the connection closed while in a worker: the worker frees it */
	int done;             /* the response is ready to write */
	int submitted;        /* handed to job_submit: never twice, whatever callbacks follow */
	int close_after;      /* close the connection after the answer (body left unread) */
	int chunked;          /* the body comes with Transfer-Encoding: chunked */
	int completions;      /* HTTP_BODY_COMPLETION callbacks seen */
	struct http_chunked dechunk;
	int too_large;
	struct http_request req;
	const struct http_route *route;
	struct http_response resp;
	char method[12];
	char *path;
	struct sbuf body;
	struct http_header *headers;
	size_t nheaders;
	char **qargs;
	size_t nqargs;
	char param_buf[HTTP_MAX_PARAMS][256];
	int64_t start_us;
	int64_t queued_us;    /* read whole and queued for a worker (latency.h) */
	int64_t ready_us;     /* the answer ready */
	int headers_sent;
	size_t body_off;
	struct job *next;     /* work queue / ready list */
	/* a task (server_task): run on a worker, no request, no answer */
	void (*task_fn)(struct http_ctx *ctx, void *arg);
	void *task_arg;
};

struct wsc;

struct pss {
	struct job *job;
	struct wsc *ws; /* a WebSocket connection's record */
};

static struct app *srv_app;                   /* borrowed from the caller */
static const struct http_route *srv_routes;   /* borrowed from the caller */
static const struct ws_route *srv_ws_routes;  /* borrowed; NULL: no WebSocket paths */
static volatile int srv_stopping;
void server_set_ws_routes(const struct ws_route *routes)
{
	srv_ws_routes = routes;
}

static const struct http_body_limit *srv_body_limits; /* borrowed; NULL: max_body for all */

void server_set_body_limits(const struct http_body_limit *limits)
{
	srv_body_limits = limits;
}

/* The largest body this request may have: max_body, or its route's own larger limit. */
static long job_body_max(const struct job *j)
{
	const struct http_body_limit *l;
	long max = srv_app->cfg->max_body;

	for (l = srv_body_limits; l && l->path; l++)
		if (strcmp(l->method, j->method) == 0 && j->path && strcmp(l->path, j->path) == 0 &&
		    l->max_body > max)
			max = l->max_body;
	return max;
}
static struct app srv_embed_app;              /* the fuzz target's own context */
static struct lws_context *lws_ctx;
static struct ev_loop *srv_loop; /* serve's loop (NULL: poll(), embedded) */
static void *srv_foreign[1];
static ev_timer srv_tick;
static volatile sig_atomic_t stop_requested;

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cond = PTHREAD_COND_INITIALIZER;
static struct job *work_head, *work_tail;
static struct job *ready_head;
static int jobs_alive;
static int jobs_answering; /* read whole and not yet freed: a handler or a write to come */
static long jobs_queued; /* in work_head's list, waiting for a worker */
static unsigned long long jobs_rejected_full;
static atomic_ullong pipelined_refused; /* connections closed over pipelined requests */
static int workers_quit;

/* Called with jobs_lock held. */
static void job_free(struct job *j)
{
	size_t i;

	if (!j)
		return;
	if (j->submitted)
		jobs_answering--;
	free(j->path);
	sbuf_free(&j->body);
	for (i = 0; i < j->nheaders; i++) {
		free(j->headers[i].name);
		free(j->headers[i].value);
	}
	free(j->headers);
	for (i = 0; i < j->nqargs; i++)
		free(j->qargs[i]);
	free(j->qargs);
	http_response_clear(&j->resp);
	free(j);
}

/* ---- route matching -------------------------------------------------------------------- */

/* Matches path against pattern ("/a/{x}/b"); fills params (pointers into a copy owned by the
 * job). Returns 1 on a match. */
static int route_match(const char *pattern, const char *path, struct job *j)
{
	const char *p = pattern, *s = path;
	size_t n = 0;

	j->req.nparams = 0;
	while (*p && *s) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			const char *se = strchr(s, '/');
			size_t len = se ? (size_t)(se - s) : strlen(s);
			char *copy;

			if (!pe || len == 0 || n >= HTTP_MAX_PARAMS)
				return 0;
			if (len >= sizeof(j->param_buf[0]))
				return 0;
			copy = j->param_buf[n];
			memcpy(copy, s, len);
			copy[len] = '\0';
			j->req.params[n++] = copy;
			p = pe + 1;
			s += len;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	/* a trailing slash on the request is tolerated */
	if (*p == '\0' && (*s == '\0' || (s[0] == '/' && s[1] == '\0'))) {
		j->req.nparams = n;
		return 1;
	}
	return 0;
}

/* Finds the route; sets *path_known when some route has this path with another method. */
static const struct http_route *route_find(struct job *j, int *path_known)
{
	const struct http_route *r;

	*path_known = 0;
	for (r = srv_routes; r->pattern; r++) {
		if (!route_match(r->pattern, j->path, j))
			continue;
		if (strcmp(r->method, "*") == 0 || strcmp(r->method, j->method) == 0)
			return r;
		*path_known = 1;
	}
	return NULL;
}

/* ---- workers ---------------------------------------------------------------------------- */

static void job_finish_locked(struct job *j)
{
	j->in_worker = 0;
	if (j->orphan) {
		jobs_alive--;
		job_free(j);
		return;
	}
	j->done = 1;
	j->next = ready_head;
	ready_head = j;
}

/* ---- warming the pool ----
 *
 * At a start, every worker borrows a connection and holds it until all hold one, so the
 * pool's connections open now, side by side, rather than in the first burst of requests: a
 * connection costs a SCRAM exchange, the role check and the first Parse of each statement,
 * and the first messages after a start waited up to 490 ms for the pool under load
 * (docs/PERFORMANCE.md, "Tail latency"). server_run waits for it before it serves. */

#define SERVER_WARM_MS 5000

static pthread_mutex_t warm_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t warm_cond = PTHREAD_COND_INITIALIZER;
static int warm_target, warm_claimed, warm_held, warm_finished, warm_rehearsed;

static void warm_deadline(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += SERVER_WARM_MS / 1000;
}

static void worker_warm(void)
{
	struct timespec deadline;
	PGconn *conn;
	int rehearsed;

	pthread_mutex_lock(&warm_lock);
	if (warm_claimed >= warm_target) {
		pthread_mutex_unlock(&warm_lock);
		return;
	}
	warm_claimed++;
	pthread_mutex_unlock(&warm_lock);
	conn = db_pool_acquire(srv_app->pool, SERVER_WARM_MS);
	/* its caches filled by rehearsed turns (rolled back) before a shopper's (warm.h) */
	rehearsed = conn && srv_app->cfg->db_warm ? app_db_warm(srv_app, conn) : 0;
	if (rehearsed < 0)
		log_warn(NULL, "database pool: a connection could not rehearse [%s]",
			 pg_last_sqlstate());
	warm_deadline(&deadline);
	pthread_mutex_lock(&warm_lock);
	warm_held++;
	warm_rehearsed += rehearsed > 0;
	pthread_cond_broadcast(&warm_cond);
	while (warm_held < warm_target &&
	       pthread_cond_timedwait(&warm_cond, &warm_lock, &deadline) == 0)
		;
	pthread_mutex_unlock(&warm_lock);
	if (conn)
		db_pool_release(srv_app->pool, conn);
	pthread_mutex_lock(&warm_lock);
	warm_finished++;
	pthread_cond_broadcast(&warm_cond);
	pthread_mutex_unlock(&warm_lock);
}

/* server_run, once the workers run: waits (SERVER_WARM_MS at most) for their warming. */
static void server_warm_wait(void)
{
	struct timespec deadline;
	int64_t t0 = util_now_us();
	int idle = 0, in_use, size, rehearsed;

	warm_deadline(&deadline);
	pthread_mutex_lock(&warm_lock);
	while (warm_finished < warm_target &&
	       pthread_cond_timedwait(&warm_cond, &warm_lock, &deadline) == 0)
		;
	rehearsed = warm_rehearsed;
	pthread_mutex_unlock(&warm_lock);
	db_pool_stats(srv_app->pool, &in_use, &idle, &size);
	log_info(NULL, "database pool: %d of %d connections open (%d rehearsed) in %.0f ms", idle,
		 size, rehearsed, (double)(util_now_us() - t0) / 1000.0);
}

static void *worker_main(void *arg)
{
	struct job *j;
	struct http_ctx ctx;
	char what[96];
	int64_t t0;

	(void)arg;
	worker_warm();
	for (;;) {
		pthread_mutex_lock(&jobs_lock);
		while (!work_head && !workers_quit)
			pthread_cond_wait(&jobs_cond, &jobs_lock);
		if (!work_head && workers_quit) {
			pthread_mutex_unlock(&jobs_lock);
			break;
		}
		j = work_head;
		work_head = j->next;
		if (!work_head)
			work_tail = NULL;
		j->next = NULL;
		jobs_queued--;
		pthread_mutex_unlock(&jobs_lock);

		memset(&ctx, 0, sizeof(ctx));
		ctx.app = srv_app;
		latency_begin();
		t0 = util_now_us();
		latency_add(LATENCY_QUEUE, t0 - j->queued_us);
		if (j->task_fn) {
			ctx.conn = db_pool_acquire(srv_app->pool, DB_POOL_WAIT_MS);
			latency_add(LATENCY_POOL, util_now_us() - t0);
			j->task_fn(&ctx, j->task_arg);
			if (ctx.conn)
				db_pool_release(srv_app->pool, ctx.conn);
			latency_end("a web socket's task", util_now_us() - j->queued_us);
			free(j);
			continue;
		}
		if (j->route->needs_db) {
			ctx.conn = db_pool_acquire(srv_app->pool, DB_POOL_WAIT_MS);
			latency_add(LATENCY_POOL, util_now_us() - t0);
		}
		if (j->route->needs_db && !ctx.conn)
			http_response_error(&j->resp, 503, "database_unavailable",
					    "the database is not answering; try again shortly");
		else
			j->route->fn(&ctx, &j->req, &j->resp);
		if (ctx.conn)
			db_pool_release(srv_app->pool, ctx.conn);
		if (j->resp.status == 0)
			http_response_error(&j->resp, 500, "internal", "the request could not be answered");
		j->ready_us = util_now_us();
		snprintf(what, sizeof(what), "%s %s", j->method, j->route->pattern);
		latency_end(what, j->ready_us - j->queued_us);

		pthread_mutex_lock(&jobs_lock);
		job_finish_locked(j);
		pthread_mutex_unlock(&jobs_lock);
		if (lws_ctx)
			lws_cancel_service(lws_ctx);
	}
	return NULL;
}

int server_task(void (*fn)(struct http_ctx *ctx, void *arg), void *arg)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return -1;
	j->task_fn = fn;
	j->task_arg = arg;
	j->queued_us = util_now_us();
	pthread_mutex_lock(&jobs_lock);
	if (srv_stopping || workers_quit || jobs_queued >= srv_app->cfg->max_queue) {
		pthread_mutex_unlock(&jobs_lock);
		free(j);
		return -1;
	}
	jobs_queued++;
	if (work_tail)
		work_tail->next = j;
	else
		work_head = j;
	work_tail = j;
	pthread_cond_signal(&jobs_cond);
	pthread_mutex_unlock(&jobs_lock);
	return 0;
}

/* Answers from the loop itself (no handler): marks the job ready and asks to write. */
static void job_answer_now(struct job *j)
{
	j->done = 1;
	if (j->wsi)
		lws_callback_on_writable(j->wsi);
}

/* Answers an error from the loop and closes the connection after it: for requests whose
 * body is left unread (no length, too large), so its bytes are never read as a request. */
static void job_reject(struct job *j, int status, const char *code, const char *message)
{
	http_response_error(&j->resp, status, code, "%s", message);
	j->close_after = 1;
}

/* The request has been read (or refused before its body): route it. Runs once per job
 * whatever callbacks libwebsockets delivers after (a POST with Content-Length: 0 gets
 * HTTP_BODY_COMPLETION too). */
static void job_submit(struct job *j)
{
	int path_known = 0;

	if (j->submitted)
		return;
	j->submitted = 1;
	pthread_mutex_lock(&jobs_lock);
	jobs_answering++;
	pthread_mutex_unlock(&jobs_lock);
	if (j->wsi) {
		conns_request_read(j->wsi);
		/* the handler's time is bounded by the database timeouts, not the read timer */
		lws_set_timeout(j->wsi, NO_PENDING_TIMEOUT, 0);
	}
	j->req.method = j->method;
	j->req.path = j->path;
	j->req.body = j->body.data ? j->body.data : "";
	j->req.body_len = j->body.len;
	j->req.headers = j->headers;
	j->req.nheaders = j->nheaders;
	j->req.query_args = (const char *const *)j->qargs;
	j->req.nquery_args = j->nqargs;
	if (j->resp.status) { /* refused while reading (job_reject) */
		job_answer_now(j);
		return;
	}
	if (j->too_large) {
		http_response_error(&j->resp, 413, "payload_too_large",
				    "the request body is larger than %ld bytes", job_body_max(j));
		j->close_after = 1;
		job_answer_now(j);
		return;
	}
	if (srv_stopping) {
		http_response_error(&j->resp, 503, "shutting_down", "the gateway is shutting down");
		http_response_header(&j->resp, "Retry-After", "5");
		job_answer_now(j);
		return;
	}
	j->route = route_find(j, &path_known);
	if (!j->route) {
		if (path_known)
			http_response_error(&j->resp, 405, "method_not_allowed",
					    "%s is not allowed on %s", j->method, j->path);
		else
			http_response_error(&j->resp, 404, "not_found", "no route for %s %s",
					    j->method, j->path);
		job_answer_now(j);
		return;
	}
	j->req.route = j->route->pattern;
	pthread_mutex_lock(&jobs_lock);
	if (jobs_queued >= srv_app->cfg->max_queue) {
		jobs_rejected_full++;
		pthread_mutex_unlock(&jobs_lock);
		http_response_error(&j->resp, 503, "overloaded",
				    "the gateway is busy; try again shortly");
		http_response_header(&j->resp, "Retry-After", "1");
		job_answer_now(j);
		return;
	}
	jobs_queued++;
	j->in_worker = 1;
	j->queued_us = util_now_us();
	if (work_tail)
		work_tail->next = j;
	else
		work_head = j;
	work_tail = j;
	pthread_cond_signal(&jobs_cond);
	pthread_mutex_unlock(&jobs_lock);
}

/* ---- reading a request ------------------------------------------------------------------ */

static int header_add(struct job *j, const char *name, const char *value)
{
	struct http_header *grown = realloc(j->headers, (j->nheaders + 1) * sizeof(*grown));
	size_t i;

	if (!grown)
		return -1;
	j->headers = grown;
	grown[j->nheaders].name = strdup(name);
	grown[j->nheaders].value = strdup(value);
	if (!grown[j->nheaders].name || !grown[j->nheaders].value) {
		free(grown[j->nheaders].name);
		free(grown[j->nheaders].value);
		return -1;
	}
	for (i = 0; grown[j->nheaders].name[i]; i++)
		if (grown[j->nheaders].name[i] >= 'A' && grown[j->nheaders].name[i] <= 'Z')
			grown[j->nheaders].name[i] = (char)(grown[j->nheaders].name[i] + 32);
	j->nheaders++;
	return 0;
}

/* Headers lws does not know by index that our routes read: the gateway's own, then each
 * channel adapter's authentication header, lower-case with a colon as lws matches them. */
#define CUSTOM_HEADERS_MAX 16
static const char *const own_headers[] = {"idempotency-key:", "x-request-id:",
                                          "x-forwarded-for:", "x-doc-type:", "x-filename:",
                                          NULL};
static char custom_store[CUSTOM_HEADERS_MAX][64];
static const char *custom_headers[CUSTOM_HEADERS_MAX + 1];

static void custom_headers_init(void)
{
	const struct channel_ops *ops;
	size_t n = 0, i, k;

	for (i = 0; own_headers[i] && n < CUSTOM_HEADERS_MAX; i++)
		custom_headers[n++] = own_headers[i];
	for (i = 0; (ops = channel_ops_at(i)) && n < CUSTOM_HEADERS_MAX; i++) {
		if (!ops->auth_header || strlen(ops->auth_header) + 2 > sizeof(custom_store[0]))
			continue;
		for (k = 0; ops->auth_header[k]; k++)
			custom_store[n][k] = (char)tolower((unsigned char)ops->auth_header[k]);
		custom_store[n][k] = ':';
		custom_store[n][k + 1] = '\0';
		custom_headers[n] = custom_store[n];
		n++;
	}
	custom_headers[n] = NULL;
}

static void headers_collect(struct lws *wsi, struct job *j)
{
	char buf[SERVER_MAX_HEADER], name[128];
	int t, len;
	size_t i;

	for (t = 0; t < WSI_TOKEN_COUNT; t++) {
		const unsigned char *tn;
		size_t nlen;

		if (t == WSI_TOKEN_GET_URI || t == WSI_TOKEN_POST_URI || t == WSI_TOKEN_OPTIONS_URI ||
		    t == WSI_TOKEN_PUT_URI || t == WSI_TOKEN_PATCH_URI || t == WSI_TOKEN_DELETE_URI ||
		    t == WSI_TOKEN_HEAD_URI || t == WSI_TOKEN_HTTP_URI_ARGS)
			continue;
		len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
		if (len <= 0 || len >= (int)sizeof(buf))
			continue;
		tn = lws_token_to_string((enum lws_token_indexes)t);
		if (!tn)
			continue;
		if (lws_hdr_copy(wsi, buf, sizeof(buf), (enum lws_token_indexes)t) < 0)
			continue;
		nlen = strlen((const char *)tn);
		if (nlen == 0 || nlen >= sizeof(name))
			continue;
		memcpy(name, tn, nlen + 1);
		if (name[nlen - 1] == ':')
			name[nlen - 1] = '\0';
		if (name[0] == ':' || name[0] == '\0')
			continue;
		if (header_add(j, name, buf) < 0)
			return;
	}
	for (i = 0; custom_headers[i]; i++) {
		int nl = (int)strlen(custom_headers[i]);

		len = lws_hdr_custom_length(wsi, custom_headers[i], nl);
		if (len < 0 || len >= (int)sizeof(buf))
			continue;
		if (lws_hdr_custom_copy(wsi, buf, sizeof(buf), custom_headers[i], nl) < 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", nl - 1, custom_headers[i]);
		if (header_add(j, name, buf) < 0)
			return;
	}
}

static void query_collect(struct lws *wsi, struct job *j)
{
	char buf[SERVER_MAX_HEADER];
	int n, len;

	for (n = 0; n < 64; n++) {
		char **grown;

		len = lws_hdr_copy_fragment(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_URI_ARGS, n);
		if (len < 0)
			break;
		grown = realloc(j->qargs, (j->nqargs + 1) * sizeof(*grown));
		if (!grown)
			break;
		j->qargs = grown;
		j->qargs[j->nqargs] = strdup(buf);
		if (!j->qargs[j->nqargs])
			break;
		j->nqargs++;
	}
	j->req.query = "";
}

static const char *const method_names[] = { "GET", "POST", "OPTIONS", "PUT", "PATCH", "DELETE",
					    "CONNECT", "HEAD" };

static struct job *job_start(struct lws *wsi, const char *in)
{
	struct job *j = calloc(1, sizeof(*j));
	char *uri = NULL;
	int urilen = 0, m;

	if (!j)
		return NULL;
	m = lws_http_get_uri_and_method(wsi, &uri, &urilen);
	snprintf(j->method, sizeof(j->method), "%s",
		 m >= 0 && (size_t)m < sizeof(method_names) / sizeof(method_names[0]) ?
			 method_names[m] : "UNKNOWN");
	j->path = strdup(in ? in : "/");
	if (!j->path) {
		free(j);
		return NULL;
	}
	sbuf_init(&j->body);
	j->wsi = wsi;
	j->start_us = util_now_us();
	headers_collect(wsi, j);
	query_collect(wsi, j);
	return j;
}

/* ---- writing the answer ----------------------------------------------------------------- */

static int job_write(struct lws *wsi, struct job *j)
{
	unsigned char buf[LWS_PRE + SERVER_CHUNK];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	size_t i, n;
	int final;

	if (!j->headers_sent) {
		const char *ct = j->resp.content_type ? j->resp.content_type : "application/json";

		if (lws_add_http_common_headers(wsi, (unsigned int)j->resp.status, ct,
						(lws_filepos_t)j->resp.body_len, &p, end))
			return -1;
		for (i = 0; i < j->resp.nheaders; i++) {
			char name[128];
			const char *colon = strchr(j->resp.headers[i], ':');
			const char *value;

			if (!colon || (size_t)(colon - j->resp.headers[i]) + 2 > sizeof(name))
				continue;
			snprintf(name, sizeof(name), "%.*s:", (int)(colon - j->resp.headers[i]),
				 j->resp.headers[i]);
			value = colon + 1;
			while (*value == ' ')
				value++;
			if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
							(const unsigned char *)value, (int)strlen(value),
							&p, end))
				return -1;
		}
		if (j->close_after &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
						(const unsigned char *)"close", 5, &p, end))
			return -1;
		if (lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		j->headers_sent = 1;
		if (j->resp.body_len > 0) {
			lws_callback_on_writable(wsi);
			return 0;
		}
		return 1;
	}
	n = j->resp.body_len - j->body_off;
	if (n > SERVER_CHUNK)
		n = SERVER_CHUNK;
	final = j->body_off + n >= j->resp.body_len;
	memcpy(start, j->resp.body + j->body_off, n);
	if (lws_write(wsi, start, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	j->body_off += n;
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	return 1;
}

static void job_detach(struct pss *pss)
{
	struct job *j = pss ? pss->job : NULL, **pp;

	if (!j)
		return;
	pss->job = NULL;
	pthread_mutex_lock(&jobs_lock);
	j->wsi = NULL;
	if (j->in_worker) {
		j->orphan = 1; /* the worker frees it */
	} else {
		for (pp = &ready_head; *pp; pp = &(*pp)->next) {
			if (*pp == j) {
				*pp = j->next;
				break;
			}
		}
		jobs_alive--;
		job_free(j);
	}
	pthread_mutex_unlock(&jobs_lock);
}

/* Bytes of the request line's URI and of every header libwebsockets knows by name. */
static size_t request_head_size(struct lws *wsi)
{
	size_t n = 0;
	int t, len;

	for (t = 0; t < WSI_TOKEN_COUNT; t++) {
		len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
		if (len > 0)
			n += (size_t)len;
	}
	return n;
}

/* Strict Content-Length: decimal digits only, at most 18 of them. */
static int content_length_parse(const char *s, long long *out)
{
	long long n = 0;
	int digits = 0;

	for (; *s; s++, digits++) {
		if (*s < '0' || *s > '9' || digits >= 18)
			return -1;
		n = n * 10 + (*s - '0');
	}
	if (digits == 0)
		return -1;
	*out = n;
	return 0;
}

/* Decides how the request's body is read. Returns 1 to wait for a body, 0 to route the
 * request now (no body, or refused: j->resp or j->too_large says why). */
static int job_body_plan(struct lws *wsi, struct job *j)
{
	char buf[64];
	int has_cl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
	int has_te = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
	int wants_body = strcmp(j->method, "POST") == 0 || strcmp(j->method, "PUT") == 0 ||
			 strcmp(j->method, "PATCH") == 0;
	long long n = 0;

	if (request_head_size(wsi) > (size_t)srv_app->cfg->max_header) {
		job_reject(j, 431, "headers_too_large", "the request line and headers are too large");
		return 0;
	}
	if (has_te) {
		/* both framings at once is how requests are smuggled past proxies: refuse */
		if (has_cl || lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_TRANSFER_ENCODING) <= 0 ||
		    strcasecmp(buf, "chunked") != 0) {
			job_reject(j, 400, "bad_request",
				   "Transfer-Encoding must be chunked alone, without Content-Length");
			return 0;
		}
		/* libwebsockets does not decode chunked request bodies: we do, and close the
		 * connection after the answer since it cannot tell where the body ended */
		j->chunked = 1;
		j->close_after = 1;
		return 1;
	}
	if (has_cl) {
		if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
		    content_length_parse(buf, &n) < 0) {
			job_reject(j, 400, "bad_request", "Content-Length must be one whole number");
			return 0;
		}
		if (n > job_body_max(j)) {
			j->too_large = 1; /* 413 before a byte of the body is read */
			return 0;
		}
		return n > 0;
	}
	if (wants_body) {
		job_reject(j, 411, "length_required",
			   "a request with a body needs Content-Length (or chunked encoding)");
		return 0;
	}
	return 0;
}

static void job_body_chunked(struct job *j, const void *in, size_t len)
{
	int r = http_chunked_feed(&j->dechunk, in, len, &j->body, (size_t)job_body_max(j));

	if (r == HTTP_CHUNKED_MORE)
		return;
	if (r == HTTP_CHUNKED_TOO_LARGE)
		j->too_large = 1;
	else if (r != HTTP_CHUNKED_DONE)
		job_reject(j, 400, "bad_request", "the chunked body is malformed");
	job_submit(j);
}

/* Read-ahead. libwebsockets 4.1 keeps the bytes it read past a request on the connection's
 * buffer list and parses the next request from there. For a request with a body that is
 * unsafe: lws_http_action reads the body a second time from that same list, frees it, and
 * then hands HTTP_BODY the freed bytes (found by fuzz/run-http.sh). So such a request is
 * never let through: one that comes while another is in hand closes the connection at once
 * (request_has_body), and an answer is the connection's last whenever read-ahead bytes wait
 * (read_ahead_pending), so nothing is parsed from them after it. */
static int request_has_body(struct lws *wsi)
{
	return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 ||
	       lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
}

/* Whether any connection has read-ahead bytes waiting: libwebsockets says so by asking for
 * another service turn at once (0). It cannot tell which connection; another's waiting bytes
 * only cost this one its keep-alive (the client connects again), never a request. */
static int read_ahead_pending(struct lws *wsi)
{
	return lws_service_adjust_timeout(lws_get_context(wsi), 1, lws_get_tsi(wsi)) == 0;
}

/* LWS_CALLBACK_HTTP: a request's headers are in. Starts its job and routes it at once unless
 * a body is to be read first; a pipelined request behind the one in hand is refused. */
static int on_http(struct lws *wsi, struct pss *pss, void *in)
{
	struct job *j;

	if (pss->job) {
		/* A pipelined request, parsed by libwebsockets before the one in hand was
		 * answered (it reads ahead and cannot be held back without stopping writes
		 * too). It is not served: the answer in hand goes out and the connection
		 * closes, so the client sends it again on a new one (RFC 9112 9.3.2). One
		 * with a body closes it now, the answer in hand unsent (see Read-ahead). */
		pss->job->close_after = 1;
		atomic_fetch_add(&pipelined_refused, 1);
		return request_has_body(wsi) ? -1 : 0;
	}
	j = job_start(wsi, in);
	if (!j)
		return -1;
	pss->job = j;
	pthread_mutex_lock(&jobs_lock);
	jobs_alive++;
	pthread_mutex_unlock(&jobs_lock);
	if (job_body_plan(wsi, j) == 0)
		job_submit(j);
	return 0;
}

/* LWS_CALLBACK_HTTP_BODY: a piece of the body. Kept up to the body limit, or decoded when
 * chunked. */
static int on_http_body(struct pss *pss, void *in, size_t len)
{
	struct job *j = pss->job;

	if (!j || j->submitted || !in || len == 0)
		return 0;
	if (j->chunked) {
		job_body_chunked(j, in, len);
		return 0;
	}
	if (j->body.len + len > (size_t)job_body_max(j))
		j->too_large = 1;
	if (!j->too_large)
		sbuf_append(&j->body, in, len);
	return 0;
}

/* LWS_CALLBACK_HTTP_BODY_COMPLETION: the body is read whole; the job is routed. Returns -1 to
 * close the connection when libwebsockets repeats this callback. */
static int on_http_body_completion(struct lws *wsi, struct pss *pss)
{
	struct job *j = pss->job;

	if (!j)
		return 0;
	if (++j->completions > 1) {
		/* libwebsockets 4.1 repeats this, turn after turn, when bytes followed the
		 * body in one read (a pipelined request, or junk): it would spin until the
		 * connection dies. An answer already waiting to be written gets a few turns
		 * to go out (the write then closes the connection); otherwise, or past them,
		 * the connection is closed unanswered now, and the client sends its request
		 * again on a new one. A handler still at work finishes on its own. */
		j->close_after = 1;
		if (j->completions < SERVER_REPEAT_TURNS) {
			if (j->done)
				lws_callback_on_writable(wsi);
			return 0;
		}
		atomic_fetch_add(&pipelined_refused, 1);
		return -1;
	}
	if (j->submitted)
		return 0;
	if (j->chunked) { /* the body ended before its last chunk */
		job_reject(j, 400, "bad_request", "the chunked body ended early");
		job_submit(j);
		return 0;
	}
	if (j->body.failed)
		j->too_large = 1;
	job_submit(j);
	return 0;
}

/* LWS_CALLBACK_HTTP_WRITEABLE: writes the next piece of a ready answer; after its last byte,
 * records the request and frees the job, then closes the connection or waits for the next
 * request on it (-1 closes). */
static int on_http_writeable(struct lws *wsi, struct pss *pss)
{
	struct job *j = pss->job;
	int r;

	if (!j || !j->done)
		return 0;
	r = job_write(wsi, j);
	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	metrics_request_observe(j->route ? j->route->pattern : NULL, j->method, j->resp.status,
				(double)(util_now_us() - j->start_us) / 1e6);
	if (j->ready_us)
		latency_write_observe(util_now_us() - j->ready_us);
	log_debug(NULL, "http %s %s -> %d", j->method, j->route ? j->route->pattern : j->path,
		  j->resp.status);
	r = j->close_after;
	job_detach(pss);
	if (r)
		return -1;
	if (read_ahead_pending(wsi)) {
		atomic_fetch_add(&pipelined_refused, 1);
		return -1;
	}
	/* the deadline for the next request starts now; a pipelined one that is read at
	 * once below stops it again */
	conns_request_wait(wsi);
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

/* LWS_CALLBACK_EVENT_WAIT_CANCELLED: workers finished jobs (lws_cancel_service); takes the
 * ready list and asks to write on each job's connection that is still open. */
static void on_event_wait_cancelled(void)
{
	struct job *j, *ready;

	pthread_mutex_lock(&jobs_lock);
	ready = ready_head;
	ready_head = NULL;
	for (j = ready; j; j = j->next)
		if (j->wsi)
			lws_callback_on_writable(j->wsi);
	for (j = ready; j;) {
		struct job *next = j->next;
		j->next = NULL;
		j = next;
	}
	pthread_mutex_unlock(&jobs_lock);
}

/* The HTTP protocol's callback: admits and tracks connections, and drives each request's job
 * from its headers to its answer (the on_* helpers above, one per reason). */
static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	struct pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
		const struct lws_filter_network_conn_args *f = user;

		if (!f)
			return 0;
		return conns_admit((const struct sockaddr *)&f->cli_addr, f->clilen) < 0 ? 1 : 0;
	}
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		/* not at WSI_CREATE: the adoption resets the wsi's opaque data after it */
		conns_attach(wsi);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		job_detach(pss);
		conns_detach(wsi);
		return 0;
	case LWS_CALLBACK_HTTP:
		return on_http(wsi, pss, in);
	case LWS_CALLBACK_HTTP_BODY:
		return on_http_body(pss, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return on_http_body_completion(wsi, pss);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_http_writeable(wsi, pss);
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		on_event_wait_cancelled();
		ws_wake();
		return 0;
	/* WebSocket connections (ws.c) */
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return srv_stopping ? 1 : ws_filter(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		pss->ws = ws_established(wsi);
		return pss->ws ? 0 : -1;
	case LWS_CALLBACK_RECEIVE:
		return ws_receive(wsi, pss->ws, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return ws_writeable(wsi, pss->ws);
	case LWS_CALLBACK_RECEIVE_PONG:
		ws_pong(pss->ws);
		return 0;
	case LWS_CALLBACK_CLOSED:
		ws_closed(pss->ws);
		pss->ws = NULL;
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		job_detach(pss);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static struct lws_protocols protocols[] = {
	{ "http", callback_http, sizeof(struct pss), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ---- process ---------------------------------------------------------------------------- */

static lws_sorted_usec_list_t sweep_sul;

/* Every SERVER_SWEEP_MS on the loop: closes connections past their read deadline. */
static void server_sweep(lws_sorted_usec_list_t *sul)
{
	int64_t now = util_now_ms();

	conns_sweep(now);
	ws_sweep(now);
	lws_sul_schedule(lws_ctx, 0, sul, server_sweep, SERVER_SWEEP_MS * LWS_US_PER_MS);
}

/* Raises the open-files limit to its hard maximum (as PgBouncer and Redis do) and keeps the
 * connection cap under it, leaving room for database connections, outbound HTTP and files. */
static int server_limits_apply(const struct config *cfg)
{
	struct conns_limits lim;
	struct rlimit rl;
	long reserve = cfg->db_pool_size + 8L * (cfg->dispatch_workers + 1) + 64, fit;

	lim.max_total = cfg->max_connections;
	lim.max_per_addr = cfg->max_connections_per_address;
	lim.read_ms = cfg->read_timeout * 1000;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				getrlimit(RLIMIT_NOFILE, &rl);
		}
		fit = rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur - reserve;
		if (fit < 16) {
			log_error(NULL, "the open-files limit (%ld) is too low to serve; raise ulimit -n",
				  (long)rl.rlim_cur);
			return -1;
		}
		if (lim.max_total > fit) {
			log_warn(NULL, "max_connections %ld lowered to %ld by the open-files limit %ld",
				 lim.max_total, fit, (long)rl.rlim_cur);
			lim.max_total = fit;
		}
	}
	conns_configure(&lim);
	return 0;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (lws_ctx)
		lws_cancel_service(lws_ctx);
}

void server_stop(void)
{
	on_signal(SIGTERM);
}

static void lws_log_emit(int level, const char *line)
{
	char copy[512];
	size_t n;

	snprintf(copy, sizeof(copy), "%s", line);
	n = strlen(copy);
	while (n && (copy[n - 1] == '\n' || copy[n - 1] == '\r'))
		copy[--n] = '\0';
	if (level & LLL_ERR)
		log_error(NULL, "lws: %s", copy);
	else
		log_warn(NULL, "lws: %s", copy);
}

unsigned long long server_pipelined_closed(void)
{
	return atomic_load(&pipelined_refused);
}

void server_queue_stats(long *queued, unsigned long long *rejected)
{
	pthread_mutex_lock(&jobs_lock);
	*queued = jobs_queued;
	*rejected = jobs_rejected_full;
	pthread_mutex_unlock(&jobs_lock);
}

static pthread_t *srv_workers;
static long srv_started;

/* Everything serve runs, up to the loop. embedded: no listening socket and no signal
 * handlers (the HTTP fuzz target adopts its own sockets). Returns 0, or -1 after logging why;
 * server_teardown() undoes what was done either way. */
static int server_setup(struct app *app, const struct http_route *routes, int embedded)
{
	const struct config *cfg = app->cfg;
	struct lws_context_creation_info info;
	char host[256];
	const char *colon;
	long i;
	int port = 0;

	srv_app = app;
	srv_routes = routes;
	srv_stopping = 0;
	stop_requested = 0;
	workers_quit = 0;
	colon = strrchr(cfg->listen, ':');
	if (!colon || (size_t)(colon - cfg->listen) >= sizeof(host)) {
		log_error(NULL, "listen must be host:port, got '%s'", cfg->listen);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - cfg->listen), cfg->listen);
	port = atoi(colon + 1);
	if (port <= 0 || port > 65535) {
		log_error(NULL, "listen: bad port in '%s'", cfg->listen);
		return -1;
	}
	if (!app->pool) {
		log_error(NULL, "no database pool");
		return -1;
	}
	if (server_limits_apply(cfg) < 0)
		return -1;
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	custom_headers_init();
	memset(&info, 0, sizeof(info));
	info.port = embedded ? CONTEXT_PORT_NO_LISTEN_SERVER : port;
	info.iface = (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0') ? NULL : host;
	info.protocols = protocols;
	info.timeout_secs = (unsigned int)cfg->read_timeout;
	info.keepalive_timeout = 30;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
	/* the parser's buffer is twice max_header, so that a head a little over the limit is
	 * read and answered 431 (request_head_size); a larger one overflows it and the parser
	 * closes the connection */
	info.max_http_header_data = 0;
	info.max_http_header_data2 = (unsigned int)(2 * cfg->max_header);
	info.pt_serv_buf_size = 32768;
	/* serve's loop is libev's (epoll on Linux): poll() looks at every connection on every
	 * turn, so with thousands of web chat sockets open each turn cost milliseconds. The
	 * embedded server (the fuzzer) keeps libwebsockets' own poll loop, turn by turn. */
	if (!embedded && cfg->epoll &&
	    (srv_loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK)) != NULL) {
		srv_foreign[0] = srv_loop;
		info.foreign_loops = srv_foreign;
		info.options |= LWS_SERVER_OPTION_LIBEV;
		lws_ctx = lws_create_context(&info);
		if (!lws_ctx) {
			log_warn(NULL, "libwebsockets' libev loop is not available (is the"
			               " libwebsockets-evlib-ev package installed?); using poll()");
			ev_loop_destroy(srv_loop);
			srv_loop = NULL;
		}
	}
	if (!srv_loop) {
		info.foreign_loops = NULL;
		info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
		lws_ctx = lws_create_context(&info);
	}
	ws_bind(lws_ctx, srv_ws_routes);
	/* WebSocket connections: a ping after ws_ping_secs without a frame, closed after
	 * ws_idle_secs (ws.c, from the sweep) */
	ws_keepalive(cfg->ws_ping_secs * 1000, cfg->ws_idle_secs * 1000);
	if (!lws_ctx) {
		log_error(NULL, "could not listen on %s", cfg->listen);
		return -1;
	}
	/* lws_service() sleeps until an event or a timer: the sweep is a timer of the loop */
	lws_sul_schedule(lws_ctx, 0, &sweep_sul, server_sweep, SERVER_SWEEP_MS * LWS_US_PER_MS);
	srv_workers = calloc((size_t)cfg->workers, sizeof(*srv_workers));
	if (!srv_workers)
		return -1;
	for (i = 0; i < cfg->workers; i++) {
		if (pthread_create(&srv_workers[i], NULL, worker_main, NULL) != 0)
			break;
		srv_started++;
	}
	return 0;
}

static void server_teardown(void)
{
	long i;

	pthread_mutex_lock(&jobs_lock);
	workers_quit = 1;
	pthread_cond_broadcast(&jobs_cond);
	pthread_mutex_unlock(&jobs_lock);
	for (i = 0; i < srv_started; i++)
		pthread_join(srv_workers[i], NULL);
	free(srv_workers);
	srv_workers = NULL;
	srv_started = 0;
	if (lws_ctx) {
		lws_sul_cancel(&sweep_sul);
		lws_context_destroy(lws_ctx);
	}
	lws_ctx = NULL;
	if (srv_loop) {
		ev_timer_stop(srv_loop, &srv_tick);
		ev_loop_destroy(srv_loop);
	}
	srv_loop = NULL;
	conns_reset();
	ws_reset();
	srv_app = NULL;
	srv_routes = NULL;
}

int server_run(struct app *app, const struct http_route *routes)
{
	const struct config *cfg = app->cfg;
	int64_t deadline = 0;
	int rc = 1;

	warm_target = (int)(cfg->workers < cfg->db_pool_size ? cfg->workers : cfg->db_pool_size);
	warm_claimed = warm_held = warm_finished = warm_rehearsed = 0;
	if (server_setup(app, routes, 0) < 0)
		goto out;
	server_warm_wait();
	if (srv_loop) {
		/* the loop below looks at the stop flag at least every 100 ms, as with poll() */
		ev_timer_init(&srv_tick, on_tick, 0.1, 0.1);
		ev_timer_start(srv_loop, &srv_tick);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	log_info(NULL, "ccgw %s listening on %s (public %s), %ld workers, event loop %s", CCGW_VERSION,
		 cfg->listen, cfg->public_url, cfg->workers,
		 !srv_loop                                    ? "poll"
		 : ev_backend(srv_loop) == EVBACKEND_EPOLL    ? "libev (epoll)"
		                                              : "libev");

	for (;;) {
		if (stop_requested && !srv_stopping) {
			srv_stopping = 1;
			deadline = util_now_ms() + cfg->shutdown_grace * 1000;
			log_info(NULL, "shutting down: finishing in-flight requests");
		}
		if (srv_stopping) {
			int alive;

			pthread_mutex_lock(&jobs_lock);
			alive = jobs_alive;
			pthread_mutex_unlock(&jobs_lock);
			if (alive == 0 || util_now_ms() >= deadline)
				break;
		}
		if (srv_loop) {
			/* one turn: waits for an event, a timer of libwebsockets', a wake
			 * (lws_cancel_service) or the tick below */
			ev_run(srv_loop, EVRUN_ONCE);
		} else if (lws_service(lws_ctx, 100) < 0) {
			break;
		}
	}
	rc = 0;
out:
	server_teardown();
	log_info(NULL, "stopped");
	return rc;
}

int server_embed_start(const struct config *cfg, const struct http_route *routes)
{
	if (!cfg->database_url) {
		log_error(NULL, "no database: set CCGW_DATABASE_URL");
		return -1;
	}
	if (app_open(&srv_embed_app, cfg, APP_POOL) < 0 ||
	    server_setup(&srv_embed_app, routes, 1) < 0) {
		server_embed_stop();
		return -1;
	}
	return 0;
}

int server_embed_adopt(int fd)
{
	return lws_adopt_socket(lws_ctx, fd) ? 0 : -1;
}

int server_embed_service(void)
{
	/* a negative timeout: one turn without waiting in poll() */
	return lws_service(lws_ctx, -1);
}

int server_embed_busy(void)
{
	int alive;

	pthread_mutex_lock(&jobs_lock);
	alive = jobs_answering;
	pthread_mutex_unlock(&jobs_lock);
	return alive;
}

void server_embed_stop(void)
{
	server_teardown();
	app_close(&srv_embed_app);
}
