/*
 * test_simulate.c: `ccgw simulate` end to end, as a developer runs it: the real binary, the
 * real PostgreSQL with the demo shop, the gateway in the simulator's process (and once an
 * existing `ccgw serve` given with --url). The shipped conversation files (tests/convo/)
 * pass on every simulated channel and leave their orders in the database with the channel's
 * name; a file with a wrong bot: and a tap: never offered exits 1 naming both lines; an
 * unreadable file exits 2; `simulate chat` numbers the choices and a number presses one; the
 * simulated channels' webhooks are authenticated by the gateway exactly as Meta's and
 * Telegram's (no signature or a wrong one: 401).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "channel.h"
#include "channel_open.h"
#include "testsrv.h"
#include "util.h"

#define CONVO_DIR CCGW_SOURCE_DIR "/tests/convo"

static struct testdb db;
static char tmpdir[128];
static char demo_tenant[37];

struct run {
	int status; /* the exit code, or -1 when it did not exit */
	char *out;  /* stdout, heap */
	char *err;  /* stderr, heap */
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n = 0;

	assert_non_null(buf);
	if (f) {
		n = fread(buf, 1, (1 << 20) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* Runs the ccgw binary with args (NULL-terminated) against the test database, stdin from
 * input (NULL: none). */
static void run_ccgw(struct run *r, const char *input, const char *const *args)
{
	char out_path[256], err_path[256], in_path[256];
	const char *argv[40];
	size_t n = 0, i;
	pid_t pid;
	int st;

	snprintf(out_path, sizeof(out_path), "%s/out", tmpdir);
	snprintf(err_path, sizeof(err_path), "%s/err", tmpdir);
	snprintf(in_path, sizeof(in_path), "%s/in", tmpdir);
	{
		FILE *f = fopen(in_path, "w");

		assert_non_null(f);
		fputs(input ? input : "", f);
		fclose(f);
	}
	argv[n++] = CCGW_BINARY;
	for (i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int in = open(in_path, O_RDONLY),
		    out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (in < 0 || out < 0 || err < 0)
			_exit(127);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		setenv("CCGW_DATABASE_URL", db.app_url, 1);
		setenv("CCGW_SECRET_KEY", db.secret_key, 1);
		setenv("CCGW_HOME", "/nonexistent-ccgw-home", 1);
		unsetenv("CCGW_LOG_LEVEL");
		execv(CCGW_BINARY, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	r->out = slurp(out_path);
	r->err = slurp(err_path);
}

static void run_clear(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, hay);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
		n++;
	return n;
}

/* The first column of sql's first row as a number, in the demo shop's scope (row-level
 * security: as the application role with app.tenant_id set). */
static long demo_long(const char *sql, const char *param)
{
	const char *params[1] = {param};
	PGconn *c = testdb_connect_app(&db);
	PGresult *res;
	long n = -1;

	PQclear(PQexec(c, "BEGIN"));
	{
		const char *t[1] = {demo_tenant};

		PQclear(PQexecParams(c, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL, t,
		                     NULL, NULL, 0));
	}
	res = PQexecParams(c, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	else
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQclear(PQexec(c, "COMMIT"));
	PQfinish(c);
	return n;
}

static long orders_on(const char *channel, const char *status)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM orders o JOIN order_channel_meta m ON m.order_id = o.id AND "
	         "m.tenant_id = o.tenant_id WHERE m.channel = $1%s",
	         status ? " AND o.status = 'cancelled'" : "");
	return demo_long(sql, channel);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* ---- the shipped examples on every channel ---- */

static void examples_on(const char *channel)
{
	char junit[256];
	const char *args[] = {"simulate",
	                      "test",
	                      "--channel",
	                      channel,
	                      "--junit",
	                      junit,
	                      CONVO_DIR "/order_english.convo",
	                      CONVO_DIR "/order_swahili.convo",
	                      CONVO_DIR "/cart_edit.convo",
	                      CONVO_DIR "/cancel_order.convo",
	                      CONVO_DIR "/complaint.convo",
	                      CONVO_DIR "/handoff.convo",
	                      NULL};
	long before = orders_on(channel, NULL), cancelled = orders_on(channel, "cancelled");
	struct run r;
	char *xml;

	snprintf(junit, sizeof(junit), "%s/junit-%s.xml", tmpdir, channel);
	run_ccgw(&r, NULL, args);
	if (r.status != 0)
		fail_msg("simulate test on %s exited %d:\n%s\n%s", channel, r.status, r.out, r.err);
	assert_contains(r.out, "8 conversations, 0 failed");
	/* one testcase per conversation, none failed */
	xml = slurp(junit);
	assert_int_equal(count_of(xml, "<testcase "), 8);
	assert_int_equal(count_of(xml, "<failure"), 0);
	assert_contains(xml, "tests=\"2\""); /* complaint.convo and handoff.convo: two each */
	/* the English, the Swahili and the cancel_order order went through the channel, and
	 * each file cancelled its order again (the stock goes back: files run again and again) */
	assert_int_equal(orders_on(channel, NULL) - before, 3);
	assert_int_equal(orders_on(channel, "cancelled") - cancelled, 3);
	free(xml);
	run_clear(&r);
}

static void test_examples_whatsapp(void **state)
{
	(void)state;
	examples_on("whatsapp");
}

static void test_examples_telegram(void **state)
{
	(void)state;
	examples_on("telegram");
}

static void test_examples_webchat(void **state)
{
	(void)state;
	examples_on("webchat");
}

/* A location and a contact card reach the order (the file names its channels). */
static void test_location_contact(void **state)
{
	const char *args[] = {"simulate", "test", CONVO_DIR "/share_location_contact.convo", NULL};
	long wa = orders_on("whatsapp", NULL), tg = orders_on("telegram", NULL);
	struct run r;

	(void)state;
	run_ccgw(&r, NULL, args);
	if (r.status != 0)
		fail_msg("exited %d:\n%s\n%s", r.status, r.out, r.err);
	assert_contains(r.out, "2 conversations, 0 failed");
	assert_int_equal(orders_on("whatsapp", NULL) - wa, 1);
	assert_int_equal(orders_on("telegram", NULL) - tg, 1);
	/* the phone from the contact card, the address from the shared place */
	assert_int_equal(demo_long("SELECT count(*) FROM orders WHERE customer_phone LIKE $1 AND "
	                           "delivery_address::text LIKE '%-1.29%'",
	                           "%254712000999%"),
	                 2);
	run_clear(&r);
}

/* A run never uses a simulated channel another run holds: with the first one held (as a
 * running simulator holds it), a run registers a second; released, runs reuse the first. */
static void test_channels_not_shared(void **state)
{
	const char *args[] = {"simulate", "test", CONVO_DIR "/complaint.convo", NULL};
	const char *count_sql = "SELECT count(*) FROM channels WHERE type = 'whatsapp' AND "
	                        "config->>'simulated' = 'true'";
	PGconn *c = testdb_connect_app(&db);
	const char *params[1];
	char *first;
	long before;
	PGresult *res;
	struct run r;

	(void)state;
	before = demo_long(count_sql, NULL);
	assert_true(before >= 1);
	first = testdb_owner_scalar(&db,
	                            "SELECT id::text FROM channels WHERE type = 'whatsapp' AND "
	                            "config->>'simulated' = 'true' ORDER BY created_at, id LIMIT 1",
	                            0, NULL);
	assert_non_null(first);
	params[0] = first;
	res =
	    PQexecParams(c, "SELECT pg_advisory_lock(hashtextextended('ccgw-simulate:' || $1, 0))",
	                 1, NULL, params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	run_ccgw(&r, NULL, args);
	if (r.status != 0)
		fail_msg("exited %d:\n%s\n%s", r.status, r.out, r.err);
	run_clear(&r);
	assert_int_equal(demo_long(count_sql, NULL), before + 1);
	PQfinish(c); /* the lock goes with the session */
	run_ccgw(&r, NULL, args);
	assert_int_equal(r.status, 0);
	run_clear(&r);
	assert_int_equal(demo_long(count_sql, NULL), before + 1);
	free(first);
}

/* ---- failures ---- */

static void test_must_fail(void **state)
{
	char path[256], junit[256], want[512];
	const char *args[] = {"simulate", "test", "--junit", junit, path, NULL};
	struct run r;
	char *xml;

	(void)state;
	snprintf(path, sizeof(path), "%s/wrong.convo", tmpdir);
	snprintf(junit, sizeof(junit), "%s/junit-wrong.xml", tmpdir);
	write_file(path, "# the bot never says this\n"
	                 "me: hi\n"
	                 "bot: Welcome to the moon\n"
	                 "---\n"
	                 "# a button the bot never offered\n"
	                 "me: hi\n"
	                 "tap: Fly to Mars\n"
	                 "---\n"
	                 "# this one passes\n"
	                 "me: hi\n"
	                 "bot: welcome\n");
	run_ccgw(&r, NULL, args);
	assert_int_equal(r.status, 1);
	/* file and line named, what was expected and what the bot said */
	snprintf(want, sizeof(want),
	         "%s:3: bot: expected a reply containing \"Welcome to the moon\"", path);
	assert_contains(r.err, want);
	assert_contains(r.err, "the bot said:");
	assert_contains(r.err, "Browse products");
	snprintf(want, sizeof(want), "%s:7: tap: no button or list row \"Fly to Mars\" was offered",
	         path);
	assert_contains(r.err, want);
	assert_contains(r.err, "offered: \"Browse products\"");
	assert_contains(r.out, "3 conversations, 2 failed");
	xml = slurp(junit);
	assert_int_equal(count_of(xml, "<testcase "), 3);
	assert_int_equal(count_of(xml, "<failure "), 2);
	free(xml);
	run_clear(&r);
}

static void test_unreadable(void **state)
{
	char bad[256], syntax[256], want[320];
	const char *missing[] = {"simulate", "test", CONVO_DIR "/no-such-file.convo",
	                         CONVO_DIR "/complaint.convo", NULL};
	const char *broken[] = {"simulate", "test", syntax, NULL};
	const char *binary[] = {"simulate", "test", bad, NULL};
	struct run r;

	(void)state;
	/* a missing file: 2, though the readable one runs and passes */
	run_ccgw(&r, NULL, missing);
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "no-such-file.convo: cannot read");
	assert_contains(r.out, "2 conversations, 0 failed");
	run_clear(&r);
	/* a step the format does not have: 2, naming the line */
	snprintf(syntax, sizeof(syntax), "%s/syntax.convo", tmpdir);
	write_file(syntax, "me: hi\nshout: HELLO\n");
	run_ccgw(&r, NULL, broken);
	assert_int_equal(r.status, 2);
	snprintf(want, sizeof(want), "%s:2: unknown step \"shout:\"", syntax);
	assert_contains(r.err, want);
	run_clear(&r);
	/* not text */
	snprintf(bad, sizeof(bad), "%s/binary.convo", tmpdir);
	{
		FILE *f = fopen(bad, "w");

		assert_non_null(f);
		fwrite("me: hi\n\0\1\2\n", 1, 11, f);
		fclose(f);
	}
	run_ccgw(&r, NULL, binary);
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "not a text line");
	run_clear(&r);
}

/* ---- the terminal shopper ---- */

static void test_chat(void **state)
{
	const char *args[] = {"simulate", "chat", "--tenant", "demo", "--channel",
	                      "telegram", "--as", "Wanjiku",  NULL};
	const char *bad_tenant[] = {"simulate", "chat", "--tenant", "no-such-shop", NULL};
	const char *bad_channel[] = {"simulate",  "chat", "--tenant", "demo",
	                             "--channel", "fax",  NULL};
	struct run r;

	(void)state;
	run_ccgw(&r, "hi\n1\n4\n", args);
	assert_int_equal(r.status, 0);
	/* the menu's choices numbered; "1" pressed Browse products, "4" the Honey category */
	assert_contains(r.out, "Welcome");
	assert_contains(r.out, "  1. Browse products");
	assert_contains(r.out, "categories");
	assert_contains(r.out, "Acacia Honey 500g");
	assert_contains(r.err, "as Wanjiku");
	/* the shop sees the name the shopper chose */
	assert_int_equal(
	    demo_long("SELECT count(*) FROM customers WHERE name = $1", "Wanjiku") >= 1, 1);
	run_clear(&r);
	run_ccgw(&r, NULL, bad_tenant);
	assert_int_equal(r.status, 1);
	assert_contains(r.err, "no tenant with slug 'no-such-shop'");
	run_clear(&r);
	run_ccgw(&r, NULL, bad_channel);
	assert_int_equal(r.status, 2);
	run_clear(&r);
}

/* ---- the simulated channels get no bypass ---- */

/* The simulated channel of type: its id, tenant and opened config (secrets included). */
static json_t *simulated_channel(const char *type, char id[37], char tenant[37])
{
	const char *params[1] = {type};
	PGconn *c = testdb_connect_owner(&db);
	PGresult *res = PQexecParams(c,
	                             "SELECT id, tenant_id, config::text, secrets FROM channels "
	                             "WHERE type = $1 AND config->>'simulated' = 'true' "
	                             "ORDER BY created_at LIMIT 1",
	                             1, NULL, params, NULL, NULL, 0);
	unsigned char key[32];
	json_t *cfg = NULL;
	char err[160];

	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	snprintf(id, 37, "%s", PQgetvalue(res, 0, 0));
	snprintf(tenant, 37, "%s", PQgetvalue(res, 0, 1));
	assert_int_equal(util_hex_decode(db.secret_key, key, sizeof(key)), 32);
	assert_int_equal(channel_open_bytea(key, tenant, PQgetvalue(res, 0, 2),
	                                    PQgetvalue(res, 0, 3), &cfg, err, sizeof(err)),
	                 CHANNEL_OPEN_OK);
	PQclear(res);
	PQfinish(c);
	return cfg;
}

static long post(const char *url, const char *header, const char *body)
{
	const char *headers[3] = {"Content-Type: application/json", header, NULL};
	struct testhttp_resp r;
	long status;

	testhttp_request("POST", url, headers, body, strlen(body), &r);
	status = r.status;
	testhttp_resp_clear(&r);
	return status;
}

static void test_signatures(void **state)
{
	struct testsrv srv;
	char id[37], tenant[37], url[256], sig[65], header[160], body[1024];
	const char *secret;
	json_t *cfg;
	const char *args[] = {
	    "simulate", "test", "--url", srv.base_url, CONVO_DIR "/complaint.convo", NULL};
	struct run r;

	(void)state;
	testsrv_start(&srv, &db, NULL);
	/* WhatsApp: X-Hub-Signature-256 with the app secret the simulator registered */
	cfg = simulated_channel("whatsapp", id, tenant);
	secret = channel_config_str(cfg, "app_secret");
	assert_non_null(secret);
	snprintf(url, sizeof(url), "%s/webhooks/whatsapp/%s", srv.base_url, id);
	snprintf(
	    body, sizeof(body),
	    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"X\",\"changes\":[{"
	    "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":"
	    "{\"display_phone_number\":\"%s\",\"phone_number_id\":\"%s\"},\"messages\":[{"
	    "\"from\":\"999000111222\",\"id\":\"wamid.SIGTEST%d\",\"timestamp\":\"1700000000\","
	    "\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]}}]}]}",
	    channel_config_str(cfg, "phone_number_id"), channel_config_str(cfg, "phone_number_id"),
	    (int)getpid());
	assert_int_equal(post(url, "X-Other: 1", body), 401);
	util_hmac_sha256_hex("not the secret", 14, body, strlen(body), sig);
	snprintf(header, sizeof(header), "X-Hub-Signature-256: sha256=%s", sig);
	assert_int_equal(post(url, header, body), 401);
	util_hmac_sha256_hex(secret, strlen(secret), body, strlen(body), sig);
	snprintf(header, sizeof(header), "X-Hub-Signature-256: sha256=%s", sig);
	assert_int_equal(post(url, header, body), 200);
	channel_config_free(cfg);
	/* Telegram: the secret token header */
	cfg = simulated_channel("telegram", id, tenant);
	secret = channel_config_str(cfg, "secret_token");
	assert_non_null(secret);
	snprintf(url, sizeof(url), "%s/webhooks/telegram/%s", srv.base_url, id);
	snprintf(body, sizeof(body),
	         "{\"update_id\":%d,\"message\":{\"message_id\":1,\"date\":1700000000,\"from\":{"
	         "\"id\":424242,\"is_bot\":false,\"first_name\":\"T\"},\"chat\":{\"id\":424242,"
	         "\"type\":\"private\"},\"text\":\"hi\"}}",
	         (int)getpid());
	assert_int_equal(post(url, "X-Other: 1", body), 401);
	assert_int_equal(post(url, "X-Telegram-Bot-Api-Secret-Token: wrong-secret", body), 401);
	snprintf(header, sizeof(header), "X-Telegram-Bot-Api-Secret-Token: %s", secret);
	assert_int_equal(post(url, header, body), 200);
	channel_config_free(cfg);
	/* an existing serve with --url: its dispatcher sends the replies to the simulator */
	run_ccgw(&r, NULL, args);
	if (r.status != 0)
		fail_msg("simulate test --url exited %d:\n%s\n%s", r.status, r.out, r.err);
	assert_contains(r.out, "2 conversations, 0 failed");
	run_clear(&r);
	testsrv_stop(&srv);
}

static int group_setup(void **state)
{
	const char *demo[] = {"demo", NULL};
	struct run r;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ccgw-simulate-test-%d", (int)getpid());
	if (mkdir(tmpdir, 0700) < 0 && errno != EEXIST)
		return -1;
	testdb_setup(&db, "simulate");
	run_ccgw(&r, NULL, demo);
	{
		json_t *o = json_loads(r.out, 0, NULL);

		snprintf(demo_tenant, sizeof(demo_tenant), "%s",
		         json_string_value(json_object_get(o, "tenant_id"))
		             ? json_string_value(json_object_get(o, "tenant_id"))
		             : "");
		json_decref(o);
	}
	if (r.status != 0 || !demo_tenant[0]) {
		fprintf(stderr, "ccgw demo failed: %s\n", r.err);
		run_clear(&r);
		return -1;
	}
	run_clear(&r);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples_whatsapp),   cmocka_unit_test(test_examples_telegram),
	    cmocka_unit_test(test_examples_webchat),    cmocka_unit_test(test_location_contact),
	    cmocka_unit_test(test_channels_not_shared), cmocka_unit_test(test_must_fail),
	    cmocka_unit_test(test_unreadable),          cmocka_unit_test(test_chat),
	    cmocka_unit_test(test_signatures),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
