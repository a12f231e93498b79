/*
 * test_http_abuse.c: what anyone on the internet can send the real `ccgw serve`, over raw
 * sockets: Content-Length 0 on every POST, PUT and PATCH route of the route table, a POST with
 * no length, huge headers, a body trickled a byte at a time, a body longer than its
 * Content-Length, a Content-Length over the limit, pipelined requests, garbage, headers that
 * never end, 500 idle connections from one address; one after another, then 50 at once.
 * After each: /healthz answers within a second and the process is the same one (no crash, no
 * hang). Last, SIGTERM still stops it cleanly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "routes.h"
#include "server.h"
#include "testsrv.h"

/* the server's read_timeout here: short, so trickles end fast, yet long enough that a loaded
 * two-core machine (50 attacks at once beside other tests) reads every request in time */
#define READ_TIMEOUT_S 4

static struct testdb db;
static struct testsrv srv;
/* how long an attack waits for an answer: longer while 50 run at once on two cores */
static int answer_wait_ms = 3000;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP connection to the server from bind_ip (NULL: any loopback address). */
static int raw_connect(const char *bind_ip)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	if (bind_ip) {
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		inet_pton(AF_INET, bind_ip, &a.sin_addr);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			fail_msg("bind %s: %s", bind_ip, strerror(errno));
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)srv.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1; /* the server may close a connection it refuses: fine */
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until the server closes, timeout_ms passes, or out is full. Returns bytes read;
 * *closed says whether the server closed the connection. */
static size_t recv_until(int fd, char *out, size_t outlen, int timeout_ms, int *closed)
{
	int64_t end = now_ms() + timeout_ms;
	size_t n = 0;

	*closed = 0;
	while (n + 1 < outlen) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)(end - now_ms());
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		r = recv(fd, out + n, outlen - 1 - n, 0);
		if (r <= 0) {
			*closed = 1;
			break;
		}
		n += (size_t)r;
	}
	out[n] = '\0';
	return n;
}

/* One raw exchange on a fresh connection: sends req, reads for up to timeout_ms. */
static size_t exchange(const char *req, size_t len, char *out, size_t outlen, int timeout_ms,
		       int *closed)
{
	int fd = raw_connect(NULL);
	size_t n;

	send_all(fd, req, len);
	n = recv_until(fd, out, outlen, timeout_ms, closed);
	close(fd);
	return n;
}

static int status_of(const char *resp)
{
	int st = 0;

	if (sscanf(resp, "HTTP/1.%*d %d", &st) != 1)
		return 0;
	return st;
}

/* Failures inside an attack: in the main thread a test failure; in one of the 50 threads
 * (where cmocka cannot fail a test) the first one is kept for the main thread to report, and
 * the thread ends. */
static __thread int in_thread;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char thread_failure[600];

static void attack_fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void attack_fail(int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!in_thread)
		fail_msg("line %d: %s", line, msg);
	pthread_mutex_lock(&fail_lock);
	if (!thread_failure[0])
		snprintf(thread_failure, sizeof(thread_failure), "line %d: %s", line, msg);
	pthread_mutex_unlock(&fail_lock);
	pthread_exit(NULL);
}

