/*
 * sim.c: a simulator run (see sim.h, sim_internal.h): the configuration, the database
 * session, the fake platform API, and a gateway, in this process (sim_gateway.c) or an
 * existing serve; the channel types that can be simulated, fresh ids, and HTTP out.
 */
#include "sim_internal.h"

#include <curl/curl.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "channel_open.h"
#include "log.h"
#include "pg.h"
#include "sim_api.h"
#include "util.h"

static atomic_llong sim_seq; /* update ids and message ids, unique across runs */

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

long long sim_seq_next(void)
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
int sim_random_digits(char *out, size_t n)
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

int sim_random_hex(char *out, size_t bytes)
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
long sim_http_post(const char *url, const char *const *headers, const char *body, char *err,
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

int sim_http_healthy(const char *base)
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
		if (sim_config_set(&sim->cfg.public_url, sim->url) < 0 ||
		    app_open(&sim->app, &sim->cfg, 0) < 0) {
			sim->app_opened = 1;
			snprintf(err, errlen, "cannot open the application context");
			goto fail;
		}
		sim->app_opened = 1;
		if (!sim_http_healthy(sim->url)) {
			snprintf(err, errlen, "no gateway answers on %s", sim->url);
			goto fail;
		}
	} else if (sim_gateway_start(sim, err, errlen) < 0) {
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
	sim_gateway_stop(sim);
	sim_api_free(sim->api);
	for (i = 0; i < sim->nchans; i++)
		channel_config_free(sim->chans[i].config);
	pg_finish(sim->conn); /* ends the session: its advisory locks go with it */
	if (sim->app_opened)
		app_close(&sim->app);
	config_clear(&sim->cfg);
	free(sim);
}
