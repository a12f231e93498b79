/*
 * test_dispatch_flow.c: the dispatcher against a real PostgreSQL and a recording mock of the
 * Graph API and of sellers' webhook receivers. The dispatcher runs in this process (the same
 * code `ccgw serve` starts), woken by NOTIFY from the outbox trigger. Each case has its own
 * tenant and WhatsApp number so the mock's rules can aim at one case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "config.h"
#include "dispatch.h"
#include "dispatch_fixture.h"
#include "log.h"
#include "secrets.h"
#include "app.h"

static struct fx fx;

struct harness {
	struct config cfg;
	struct app srv; /* the application context the dispatcher borrows */
	struct dispatcher *d;
};

/* Starts an in-process dispatcher against the test database and the mock; env holds
 * "NAME=value" settings for this case (NULL-terminated, may be NULL). */
static void harness_start(struct harness *h, const char *const *env)
{
	char err[256], name[64];
	size_t i;

	memset(h, 0, sizeof(*h));
	setenv("CCGW_HOME", "/nonexistent-ccgw-home", 1);
	setenv("CCGW_DATABASE_URL", fx.db.app_url, 1);
	setenv("CCGW_SECRET_KEY", fx.db.secret_key, 1);
	setenv("CCGW_WHATSAPP_API_BASE", fx.mock_url, 1);
	setenv("CCGW_LOG_LEVEL", "warn", 1);
	for (i = 0; env && env[i]; i++)
		putenv((char *)env[i]);
	if (config_load(&h->cfg, NULL, err, sizeof(err)) < 0)
		fail_msg("config: %s", err);
	for (i = 0; env && env[i]; i++) {
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(env[i], "="), env[i]);
		unsetenv(name);
	}
	if (getenv("DISPATCH_TEST_DEBUG"))
		log_level_set(LOG_DEBUG);
	h->srv.cfg = &h->cfg;
	assert_int_equal(secrets_key_parse(fx.db.secret_key, h->srv.secret_key), 0);
	h->srv.has_secret_key = 1;
	h->d = dispatcher_new(&h->srv);
	assert_non_null(h->d);
	assert_int_equal(dispatcher_start(h->d), 0);
}

static void harness_stop(struct harness *h)
{
	dispatcher_stop(h->d);
	dispatcher_free(h->d);
	config_clear(&h->cfg);
}

static char *metrics_text(struct harness *h)
{
	struct sbuf b;

	sbuf_init(&b);
	dispatcher_metrics_write(h->d, &b);
	return sbuf_take(&b);
}

/* The metrics text once it holds needle (the gauges refresh every 5 s), or NULL after 8 s. */
static char *metrics_wait(struct harness *h, const char *needle)
{
	int i;

	for (i = 0; i < 80; i++) {
		char *m = metrics_text(h);

		if (m && strstr(m, needle))
			return m;
		free(m);
		fx_sleep_ms(100);
	}
	return NULL;
}

/* 200 replies across 20 conversations: all sent, each conversation's in order, each once. */
static void test_ordered_delivery(void **state)
{
	const char *env[] = {"CCGW_WHATSAPP_RECIPIENT_RATE=20", NULL};
	char *tenant = fx_tenant(&fx, "ordered"), *chan = fx_wa_channel(&fx, tenant, "100001");
	char *convs[20], *chats[20];
	struct harness h;
	json_t *reqs;
	long events;

	(void)state;
	fx_conversations(&fx, tenant, chan, "25470001", 20, convs, chats);
	harness_start(&h, env);
	fx_replies_bulk(&fx, tenant, chan, convs, chats, 20, 10, "ord");
	if (fx_wait_count(&fx, tenant, "sent", 200, 60) < 0)
		fail_msg("only %ld of 200 sent", fx_count(&fx, tenant, "sent"));
	reqs = fx_mock_requests_for(&fx, "/100001/messages");
	assert_int_equal(json_array_size(reqs), 200); /* nothing failed, so nothing twice */
	assert_int_equal(fx_assert_in_order(reqs, "ord", 10), 20);
	/* the platform's message id and the time are on every row, and an event per message */
	assert_int_equal(
	    fx_ql(&fx, tenant,
	          "SELECT count(*) FROM outbox WHERE platform_message_id LIKE 'wamid.mock%'"
	          " AND sent_at IS NOT NULL AND attempts = 1 AND lease_owner IS NULL",
	          0, NULL),
	    200);
	events = fx_ql(&fx, tenant,
	               "SELECT count(*) FROM conversation_events WHERE event_type = 'message_sent'",
	               0, NULL);
	assert_int_equal(events, 200);
	/* the request is the Graph API's: bearer token from the sealed secrets, the recipient */
	{
		json_t *r0 = json_array_get(reqs, 0);
		const char *auth = json_string_value(
		    json_object_get(json_object_get(r0, "headers"), "authorization"));

		assert_non_null(auth);
		assert_string_equal(auth, "Bearer tok-100001");
		assert_non_null(strstr(json_string_value(json_object_get(r0, "path")),
		                       "/v21.0/100001/messages"));
	}
	json_decref(reqs);
	harness_stop(&h);
	fx_strings_free(convs, 20);
	fx_strings_free(chats, 20);
	free(tenant);
	free(chan);
}

