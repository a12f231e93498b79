/*
 * test_dispatch_unit.c: the dispatcher's pieces that need no database: token buckets (rate,
 * burst, all-or-none takes, pauses and their end), the retry schedule (growth, jitter bounds,
 * the whole span of 8 attempts), and the webhook request (signature over the exact body,
 * headers) with the classification of receivers' answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"
#include "dispatch_internal.h"
#include "ratelimit.h"
#include "util.h"

static void test_bucket_rate_and_burst(void **state)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_spec s = {"wa:chan", 10, 3};
	int64_t t = 1000, w;
	int i;

	(void)state;
	assert_non_null(rl);
	for (i = 0; i < 3; i++) /* a full bucket: the burst goes at once */
		assert_int_equal(ratelimit_take(rl, &s, 1, t), 0);
	w = ratelimit_take(rl, &s, 1, t);
	assert_true(w > 0 && w <= 101); /* one token per 100 ms */
	assert_true(ratelimit_take(rl, &s, 1, t + 50) > 0);
	assert_int_equal(ratelimit_take(rl, &s, 1, t + 101), 0);
	/* over one simulated second at most rate + burst sends pass */
	{
		int sent = 0;
		int64_t now;

		for (now = 2000; now < 3000; now += 5)
			if (ratelimit_take(rl, &s, 1, now) == 0)
				sent++;
		assert_true(sent >= 10 && sent <= 13);
	}
	ratelimit_free(rl);
}

static void test_bucket_all_or_none(void **state)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_spec both[2] = {{"ch", 100, 100}, {"ch:alice", 1, 1}};
	struct ratelimit_spec bob[2] = {{"ch", 100, 100}, {"ch:bob", 1, 1}};
	int i, sent = 0;

	(void)state;
	assert_int_equal(ratelimit_take(rl, both, 2, 0), 0);
	/* alice is empty: nothing is taken from the channel either */
	for (i = 0; i < 50; i++)
		assert_true(ratelimit_take(rl, both, 2, 0) > 0);
	/* the channel still has 99 tokens for bob and others */
	assert_int_equal(ratelimit_take(rl, bob, 2, 0), 0);
	for (i = 0; i < 200; i++) {
		char key[32];
		struct ratelimit_spec other[2] = {{"ch", 100, 100}, {key, 1, 1}};

		snprintf(key, sizeof(key), "ch:%d", i);
		if (ratelimit_take(rl, other, 2, 0) == 0)
			sent++;
	}
	assert_int_equal(sent, 98);
	ratelimit_free(rl);
}

static void test_bucket_pause(void **state)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_spec s = {"tg:bot", 30, 30}, other = {"tg:other", 30, 30};
	int64_t w;

	(void)state;
	assert_int_equal(ratelimit_pause(rl, &s, 5000, 1000), 0);
	assert_int_equal(ratelimit_paused_until(rl, "tg:bot", 1000), 5000);
	assert_int_equal(ratelimit_paused_count(rl, 1000), 1);
	w = ratelimit_take(rl, &s, 1, 1000);
	assert_int_equal(w, 4000); /* exactly the time asked for */
	assert_true(ratelimit_take(rl, &s, 1, 4999) > 0);
	/* another key is not held back */
	assert_int_equal(ratelimit_take(rl, &other, 1, 1000), 0);
	/* an earlier pause does not shorten a later one */
	assert_int_equal(ratelimit_pause(rl, &s, 3000, 1000), 0);
	assert_int_equal(ratelimit_paused_until(rl, "tg:bot", 1000), 5000);
	/* at the end one token, not a whole burst */
	assert_int_equal(ratelimit_take(rl, &s, 1, 5000), 0);
	assert_true(ratelimit_take(rl, &s, 1, 5000) > 0);
	assert_int_equal(ratelimit_paused_count(rl, 5000), 0);
	ratelimit_free(rl);
}

/* Rate limits in a row without a named wait: one strike per pause (answers to sends that were
 * under way when the pause began do not count again); a send that goes through forgives. */
