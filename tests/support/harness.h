/*
 * harness.h: what the integration tests that drive the real `ccgw serve` for one shop share:
 * the database, the server, the shop's tenant and API key, the platform mock, admin API calls
 * and checks of rows in the shop's scope. The per-platform part for WhatsApp is
 * harness_wa.h. One harness per test process (the tests are single-threaded cmocka groups).
 */
#ifndef CCGW_HARNESS_H
#define CCGW_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "testsrv.h"

struct harness {
	struct testdb db;
	struct testsrv srv;
	char *tenant_id, *api_key; /* the shop under test (heap) */
	PGconn *app_conn;          /* the application role, for hx_tscalar */
	pid_t mock_pid;            /* the platform mock that hx_serve started */
	int mock_port;
	char mock_env[96];   /* "CCGW_..._API_BASE=http://127.0.0.1:PORT" */
	char channel_id[64]; /* the channel the test registered (hx_wa_register, ...) */
	/* WhatsApp (harness_wa.h) */
	const char *wa_pnid, *wa_app_secret, *wa_id_prefix;
	int wa_seq;
};

extern struct harness hx;

/* A fresh database named after the test (testdb_setup) and the shop's tenant (slug). */
void hx_setup(const char *db_name, const char *slug);
/* Starts the mock script (tests/mock/), then `ccgw serve` with base_var pointing at it and
 * the NULL-terminated extra_env (may be NULL), and connects as the application role. */
void hx_serve(const char *mock_script, const char *base_var, const char *const *extra_env);
/* Stops the server and the mock, closes the connection, frees the tenant and key. */
void hx_teardown(void);

/* The answer's body as JSON (fails the test when it is not JSON; caller decrefs). */
json_t *hx_json(const struct testhttp_resp *r);
/* An admin API call with key (hx_api: the shop's key); body may be NULL. */
void hx_api_as(const char *key, const char *method, const char *path, const char *body,
               struct testhttp_resp *r);
void hx_api(const char *method, const char *path, const char *body, struct testhttp_resp *r);

/* Creates an active product in KES (description "A fine <name>"); fails unless 201. */
void hx_product_create(const char *sku, const char *name, const char *category, long price,
                       int stock);

/* Starts a seller's webhook receiver (tests/mock/sink_mock.py) that checks signatures made
 * with secret on paths under /hook, and registers it as the shop's webhook notification
 * target; returns its pid and sets *port. */
pid_t hx_sink_start(const char *secret, int *port);

/* The first column of the first row of sql run as the application role in tenant's scope
 * (heap string, NULL for no row / NULL). */
char *hx_tscalar(const char *tenant, const char *sql, int n, const char *const *params);
/* A count in the shop's scope (-1 for no row). */
long hx_tcount(const char *sql, int n, const char *const *params);

/* What the mock on port recorded (GET /__requests; caller decrefs). */
json_t *hx_mock_get(int port);

#endif