/* 429 with Retry-After 1, three times: no retry sooner than asked, then all sent in order. */
/* A reply claimed while the message before it was still in flight is parked; normally the
 * message's finisher brings it back. Their two statements can pass each other (the finisher
 * does not see the new row, the claim still sees the message in flight). Played here by hand:
 * the reply must still reach the shopper within seconds, not after a lease. */
static void test_parked_behind_a_missed_finish(void **state)
{
	char *tenant = fx_tenant(&fx, "missed"), *chan = fx_wa_channel(&fx, tenant, "100009");
	char *conv = fx_conversation(&fx, tenant, chan, "254700090001"), *first, *second;
	const char *p[1];
	struct harness h;
	json_t *reqs;
	char buf[64];

	(void)state;
	first = fx_reply(&fx, tenant, conv, chan, "254700090001", "first");
	/* a dispatcher takes the first message: it is in flight */
	assert_int_equal(fx_ql(&fx, NULL,
	                       "SELECT count(*) FROM outbox_claim('elsewhere:0:1', 10, 60)"
	                       " WHERE claimed",
	                       0, NULL),
	                 1);
	second = fx_reply(&fx, tenant, conv, chan, "254700090001", "second");
	/* a claim looks at the reply while the first is in flight and parks it */
	assert_int_equal(fx_ql(&fx, NULL,
	                       "SELECT count(*) FROM outbox_claim('elsewhere:0:2', 10, 60)"
	                       " WHERE NOT claimed",
	                       0, NULL),
	                 1);
	/* the first message's outcome is written by a finisher that never saw the reply */
	p[0] = first;
	free(fx_q(&fx, tenant,
	          "UPDATE outbox SET status = 'sent', sent_at = now(), lease_owner = NULL,"
	          " lease_until = NULL WHERE id = $1::uuid",
	          1, p));
	harness_start(&h, NULL);
	if (fx_wait_count(&fx, tenant, "sent", 2, 10) < 0)
		fail_msg("the parked reply was not sent within 10 s (sent: %ld)",
		         fx_count(&fx, tenant, "sent"));
	reqs = fx_mock_requests_for(&fx, "/100009/messages");
	assert_int_equal(json_array_size(reqs), 1);
	assert_string_equal(fx_req_text(json_array_get(reqs, 0), buf, sizeof(buf)), "second");
	json_decref(reqs);
	harness_stop(&h);
	free(first);
	free(second);
	free(conv);
	free(chan);
	free(tenant);
}