static void test_bucket_strikes(void **state)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_spec s = {"wa:ch", 80, 80};

	(void)state;
	assert_int_equal(ratelimit_strike(rl, &s, 1000), 1);
	assert_int_equal(ratelimit_pause(rl, &s, 1500, 1000), 0);
	/* nine more 429s for sends already in flight, during the pause: still one */
	for (int i = 0; i < 9; i++)
		assert_int_equal(ratelimit_strike(rl, &s, 1100 + i), 1);
	/* after the pause, the next 429 is the second in a row */
	assert_int_equal(ratelimit_strike(rl, &s, 1600), 2);
	ratelimit_forgive(rl, &s, 1);
	assert_int_equal(ratelimit_strike(rl, &s, 1700), 1);
	ratelimit_free(rl);
}

static void test_bucket_gc(void **state)
{
	struct ratelimit *rl = ratelimit_new();
	char key[32];
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) { /* the table grows past its first size */
		struct ratelimit_spec s = {key, 1, 3};

		snprintf(key, sizeof(key), "wa:c:%d", i);
		assert_int_equal(ratelimit_take(rl, &s, 1, 0), 0);
	}
	assert_int_equal(ratelimit_size(rl), 1000);
	{
		struct ratelimit_spec p = {"wa:c:7", 1, 3};

		assert_int_equal(ratelimit_pause(rl, &p, 60000, 0), 0);
	}
	ratelimit_gc(rl, 500); /* not refilled yet */
	assert_int_equal(ratelimit_size(rl), 1000);
	ratelimit_gc(rl, 10000); /* full again, except the paused one */
	assert_int_equal(ratelimit_size(rl), 1);
	assert_int_equal(ratelimit_paused_until(rl, "wa:c:7", 10000), 60000);
	ratelimit_free(rl);
}

static void test_backoff_schedule(void **state)
{
	int64_t total = 0, d;
	int a;

	(void)state;
	/* no jitter (0.5 is the middle): 3 s, 9 s, 27 s, ... */
	assert_int_equal(backoff_delay_ms(3000, 1, 0.5), 3000);
	assert_int_equal(backoff_delay_ms(3000, 2, 0.5), 9000);
	assert_int_equal(backoff_delay_ms(3000, 3, 0.5), 27000);
	/* the 7 waits between 8 attempts: about an hour */
	for (a = 1; a < 8; a++)
		total += backoff_delay_ms(3000, a, 0.5);
	assert_true(total >= 50 * 60 * 1000 && total <= 65 * 60 * 1000);
	/* jitter stays within +-20% */
	for (a = 0; a < 1000; a++) {
		d = backoff_delay_ms(1000, 2, backoff_random01());
		assert_true(d >= 2400 && d <= 3600);
	}
	assert_int_equal(backoff_delay_ms(1000, 2, 0.0), 2400);
	/* a ceiling, no overflow for silly attempt counts */
	assert_true(backoff_delay_ms(3000, 100, 0.999) <= BACKOFF_MAX_MS);
	assert_true(backoff_delay_ms(3000, 100, 0.0) > 0);
}

/* Conversation replies: the first retry between a quarter of a second and one second, then
 * doubling, never past the cap (a shopper is waiting). */
static void test_backoff_reply_schedule(void **state)
{
	int64_t d;
	int a, i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		d = backoff_reply_delay_ms(500, 30000, 1, backoff_random01());
		assert_true(d >= 250 && d <= 1000);
		d = backoff_reply_delay_ms(500, 30000, 3, backoff_random01());
		assert_true(d >= 1000 && d <= 4000);
	}
	assert_int_equal(backoff_reply_delay_ms(500, 30000, 1, 0.0), 250);
	assert_int_equal(backoff_reply_delay_ms(500, 30000, 2, 0.0), 500);
	for (a = 1; a < 200; a++) {
		d = backoff_reply_delay_ms(500, 30000, a, 0.999);
		assert_true(d > 0 && d <= 30000);
	}
	assert_int_equal(backoff_reply_delay_ms(500, 30000, 50, 0.999), 30000);
}