#define A_TRUE(c)                                                                                  \
	do {                                                                                       \
		if (!(c))                                                                          \
			attack_fail(__LINE__, "%s", #c);                                           \
	} while (0)
#define A_EQ(a, b)                                                                                 \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_)                                                                      \
			attack_fail(__LINE__, "%s is %lld, expected %lld", #a, a_, b_);            \
	} while (0)
#define A_FAIL(...) attack_fail(__LINE__, __VA_ARGS__)

/* The body of an answer is the JSON error of the contract. */
static void assert_json_error(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	A_TRUE((b) != NULL);
	A_TRUE((strstr(b, "{\"error\":{\"code\":")) != NULL);
	A_TRUE((strstr(b, "\"message\":")) != NULL);
}

/* The server is the same process and answers /healthz within a second. */
static void assert_alive(const char *after)
{
	struct testhttp_resp r;
	char url[160];
	int64_t t0 = now_ms(), took;
	int status;

	if (waitpid(srv.pid, &status, WNOHANG) == srv.pid)
		fail_msg("after %s: ccgw serve exited (status %d); log %s", after, status,
			 srv.log_path);
	snprintf(url, sizeof(url), "%s/healthz", srv.base_url);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	took = now_ms() - t0;
	if (r.status != 200 || took > 1000)
		fail_msg("after %s: /healthz answered %ld in %lld ms", after, r.status, (long long)took);
	testhttp_resp_clear(&r);
	assert_int_equal(kill(srv.pid, 0), 0);
}

/* CPU seconds (user + system) the server has used, from /proc. */
static double server_cpu_seconds(void)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)srv.pid);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* fields after the command name: state is field 3 */
	assert_non_null(p);
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		fail_msg("cannot read %s", path);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Once the attacks are over the server is idle: no connection left spinning its loop. */
static void assert_idle_cpu(void)
{
	double before = server_cpu_seconds(), used;

	sleep(2);
	used = server_cpu_seconds() - before;
	if (used > 0.4)
		fail_msg("the idle server used %.2f s of CPU in 2 s: a loop is spinning", used);
}

/* ---- the attacks ---- */

/* Content-Length: 0 on every route that takes a body: an answer (JSON error) each time, in
 * one request per connection and all on one kept-alive connection. */
static void attack_empty_bodies(void)
{
	const struct http_route *r;
	char path[256], req[600], out[8192];
	int closed, n = 0;

	for (r = server_routes; r->pattern; r++) {
		const char *p;
		size_t k = 0;

		if (strcmp(r->method, "POST") != 0 && strcmp(r->method, "PUT") != 0 &&
		    strcmp(r->method, "PATCH") != 0)
			continue;
		for (p = r->pattern; *p && k < sizeof(path) - 40; p++) {
			if (*p == '{') { /* a well-formed id nobody has */
				k += (size_t)snprintf(path + k, sizeof(path) - k,
						      "6a0f3c1e-2b4d-4c8e-9f10-112233445566");
				p = strchr(p, '}');
				continue;
			}
			path[k++] = *p;
		}
		path[k] = '\0';
		snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 r->method, path);
		exchange(req, strlen(req), out, sizeof(out), answer_wait_ms, &closed);
		if (status_of(out) < 400 || status_of(out) > 499)
			A_FAIL("%s %s with Content-Length 0: '%s' (%s)", r->method, path, out,
			       closed ? "closed" : "no answer in time");
		assert_json_error(out);
		n++;
	}
	A_TRUE(n >= 10); /* the table has at least this many body routes */
}

static void attack_no_length(void)
{
	static const char req[] = "POST /webhooks/whatsapp/6a0f3c1e-2b4d-4c8e-9f10-112233445566 "
				  "HTTP/1.1\r\nHost: x\r\n\r\n";
	char out[4096];
	int closed;

	exchange(req, sizeof(req) - 1, out, sizeof(out), answer_wait_ms, &closed);
	A_EQ(status_of(out), 411);
	assert_json_error(out);
	A_TRUE(closed); /* the connection is not reused: its body was never read */
}

static void attack_bad_lengths(void)
{
	static const char *const reqs[] = {
		"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
		"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n",
		"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
		"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
	};
	char out[4096];
	size_t i;
	int closed;

	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		exchange(reqs[i], strlen(reqs[i]), out, sizeof(out), answer_wait_ms, &closed);
		if (status_of(out) != 400)
			A_FAIL("%s-> %s", reqs[i], out);
		assert_json_error(out);
	}
}