static void test_rate_limited(void **state)
{
	const char *env[] = {"CCGW_DISPATCH_BACKOFF_MS=100", "CCGW_WHATSAPP_RECIPIENT_RATE=50",
	                     NULL};
	char *tenant = fx_tenant(&fx, "ratelimited"), *chan = fx_wa_channel(&fx, tenant, "100429");
	char *convs[1], *chats[1], *m;
	struct harness h;
	json_t *reqs, *r;
	size_t i;
	double last429 = 0;
	int n429 = 0;

	(void)state;
	fx_mock_rules(&fx, "[{\"match\": \"/100429/\", \"times\": 3, \"status\": 429,"
	                   " \"headers\": {\"Retry-After\": \"1\"},"
	                   " \"body\": {\"error\": {\"message\": \"Too many requests\", \"type\": "
	                   "\"Throttling\"}}}]");
	fx_conversations(&fx, tenant, chan, "25470429", 1, convs, chats);
	harness_start(&h, env);
	fx_replies_bulk(&fx, tenant, chan, convs, chats, 1, 3, "rl");
	if (fx_wait_count(&fx, tenant, "sent", 3, 30) < 0)
		fail_msg("only %ld of 3 sent", fx_count(&fx, tenant, "sent"));
	reqs = fx_mock_requests_for(&fx, "/100429/messages");
	assert_int_equal(json_array_size(reqs), 6);
	json_array_foreach(reqs, i, r)
	{
		double t = json_real_value(json_object_get(r, "t"));

		if (last429 > 0 && t - last429 < 1.0)
			fail_msg("request %zu came %.3f s after a 429 that asked for 1 s", i,
			         t - last429);
		if (json_integer_value(json_object_get(r, "status")) == 429) {
			last429 = t;
			n429++;
		} else {
			last429 = 0;
		}
	}
	assert_int_equal(n429, 3);
	assert_int_equal(fx_assert_in_order(reqs, "rl", 3), 1);
	/* a rate limit is a pause, not a failure: no attempt of the budget was used up */
	assert_int_equal(fx_ql(&fx, tenant, "SELECT max(attempts) FROM outbox", 0, NULL), 1);
	m = metrics_text(&h);
	assert_non_null(strstr(m, "ccgw_dispatch_rate_limit_pauses_total{scope=\"channel\"} 3\n"));
	free(m);
	json_decref(reqs);
	harness_stop(&h);
	fx_strings_free(convs, 1);
	fx_strings_free(chats, 1);
	free(tenant);
	free(chan);
}

/* Wall-clock seconds, as the mock's "t" (time.time()). */
static double fx_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The shopper waiting at the phone: Meta answers the first four sends of a reply with 429,
 * two asking for 1 s (Retry-After), two naming no wait. The reply arrives within 10 s of
 * being written, with the default retry settings; no send comes sooner than asked; the
 * pauses use up none of the attempts. */
static void test_reply_through_four_429s(void **state)
{
	char *tenant = fx_tenant(&fx, "fast429"), *chan = fx_wa_channel(&fx, tenant, "100430");
	char *convs[1], *chats[1];
	struct harness h;
	json_t *reqs, *r;
	size_t i;
	double t_written, t_sent = 0, prev = 0;
	long prev_status = 0;
	const char *prev_ra = NULL;

	(void)state;
	fx_mock_rules(&fx,
	              "[{\"match\": \"/100430/\", \"times\": 2, \"status\": 429,"
	              " \"headers\": {\"Retry-After\": \"1\"},"
	              " \"body\": {\"error\": {\"message\": \"Too many requests\"}}},"
	              " {\"match\": \"/100430/\", \"times\": 2, \"status\": 429,"
	              " \"body\": {\"error\": {\"message\": \"Too many requests\"}}}]");
	fx_conversations(&fx, tenant, chan, "25470430", 1, convs, chats);
	harness_start(&h, NULL); /* the defaults, as shipped */
	t_written = fx_now_s();
	free(fx_reply(&fx, tenant, convs[0], chan, chats[0], "karibu"));
	if (fx_wait_count(&fx, tenant, "sent", 1, 15) < 0)
		fail_msg("the reply was not sent");
	reqs = fx_mock_requests_for(&fx, "/100430/messages");
	assert_int_equal(json_array_size(reqs), 5);
	json_array_foreach(reqs, i, r)
	{
		double t = json_real_value(json_object_get(r, "t"));
		long st = (long)json_integer_value(json_object_get(r, "status"));

		printf("  send %zu at %.3f s: %ld\n", i, t - t_written, st);
		if (prev_status == 429 && prev_ra && t - prev < 1.0)
			fail_msg("send %zu came %.3f s after a 429 that asked for 1 s", i, t - prev);
		prev_ra = i < 2 ? "1" : NULL;
		prev_status = st;
		prev = t;
		if (st == 200)
			t_sent = t;
	}
	assert_true(t_sent > 0);
	printf("four 429s: the reply reached the shopper %.2f s after it was written\n",
	       t_sent - t_written);
	if (t_sent - t_written >= 10.0)
		fail_msg("the reply reached the shopper %.1f s after it was written", t_sent - t_written);
	assert_int_equal(fx_ql(&fx, tenant, "SELECT attempts FROM outbox", 0, NULL), 1);
	json_decref(reqs);
	harness_stop(&h);
	fx_strings_free(convs, 1);
	fx_strings_free(chats, 1);
	free(tenant);
	free(chan);
}

