/*
 * sim.c: the simulator's run and shoppers (see sim.h). The gateway runs in this process as
 * `ccgw serve` wires it (pool, dispatcher, web chat, HTTP server on a free loopback port, on a
 * thread of its own) or is an existing serve. Simulated channels are marked in their config
 * ("simulated": true, "sim_api_base": the fake API), which the dispatcher honours for them
 * alone, so their replies reach this run's fake API whichever gateway sends them, while the
 * real channels' replies go where they always go. A run holds a session advisory lock on
 * each simulated channel it uses: runs at the same time never share one.
 */
#include "sim.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "app.h"
#include "channel.h"
#include "channel_open.h"
#include "channel_sim.h"
#include "dispatch.h"
#include "log.h"
#include "pg.h"
#include "routes.h"
#include "server.h"
#include "sim_api.h"
#include "sim_ws.h"
#include "tenant.h"
#include "util.h"
#include "webchat_gw.h"

#define SIM_MAX_CHANNELS    16
#define SIM_HTTP_TIMEOUT_MS 15000

struct sim_channel {
	char tenant_id[37];
	char slug[64];
	char type[16];
	char id[37];
	json_t *config; /* opened: config with the secrets over it */
};

struct sim {
	struct config cfg;
	struct app app;
	int app_opened;
	struct dispatcher *disp;
	int webchat_started;
	pthread_t gw_thread;
	int gw_started;
	char url[128]; /* the gateway, without a trailing slash */
	char host[64];
	int port;
	PGconn *conn;
	struct sim_api *api;
	struct sim_channel chans[SIM_MAX_CHANNELS];
	size_t nchans;
};

struct sim_shopper {
	struct sim *sim;
	struct sim_channel *chan;      /* NULL on the web chat */
	const struct channel_ops *ops; /* its type's adapter, which has a simulator */
	char id[48]; /* the platform's id of the shopper, or the web chat's conversation */
	char name[128];
	struct sim_ws *ws;
	int ws_closed;
};

static atomic_llong sim_seq; /* update ids and message ids, unique across runs */
static volatile sig_atomic_t sim_gw_running;
static atomic_int sim_gw_done; /* the gateway's thread left server_run */

int sim_channel_type_ok(const char *type)
{
	const struct channel_ops *ops = type ? channel_ops_find(type) : NULL;

	return ops && ops->sim;
}

const char *sim_channel_types(char *out, size_t outlen)
{
	const struct channel_ops *ops;
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; (ops = channel_ops_at(i)) && n < outlen; i++)
		if (ops->sim)
			n +=
			    (size_t)snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", ops->type);
	return out;
}

static long long seq_next(void)
{
	long long v = atomic_fetch_add(&sim_seq, 1);

	if (v == 0) { /* the first: start from the clock, so later runs never repeat an id */
		long long base = util_now_ms() * 1000;

		atomic_store(&sim_seq, base + 1);
		return base;
	}
	return v;
}

/* n random decimal digits into out (n + 1 bytes); the first is never 0. */
static int random_digits(char *out, size_t n)
{
	unsigned char r[32];
	size_t i;

	if (n > sizeof(r) || RAND_bytes(r, (int)n) != 1)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = (char)('0' + r[i] % 10);
	if (out[0] == '0')
		out[0] = '1';
	out[n] = '\0';
	return 0;
}

static int random_hex(char *out, size_t bytes)
{
	unsigned char r[32];

	if (bytes > sizeof(r) || RAND_bytes(r, (int)bytes) != 1)
		return -1;
	util_hex_encode(r, bytes, out);
	return 0;
}

/* ---- HTTP out ---- */

static size_t collect_cb(char *ptr, size_t size, size_t n, void *ud)
{
	sbuf_append(ud, ptr, size * n);
	return size * n;
}

/* POSTs body to url with headers; the status (0: no answer) and the answer's first bytes in
 * err when it is not 200. */
static long http_post(const char *url, const char *const *headers, const char *body, char *err,
                      size_t errlen)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct sbuf ans;
	long status = 0;
	size_t i;
	CURLcode cc;

	sbuf_init(&ans);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	hl = curl_slist_append(hl, "Content-Type: application/json");
	hl = curl_slist_append(hl, "Expect:");
	for (i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)SIM_HTTP_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(cc));
	else if (status != 200)
		snprintf(err, errlen, "the gateway answered %ld: %.*s", status,
		         (int)(ans.len > 300 ? 300 : ans.len), ans.data ? ans.data : "");
	sbuf_free(&ans);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return status;
}