static void test_backoff_random_spread(void **state)
{
	int buckets[10] = {0}, i;

	(void)state;
	for (i = 0; i < 10000; i++) {
		double r = backoff_random01();

		assert_true(r >= 0 && r < 1);
		buckets[(int)(r * 10)]++;
	}
	for (i = 0; i < 10; i++)
		assert_true(buckets[i] > 800 && buckets[i] < 1200);
}

static const char *header_value(const struct channel_request *r, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < r->nheaders; i++)
		if (strncmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
			return r->headers[i] + n + 2;
	return NULL;
}

static void test_webhook_signed(void **state)
{
	json_t *payload = json_pack("{s:s, s:s, s:s, s:{s:i}}", "event", "order.placed", "event_id",
	                            "4b0e2a53-8f43-4a51-a0a5-7f4b1a5b8d11", "tenant_id", "t-1",
	                            "order", "order_number", 1001);
	struct channel_request *reqs = NULL;
	size_t n = 0;
	char err[128], want[65], sig[80];

	(void)state;
	assert_int_equal(dispatch_webhook_render("http://127.0.0.1:9/hook", "s3cret", payload,
	                                         &reqs, &n, err, sizeof(err)),
	                 0);
	assert_int_equal(n, 1);
	assert_string_equal(reqs[0].url, "http://127.0.0.1:9/hook");
	/* compact, once: no spaces after separators */
	assert_null(strstr(reqs[0].body, ": "));
	assert_non_null(strstr(reqs[0].body, "\"order_number\":1001"));
	util_hmac_sha256_hex("s3cret", 6, reqs[0].body, strlen(reqs[0].body), want);
	snprintf(sig, sizeof(sig), "sha256=%s", want);
	assert_string_equal(header_value(&reqs[0], "X-CCGW-Signature"), sig);
	assert_string_equal(header_value(&reqs[0], "X-CCGW-Event-Id"),
	                    "4b0e2a53-8f43-4a51-a0a5-7f4b1a5b8d11");
	assert_string_equal(header_value(&reqs[0], "Content-Type"), "application/json");
	channel_requests_free(reqs, n);

	/* no secret, no url: refused with a reason, nothing to send */
	assert_true(dispatch_webhook_render("http://x/", "", payload, &reqs, &n, err, sizeof(err)) <
	            0);
	assert_non_null(strstr(err, "secret"));
	assert_true(dispatch_webhook_render("ftp://x/", "k", payload, &reqs, &n, err, sizeof(err)) <
	            0);
	assert_int_equal(n, 0);
	json_decref(payload);
}

static void test_webhook_classify(void **state)
{
	static const struct {
		long status;
		enum channel_verdict v;
	} cases[] = {
	    {200, CHANNEL_SENT},         {204, CHANNEL_SENT},      {0, CHANNEL_RETRY},
	    {500, CHANNEL_RETRY},        {503, CHANNEL_RETRY},     {408, CHANNEL_RETRY},
	    {429, CHANNEL_RATE_LIMITED}, {400, CHANNEL_PERMANENT}, {401, CHANNEL_PERMANENT},
	    {404, CHANNEL_PERMANENT},    {410, CHANNEL_PERMANENT}, {301, CHANNEL_PERMANENT},
	};
	struct channel_outcome oc;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dispatch_webhook_classify(cases[i].status, NULL, 0, &oc);
		assert_int_equal(oc.verdict, cases[i].v);
		if (cases[i].v != CHANNEL_SENT)
			assert_true(oc.error[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bucket_rate_and_burst),
	    cmocka_unit_test(test_bucket_all_or_none),
	    cmocka_unit_test(test_bucket_pause),
	    cmocka_unit_test(test_bucket_strikes),
	    cmocka_unit_test(test_bucket_gc),
	    cmocka_unit_test(test_backoff_schedule),
	    cmocka_unit_test(test_backoff_reply_schedule),
	    cmocka_unit_test(test_backoff_random_spread),
	    cmocka_unit_test(test_webhook_signed),
	    cmocka_unit_test(test_webhook_classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
