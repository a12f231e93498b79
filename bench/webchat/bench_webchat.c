/*
 * bench_webchat.c: the web chat's sockets under load, against the real `ccgw serve` and a
 * database of its own (see CMakeLists.txt for how to run it).
 *
 * 1. Idle: N connections each say hello and stay open; the server's resident memory before
 *    and after (VmRSS) gives what ccgw adds per connection. Target: under 100 MB for 10,000.
 * 2. Round trip: K welcomed sockets send text messages at R per second in all; the time from
 *    a message written to the first "message" frame back is recorded; p50, p99 and max are
 *    printed. Target: p99 under 20 ms at 500 per second over 1,000 sockets.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "testdb.h"
#include "testsrv.h"
#include "util.h"
#include "wsclient.h"

static struct testdb db;
static struct testsrv srv;

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Connects and says hello; 0 when welcomed. */
static int open_session(struct wsc_client *c)
{
	char *w;

	if (wsc_connect(c, srv.port, "/ws/chat/bench", NULL) != 0)
		return -1;
	if (wsc_send_text(c, "{\"type\":\"hello\",\"session\":null}") < 0)
		return -1;
	w = wsc_recv(c, 10000, NULL);
	if (!w || !strstr(w, "\"welcome\"")) {
		free(w);
		return -1;
	}
	free(w);
	return 0;
}

/* The database counters of /metrics (request workers and the web chat's thread, as
 * part="request"; the dispatcher, part="dispatch") and group commit's. */
static const char *const metric_names[] = {
    "ccgw_db_statements_total{part=\"request\"}", "ccgw_db_round_trips_total{part=\"request\"}",
    "ccgw_db_transactions_total{part=\"request\"}", "ccgw_db_statements_total{part=\"dispatch\"}",
    "ccgw_db_transactions_total{part=\"dispatch\"}", "ccgw_group_commits_total",
    "ccgw_group_commit_messages_total",
    /* where the request workers' time went (gateway/core/latency.h), printed in ms */
    "ccgw_request_stage_seconds_total{stage=\"queue\"}",
    "ccgw_request_stage_seconds_total{stage=\"pool\"}",
    "ccgw_request_stage_seconds_total{stage=\"group_wait\"}",
    "ccgw_request_stage_seconds_total{stage=\"transaction\"}",
    "ccgw_request_stage_seconds_total{stage=\"commit\"}",
    "ccgw_request_stage_seconds_total{stage=\"alone\"}",
    "ccgw_request_stage_seconds_total{stage=\"other\"}",
    "ccgw_request_stage_seconds_total{stage=\"write\"}"};
#define NDBMETRICS 7 /* the first ones: counts; the rest: seconds */
#define NMETRICS (sizeof(metric_names) / sizeof(metric_names[0]))

static void metrics_read(double v[NMETRICS])
{
	char url[128];
	struct testhttp_resp r;
	size_t i;

	snprintf(url, sizeof(url), "%s/metrics", srv.base_url);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	for (i = 0; i < NMETRICS; i++) {
		const char *p = r.status == 200 ? r.body : NULL;
		size_t nl = strlen(metric_names[i]);

		v[i] = -1;
		while (p && (p = strstr(p, metric_names[i])) != NULL) {
			if ((p == r.body || p[-1] == '\n') && p[nl] == ' ') {
				v[i] = atof(p + nl + 1);
				break;
			}
			p += nl;
		}
	}
	testhttp_resp_clear(&r);
}

