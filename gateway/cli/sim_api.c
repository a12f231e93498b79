/*
 * sim_api.c: the fake platform API of `ccgw simulate` (see sim_api.h). Its own libwebsockets
 * context, serviced by its own thread, listening on a free loopback port. A request to
 * /<type>/... is answered by that channel type's simulator (channel_sim.h: outbound), and
 * the reply it shows the shopper is queued for its recipient.
 */
#include "sim_api.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel.h"
#include "channel_sim.h"
#include "util.h"

#define SIM_API_BODY_MAX (1024 * 1024)

struct sim_msg {
	char *recipient;
	json_t *reply;
	struct sim_msg *next;
};

struct sim_api {
	struct lws_context *ctx;
	pthread_t thread;
	int started;
	volatile int quit;
	char base[64];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sim_msg *head, *tail;
	unsigned long requests;
	unsigned long seq; /* a number per request, for the platforms' message ids */
};

struct sim_pss {
	char path[256];
	struct sbuf body;
	int body_init;
	int too_large;
	char *answer; /* heap JSON, set when the answer is ready */
	int status;
};

static void queue_reply(struct sim_api *api, const char *recipient, json_t *reply)
{
	struct sim_msg *m = calloc(1, sizeof(*m));

	if (!m || !(m->recipient = strdup(recipient))) {
		free(m);
		json_decref(reply);
		return;
	}
	m->reply = reply;
	pthread_mutex_lock(&api->lock);
	if (api->tail)
		api->tail->next = m;
	else
		api->head = m;
	api->tail = m;
	pthread_cond_broadcast(&api->cond);
	pthread_mutex_unlock(&api->lock);
}

static unsigned long next_seq(struct sim_api *api)
{
	unsigned long n;

	pthread_mutex_lock(&api->lock);
	n = ++api->seq;
	api->requests++;
	pthread_mutex_unlock(&api->lock);
	return n;
}

/* ---- requests ---- */

/* /<type>/<the platform's path>: the type's simulator answers it. */
static void request_answer(struct sim_api *api, struct sim_pss *pss)
{
	const struct channel_ops *ops = NULL;
	const char *slash = strchr(pss->path + 1, '/');
	char type[32], recipient[128];
	json_t *body = NULL, *reply = NULL;

	pss->status = 404;
	if (pss->too_large) {
		pss->status = 413;
		pss->answer = strdup("{\"error\": {\"message\": \"too large\"}}");
		return;
	}
	if (slash && (size_t)(slash - pss->path) < sizeof(type)) {
		snprintf(type, sizeof(type), "%.*s", (int)(slash - pss->path - 1), pss->path + 1);
		ops = channel_ops_find(type);
	}
	if (!ops || !ops->sim || !ops->sim->outbound) {
		pss->answer = strdup("{\"error\": {\"message\": \"no such platform here\"}}");
		return;
	}
	if (pss->body_init && pss->body.len)
		body = json_loadb(pss->body.data, pss->body.len, 0, NULL);
	if (ops->sim->outbound(slash, body, next_seq(api), &pss->status, &pss->answer, recipient,
	                       sizeof(recipient), &reply) < 0) {
		pss->status = 500;
		pss->answer = NULL;
	}
	if (reply && recipient[0])
		queue_reply(api, recipient, reply);
	else
		json_decref(reply);
	json_decref(body);
	if (!pss->answer) {
		pss->status = 500;
		pss->answer = strdup("{}");
	}
}

static int answer_write(struct lws *wsi, struct sim_pss *pss)
{
	size_t len = strlen(pss->answer);
	unsigned char *buf = malloc(LWS_PRE + 512 + len), *start, *p, *end;
	int rc = -1;

	if (!buf)
		return -1;
	start = p = buf + LWS_PRE;
	end = start + 512 + len - 1;
	if (lws_add_http_common_headers(wsi, (unsigned int)pss->status, "application/json",
	                                (lws_filepos_t)len, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end))
		goto out;
	memcpy(p, pss->answer, len);
	p += len;
	/* the head and the body in one write (lws_finalize_http_header writes nothing) */
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) != (int)(p - start))
		goto out;
	rc = 0;
