/*
 * bench_dispatch.c: outbound sends per second of one `ccgw serve` against a local sink that
 * answers at once (dispatch_sink). Rows are written in one transaction while the server
 * idles; the clock runs from that commit until no row is pending or sending. Two runs: signed
 * seller webhooks (no rate limit, no conversation order), and WhatsApp replies over many
 * conversations (rendered by the adapter, rate limits raised above the rate measured, one
 * message_sent event per row). Prints the rates and the CPU the gateway and the sink used.
 * Needs the cluster of scripts/run (source .ccgw/env). Not a test: run it by hand.
 * Usage: bench_dispatch [--rows N] [--conversations C] [--workers W] [--only webhook|whatsapp]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "secrets.h"
#include "testdb.h"
#include "testsrv.h"
#include "util.h"

static PGconn *conn;
static struct testdb db;
static pid_t sink_pid, server_pid;

static void die(const char *what)
{
	fprintf(stderr, "bench_dispatch: %s: %s\n", what, conn ? PQerrorMessage(conn) : "");
	if (server_pid > 0)
		kill(server_pid, SIGKILL);
	if (sink_pid > 0)
		kill(sink_pid, SIGKILL);
	exit(1);
}

static char *tq(const char *tenant, const char *sql, int n, const char *const *p)
{
	const char *tp[1] = {tenant};
	PGresult *r;
	char *v;

	PQclear(PQexec(conn, "BEGIN"));
	r = PQexecParams(conn, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL, tp, NULL,
	                 NULL, 0);
	PQclear(r);
	r = PQexecParams(conn, sql, n, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
		die(sql);
	v = strdup(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) && !PQgetisnull(r, 0, 0)
	               ? PQgetvalue(r, 0, 0)
	               : "");
	PQclear(r);
	r = PQexec(conn, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("COMMIT");
	PQclear(r);
	return v;
}

static char *sealed(const char *tenant, const char *plain)
{
	unsigned char key[32], *s = NULL;
	size_t len = 0;
	char *t;

	if (secrets_key_parse(db.secret_key, key) < 0 ||
	    secrets_seal(key, tenant, plain, strlen(plain), &s, &len) < 0)
		die("seal");
	t = secrets_bytea_encode(s, len);
	free(s);
	return t;
}

static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	for (i = 0; p && i < 12; i++) /* fields 14 and 15 after the command name */
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%lu %lu", &ut, &st);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double machine_busy(double *idle_out)
{
	unsigned long long v[10] = {0}, total = 0;
	FILE *f = fopen("/proc/stat", "r");
	int i;

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	           &v[4], &v[5], &v[6], &v[7]) != 8) {
		fclose(f);
		return 0;
	}
	fclose(f);
	for (i = 0; i < 8; i++)
		total += v[i];
	*idle_out = (double)(v[3] + v[4]) / (double)sysconf(_SC_CLK_TCK);
	return (double)total / (double)sysconf(_SC_CLK_TCK);
}

static char sink_count_url[96];
static long sink_base;

/* Requests the sink has answered so far. */
static long sink_count(void)
{
	struct testhttp_resp r;
	const char *p;
	long n = 0;

	testhttp_request("GET", sink_count_url, NULL, NULL, 0, &r);
	p = r.body ? strstr(r.body, "\"posts\": ") : NULL;
	if (p)
		n = atol(p + 9);
	testhttp_resp_clear(&r);
	return n;
}

