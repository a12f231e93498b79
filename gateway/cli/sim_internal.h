/*
 * sim_internal.h: what the simulator's files share (sim.h is the interface): the run, its
 * simulated channels, and the helpers each part uses. sim.c opens and closes a run and sends
 * HTTP; sim_gateway.c runs the gateway in this process; sim_channel.c registers, reuses and
 * holds simulated channels; sim_shopper.c is the shopper.
 */
#ifndef CCGW_SIM_INTERNAL_H
#define CCGW_SIM_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stddef.h>

#include "app.h"
#include "config.h"
#include "sim.h"

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

/* A number never used before, in this run or an earlier one (it starts from the clock):
 * message and update ids. */
long long sim_seq_next(void);
/* n random decimal digits (the first never 0) into out[n + 1]; bytes random bytes as hex
 * into out[2 * bytes + 1]. 0, or -1 without randomness. */
int sim_random_digits(char *out, size_t n) SIM_WUR;
int sim_random_hex(char *out, size_t bytes) SIM_WUR;
/* Replaces the heap string *slot with a copy of value. 0, or -1 out of memory. */
int sim_config_set(char **slot, const char *value) SIM_WUR;

/* POSTs body (JSON) to url with headers (NULL-terminated, may be NULL): the status (0: no
 * answer), with err set when it is not 200. */
long sim_http_post(const char *url, const char *const *headers, const char *body, char *err,
                   size_t errlen);
/* 1 when base's /healthz answers 200. */
int sim_http_healthy(const char *base);

/* sim_gateway.c: the gateway in this process on a free loopback port (sim->url, host, port
 * set), until sim_gateway_stop. 0, or -1 with err (stop it all the same). */
int sim_gateway_start(struct sim *sim, char *err, size_t errlen) SIM_WUR;
void sim_gateway_stop(struct sim *sim);

/* sim_channel.c: the run's simulated channel of type for the tenant: one it already holds,
 * else the first free one, else a new one. Borrowed from the run; NULL with err. */
struct sim_channel *sim_channel_get(struct sim *sim, const char *tenant_id, const char *type,
                                    char *err, size_t errlen);

#endif