/* A chunked body is read (and a broken one refused). */
static void attack_chunked(void)
{
	static const char good[] = "POST /api/v1/products HTTP/1.1\r\nHost: x\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
	static const char bad[] = "POST /api/v1/products HTTP/1.1\r\nHost: x\r\n"
				  "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
	char out[4096];
	int closed;

	exchange(good, sizeof(good) - 1, out, sizeof(out), answer_wait_ms, &closed);
	A_EQ(status_of(out), 401); /* read whole; then: no API key */
	exchange(bad, sizeof(bad) - 1, out, sizeof(out), answer_wait_ms, &closed);
	A_EQ(status_of(out), 400);
	assert_json_error(out);
}

static void attack_huge_header(size_t size, int want_431)
{
	size_t len = size + 200, n;
	char *req = malloc(len), out[4096];
	int closed;

	A_TRUE((req) != NULL);
	n = (size_t)snprintf(req, len, "GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: ");
	memset(req + n, 'a', size);
	n += size;
	n += (size_t)snprintf(req + n, len - n, "\r\n\r\n");
	exchange(req, n, out, sizeof(out), answer_wait_ms, &closed);
	if (want_431) {
		A_EQ(status_of(out), 431);
		assert_json_error(out);
	} else {
		/* past the parser's buffer: a 431 or a closed connection, never a 200 */
		A_TRUE(status_of(out) == 431 || (out[0] == '\0' && closed));
	}
	free(req);
}

/* A body trickled a byte a second: cut at the read deadline, not after it finishes. */
static void attack_trickle_body(void)
{
	static const char head[] = "POST /webhooks/whatsapp/6a0f3c1e-2b4d-4c8e-9f10-112233445566 "
				   "HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n";
	int fd = raw_connect(NULL), i, closed = 0;
	int64_t t0 = now_ms();
	char out[256];

	send_all(fd, head, sizeof(head) - 1);
	for (i = 0; i < 60 && !closed; i++) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (send_all(fd, "{", 1) < 0)
			break;
		if (poll(&p, 1, 1000) > 0 && recv(fd, out, sizeof(out), MSG_DONTWAIT) <= 0)
			closed = 1;
		if (i == 1)
			assert_alive("a body trickling"); /* others are served meanwhile */
	}
	recv_until(fd, out, sizeof(out), 2000, &closed);
	A_TRUE(closed);
	/* closed near the deadline: far sooner than the 60 s the trickle would take */
	A_TRUE(now_ms() - t0 < (READ_TIMEOUT_S + 3) * 1000);
	close(fd);
}

/* Headers that never end, a byte at a time: cut at the same deadline. */
static void attack_trickle_headers(void)
{
	int fd = raw_connect(NULL), closed = 0, i;
	int64_t t0 = now_ms();
	char out[256];

	send_all(fd, "GET /healthz HTTP/1.1\r\n", 23);
	for (i = 0; i < 40 && !closed; i++) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (send_all(fd, "X-A: b\r\n", 8) < 0)
			break;
		if (poll(&p, 1, 500) > 0 && recv(fd, out, sizeof(out), MSG_DONTWAIT) <= 0)
			closed = 1;
	}
	A_TRUE(closed);
	A_TRUE(now_ms() - t0 < (READ_TIMEOUT_S + 3) * 1000);
	close(fd);
}

/* A body longer than its Content-Length: the request is answered, the rest is read as the
 * next request (garbage here) and refused; nothing else happens. */
static void attack_body_longer_than_length(void)
{
	static const char req[] = "POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
				  "\r\n{}THIS IS NOT A REQUEST\r\n\r\n";
	char out[8192];
	int closed;

	exchange(req, sizeof(req) - 1, out, sizeof(out), answer_wait_ms, &closed);
	/* answered; or, when the answer was not ready within a few loop turns (a loaded
	 * server), closed unanswered: libwebsockets 4.1 spins on the bytes after the body
	 * (docs/ARCHITECTURE.md, Pipelining) */
	if (!(status_of(out) == 401 || (out[0] == '\0' && closed)))
		A_FAIL("a body longer than its length: '%s'", out);
}