/* Two dispatching processes on one database (two dispatchers here, each with its own
 * heartbeat row): together they keep a channel's configured rate, not twice it. */
static void test_rate_shared_by_processes(void **state)
{
	/* each holds at most 4 rows, so both have work all along */
	const char *env[] = {"CCGW_WHATSAPP_RATE=4", "CCGW_WHATSAPP_RECIPIENT_RATE=100",
	                     "CCGW_DISPATCH_WORKERS=1", "CCGW_DISPATCH_INFLIGHT=4", NULL};
	char *tenant = fx_tenant(&fx, "sharedrate"), *chan = fx_wa_channel(&fx, tenant, "100777");
	char *convs[32], *chats[32];
	struct harness h1, h2;
	json_t *reqs;
	double first, last, rate;
	size_t n;

	(void)state;
	fx_conversations(&fx, tenant, chan, "25470777", 32, convs, chats);
	harness_start(&h1, env);
	harness_start(&h2, env);
	/* both heartbeats seen by both (every 2 s) */
	fx_sleep_ms(2600);
	assert_int_equal(fx_ql(&fx, NULL, "SELECT count(*) FROM dispatchers"
	                                  " WHERE seen_at > now() - interval '10 seconds'", 0, NULL),
	                 2);
	fx_replies_bulk(&fx, tenant, chan, convs, chats, 32, 1, "sh");
	if (fx_wait_count(&fx, tenant, "sent", 32, 40) < 0)
		fail_msg("only %ld of 32 sent", fx_count(&fx, tenant, "sent"));
	reqs = fx_mock_requests_for(&fx, "/100777/messages");
	n = json_array_size(reqs);
	assert_int_equal(n, 32);
	first = json_real_value(json_object_get(json_array_get(reqs, 0), "t"));
	last = json_real_value(json_object_get(json_array_get(reqs, n - 1), "t"));
	/* each starts with a full bucket of 2 (its half of 4/s): the other 28 at 4/s together */
	rate = (double)(n - 4) / (last - first);
	printf("two processes, whatsapp_rate 4/s: %zu sends at %.2f/s after the first burst\n", n,
	       rate);
	if (rate > 4.0 * 1.25)
		fail_msg("two processes sent at %.2f/s together, over the 4/s configured", rate);
	json_decref(reqs);
	harness_stop(&h2);
	/* the stopped one removed its row: the other takes the whole rate again */
	assert_int_equal(fx_ql(&fx, NULL, "SELECT count(*) FROM dispatchers", 0, NULL), 1);
	harness_stop(&h1);
	fx_strings_free(convs, 32);
	fx_strings_free(chats, 32);
	free(tenant);
	free(chan);
}

/* A 503 and a timeout: retried with backoff and delivered, in order. */
static void test_retry_5xx_and_timeout(void **state)
{
	const char *env[] = {"CCGW_DISPATCH_BACKOFF_MS=100", "CCGW_DISPATCH_TIMEOUT_MS=500",
	                     "CCGW_WHATSAPP_RECIPIENT_RATE=50", NULL};
	char *tenant = fx_tenant(&fx, "retries"), *chan = fx_wa_channel(&fx, tenant, "100503");
	char *convs[2], *chats[2];
	struct harness h;
	json_t *reqs;

	(void)state;
	fx_mock_rules(&fx, "[{\"match\": \"rt1-2\", \"times\": 2, \"status\": 503},"
	                   " {\"match\": \"rt2-3\", \"times\": 1, \"delay_ms\": 1500}]");
	fx_conversations(&fx, tenant, chan, "25470503", 2, convs, chats);
	harness_start(&h, env);
	fx_replies_bulk(&fx, tenant, chan, convs, chats, 2, 5, "rt");
	if (fx_wait_count(&fx, tenant, "sent", 10, 30) < 0)
		fail_msg("only %ld of 10 sent", fx_count(&fx, tenant, "sent"));
	reqs = fx_mock_requests_for(&fx, "/100503/messages");
	assert_int_equal(fx_assert_in_order(reqs, "rt", 5), 2);
	/* 503 twice: the third attempt went through; the timed-out one on the second */
	assert_int_equal(fx_ql(&fx, tenant,
	                       "SELECT attempts FROM outbox WHERE payload->>'text' = 'rt1-2'", 0,
	                       NULL),
	                 3);
	assert_int_equal(fx_ql(&fx, tenant,
	                       "SELECT attempts FROM outbox WHERE payload->>'text' = 'rt2-3'", 0,
	                       NULL),
	                 2);
	/* the timed-out request reached the mock: at least once means it went twice */
	assert_int_equal(json_array_size(reqs), 13);
	json_decref(reqs);
	harness_stop(&h);
	fx_strings_free(convs, 2);
	fx_strings_free(chats, 2);
	free(tenant);
	free(chan);
}