static int http_healthy(const char *base)
{
	CURL *c = curl_easy_init();
	char url[192];
	long status = 0;
	struct sbuf ans;

	if (!c)
		return 0;
	sbuf_init(&ans);
	snprintf(url, sizeof(url), "%s/healthz", base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	sbuf_free(&ans);
	return status == 200;
}

/* ---- the gateway in this process ---- */

static void *gw_main(void *arg)
{
	struct sim *sim = arg;

	sim_gw_running = 1;
	if (server_run(&sim->app, server_routes) != 0)
		log_error(NULL, "simulate: the gateway stopped with an error");
	sim_gw_running = 0;
	atomic_store(&sim_gw_done, 1);
	return NULL;
}

static void gw_kick(void *arg)
{
	dispatcher_kick(arg);
}

static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int config_set(char **slot, const char *value)
{
	char *v = strdup(value);

	if (!v)
		return -1;
	free(*slot);
	*slot = v;
	return 0;
}

static int gw_start(struct sim *sim, char *err, size_t errlen)
{
	char listen[64];
	int i;

	sim->port = free_port();
	if (sim->port <= 0) {
		snprintf(err, errlen, "no free port on 127.0.0.1");
		return -1;
	}
	snprintf(sim->host, sizeof(sim->host), "127.0.0.1");
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", sim->port);
	snprintf(sim->url, sizeof(sim->url), "http://%s", listen);
	if (config_set(&sim->cfg.listen, listen) < 0 ||
	    config_set(&sim->cfg.public_url, sim->url) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* a shopper at a time: a few workers and connections are plenty */
	if (sim->cfg.workers > 4)
		sim->cfg.workers = 4;
	if (sim->cfg.db_pool_size > 4)
		sim->cfg.db_pool_size = 4;
	if (app_open(&sim->app, &sim->cfg, APP_POOL) < 0 || app_role_check(&sim->cfg) < 0) {
		sim->app_opened = 1;
		snprintf(err, errlen, "the gateway could not open its database pool (see above)");
		return -1;
	}
	sim->app_opened = 1;
	if (sim->cfg.dispatch_workers > 0) {
		sim->disp = dispatcher_new(&sim->app);
		if (!sim->disp || dispatcher_start(sim->disp) < 0) {
			snprintf(err, errlen, "the dispatcher could not start");
			return -1;
		}
		sim->app.outbox_kick = gw_kick;
		sim->app.outbox_kick_arg = sim->disp;
	}
	if (webchat_start(&sim->app) < 0) {
		snprintf(err, errlen, "the web chat could not start");
		return -1;
	}
	sim->webchat_started = 1;
	server_set_ws_routes(webchat_ws_routes);
	atomic_store(&sim_gw_done, 0);
	if (pthread_create(&sim->gw_thread, NULL, gw_main, sim) != 0) {
		snprintf(err, errlen, "cannot start a thread");
		return -1;
	}
	sim->gw_started = 1;
	for (i = 0; i < 150 && !atomic_load(&sim_gw_done); i++) {
		struct timespec ts = {0, 100 * 1000000L};

		if (http_healthy(sim->url))
			return 0;
		nanosleep(&ts, NULL);
	}
	snprintf(err, errlen, "the gateway did not answer on %s", sim->url);
	return -1;
}

static void gw_stop(struct sim *sim)
{
	if (sim->gw_started) {
		/* again until it has stopped: a stop asked before its loop began is forgotten */
		while (!atomic_load(&sim_gw_done)) {
			struct timespec ts = {0, 50 * 1000000L};

			server_stop();
			nanosleep(&ts, NULL);
		}
		pthread_join(sim->gw_thread, NULL);
		sim->gw_started = 0;
	}
	if (sim->webchat_started)
		webchat_stop();
	sim->webchat_started = 0;
	if (sim->disp) {
		dispatcher_stop(sim->disp);
		dispatcher_free(sim->disp);
		sim->disp = NULL;
	}
}

void sim_interrupt(void)
{
	if (sim_gw_running)
		server_stop();
}

/* "http://A.B.C.D:PORT[/]" into host and port. */
static int url_parse(const char *url, char *host, size_t hostlen, int *port)
{
	const char *h, *colon;
	char *end;
	long p;

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	h = url + 7;
	colon = strchr(h, ':');
	if (!colon || (size_t)(colon - h) >= hostlen || colon == h)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (p <= 0 || p > 65535 || (*end && strcmp(end, "/") != 0))
		return -1;
	snprintf(host, hostlen, "%.*s", (int)(colon - h), h);
	*port = (int)p;
	return 0;
}

struct sim *sim_open(const char *url, char *err, size_t errlen)
{
	struct sim *sim = calloc(1, sizeof(*sim));

	if (!sim) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (app_config_load(&sim->cfg) < 0) {
		snprintf(err, errlen, "the configuration could not be read");
		free(sim);
		return NULL;
	}
	/* the gateway's own log lines would interleave with the chat: warnings and errors only,
	 * unless CCGW_LOG_LEVEL asks for more */
	if (!getenv("CCGW_LOG_LEVEL"))
		log_level_set(LOG_WARN);
	if (!sim->cfg.database_url) {
		snprintf(err, errlen, "no database: set CCGW_DATABASE_URL or run scripts/run once");
		goto fail;
	}
	sim->conn = app_db_connect(&sim->cfg, sim->cfg.database_url, "ccgw-simulate", NULL);
	if (PQstatus(sim->conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to the database: %s",
		         PQerrorMessage(sim->conn));
		goto fail;
	}
	sim->api = sim_api_start(err, errlen);
	if (!sim->api)
		goto fail;
	if (url) {
		if (url_parse(url, sim->host, sizeof(sim->host), &sim->port) < 0) {
			snprintf(err, errlen, "--url must be http://IPv4:PORT, got '%s'", url);
			goto fail;
		}
		snprintf(sim->url, sizeof(sim->url), "http://%s:%d", sim->host, sim->port);
		if (config_set(&sim->cfg.public_url, sim->url) < 0 ||
		    app_open(&sim->app, &sim->cfg, 0) < 0) {
			sim->app_opened = 1;
			snprintf(err, errlen, "cannot open the application context");
			goto fail;
		}
		sim->app_opened = 1;
		if (!http_healthy(sim->url)) {
			snprintf(err, errlen, "no gateway answers on %s", sim->url);
			goto fail;
		}
	} else if (gw_start(sim, err, errlen) < 0) {
		goto fail;
	}
	return sim;
fail:
	sim_close(sim);
	return NULL;
}

void sim_close(struct sim *sim)
{
	size_t i;

	if (!sim)
		return;
	gw_stop(sim);
	sim_api_free(sim->api);
	for (i = 0; i < sim->nchans; i++)
		channel_config_free(sim->chans[i].config);
	pg_finish(sim->conn); /* ends the session: its advisory locks go with it */
	if (sim->app_opened)
		app_close(&sim->app);
	config_clear(&sim->cfg);
	free(sim);
}

/* ---- simulated channels ---- */

struct chan_tx {
	struct sim *sim;
	struct sim_channel *ch;
	const char *id;     /* the channel to open */
	json_t *candidates; /* ids of the tenant's simulated channels of the type */
	int locked;
};

static int candidates_tx(PGconn *conn, void *arg)
{
	struct chan_tx *t = arg;
	const char *params[1] = {t->ch->type};
	PGresult *res = pg_exec(conn,
	                        "SELECT id FROM channels WHERE tenant_id = app_tenant_id() AND "
	                        "type = $1 AND status = 'active' AND config->>'simulated' = 'true'"
	                        " ORDER BY created_at, id",
	                        1, params);
	int i;

	if (!res)
		return PG_ERR_QUERY;
	json_array_clear(t->candidates);
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(t->candidates, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	return 0;
}

/* Marks the channel simulated and points it at this run's fake API, then opens it. */
static int claim_tx(PGconn *conn, void *arg)
{
	struct chan_tx *t = arg;
	char base[96], err[160];
	const char *params[2] = {t->id, base};
	PGresult *res;

	snprintf(base, sizeof(base), "%s/%s", sim_api_base_url(t->sim->api), t->ch->type);
	res = pg_exec(conn,
	              "UPDATE channels SET config = config || jsonb_build_object('simulated', true,"
	              " 'sim_api_base', $2::text) WHERE tenant_id = app_tenant_id() AND id = $1"
	              " RETURNING config::text, secrets",
	              2, params);
	if (!res)
		return PG_ERR_QUERY;
	channel_config_free(t->ch->config);
	t->ch->config = NULL;
	if (PQntuples(res) == 1 &&
	    channel_open_bytea(app_secret_key(&t->sim->app), t->ch->tenant_id,
	                       PQgetvalue(res, 0, 0), pg_value(res, 0, 1), &t->ch->config, err,
	                       sizeof(err)) != CHANNEL_OPEN_OK)
		t->ch->config = NULL;
	PQclear(res);
	return 0;
}

/* A session advisory lock on the channel: 1 taken, 0 another run holds it, -1 error. */
static int channel_lock(PGconn *conn, const char *id)
{
	const char *params[1] = {id};
	PGresult *res = pg_exec(conn,
	                        "SELECT pg_try_advisory_lock(hashtextextended("
	                        "'ccgw-simulate:' || $1, 0))",
	                        1, params);
	int rc;

	if (!res)
		return -1;
	rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

static void channel_unlock(PGconn *conn, const char *id)
{
	const char *params[1] = {id};

	PQclear(pg_exec(conn,
	                "SELECT pg_advisory_unlock(hashtextextended('ccgw-simulate:' || $1, 0))", 1,
	                params));
}

/* Claims (marks, opens) channel id for this run. 0, or -1 when it cannot be used. */
static int channel_claim(struct sim *sim, struct sim_channel *ch, const char *id)
{
	struct chan_tx t = {sim, ch, id, NULL, 0};

	if (pg_tx_run(sim->conn, ch->tenant_id, claim_tx, &t) != 0 || !ch->config)
		return -1;
	snprintf(ch->id, sizeof(ch->id), "%s", id);
	return 0;
}

/* Registers a new simulated channel through the admin API's registration. */
static int channel_register(struct sim *sim, struct sim_channel *ch, char *err, size_t errlen)
{
	struct http_ctx hctx = {&sim->app, sim->conn};
	struct http_response resp;
	const struct channel_ops *ops = channel_ops_find(ch->type);
	char a[65], b[65], c[65], digits[16], id[37];
	const char *const hex[3] = {a, b, c};
	json_t *body = NULL;
	int rc = -1;

	memset(&resp, 0, sizeof(resp));
	if (!ops || !ops->sim || !ops->sim->registration || random_hex(a, 24) < 0 ||
	    random_hex(b, 24) < 0 || random_hex(c, 24) < 0 || random_digits(digits, 12) < 0) {
		snprintf(err, errlen, "no random bytes");
		return -1;
	}
	body = ops->sim->registration(hex, digits);
	if (!body) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	admin_channels_register(&hctx, ch->tenant_id, body, &resp, id);
	if (resp.status != 201 || !id[0]) {
		snprintf(err, errlen, "the %s channel could not be registered: %d %s", ch->type,
		         resp.status, resp.body ? resp.body : "");
		goto out;
	}
	if (channel_lock(sim->conn, id) != 1 || channel_claim(sim, ch, id) < 0) {
		snprintf(err, errlen, "the new %s channel could not be opened", ch->type);
		goto out;
	}
	rc = 0;
out:
	/* the body held the secrets */
	channel_config_free(body);
	http_response_clear(&resp);
	return rc;
}

/* The run's simulated channel of type for the tenant: the first free one, else a new one. */
static struct sim_channel *channel_get(struct sim *sim, const char *tenant_id, const char *type,
                                       char *err, size_t errlen)
{
	struct sim_channel *ch;
	struct chan_tx t;
	size_t i;

	for (i = 0; i < sim->nchans; i++)
		if (strcmp(sim->chans[i].tenant_id, tenant_id) == 0 &&
		    strcmp(sim->chans[i].type, type) == 0)
			return &sim->chans[i];
	if (sim->nchans == SIM_MAX_CHANNELS) {
		snprintf(err, errlen, "too many tenants and channel types in one run");
		return NULL;
	}
	ch = &sim->chans[sim->nchans];
	memset(ch, 0, sizeof(*ch));
	snprintf(ch->tenant_id, sizeof(ch->tenant_id), "%s", tenant_id);
	snprintf(ch->type, sizeof(ch->type), "%s", type);
	memset(&t, 0, sizeof(t));
	t.sim = sim;
	t.ch = ch;
	t.candidates = json_array();
	if (!t.candidates || pg_tx_run(sim->conn, tenant_id, candidates_tx, &t) != 0) {
		snprintf(err, errlen, "the channels could not be read");
		json_decref(t.candidates);
		return NULL;
	}
	for (i = 0; i < json_array_size(t.candidates); i++) {
		const char *id = json_string_value(json_array_get(t.candidates, i));

		if (channel_lock(sim->conn, id) != 1)
			continue; /* another run's */
		if (channel_claim(sim, ch, id) == 0)
			break;
		channel_unlock(sim->conn, id); /* sealed under another key: not usable here */
	}
	json_decref(t.candidates);
	if (!ch->id[0] && channel_register(sim, ch, err, errlen) < 0)
		return NULL;
	sim->nchans++;
	return ch;
}

/* ---- shoppers ---- */

static json_t *ws_next_frame(struct sim_shopper *sh, int ms, int *closed)
{
	int64_t until = util_now_ms() + ms;
	char *text;
	json_t *f;
	int code = 0;

	*closed = 0;
	for (;;) {
		int left = (int)(until - util_now_ms());

		text = sim_ws_recv(sh->ws, left > 0 ? left : 0, &code);
		if (!text) {
			*closed = code != 0;
			return NULL;
		}
		f = json_loads(text, 0, NULL);
		free(text);
		if (json_is_object(f))
			return f;
		json_decref(f);
	}
}

static int webchat_open(struct sim_shopper *sh, const char *slug, char *err, size_t errlen)
{
	char path[160];
	json_t *f;
	int rc, closed;

	sh->ws = calloc(1, sizeof(*sh->ws));
	if (!sh->ws) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sh->ws->fd = -1;
	snprintf(path, sizeof(path), "/ws/chat/%s", slug);
	rc = sim_ws_connect(sh->ws, sh->sim->host, sh->sim->port, path, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "the web chat of '%s' refused the socket (%d)", slug, rc);
		return -1;
	}
	if (sim_ws_send_text(sh->ws, "{\"type\": \"hello\", \"session\": null}") < 0) {
		snprintf(err, errlen, "the web chat socket closed");
		return -1;
	}
	f = ws_next_frame(sh, 10000, &closed);
	if (!f || strcmp(json_string_value(json_object_get(f, "type"))
	                     ? json_string_value(json_object_get(f, "type"))
	                     : "",
	                 "welcome") != 0) {
		snprintf(err, errlen, "the web chat did not welcome the shopper: %s",
		         f ? json_string_value(json_object_get(f, "message")) : "no answer");
		json_decref(f);
		return -1;
	}
	snprintf(sh->id, sizeof(sh->id), "%.47s",
	         json_string_value(json_object_get(f, "conversation_id"))
	             ? json_string_value(json_object_get(f, "conversation_id"))
	             : "socket");
	json_decref(f);
	return 0;
}

struct sim_shopper *sim_shopper_new(struct sim *sim, const char *slug, const char *type,
                                    const char *name, char *err, size_t errlen)
{
	struct sim_shopper *sh;
	char tenant_id[37], digits[16];

	if (!sim_channel_type_ok(type)) {
		char types[128];

		snprintf(err, errlen, "channel must be %s, not '%s'",
		         sim_channel_types(types, sizeof(types)), type ? type : "");
		return NULL;
	}
	switch (tenant_id_by_slug(sim->conn, slug, tenant_id)) {
	case 0:
		break;
	case TENANT_ERR_NOT_FOUND:
		snprintf(err, errlen, "no tenant with slug '%s'", slug);
		return NULL;
	default:
		snprintf(err, errlen, "database error: %s", PQerrorMessage(sim->conn));
		return NULL;
	}
	sh = calloc(1, sizeof(*sh));
	if (!sh) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sh->sim = sim;
	sh->ops = channel_ops_find(type);
	snprintf(sh->name, sizeof(sh->name), "%s", name && *name ? name : "Simulated Shopper");
	if (sh->ops->sim->socket) {
		if (webchat_open(sh, slug, err, errlen) < 0)
			goto fail;
		return sh;
	}
	sh->chan = channel_get(sim, tenant_id, type, err, errlen);
	if (!sh->chan)
		goto fail;
	if (random_digits(digits, 12) < 0) {
		snprintf(err, errlen, "no random bytes");
		goto fail;
	}
	sh->ops->sim->shopper_id(digits, sh->id, sizeof(sh->id));
	return sh;
fail:
	sim_shopper_free(sh);
	return NULL;
}

void sim_shopper_free(struct sim_shopper *sh)
{
	if (!sh)
		return;
	if (sh->ws) {
		sim_ws_close(sh->ws);
		free(sh->ws);
	}
	free(sh);
}

const char *sim_shopper_id(const struct sim_shopper *sh)
{
	return sh->id;
}

static int shopper_ws_send(struct sim_shopper *sh, json_t *frame, char *err, size_t errlen)
{
	char mid[37], *text;
	int rc;

	util_uuid_new(mid);
	if (!frame || json_object_set_new(frame, "client_msg_id", json_string(mid)) < 0 ||
	    !(text = json_dumps(frame, JSON_COMPACT))) {
		json_decref(frame);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_decref(frame);
	rc = sim_ws_send_text(sh->ws, text);
	free(text);
	if (rc < 0)
		snprintf(err, errlen, "the web chat socket closed");
	return rc;
}

/* The shopper's input through the platform: a webhook request built by the type's simulator
 * (signed as the platform signs it), or a web chat frame. */
static int shopper_send(struct sim_shopper *sh, const struct channel_sim_input *in, char *err,
                        size_t errlen)
{
	struct channel_sim_shopper who = {sh->id, sh->name, seq_next()};
	struct channel_request req;
	const char *headers[CHANNEL_MAX_HEADERS + 1];
	char url[256];
	size_t i;
	int rc = -1;

	if (sh->ops->sim->socket) {
		switch (in->act) {
		case CHANNEL_SIM_TEXT:
			return shopper_ws_send(
			    sh, json_pack("{s:s, s:s}", "type", "text", "text", in->text), err,
			    errlen);
		case CHANNEL_SIM_PRESS:
			return shopper_ws_send(sh,
			                       json_pack("{s:s, s:O}", "type", "postback",
			                                 "payload",
			                                 json_object_get(in->choice, "payload")),
			                       err, errlen);
		default:
			snprintf(err, errlen, "the web chat shares no locations or contacts");
			return -1;
		}
	}
	if (sh->ops->sim->inbound(sh->chan->config, &who, in, &req, err, errlen) < 0)
		return -1;
	for (i = 0; i < req.nheaders; i++)
		headers[i] = req.headers[i];
	headers[i] = NULL;
	snprintf(url, sizeof(url), "%s/webhooks/%s/%s", sh->sim->url, sh->ops->type, sh->chan->id);
	if (http_post(url, headers, req.body ? req.body : "", err, errlen) == 200)
		rc = 0;
	channel_request_clear(&req);
	return rc;
}

int sim_shopper_text(struct sim_shopper *sh, const char *text, char *err, size_t errlen)
{
	struct channel_sim_input in = {CHANNEL_SIM_TEXT, text, NULL, 0, 0};

	return shopper_send(sh, &in, err, errlen);
}

int sim_shopper_press(struct sim_shopper *sh, const json_t *choice, char *err, size_t errlen)
{
	struct channel_sim_input in = {CHANNEL_SIM_PRESS, NULL, choice, 0, 0};

	if (!json_string_value(json_object_get(choice, "payload"))) {
		snprintf(err, errlen, "no such choice");
		return -1;
	}
	return shopper_send(sh, &in, err, errlen);
}

int sim_shopper_location(struct sim_shopper *sh, double lat, double lon, char *err, size_t errlen)
{
	struct channel_sim_input in = {CHANNEL_SIM_LOCATION, NULL, NULL, lat, lon};

	return shopper_send(sh, &in, err, errlen);
}

int sim_shopper_contact(struct sim_shopper *sh, const char *phone, char *err, size_t errlen)
{
	struct channel_sim_input in = {CHANNEL_SIM_CONTACT, phone, NULL, 0, 0};

	return shopper_send(sh, &in, err, errlen);
}

/* A web chat message frame as a reply; NULL for other frames (acks). */
static json_t *ws_reply(const json_t *f)
{
	const char *type = json_string_value(json_object_get(f, "type"));
	const json_t *b, *sec, *row, *list = json_object_get(f, "list");
	json_t *choices, *r;
	size_t i, j;

	if (!type)
		return NULL;
	if (strcmp(type, "error") == 0)
		return json_pack("{s:s+, s:[]}", "text", "[error] ",
		                 json_string_value(json_object_get(f, "message"))
		                     ? json_string_value(json_object_get(f, "message"))
		                     : "",
		                 "choices");
	if (strcmp(type, "message") != 0)
		return NULL;
	choices = json_array();
	if (!choices)
		return NULL;
	json_array_foreach(json_object_get(f, "buttons"), i,
	                   b) if (json_string_value(json_object_get(b, "title")) &&
	                          json_string_value(json_object_get(b, "payload")))
	    json_array_append_new(choices,
	                          json_pack("{s:O, s:O}", "title", json_object_get(b, "title"),
	                                    "payload", json_object_get(b, "payload")));
	json_array_foreach(json_object_get(list, "sections"), i, sec)
	    json_array_foreach(json_object_get(sec, "rows"), j,
	                       row) if (json_string_value(json_object_get(row, "title")) &&
	                                json_string_value(json_object_get(row, "payload")))
	{
		json_t *c = json_pack("{s:O, s:O}", "title", json_object_get(row, "title"),
		                      "payload", json_object_get(row, "payload"));

		if (c && json_string_value(json_object_get(row, "description")))
			json_object_set(c, "description", json_object_get(row, "description"));
		json_array_append_new(choices, c);
	}
	r = json_pack("{s:s, s:o}", "text",
	              json_string_value(json_object_get(f, "text"))
	                  ? json_string_value(json_object_get(f, "text"))
	                  : "",
	              "choices", choices);
	if (r && json_string_value(json_object_get(list, "button")))
		json_object_set(r, "list_button", json_object_get(list, "button"));
	return r;
}

struct pending_tx {
	const struct sim_shopper *sh;
	long n;
};

static int pending_tx(PGconn *conn, void *arg)
{
	struct pending_tx *t = arg;
	const char *params[2] = {t->sh->chan->id, t->sh->id};
	PGresult *res = pg_exec(conn,
	                        "SELECT count(*) FROM outbox WHERE tenant_id = app_tenant_id() AND"
	                        " channel_id = $1 AND recipient = $2 AND status IN ('pending',"
	                        " 'sending')",
	                        2, params);

	if (!res)
		return PG_ERR_QUERY;
	t->n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int sim_shopper_settle(struct sim_shopper *sh, int ms)
{
	int64_t until = util_now_ms() + ms;
	struct pending_tx t = {sh, 0};

	if (sh->ops->sim->socket)
		return -1;
	do {
		struct timespec ts = {0, 20 * 1000000L};

		if (pg_tx_run(sh->sim->conn, sh->chan->tenant_id, pending_tx, &t) != 0)
			return -1;
		if (t.n == 0)
			return 0;
		nanosleep(&ts, NULL);
	} while (util_now_ms() < until);
	return -1;
}

json_t *sim_shopper_reply(struct sim_shopper *sh, int ms)
{
	int64_t until = util_now_ms() + ms;
	json_t *r = NULL, *f;
	int closed;

	if (!sh->ops->sim->socket)
		return sim_api_take(sh->sim->api, sh->id, ms);
	while (!r) {
		int left = (int)(until - util_now_ms());

		if (left < 0)
			left = 0;
		if (sh->ws_closed)
			return NULL;
		f = ws_next_frame(sh, left, &closed);
		if (!f && closed) {
			sh->ws_closed = 1;
			return json_pack("{s:s, s:[]}", "text", "[the web chat closed the socket]",
			                 "choices");
		}
		if (!f)
			return NULL;
		r = ws_reply(f);
		json_decref(f);
	}
	return r;
}