/* Content-Length over max_body: 413 before a byte of the body is sent. */
static void attack_too_large(void)
{
	static const char req[] = "POST /webhooks/whatsapp/6a0f3c1e-2b4d-4c8e-9f10-112233445566 "
				  "HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n";
	char out[4096];
	int closed;

	exchange(req, sizeof(req) - 1, out, sizeof(out), answer_wait_ms, &closed);
	A_EQ(status_of(out), 413);
	assert_json_error(out);
	A_TRUE(closed);
}

/* Pipelined requests. libwebsockets 4.1 reads ahead and cannot hold a pipelined request
 * back while the one before it is answered, so ccgw answers what it can in order and then
 * closes the connection (clients send the rest again on a new one): never a wrong answer,
 * never a hang, never a spinning loop. */
static void attack_pipelined(void)
{
	static const char *const reqs[] = {
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
		"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
		"Connection: close\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /api/v1/products HTTP/1.1\r\nHost: x\r\n"
		"Content-Length: 2\r\n\r\n{}",
		"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nPOST /api/v1/products HTTP/1.1\r\nHost: x\r\n"
		"Content-Length: 2\r\n\r\n{}",
		"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
		"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		/* fuzz/run-http.sh's find: the third request, with a body shorter than its
		 * length, is parsed from what libwebsockets read ahead, which hands its body
		 * callback freed memory unless the connection is closed first */
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope?a=0 HTTP/1.1\r\nHost: x\r\n\r\n"
		"PATCH /api/v1/orders/x HTTP/1.1\r\nContent-Length: 82\r\nIf-Match: 3\r\n\r\n{}",
	};
	static const int first_status[] = { 200, 200, 404, 401, 200 };
	/* or closed before the first answer went out: a read-ahead request with a body closes
	 * its connection at once (gateway/http/server.c, request_body_read_ahead) */
	static const int may_close_unanswered[] = { 0, 0, 0, 1, 1 };
	char out[8192];
	size_t i;
	int closed;

	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		exchange(reqs[i], strlen(reqs[i]), out, sizeof(out), answer_wait_ms, &closed);
		if (!closed)
			A_FAIL("pipelined case %zu: the connection was left open: %s", i, out);
		if (status_of(out) != first_status[i] && !(may_close_unanswered[i] && !out[0]))
			A_FAIL("pipelined case %zu: first answer %d: %s", i, status_of(out), out);
	}
	{
		struct testhttp_resp r;
		char url[160];

		snprintf(url, sizeof(url), "%s/metrics", srv.base_url);
		testhttp_request("GET", url, NULL, NULL, 0, &r);
		A_TRUE((strstr(r.body, "ccgw_http_pipelined_closed_total ")) != NULL);
		A_TRUE((strstr(r.body, "ccgw_http_pipelined_closed_total 0\n")) == NULL);
		testhttp_resp_clear(&r);
	}
}

static void attack_garbage(void)
{
	static const char *const reqs[] = {
		"GARBAGE\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello to a plain port",
		"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
		"\r\n\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\x01\x02: \xff\r\nConnection: close\r\n\r\n",
	};
	char out[4096];
	size_t i;
	int closed;

	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		exchange(reqs[i], strlen(reqs[i]), out, sizeof(out), answer_wait_ms, &closed);
		/* an error answer or a closed connection; never a hang */
		A_TRUE(closed || status_of(out) >= 400);
	}
}

/* 500 idle connections from 127.0.0.2: at most max_connections_per_address are kept, the
 * rest refused, and a client at 127.0.0.1 is served at once. */
static void attack_idle_connections(void)
{
	int fds[500], i;
	struct testhttp_resp r;
	char url[160];

	for (i = 0; i < 500; i++)
		fds[i] = raw_connect("127.0.0.2");
	usleep(200000);
	assert_alive("500 idle connections from one address");
	snprintf(url, sizeof(url), "%s/metrics", srv.base_url);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	/* max_connections_per_address is 128 here: 372 were refused */
	assert_non_null(strstr(r.body, "ccgw_http_connections_refused_total{cap=\"per_address\"} 372"));
	testhttp_resp_clear(&r);
	for (i = 0; i < 500; i++)
		close(fds[i]);
}