/* A permanent error fails that message once, with an event; the conversation goes on. */
static void test_permanent_failure(void **state)
{
	const char *env[] = {"CCGW_WHATSAPP_RECIPIENT_RATE=50", NULL};
	char *tenant = fx_tenant(&fx, "permanent"), *chan = fx_wa_channel(&fx, tenant, "100400");
	char *convs[1], *chats[1], *err, *ev;
	struct harness h;
	json_t *reqs;
	char buf[64];
	size_t i;
	int saw2 = 0, saw3 = 0;

	(void)state;
	fx_mock_rules(
	    &fx, "[{\"match\": \"pf1-2\", \"status\": 400, \"body\": {\"error\": {\"message\":"
	         " \"Re-engagement message\", \"type\": \"OAuthException\", \"code\": 131047}}}]");
	fx_conversations(&fx, tenant, chan, "25470400", 1, convs, chats);
	harness_start(&h, env);
	fx_replies_bulk(&fx, tenant, chan, convs, chats, 1, 3, "pf");
	if (fx_wait_count(&fx, tenant, "sent", 2, 30) < 0 ||
	    fx_wait_count(&fx, tenant, "failed", 1, 10) < 0)
		fail_msg("sent %ld, failed %ld", fx_count(&fx, tenant, "sent"),
		         fx_count(&fx, tenant, "failed"));
	err = fx_q(&fx, tenant,
	           "SELECT last_error || ' #' || attempts || ' code ' || error_code FROM outbox"
	           " WHERE status = 'failed'",
	           0, NULL);
	assert_non_null(strstr(err, "131047"));
	assert_non_null(strstr(err, "#1 code 131047"));
	ev = fx_q(&fx, tenant,
	          "SELECT payload->>'status' || ' ' || (payload->>'error') FROM conversation_events"
	          " WHERE event_type = 'message_failed'",
	          0, NULL);
	assert_non_null(strstr(ev, "failed "));
	assert_non_null(strstr(ev, "131047"));
	reqs = fx_mock_requests_for(&fx, "/100400/messages");
	assert_int_equal(json_array_size(reqs), 3); /* not retried */
	for (i = 0; i < json_array_size(reqs); i++) {
		const char *t = fx_req_text(json_array_get(reqs, i), buf, sizeof(buf));

		if (t && strcmp(t, "pf1-2") == 0)
			saw2 = (int)i + 1;
		if (t && strcmp(t, "pf1-3") == 0)
			saw3 = (int)i + 1;
	}
	assert_true(saw2 > 0 && saw3 > saw2);
	free(err);
	free(ev);
	json_decref(reqs);
	harness_stop(&h);
	fx_strings_free(convs, 1);
	fx_strings_free(chats, 1);
	free(tenant);
	free(chan);
}

/* Refused credentials: the message fails and the channel is marked unhealthy (in /metrics too). */
static void test_auth_invalid(void **state)
{
	const char *env[] = {NULL};
	char *tenant = fx_tenant(&fx, "authbad"), *chan = fx_wa_channel(&fx, tenant, "100401");
	char *conv = fx_conversation(&fx, tenant, chan, "254700401"), *health, *m;
	const char *p[1] = {chan};
	struct harness h;

	(void)state;
	fx_mock_rules(
	    &fx,
	    "[{\"match\": \"/100401/\", \"status\": 401, \"body\": {\"error\": {\"message\":"
	    " \"Error validating access token\", \"type\": \"OAuthException\", \"code\": 190}}}]");
	harness_start(&h, env);
	free(fx_reply(&fx, tenant, conv, chan, "254700401", "hello"));
	if (fx_wait_count(&fx, tenant, "failed", 1, 20) < 0)
		fail_msg("the row did not fail");
	health = fx_q(&fx, tenant,
	              "SELECT status || ': ' || health_error FROM channels WHERE id = $1", 1, p);
	assert_non_null(strstr(health, "unhealthy: "));
	assert_non_null(strstr(health, "190"));
	/* /metrics learns of it within the gauge refresh (5 s), as a count by type: it names no
	 * tenant's channel */
	m = metrics_wait(&h, "ccgw_channels{type=\"whatsapp\",status=\"unhealthy\"} 1");
	assert_non_null(m);
	assert_null(strstr(m, chan));
	free(m);
	harness_stop(&h);
	free(health);
	free(conv);
	free(tenant);
	free(chan);
}