/* testsrv and testdb exit on failure: take the sink and the server down with us */
static void stop_children(void)
{
	if (server_pid > 0)
		kill(server_pid, SIGKILL);
	if (sink_pid > 0)
		kill(sink_pid, SIGKILL);
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs insert_sql (one transaction) and waits until tenant has nothing pending or sending. */
static void run(const char *name, const char *kind, const char *tenant, const char *insert_sql,
                int n, const char *const *p, long rows, pid_t gw, pid_t sink)
{
	const char *kp[1] = {kind};
	double t0, t1, g0, g1, s0, s1, m0, m1, i0, i1, next_look;
	char *left, *sent;
	long remaining;

	g0 = cpu_seconds(gw);
	s0 = cpu_seconds(sink);
	m0 = machine_busy(&i0);
	t0 = wall();
	next_look = t0 + 1;
	free(tq(tenant, insert_sql, n, p));
	/* wait on the sink's counter (no load on the database), then for the last outcomes */
	while (sink_count() < sink_base + rows && wall() - t0 < 600) {
		/* rows that failed for good never reach the sink: stop waiting for them */
		if (wall() >= next_look) {
			next_look = wall() + 1;
			left = tq(tenant,
			          "SELECT count(*) FROM outbox WHERE status IN ('pending',"
			          " 'sending')",
			          0, NULL);
			remaining = atol(left);
			free(left);
			if (remaining == 0)
				break;
		}
		usleep(20000);
	}
	sink_base = sink_count();
	for (;;) {
		left =
		    tq(tenant, "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')",
		       0, NULL);
		remaining = atol(left);
		free(left);
		if (remaining == 0)
			break;
		if (wall() - t0 > 600)
			die("gave up after 10 minutes");
		usleep(20000);
	}
	t1 = wall();
	g1 = cpu_seconds(gw);
	s1 = cpu_seconds(sink);
	m1 = machine_busy(&i1);
	sent = tq(tenant, "SELECT count(*) FROM outbox WHERE status = 'sent' AND kind = $1", 1, kp);
	printf(
	    "%-9s %7ld rows, %7s sent in %6.2f s: %8.0f sends/s | CPU: ccgw %4.0f%%, sink %3.0f%%,"
	    " machine %3.0f%% of %ld cores\n",
	    name, rows, sent, t1 - t0, (double)atol(sent) / (t1 - t0),
	    100.0 * (g1 - g0) / (t1 - t0), 100.0 * (s1 - s0) / (t1 - t0),
	    100.0 * ((m1 - m0) - (i1 - i0)) / (m1 - m0), sysconf(_SC_NPROCESSORS_ONLN));
	fflush(stdout);
	free(sent);
}

int main(int argc, char **argv)
{
	long rows = 50000, convs = 5000, workers = 2;
	const char *only = NULL;
	char port_s[16], url[128], api[128], hook[160], wk[64], rows_s[32], per_s[32], convs_s[32];
	char *tenant, *chan, *target, *bytea;
	struct testsrv srv;
	struct testhttp_resp r;
	pid_t sink;
	int port, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
			rows = atol(argv[++i]);
		else if (strcmp(argv[i], "--conversations") == 0 && i + 1 < argc)
			convs = atol(argv[++i]);
		else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
			workers = atol(argv[++i]);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr,
			        "usage: bench_dispatch [--rows N] [--conversations C] [--workers W]"
			        " [--only webhook|whatsapp]\n");
			return 2;
		}
	}
	if (rows < 1 || convs < 1 || convs > rows)
		die("--rows and --conversations must be positive, conversations <= rows");

	testdb_setup(&db, "bench_dispatch");
	conn = testdb_connect_app(&db);

	port = testsrv_free_port();
	snprintf(port_s, sizeof(port_s), "%d", port);
	atexit(stop_children);
	sink = sink_pid = fork();
	if (sink == 0) {
		execl(DISPATCH_SINK_BINARY, DISPATCH_SINK_BINARY, port_s, (char *)NULL);
		_exit(127);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__health", port);
	snprintf(sink_count_url, sizeof(sink_count_url), "http://127.0.0.1:%d/__count", port);
	for (i = 0; i < 100; i++) {
		long status;

		testhttp_request("GET", url, NULL, NULL, 0, &r);
		status = r.status; /* read before the clear, which zeroes it */
		testhttp_resp_clear(&r);
		if (status == 200)
			break;
		usleep(50000);
	}

	{
		char id[37];
		const char *p[2] = {id, "bench"};

		util_uuid_new(id);
		tenant = tq(id,
		            "INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'Bench shop') "
		            "RETURNING id",
		            2, p);
	}
	bytea = sealed(tenant, "{\"access_token\": \"bench-token\"}");
	{
		const char *p[2] = {tenant, bytea};

		chan = tq(tenant,
		          "INSERT INTO channels (tenant_id, type, external_id, config, secrets) "
		          "VALUES ($1,"
		          " 'whatsapp', '300001', '{\"phone_number_id\": \"300001\"}', $2::bytea) "
		          "RETURNING id",
		          2, p);
	}
	free(bytea);
	snprintf(hook, sizeof(hook), "http://127.0.0.1:%d/hook", port);
	bytea = sealed(tenant, "bench-webhook-secret");
	{
		const char *p[3] = {tenant, hook, bytea};

		target =
		    tq(tenant,
		       "INSERT INTO notification_targets (tenant_id, kind, url, secret) VALUES ($1,"
		       " 'webhook', $2, $3::bytea) RETURNING id",
		       3, p);
	}
	free(bytea);

	snprintf(api, sizeof(api), "CCGW_WHATSAPP_API_BASE=http://127.0.0.1:%d", port);
	snprintf(wk, sizeof(wk), "CCGW_DISPATCH_WORKERS=%ld", workers);
	{
		const char *env[] = {api,
		                     wk,
		                     "CCGW_WHATSAPP_RATE=10000",
		                     "CCGW_WHATSAPP_RECIPIENT_RATE=1000",
		                     "CCGW_WHATSAPP_MARK_READ=0",
		                     /* the seller webhook target is the local sink */
		                     "CCGW_WEBHOOK_ALLOW_PRIVATE=1",
		                     "CCGW_LOG_LEVEL=warn",
		                     NULL};

		testsrv_start(&srv, &db, env);
		server_pid = srv.pid;
	}
	printf("one ccgw serve (pid %d), %ld dispatch workers; sink pid %d\n", (int)srv.pid,
	       workers, (int)sink);

	snprintf(rows_s, sizeof(rows_s), "%ld", rows);
	if (!only || strcmp(only, "webhook") == 0) {
		const char *p[4] = {tenant, target, hook, rows_s};

		run("webhook", "webhook", tenant,
		    "INSERT INTO outbox (tenant_id, kind, target_id, recipient, event_type, "
		    "payload)"
		    " SELECT $1::uuid, 'webhook', $2, $3, 'order.placed', "
		    "jsonb_build_object('event', 'order.placed',"
		    "   'event_id', gen_random_uuid(), 'tenant_id', $1::uuid::text, 'order', "
		    "jsonb_build_object("
		    "   'id', gen_random_uuid(), 'order_number', 1000 + g, 'status', 'pending', "
		    "'version', 1,"
		    "   'payment_method', 'cash_on_delivery', 'items', "
		    "jsonb_build_array(jsonb_build_object("
		    "   'sku', 'SKU-' || g, 'name', 'Unga wa ngano 2kg', 'quantity', 2, "
		    "'unit_price_minor', 18500,"
		    "   'subtotal_minor', 37000)), 'totals', jsonb_build_object('subtotal_minor', "
		    "37000,"
		    "   'tax_minor', 0, 'delivery_fee_minor', 10000, 'total_minor', 47000, "
		    "'currency', 'KES'),"
		    "   'customer', jsonb_build_object('name', 'Amina', 'phone', '254700000000'),"
		    "   'delivery_address', jsonb_build_object('text', 'Moi Avenue 12, Nairobi')))"
		    " FROM generate_series(1, $4::integer) g",
		    4, p, rows, srv.pid, sink);
	}
	if (!only || strcmp(only, "whatsapp") == 0) {
		long per = (rows + convs - 1) / convs;
		const char *pc[3] = {tenant, chan, convs_s};
		const char *p[3] = {tenant, chan, per_s};

		snprintf(convs_s, sizeof(convs_s), "%ld", convs);
		snprintf(per_s, sizeof(per_s), "%ld", per);
		free(tq(tenant,
		        "INSERT INTO conversations (tenant_id, channel_id, external_chat_id, "
		        "last_inbound_at)"
		        " SELECT $1, $2, '2547' || lpad(g::text, 8, '0'), now() FROM "
		        "generate_series(1, $3::integer) g",
		        3, pc));
		run("whatsapp", "reply", tenant,
		    "INSERT INTO outbox (tenant_id, kind, conversation_id, channel_id, recipient, "
		    "payload)"
		    " SELECT $1, 'reply', c.id, $2, c.external_chat_id, jsonb_build_object("
		    "   'text', 'Order #' || (1000 + m) || ' is confirmed. Anything else?',"
		    "   'buttons', jsonb_build_array(jsonb_build_object('title', 'Track order', "
		    "'payload', 'trk:' || m),"
		    "     jsonb_build_object('title', 'Shop more', 'payload', 'menu')))"
		    " FROM conversations c, generate_series(1, $3::integer) m WHERE c.channel_id = "
		    "$2"
		    " ORDER BY m, c.id",
		    3, p, per * convs, srv.pid, sink);
	}
	testsrv_stop(&srv);
	server_pid = 0;
	kill(sink, SIGTERM);
	waitpid(sink, NULL, 0);
	sink_pid = 0;
	PQfinish(conn);
	free(tenant);
	free(chan);
	free(target);
	return 0;
}
