/*
 * testsrv.c: starts the real gateway binary and mock platform servers for integration tests,
 * and makes HTTP requests with libcurl (see testsrv.h).
 */
#include "testsrv.h"

#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *msg, const char *detail)
{
	fprintf(stderr, "testsrv: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
	fflush(NULL);
	_exit(1); /* no atexit handlers: other threads of the test may hold their locks */
}

int testsrv_free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("no free port", strerror(errno));
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int wait_health(const char *url, pid_t pid, int seconds)
{
	struct testhttp_resp r;
	int i, status;

	for (i = 0; i < seconds * 20; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;
		testhttp_request("GET", url, NULL, NULL, 0, &r);
		if (r.status == 200) {
			testhttp_resp_clear(&r);
			return 0;
		}
		testhttp_resp_clear(&r);
		sleep_ms(50);
	}
	return -1;
}

void testsrv_start(struct testsrv *srv, const struct testdb *db, const char *const *extra_env)
{
	char listen[32], url[160];
	static int seq;
	pid_t pid;

	memset(srv, 0, sizeof(*srv));
	srv->port = testsrv_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", srv->port);
	snprintf(srv->base_url, sizeof(srv->base_url), "http://%s", listen);
	/* under the build directory, not /tmp: kept for a failure's post-mortem, gone with the build */
	snprintf(srv->log_path, sizeof(srv->log_path), "%s/ccgw-test-%d-%d.log", CCGW_TEST_LOG_DIR,
	         (int)getpid(), seq++);
	pid = fork();
	if (pid < 0)
		die("fork", strerror(errno));
	if (pid == 0) {
		FILE *log = freopen(srv->log_path, "w", stderr);
		size_t i;

		(void)log;
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		setenv("CCGW_DATABASE_URL", db->app_url, 1);
		setenv("CCGW_SECRET_KEY", db->secret_key, 1);
		setenv("CCGW_LISTEN", listen, 1);
		setenv("CCGW_PUBLIC_URL", srv->base_url, 1);
		setenv("CCGW_HOME", "/nonexistent-ccgw-home", 1); /* no .ccgw/env fallback */
		if (!getenv("CCGW_LOG_LEVEL"))
			setenv("CCGW_LOG_LEVEL", "info", 1);
		for (i = 0; extra_env && extra_env[i]; i++)
			putenv(strdup(extra_env[i]));
		execl(CCGW_BINARY, CCGW_BINARY, "serve", (char *)NULL);
		_exit(127);
	}
	srv->pid = pid;
	snprintf(url, sizeof(url), "%s/healthz", srv->base_url);
	if (wait_health(url, pid, 15) < 0) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "tail -30 %s >&2", srv->log_path);
		if (system(cmd) < 0)
			perror("tail");
		die("ccgw serve did not become healthy", srv->log_path);
	}
}

static void stop_pid(pid_t pid, int sig, int wait_seconds)
{
	int i, status;

	if (pid <= 0)
		return;
	kill(pid, sig);
	for (i = 0; i < wait_seconds * 20; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

void testsrv_stop(struct testsrv *srv)
{
	stop_pid(srv->pid, SIGTERM, 10);
	srv->pid = 0;
}

void testsrv_kill(struct testsrv *srv)
{
	stop_pid(srv->pid, SIGKILL, 5);
	srv->pid = 0;
}

struct collect {
	char *data;
	size_t len;
};

static size_t collect_cb(char *ptr, size_t size, size_t n, void *ud)
{
	struct collect *c = ud;
	char *grown = realloc(c->data, c->len + size * n + 1);

	if (!grown)
		return 0;
	c->data = grown;
	memcpy(c->data + c->len, ptr, size * n);
	c->len += size * n;
	c->data[c->len] = '\0';
	return size * n;
}

void testhttp_request(const char *method, const char *url, const char *const *headers,
		      const char *body, size_t body_len, struct testhttp_resp *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct collect b = { NULL, 0 }, h = { NULL, 0 };
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!c)
		die("curl_easy_init", NULL);
	/* a POST/PUT/PATCH without a body is sent with Content-Length: 0, as most HTTP clients
	 * do; the gateway answers 411 to one with no length at all */
	if (!body && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
		      strcmp(method, "PATCH") == 0)) {
		body = "";
		body_len = 0;
	}
	for (i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	if (body)
		hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	/* the status of an answer that came even when the send then failed: a server that
	 * refuses a large body answers before the client has sent it all, then closes */
	(void)curl_easy_perform(c);
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status) != CURLE_OK)
		out->status = 0;
	out->body = b.data ? b.data : calloc(1, 1);
	out->body_len = b.len;
	out->headers = h.data ? h.data : calloc(1, 1);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
}

void testhttp_resp_clear(struct testhttp_resp *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

pid_t testsrv_spawn_mock(const char *script, const char *const *args, int *port)
{
	char path[1024], portstr[16], url[128];
	const char *argv[32];
	size_t n = 0, i;
	pid_t pid;

	*port = testsrv_free_port();
	snprintf(portstr, sizeof(portstr), "%d", *port);
	snprintf(path, sizeof(path), "%s/tests/mock/%s", CCGW_SOURCE_DIR, script);
	argv[n++] = "python3";
	argv[n++] = path;
	argv[n++] = "--port";
	argv[n++] = portstr;
	for (i = 0; args && args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		die("fork", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__health", *port);
	if (wait_health(url, pid, 15) < 0)
		die("mock server did not start", script);
	return pid;
}

void testsrv_stop_pid(pid_t pid)
{
	stop_pid(pid, SIGTERM, 5);
}