/* After the last attempt a row is dead, with its last error and an event. */
static void test_dead_after_max_attempts(void **state)
{
	const char *env[] = {"CCGW_DISPATCH_BACKOFF_MS=50", "CCGW_DISPATCH_MAX_ATTEMPTS=3", NULL};
	char *tenant = fx_tenant(&fx, "dead"), *chan = fx_wa_channel(&fx, tenant, "100500");
	char *conv = fx_conversation(&fx, tenant, chan, "254700500"), *err, *ev, *m;
	struct harness h;
	json_t *reqs;

	(void)state;
	fx_mock_rules(&fx, "[{\"match\": \"/100500/\", \"status\": 500}]");
	harness_start(&h, env);
	free(fx_reply(&fx, tenant, conv, chan, "254700500", "doomed"));
	if (fx_wait_count(&fx, tenant, "dead", 1, 20) < 0)
		fail_msg("the row is not dead");
	err = fx_q(&fx, tenant, "SELECT attempts || ' ' || last_error FROM outbox", 0, NULL);
	assert_non_null(strstr(err, "3 "));
	assert_non_null(strstr(err, "gave up after 3 attempts"));
	ev = fx_q(&fx, tenant,
	          "SELECT payload->>'status' FROM conversation_events WHERE event_type = "
	          "'message_failed'",
	          0, NULL);
	assert_string_equal(ev, "dead");
	reqs = fx_mock_requests_for(&fx, "/100500/messages");
	assert_int_equal(json_array_size(reqs), 3);
	json_decref(reqs);
	/* the outbox's depth in /metrics (every tenant's, refreshed every 5 s) counts it: the
	 * first dead row of this suite, read through the problems' partial index (sql/105) */
	m = metrics_wait(&h, "ccgw_outbox_depth{status=\"dead\"} 1\n");
	assert_non_null(m);
	assert_non_null(strstr(m, "ccgw_outbox_depth{status=\"pending\"} "));
	free(m);
	harness_stop(&h);
	free(err);
	free(ev);
	free(conv);
	free(tenant);
	free(chan);
}

/* A reply that cannot be sent (a Telegram channel whose config has no bot token) fails with
 * a clear error, never dropped silently. Replies of channels that deliver locally (the
 * console's terminal, the web chat's sockets) are not the dispatcher's at all: they are left
 * pending, parked for good, for the process that holds the shopper's end. */
static void test_no_adapter(void **state)
{
	const char *env[] = {NULL};
	char *tenant = fx_tenant(&fx, "noadapter"),
	     *chan = fx_channel(&fx, tenant, "telegram", "4242"),
	     *cons = fx_channel(&fx, tenant, "console", "console-1"),
	     *web = fx_channel(&fx, tenant, "webchat", "webchat-1");
	char *conv = fx_conversation(&fx, tenant, chan, "4711"),
	     *cconv = fx_conversation(&fx, tenant, cons, "local"),
	     *wconv = fx_conversation(&fx, tenant, web, "session-1"), *err, *cid, *wid;
	struct harness h;

	(void)state;
	harness_start(&h, env);
	cid = fx_reply(&fx, tenant, cconv, cons, "local", "for the console");
	wid = fx_reply(&fx, tenant, wconv, web, "session-1", "for the web chat");
	free(fx_reply(&fx, tenant, conv, chan, "4711", "hi"));
	if (fx_wait_count(&fx, tenant, "failed", 1, 20) < 0)
		fail_msg("the row did not fail");
	err = fx_q(&fx, tenant, "SELECT last_error FROM outbox WHERE status = 'failed'", 0, NULL);
	assert_non_null(strstr(err, "bot_token"));
	free(err);
	/* the local rows were looked at in the same claims and left to their channels */
	err = fx_q(&fx, tenant,
	           "SELECT status || '|' || attempts || '|' || (next_attempt_at = 'infinity')"
	           " FROM outbox WHERE id = $1",
	           1, (const char *const[]){cid});
	assert_string_equal(err, "pending|0|true");
	free(err);
	err = fx_q(&fx, tenant,
	           "SELECT status || '|' || attempts || '|' || (next_attempt_at = 'infinity')"
	           " FROM outbox WHERE id = $1",
	           1, (const char *const[]){wid});
	assert_string_equal(err, "pending|0|true");
	harness_stop(&h);
	free(err);
	free(cid);
	free(wid);
	free(cconv);
	free(wconv);
	free(cons);
	free(web);
	free(conv);
	free(tenant);
	free(chan);
}

