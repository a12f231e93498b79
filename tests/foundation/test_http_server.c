/*
 * test_http_server.c: the real `ccgw serve` over real HTTP: health, readiness (503 while the
 * database is away, 200 again when it is back), metrics, JSON errors for unknown routes and
 * methods, 413 over the body limit, and a clean exit on SIGTERM.
 */
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "testsrv.h"

static struct testdb db;

static void get(const struct testsrv *s, const char *path, struct testhttp_resp *r)
{
	char url[256];

	snprintf(url, sizeof(url), "%s%s", s->base_url, path);
	testhttp_request("GET", url, NULL, NULL, 0, r);
}

static void assert_json_error(const struct testhttp_resp *r, const char *code)
{
	json_error_t e;
	json_t *o = json_loads(r->body, 0, &e);
	json_t *c;

	assert_non_null(o);
	c = json_object_get(json_object_get(o, "error"), "code");
	assert_true(json_is_string(c));
	assert_string_equal(json_string_value(c), code);
	assert_true(json_is_string(json_object_get(json_object_get(o, "error"), "message")));
	assert_non_null(strstr(r->headers, "application/json"));
	json_decref(o);
}

static void test_health_metrics_errors(void **state)
{
	struct testsrv s;
	struct testhttp_resp r;
	char url[256], *big;
	const char *env[] = { "CCGW_MAX_BODY=2048", NULL };

	(void)state;
	testsrv_start(&s, &db, env);
	get(&s, "/healthz", &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	get(&s, "/readyz", &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);

	get(&s, "/no/such/route", &r);
	assert_int_equal(r.status, 404);
	assert_json_error(&r, "not_found");
	testhttp_resp_clear(&r);

	snprintf(url, sizeof(url), "%s/healthz", s.base_url);
	testhttp_request("DELETE", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 405);
	assert_json_error(&r, "method_not_allowed");
	testhttp_resp_clear(&r);

	big = malloc(4096);
	memset(big, 'x', 4096);
	snprintf(url, sizeof(url), "%s/healthz", s.base_url);
	testhttp_request("POST", url, (const char *const[]){ "Content-Type: application/json", NULL },
			 big, 4096, &r);
	assert_int_equal(r.status, 413);
	assert_json_error(&r, "payload_too_large");
	testhttp_resp_clear(&r);
	free(big);

	get(&s, "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "ccgw_build_info{version=\""));
	assert_non_null(strstr(r.body, "ccgw_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"200\"} 1"));
	assert_non_null(strstr(r.body, "ccgw_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"));
	assert_non_null(strstr(r.body, "ccgw_http_request_duration_seconds_bucket{route=\"/readyz\",le=\"+Inf\"} 1"));
	assert_non_null(strstr(r.body, "ccgw_db_pool_connections{state=\"in_use\"}"));
	testhttp_resp_clear(&r);
	testsrv_stop(&s);
}

static long metric_of(const char *body, const char *name)
{
	const char *at = strstr(body, name);

	return at ? atol(at + strlen(name)) : -1;
}

/* The pool's connections are open before the first request (every worker's: the first burst
 * after a start does not wait for connects), and /metrics says where requests' time went. */
static void test_pool_open_at_start(void **state)
{
	struct testsrv s;
	struct testhttp_resp r;
	const char *env[] = { "CCGW_WORKERS=5", "CCGW_DB_POOL_SIZE=8", NULL };

	(void)state;
	testsrv_start(&s, &db, env);
	get(&s, "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(metric_of(r.body, "\nccgw_db_pool_connections{state=\"in_use\"} ") +
				 metric_of(r.body, "\nccgw_db_pool_connections{state=\"idle\"} "),
			 5);
	assert_non_null(strstr(r.body, "\nccgw_request_stage_seconds_total{stage=\"queue\"} "));
	assert_non_null(strstr(r.body, "\nccgw_request_slow_total{stage=\"transaction\"} "));
	testhttp_resp_clear(&r);
	testsrv_stop(&s);
}

/* Replaces port='N' in a conninfo with another port. */
static void conninfo_port(const char *in, int port, char *out, size_t outlen)
{
	const char *p = strstr(in, "port='"), *e;

	assert_non_null(p);
	e = strchr(p + 6, '\'');
	assert_non_null(e);
	snprintf(out, outlen, "%.*sport='%d'%s", (int)(p - in), in, port, e + 1);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pg_port(const char *conninfo)
{
	const char *p = strstr(conninfo, "port='");

	assert_non_null(p);
	return atoi(p + 6);
}

/* Starts tests/mock/tcp_proxy.py in front of the test database: *through is db with its port
 * pointed at the proxy; *control the proxy's control port. */
static pid_t proxy_start(struct testdb *through, int *control)
{
	char listen[16], target[32];
	int lport = testsrv_free_port();
	pid_t proxy;

	snprintf(listen, sizeof(listen), "%d", lport);
	snprintf(target, sizeof(target), "127.0.0.1:%d", pg_port(db.app_url));
	proxy = testsrv_spawn_mock("tcp_proxy.py",
				   (const char *const[]){ "--listen", listen, "--target", target, NULL },
				   control);
	conninfo_port(db.app_url, lport, through->app_url, sizeof(through->app_url));
	return proxy;
}

/* Asks /readyz every 100 ms, at most tries times, until it answers 200; its last status. */
static int wait_ready(const struct testsrv *s, int tries)
{
	struct testhttp_resp r;
	int i, status = 0;

	for (i = 0; i < tries; i++) {
		get(s, "/readyz", &r);
		status = (int)r.status;
		testhttp_resp_clear(&r);
		if (status == 200)
			break;
		usleep(100000);
	}
	return status;
}

static void proxy_call(int control, const char *what)
{
	char url[128];
	struct testhttp_resp r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s", control, what);
	testhttp_request("POST", url, NULL, "", 0, &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
}

static void test_readyz_follows_the_database(void **state)
{
	struct testdb through = db;
	struct testsrv s;
	struct testhttp_resp r;
	int control;
	pid_t proxy;

	(void)state;
	proxy = proxy_start(&through, &control);
	testsrv_start(&s, &through, (const char *const[]){ "CCGW_DISPATCH_WORKERS=0", NULL });

	get(&s, "/readyz", &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);

	proxy_call(control, "__down");
	get(&s, "/readyz", &r);
	assert_int_equal(r.status, 503);
	assert_json_error(&r, "database_unavailable");
	testhttp_resp_clear(&r);
	get(&s, "/healthz", &r); /* the process itself is fine */
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);

	proxy_call(control, "__up");
	assert_int_equal(wait_ready(&s, 50), 200);
	testsrv_stop(&s);
	testsrv_stop_pid(proxy);
}

/* A database that stops answering mid-request (a frozen server or a dead path: the TCP
 * connection stays open, nothing comes back): the request gets 503 once its hold on the
 * connection passes db_hold_timeout_ms, the process stays healthy, and the pool recovers by
 * itself when the database answers again. */
static void test_a_frozen_database_gives_503(void **state)
{
	struct testdb through = db;
	struct testsrv s;
	struct testhttp_resp r;
	int control;
	int64_t t0, waited_ms;
	pid_t proxy;

	(void)state;
	proxy = proxy_start(&through, &control);
	testsrv_start(&s, &through,
		      (const char *const[]){ "CCGW_DISPATCH_WORKERS=0", "CCGW_DB_HOLD_TIMEOUT_MS=1500",
					     "CCGW_DB_CONNECT_TIMEOUT=2", NULL });
	get(&s, "/readyz", &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);

	proxy_call(control, "__freeze");
	t0 = now_ms();
	get(&s, "/readyz", &r);
	waited_ms = now_ms() - t0;
	assert_int_equal(r.status, 503);
	assert_json_error(&r, "database_unavailable");
	testhttp_resp_clear(&r);
	/* cut at the hold limit, not left to hang */
	assert_true(waited_ms >= 1400);
	assert_true(waited_ms < 6000);
	/* a webhook meanwhile: 503 too (the platform retries), within the same bound */
	t0 = now_ms();
	{
		char url[200];

		snprintf(url, sizeof(url), "%s/webhooks/whatsapp/3f1c2d4e-0000-4000-8000-000000000001",
			 s.base_url);
		testhttp_request("POST", url, NULL, "{}", 2, &r);
	}
	assert_int_equal(r.status, 503);
	assert_true(now_ms() - t0 < 6000);
	testhttp_resp_clear(&r);
	get(&s, "/healthz", &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);

	proxy_call(control, "__up");
	assert_int_equal(wait_ready(&s, 100), 200);
	get(&s, "/metrics", &r);
	assert_non_null(strstr(r.body, "ccgw_db_pool_cut_total"));
	assert_null(strstr(r.body, "ccgw_db_pool_cut_total 0\n"));
	testhttp_resp_clear(&r);
	testsrv_stop(&s);
	testsrv_stop_pid(proxy);
}

struct queued_get {
	const struct testsrv *s;
	long status;
	int64_t ms;
	int has_retry_after;
	int overloaded;
};

static void *queued_get_main(void *arg)
{
	struct queued_get *q = arg;
	struct testhttp_resp r;
	int64_t t0 = now_ms();

	get(q->s, "/readyz", &r);
	q->ms = now_ms() - t0;
	q->status = r.status;
	q->has_retry_after = strstr(r.headers, "Retry-After: 1") != NULL;
	q->overloaded = strstr(r.body, "\"overloaded\"") != NULL;
	testhttp_resp_clear(&r);
	return NULL;
}

/* The work queue is bounded: with the one worker stuck on a frozen database and the queue
 * (max_queue=1) full, more requests get 503 with Retry-After at once, not a place in an
 * ever-growing queue; the process stays healthy. */
static void test_full_queue_answers_503(void **state)
{
	struct testdb through = db;
	struct testsrv s;
	struct testhttp_resp r;
	struct queued_get q[5];
	pthread_t t[5];
	int control, i, fast503 = 0;
	pid_t proxy;

	(void)state;
	proxy = proxy_start(&through, &control);
	testsrv_start(&s, &through,
		      (const char *const[]){ "CCGW_DISPATCH_WORKERS=0", "CCGW_WORKERS=1",
					     "CCGW_DB_POOL_SIZE=1", "CCGW_MAX_QUEUE=1",
					     "CCGW_DB_HOLD_TIMEOUT_MS=3000", NULL });
	get(&s, "/readyz", &r); /* the pool's connection is open */
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	proxy_call(control, "__freeze");
	memset(q, 0, sizeof(q));
	for (i = 0; i < 5; i++) {
		q[i].s = &s;
		assert_int_equal(pthread_create(&t[i], NULL, queued_get_main, &q[i]), 0);
		usleep(100000); /* in order: the first takes the worker, the second the queue */
	}
	for (i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 5; i++)
		if (q[i].status == 503 && q[i].overloaded && q[i].has_retry_after && q[i].ms < 1000)
			fast503++;
	assert_int_equal(fast503, 3); /* one in the worker, one queued, three refused */
	get(&s, "/metrics", &r);
	assert_non_null(strstr(r.body, "ccgw_http_queue_full_total 3\n"));
	testhttp_resp_clear(&r);
	proxy_call(control, "__up");
	testsrv_stop(&s);
	testsrv_stop_pid(proxy);
}

/* Runs `ccgw serve` against url; returns its exit status (-1 when it was still running after
 * 15 s: killed) and its log in log (heap). */
static int serve_exit_status(const char *url, char **log)
{
	char path[512];
	pid_t pid;
	int status = 0, i;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/ccgw-test-role-%d.log", CCGW_TEST_LOG_DIR, (int)getpid());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char listen[32];

		if (!freopen(path, "w", stderr))
			_exit(126);
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", testsrv_free_port());
		setenv("CCGW_DATABASE_URL", url, 1);
		setenv("CCGW_SECRET_KEY", db.secret_key, 1);
		setenv("CCGW_LISTEN", listen, 1);
		setenv("CCGW_HOME", "/nonexistent-ccgw-home", 1);
		execl(CCGW_BINARY, CCGW_BINARY, "serve", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 150; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(100000);
	}
	if (i == 150) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		status = -1;
	} else {
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	}
	*log = calloc(1, 8192);
	f = fopen(path, "r");
	if (f) {
		n = fread(*log, 1, 8191, f);
		(*log)[n] = '\0';
		fclose(f);
	}
	unlink(path);
	return status;
}

/* The role check: ccgw serve refuses to start as the owner role (it owns the tables), as a
 * superuser, or as a role with BYPASSRLS; row-level security would not hold any of them. */
static void test_serve_refuses_privileged_roles(void **state)
{
	char *log = NULL, bypass_url[700], sql[200], pw[33];
	PGconn *su;
	PGresult *r;
	int i;

	(void)state;
	if (!db.superuser_url[0])
		fail_msg("CCGW_SUPERUSER_URL is not in .ccgw/env: run the tests through scripts/test");

	assert_int_equal(serve_exit_status(db.owner_url, &log), 1);
	assert_non_null(strstr(log, "refusing to serve"));
	assert_non_null(strstr(log, "owns tables"));
	free(log);

	assert_int_equal(serve_exit_status(db.superuser_url, &log), 1);
	assert_non_null(strstr(log, "is a superuser"));
	free(log);

	/* a role made here with BYPASSRLS (only a superuser can make one) */
	srand((unsigned)getpid());
	for (i = 0; i < 32; i++)
		pw[i] = "abcdefghijklmnopqrstuvwxyz012345"[rand() % 32];
	pw[32] = '\0';
	su = PQconnectdb(db.superuser_url);
	assert_int_equal(PQstatus(su), CONNECTION_OK);
	PQclear(PQexec(su, "SET client_min_messages = warning"));
	PQclear(PQexec(su, "DROP ROLE IF EXISTS ccgw_t_bypass"));
	/* pw holds only [a-z0-5], made above */
	snprintf(sql, sizeof(sql), "CREATE ROLE ccgw_t_bypass LOGIN BYPASSRLS PASSWORD '%s'", pw);
	r = PQexec(su, sql);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	snprintf(bypass_url, sizeof(bypass_url), "%s user=ccgw_t_bypass password=%s", db.app_url, pw);
	assert_int_equal(serve_exit_status(bypass_url, &log), 1);
	assert_non_null(strstr(log, "has BYPASSRLS"));
	assert_null(strstr(log, pw)); /* the password is not logged */
	free(log);
	PQclear(PQexec(su, "DROP ROLE ccgw_t_bypass"));
	PQfinish(su);
}

static void test_sigterm_exits_cleanly(void **state)
{
	struct testsrv s;
	int status = -1, i;

	(void)state;
	testsrv_start(&s, &db, NULL);
	kill(s.pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		if (waitpid(s.pid, &status, WNOHANG) == s.pid)
			break;
		usleep(100000);
	}
	assert_true(i < 100);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_metrics_errors),
		cmocka_unit_test(test_pool_open_at_start),
		cmocka_unit_test(test_readyz_follows_the_database),
		cmocka_unit_test(test_a_frozen_database_gives_503),
		cmocka_unit_test(test_serve_refuses_privileged_roles),
		cmocka_unit_test(test_full_queue_answers_503),
		cmocka_unit_test(test_sigterm_exits_cleanly),
	};
	testdb_setup(&db, "http_server");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