/* ---- the scenarios ---- */

static void run_one(int which)
{
	switch (which) {
	case 0: attack_empty_bodies(); break;
	case 1: attack_no_length(); break;
	case 2: attack_bad_lengths(); break;
	case 3: attack_chunked(); break;
	case 4: attack_huge_header(70 * 1024, 0); break;
	case 5: attack_huge_header(9 * 1024, 1); break;
	case 6: attack_body_longer_than_length(); break;
	case 7: attack_too_large(); break;
	case 8: attack_pipelined(); break;
	case 9: attack_garbage(); break;
	default: break;
	}
}

#define QUICK_ATTACKS 10

static void test_one_after_another(void **state)
{
	static const char *const names[QUICK_ATTACKS] = {
		"Content-Length 0 on every route", "a POST with no length", "bad lengths",
		"chunked bodies", "a 70 KB header", "a 9 KB header", "a body longer than its length",
		"a length over the limit", "pipelined requests", "garbage",
	};
	int i;

	(void)state;
	for (i = 0; i < QUICK_ATTACKS; i++) {
		run_one(i);
		assert_alive(names[i]);
	}
	attack_trickle_body();
	assert_alive("a trickled body");
	attack_trickle_headers();
	assert_alive("trickled headers");
	attack_idle_connections();
	assert_alive("idle connections closed");
	assert_idle_cpu();
}

static void *attack_thread(void *arg)
{
	in_thread = 1;
	run_one((int)(intptr_t)arg % QUICK_ATTACKS);
	return NULL;
}

static void test_fifty_at_once(void **state)
{
	pthread_t t[50];
	int i;

	(void)state;
	answer_wait_ms = 20000;
	for (i = 0; i < 50; i++)
		assert_int_equal(pthread_create(&t[i], NULL, attack_thread, (void *)(intptr_t)i), 0);
	for (i = 0; i < 50; i++)
		pthread_join(t[i], NULL);
	if (thread_failure[0]) {
		struct testhttp_resp r;
		char url[160];

		snprintf(url, sizeof(url), "%s/metrics", srv.base_url);
		testhttp_request("GET", url, NULL, NULL, 0, &r);
		fprintf(stderr, "%s\n", r.body ? r.body : "");
		testhttp_resp_clear(&r);
		fail_msg("one of the 50 attacks at once failed: %s", thread_failure);
	}
	assert_alive("50 attacks at once");
	assert_idle_cpu();
}

static void test_sigterm_still_stops_it(void **state)
{
	int status = 0, i;

	(void)state;
	/* a half-sent request open while it stops */
	i = raw_connect(NULL);
	{
		static const char half[] =
			"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{";

		send_all(i, half, sizeof(half) - 1);
	}
	kill(srv.pid, SIGTERM);
	for (status = -1, i = 0; i < 100; i++) {
		int st;

		if (waitpid(srv.pid, &st, WNOHANG) == srv.pid) {
			status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
			break;
		}
		usleep(100000);
	}
	srv.pid = 0;
	assert_int_equal(status, 0); /* exited by itself, within 10 s */
}

static int group_setup(void **state)
{
	(void)state;
	testdb_setup(&db, "http_abuse");
	testsrv_start(&srv, &db,
		      (const char *const[]){ "CCGW_READ_TIMEOUT=4", "CCGW_DISPATCH_WORKERS=0",
					     "CCGW_MAX_CONNECTIONS_PER_ADDRESS=128",
					     "CCGW_SHUTDOWN_GRACE=3", NULL });
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (srv.pid)
		testsrv_stop(&srv);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_after_another),
		cmocka_unit_test(test_fifty_at_once),
		cmocka_unit_test(test_sigterm_still_stops_it),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