/* Webhooks: signed over the exact body; a receiver that rejects the signature gets no retry,
 * a 410 deactivates the target, a 5xx is retried. */
/* The send-time SSRF check: a target whose URL reaches a loopback address (as after a DNS
 * change since it was set) is never called without webhook_allow_private: the row fails
 * permanently, naming the address, and the receiver hears nothing. */
static void test_webhook_to_private_address_refused(void **state)
{
	const char *env[] = {"CCGW_DISPATCH_BACKOFF_MS=100", NULL};
	char *tenant = fx_tenant(&fx, "ssrf"), url[128], *target, *err;
	struct harness h;
	json_t *reqs, *r;
	size_t i;

	(void)state;
	snprintf(url, sizeof(url), "%s/hook/inside", fx.mock_url);
	target = fx_webhook_target(&fx, tenant, url, "s3cret");
	harness_start(&h, env);
	free(fx_webhook(&fx, tenant, target, url, "evt-ssrf-1"));
	if (fx_wait_count(&fx, tenant, "failed", 1, 10) < 0)
		fail_msg("the row to a loopback URL did not fail");
	err = fx_q(&fx, tenant, "SELECT last_error || ' / ' || attempts FROM outbox LIMIT 1", 0, NULL);
	assert_non_null(strstr(err, "127.0.0.1, a loopback address"));
	assert_non_null(strstr(err, " / 1")); /* permanent: no retries */
	free(err);
	reqs = fx_mock_requests(&fx);
	json_array_foreach(reqs, i, r)
		assert_null(strstr(json_string_value(json_object_get(r, "path")), "/hook/inside"));
	json_decref(reqs);
	harness_stop(&h);
	free(target);
	free(tenant);
}

