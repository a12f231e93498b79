/*
 * testsrv.h: the real `ccgw serve` binary started by a test on a free loopback port against
 * the test's database, and plain HTTP requests to it with libcurl. Mock platform servers are
 * started with testsrv_spawn_mock (a Python script under tests/mock/).
 */
#ifndef CCGW_TESTSRV_H
#define CCGW_TESTSRV_H

#include <stddef.h>
#include <sys/types.h>

#include "testdb.h"

struct testsrv {
	pid_t pid;
	int port;
	char base_url[64]; /* http://127.0.0.1:PORT */
	char log_path[256];
};

/* A free TCP port on 127.0.0.1. */
int testsrv_free_port(void);

/* Starts build/ccgw serve with CCGW_DATABASE_URL = db->app_url, CCGW_SECRET_KEY, a free
 * CCGW_LISTEN port and any extra "NAME=value" entries (NULL-terminated, may be NULL), then
 * waits until /healthz answers (asserts within 15 s). The server's stderr goes to log_path. */
void testsrv_start(struct testsrv *srv, const struct testdb *db, const char *const *extra_env);
/* SIGTERM, wait up to 10 s, then SIGKILL. */
void testsrv_stop(struct testsrv *srv);
/* SIGKILL at once (crash tests). */
void testsrv_kill(struct testsrv *srv);

struct testhttp_resp {
	long status;
	char *body;      /* heap, NUL-terminated */
	size_t body_len;
	char *headers;   /* heap, raw response header lines */
};

/* One request. headers: NULL-terminated "Name: value" lines, may be NULL. body may be NULL
 * (a POST, PUT or PATCH then goes with Content-Length: 0). */
void testhttp_request(const char *method, const char *url, const char *const *headers,
		      const char *body, size_t body_len, struct testhttp_resp *out);
void testhttp_resp_clear(struct testhttp_resp *r);

/* Starts `python3 tests/mock/<script> --port P [args]` and waits until it answers
 * GET /__health; returns the pid and sets *port. */
pid_t testsrv_spawn_mock(const char *script, const char *const *args, int *port);
void testsrv_stop_pid(pid_t pid);

#endif