/* The 1-minute load average (the machine is shared: say what it was). */
static double loadavg(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double l = -1;

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_webchat [--idle N] [--sockets K] [--rate R] [--seconds T]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long idle = 10000, sockets = 1000, seconds = 10;
	double rate = 500;
	/* warn unless asked (CCGW_LOG_LEVEL=info shows each request over 50 ms and its stages) */
	const char *env[] = {getenv("CCGW_LOG_LEVEL") ? "CCGW_LOG_LEVEL_FROM_ENV=1"
	                                              : "CCGW_LOG_LEVEL=warn",
	                     "CCGW_MAX_CONNECTIONS=30000",
	                     "CCGW_MAX_CONNECTIONS_PER_ADDRESS=30000", "CCGW_MAX_QUEUE=100000",
	                     NULL};
	struct rlimit rl;
	struct wsc_client *cs;
	long before, after, i, opened = 0;
	char *tenant, *key;
	int k;

	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--idle") == 0 && k + 1 < argc)
			idle = atol(argv[++k]);
		else if (strcmp(argv[k], "--sockets") == 0 && k + 1 < argc)
			sockets = atol(argv[++k]);
		else if (strcmp(argv[k], "--rate") == 0 && k + 1 < argc)
			rate = atof(argv[++k]);
		else if (strcmp(argv[k], "--seconds") == 0 && k + 1 < argc)
			seconds = atol(argv[++k]);
		else
			usage();
	}
	signal(SIGPIPE, SIG_IGN); /* a socket the server closed is an error, not a death */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	testdb_setup(&db, "bench_webchat");
	tenant = testdb_tenant_create(&db, "bench", &key);
	testsrv_start(&srv, &db, env);
	cs = calloc((size_t)(idle > sockets ? idle : sockets), sizeof(*cs));
	if (!cs)
		return 1;
	sleep(1);
	before = rss_kb(srv.pid);
	for (i = 0; i < idle; i++) {
		/* answer the server's pings now and then: an idle socket that never does is closed
		 * after 75 s, as it should be */
		if (i % 500 == 499) {
			long j;

			for (j = 0; j < opened; j++) {
				char *f;

				while ((f = wsc_recv(&cs[j], 0, NULL)) != NULL)
					free(f);
			}
		}
		if (open_session(&cs[i]) < 0) {
			fprintf(stderr, "session %ld: %s\n", i, strerror(errno));
			break;
		}
		opened++;
	}
	sleep(2);
	after = rss_kb(srv.pid);
	printf("idle: %ld sessions open; ccgw RSS %ld KB before, %ld KB after: +%.1f MB, %.2f KB"
	       " per connection\n",
	       opened, before, after, (after - before) / 1024.0,
	       opened ? (double)(after - before) / (double)opened : 0.0);
	fflush(stdout);

	/* round trip over the first `sockets` of them */
	if (sockets > opened)
		sockets = opened;
	{
		long total = (long)(rate * (double)seconds), sent = 0, got = 0, n;
		double *lat = calloc((size_t)total + 1, sizeof(double));
		/* the same by kind: a socket's first message (its shopper's first turn: the customer
		 * is created) and the later ones; and those sent after the first two seconds */
		double *lat_first = calloc((size_t)total + 1, sizeof(double));
		double *lat_later = calloc((size_t)total + 1, sizeof(double));
		double *lat_warm = calloc((size_t)total + 1, sizeof(double));
		long nfirst = 0, nlater = 0, nwarm = 0;
		int64_t *sent_first = calloc((size_t)sockets, sizeof(int64_t));
		int64_t *sent_at = calloc((size_t)sockets, sizeof(int64_t));
		/* epoll, not poll(): the load generator's own CPU should not grow with the sockets
		 * open (poll() over 1,000 of them at every turn took 15% of a core at 500/s) */
		int ep = epoll_create1(EPOLL_CLOEXEC), nready, r;
		struct epoll_event evs[256];
		int64_t start, now, end;
		char msg[160];
		double m0[NMETRICS], m1[NMETRICS], load0, load1;
		long dups = 0, frames = 0;
		size_t mi;
		/* BENCH_TRACE=FILE: one line per answered message: when it was sent (ms after the
		 * start), its latency (ms), 1 for a socket's first message (to see whether the slow
		 * ones come together, as a stall, or spread out, as queueing) */
		FILE *trace = getenv("BENCH_TRACE") ? fopen(getenv("BENCH_TRACE"), "w") : NULL;
		/* the ids of the message frames each socket saw (a repeat is counted, not timed) */
		char **seen = calloc((size_t)sockets, sizeof(char *));

		for (i = 0; i < sockets; i++) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

			if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].ws.fd, &ev) < 0) {
				fprintf(stderr, "bench_webchat: epoll: %s\n", strerror(errno));
				return 1;
			}
		}
		metrics_read(m0);
		load0 = loadavg();
		start = util_now_us();
		if (trace) { /* the wall clock at the start, to set beside the server's logs */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			fprintf(trace, "# start %lld.%03ld\n", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
		}
		while (got < total) {
			now = util_now_us();
			/* send what the rate allows by now, to sockets not waiting for an answer */
			while (sent < total && (double)(now - start) / 1e6 * rate >= (double)sent) {
				long s = sent % sockets;

				if (sent_at[s]) {
					/* that socket still waits: try the next second's turn */
					break;
				}
				snprintf(msg, sizeof(msg),
				         "{\"type\":\"text\",\"text\":\"menu\",\"client_msg_id\":\"b%ld\"}",
				         sent);
				if (wsc_send_text(&cs[s], msg) < 0)
					break;
				sent_at[s] = util_now_us();
				sent_first[s] = sent < sockets;
				sent++;
			}
			nready = epoll_wait(ep, evs, 256, 5);
			if (nready < 0 && errno != EINTR)
				break;
			for (r = 0; r < nready; r++) {
				char *f;

				i = (long)evs[r].data.u32;
				while ((f = wsc_recv(&cs[i], 0, NULL)) != NULL) {
					const char *id = strstr(f, "\"id\":\"");
					char idq[40] = "";

					if (id)
						snprintf(idq, sizeof(idq), "%.37s", id + 6);
					if (strstr(f, "\"message\"")) {
						frames++;
						if (id && seen[i] && strstr(seen[i], idq)) {
							dups++;
							free(f);
							continue;
						}
						if (id) {
							size_t old = seen[i] ? strlen(seen[i]) : 0;
							char *grown = realloc(seen[i], old + 40);

							if (grown) {
								seen[i] = grown;
								snprintf(grown + old, 40, "%s", idq);
							}
						}
					}
					if (sent_at[i] && strstr(f, "\"message\"")) {
						lat[got] = (double)(util_now_us() - sent_at[i]) / 1000.0;
						if (sent_first[i])
							lat_first[nfirst++] = lat[got];
						else
							lat_later[nlater++] = lat[got];
						if (sent_at[i] - start >= 2000000)
							lat_warm[nwarm++] = lat[got];
						if (trace)
							fprintf(trace, "%.1f %.2f %d\n",
							        (double)(sent_at[i] - start) / 1000.0,
							        lat[got], (int)sent_first[i]);
						got++;
						sent_at[i] = 0;
					}
					free(f);
				}
			}
			if ((util_now_us() - start) / 1000000 > seconds + 30)
				break; /* answers stopped coming */
		}
		n = got;
		end = util_now_us(); /* the rate is over the message phase, not the wait below */
		sleep(1); /* the last replies' records */
		metrics_read(m1);
		load1 = loadavg();
		qsort(lat, (size_t)n, sizeof(double), cmp_double);
		qsort(lat_first, (size_t)nfirst, sizeof(double), cmp_double);
		qsort(lat_later, (size_t)nlater, sizeof(double), cmp_double);
		qsort(lat_warm, (size_t)nwarm, sizeof(double), cmp_double);
		printf("round trip: %ld messages over %ld sockets at %.0f/s asked, %.0f/s achieved;"
		       " first reply frame p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		       n, sockets, rate, (double)n / ((double)(end - start) / 1e6),
		       n ? lat[n / 2] : 0.0, n ? lat[(long)((double)n * 0.99)] : 0.0,
		       n ? lat[n - 1] : 0.0);
#define PCT(a, k, q) ((k) ? (a)[(long)((double)(k) * (q))] : 0.0)
		printf("  p50 / p99: a socket's first message %.1f / %.1f ms (%ld), its later ones %.1f /"
		       " %.1f ms (%ld); sent after the first 2 s %.1f / %.1f ms (%ld)\n",
		       PCT(lat_first, nfirst, 0.5), PCT(lat_first, nfirst, 0.99), nfirst,
		       PCT(lat_later, nlater, 0.5), PCT(lat_later, nlater, 0.99), nlater,
		       PCT(lat_warm, nwarm, 0.5), PCT(lat_warm, nwarm, 0.99), nwarm);
#undef PCT
		printf("  load average (1 min) %.2f before, %.2f after; %ld message frames, %ld"
		       " repeated (same id on a socket)\n",
		       load0, load1, frames, dups);
		printf("  per message:");
		for (mi = 0; mi < NDBMETRICS; mi++)
			printf("%s %s %.2f", mi ? "," : "", metric_names[mi],
			       m0[mi] >= 0 && m1[mi] >= 0 && n ? (m1[mi] - m0[mi]) / (double)n : -1.0);
		printf("\n  ms per message in each stage (hello tasks included):");
		for (mi = NDBMETRICS; mi < NMETRICS; mi++)
			printf("%s %.*s %.2f", mi > NDBMETRICS ? "," : "",
			       (int)strcspn(strchr(metric_names[mi], '"') + 1, "\""),
			       strchr(metric_names[mi], '"') + 1,
			       m0[mi] >= 0 && m1[mi] >= 0 && n ? 1000.0 * (m1[mi] - m0[mi]) / (double)n
			                                       : -1.0);
		printf("\n");
		for (i = 0; i < sockets; i++)
			free(seen[i]);
		free(seen);
		free(lat);
		free(lat_first);
		free(lat_later);
		free(lat_warm);
		free(sent_first);
		free(sent_at);
		if (trace)
			fclose(trace);
		close(ep);
	}
	for (i = 0; i < opened; i++)
		wsc_close(&cs[i]);
	free(cs);
	testsrv_stop(&srv);
	free(tenant);
	free(key);
	return 0;
}