out:
	free(buf);
	return rc;
}

static void pss_reset(struct sim_pss *pss)
{
	if (pss->body_init)
		sbuf_free(&pss->body);
	free(pss->answer);
	memset(pss, 0, sizeof(*pss));
}

static int sim_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
	struct sim_pss *pss = user;
	struct sim_api *api = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		pss_reset(pss);
		snprintf(pss->path, sizeof(pss->path), "%s", in ? (const char *)in : "");
		if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
			return 0; /* the body follows */
		request_answer(api, pss);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_BODY:
		if (!pss->body_init) {
			sbuf_init(&pss->body);
			pss->body_init = 1;
		}
		if (pss->body.len + len > SIM_API_BODY_MAX)
			pss->too_large = 1;
		else
			sbuf_append(&pss->body, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		request_answer(api, pss);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!pss->answer)
			return 0;
		if (answer_write(wsi, pss) < 0)
			return -1;
		pss_reset(pss);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		pss_reset(pss);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols sim_protocols[] = {
    {"http", sim_callback, sizeof(struct sim_pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *sim_api_main(void *arg)
{
	struct sim_api *api = arg;

	while (!api->quit)
		if (lws_service(api->ctx, 250) < 0)
			break;
	return NULL;
}

struct sim_api *sim_api_start(char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct sim_api *api = calloc(1, sizeof(*api));
	struct lws_vhost *vh;
	int port;

	if (!api) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&api->lock, NULL);
	pthread_cond_init(&api->cond, NULL);
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof(info));
	info.port = 0; /* a free port, read back below */
	info.iface = "127.0.0.1";
	info.protocols = sim_protocols;
	info.user = api;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.timeout_secs = 30;
	api->ctx = lws_create_context(&info);
	vh = api->ctx ? lws_get_vhost_by_name(api->ctx, "default") : NULL;
	port = vh ? lws_get_vhost_listen_port(vh) : -1;
	if (port <= 0) {
		snprintf(err, errlen, "the fake platform API could not listen on 127.0.0.1");
		goto fail;
	}
	snprintf(api->base, sizeof(api->base), "http://127.0.0.1:%d", port);
	if (pthread_create(&api->thread, NULL, sim_api_main, api) != 0) {
		snprintf(err, errlen, "cannot start a thread");
		goto fail;
	}
	api->started = 1;
	return api;
fail:
	sim_api_free(api);
	return NULL;
}

void sim_api_free(struct sim_api *api)
{
	struct sim_msg *m, *next;

	if (!api)
		return;
	if (api->started) {
		api->quit = 1;
		lws_cancel_service(api->ctx);
		pthread_join(api->thread, NULL);
	}
	if (api->ctx)
		lws_context_destroy(api->ctx);
	for (m = api->head; m; m = next) {
		next = m->next;
		free(m->recipient);
		json_decref(m->reply);
		free(m);
	}
	pthread_mutex_destroy(&api->lock);
	pthread_cond_destroy(&api->cond);
	free(api);
}

const char *sim_api_base_url(const struct sim_api *api)
{
	return api->base;
}

unsigned long sim_api_requests(const struct sim_api *api)
{
	unsigned long n;

	pthread_mutex_lock((pthread_mutex_t *)&api->lock);
	n = api->requests;
	pthread_mutex_unlock((pthread_mutex_t *)&api->lock);
	return n;
}

json_t *sim_api_take(struct sim_api *api, const char *recipient, int ms)
{
	struct timespec until;
	struct sim_msg *m, *prev;
	json_t *r = NULL;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&api->lock);
	for (;;) {
		for (prev = NULL, m = api->head; m; prev = m, m = m->next)
			if (strcmp(m->recipient, recipient) == 0)
				break;
		if (m) {
			if (prev)
				prev->next = m->next;
			else
				api->head = m->next;
			if (api->tail == m)
				api->tail = prev;
			r = m->reply;
			free(m->recipient);
			free(m);
			break;
		}
		if (pthread_cond_timedwait(&api->cond, &api->lock, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&api->lock);
	return r;
}