static void test_webhooks(void **state)
{
	/* the receivers are local mocks */
	const char *env[] = {"CCGW_DISPATCH_BACKOFF_MS=100", "CCGW_WEBHOOK_ALLOW_PRIVATE=1", NULL};
	char *tenant = fx_tenant(&fx, "hooks"), url_good[128], url_bad[128], url_gone[128],
	     url_flaky[128];
	char *t_good, *t_bad, *t_gone, *t_flaky, *active, *err;
	const char *p[1];
	struct harness h;
	json_t *reqs, *r, *body, *want_order;
	size_t i;
	int good = 0;

	(void)state;
	snprintf(url_good, sizeof(url_good), "%s/hook/good", fx.mock_url);
	snprintf(url_bad, sizeof(url_bad), "%s/hook/bad", fx.mock_url);
	snprintf(url_gone, sizeof(url_gone), "%s/hook/gone", fx.mock_url);
	snprintf(url_flaky, sizeof(url_flaky), "%s/hook/flaky", fx.mock_url);
	fx_mock_secret(&fx, "/hook/good", "s3cret-good");
	fx_mock_secret(&fx, "/hook/bad", "what-the-receiver-expects");
	fx_mock_rules(&fx, "[{\"match\": \"/hook/gone\", \"status\": 410},"
	                   " {\"match\": \"/hook/flaky\", \"times\": 2, \"status\": 502}]");
	t_good = fx_webhook_target(&fx, tenant, url_good, "s3cret-good");
	t_bad = fx_webhook_target(&fx, tenant, url_bad, "s3cret-other");
	t_gone = fx_webhook_target(&fx, tenant, url_gone, "x");
	t_flaky = fx_webhook_target(&fx, tenant, url_flaky, "y");
	harness_start(&h, env);
	free(fx_webhook(&fx, tenant, t_good, url_good, "evt-0001"));
	free(fx_webhook(&fx, tenant, t_good, url_good, "evt-0002"));
	free(fx_webhook(&fx, tenant, t_bad, url_bad, "evt-0003"));
	free(fx_webhook(&fx, tenant, t_gone, url_gone, "evt-0004"));
	free(fx_webhook(&fx, tenant, t_flaky, url_flaky, "evt-0005"));
	if (fx_wait_count(&fx, tenant, "sent", 3, 20) < 0 ||
	    fx_wait_count(&fx, tenant, "failed", 2, 10) < 0)
		fail_msg("sent %ld failed %ld", fx_count(&fx, tenant, "sent"),
		         fx_count(&fx, tenant, "failed"));
	reqs = fx_mock_requests(&fx);
	want_order = json_pack("{s:i, s:s, s:s}", "order_number", 1001, "status", "pending", "note",
	                       "caf\u00e9 \"quoted\" <b>");
	json_array_foreach(reqs, i, r)
	{
		const char *path = json_string_value(json_object_get(r, "path"));
		json_t *hd = json_object_get(r, "headers");

		if (strcmp(path, "/hook/good") != 0)
			continue;
		good++;
		/* the receiver checked X-CCGW-Signature against its secret over the raw body */
		assert_true(json_is_true(json_object_get(r, "sig_ok")));
		body = json_loads(json_string_value(json_object_get(r, "body")), 0, NULL);
		assert_non_null(body);
		assert_string_equal(json_string_value(json_object_get(hd, "x-ccgw-event-id")),
		                    json_string_value(json_object_get(body, "event_id")));
		assert_string_equal(json_string_value(json_object_get(hd, "content-type")),
		                    "application/json");
		assert_string_equal(json_string_value(json_object_get(body, "event")),
		                    "order.placed");
		assert_string_equal(json_string_value(json_object_get(body, "tenant_id")), tenant);
		assert_true(json_equal(json_object_get(body, "order"), want_order));
		json_decref(body);
	}
	assert_int_equal(good, 2);
	json_array_foreach(
	    reqs, i, r) if (strcmp(json_string_value(json_object_get(r, "path")), "/hook/bad") == 0)
	    assert_true(json_is_false(json_object_get(r, "sig_ok")));
	err =
	    fx_q(&fx, tenant,
	         "SELECT last_error FROM outbox WHERE payload->>'event_id' = 'evt-0003'", 0, NULL);
	assert_non_null(strstr(err, "401"));
	free(err);
	p[0] = t_gone;
	active =
	    fx_q(&fx, tenant, "SELECT active::text FROM notification_targets WHERE id = $1", 1, p);
	assert_string_equal(active, "false");
	free(active);
	assert_int_equal(fx_ql(&fx, tenant,
	                       "SELECT attempts FROM outbox WHERE payload->>'event_id' = 'evt-0005'"
	                       " AND status = 'sent'",
	                       0, NULL),
	                 3);
	json_decref(want_order);
	json_decref(reqs);
	harness_stop(&h);
	free(t_good);
	free(t_bad);
	free(t_gone);
	free(t_flaky);
	free(tenant);
}

static int reset_mock(void **state)
{
	(void)state;
	fx_mock_reset(&fx);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_ordered_delivery, reset_mock),
	    cmocka_unit_test_setup(test_parked_behind_a_missed_finish, reset_mock),
	    cmocka_unit_test_setup(test_rate_limited, reset_mock),
	    cmocka_unit_test_setup(test_reply_through_four_429s, reset_mock),
	    cmocka_unit_test_setup(test_rate_shared_by_processes, reset_mock),
	    cmocka_unit_test_setup(test_retry_5xx_and_timeout, reset_mock),
	    cmocka_unit_test_setup(test_permanent_failure, reset_mock),
	    cmocka_unit_test_setup(test_auth_invalid, reset_mock),
	    cmocka_unit_test_setup(test_dead_after_max_attempts, reset_mock),
	    cmocka_unit_test_setup(test_no_adapter, reset_mock),
	    cmocka_unit_test_setup(test_webhooks, reset_mock),
	    cmocka_unit_test_setup(test_webhook_to_private_address_refused, reset_mock),
	};
	int rc;

	fx_setup(&fx, "dispatch_flow");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	fx_teardown(&fx);
	return rc;
}
