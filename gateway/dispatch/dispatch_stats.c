/*
 * dispatch_stats.c: the dispatcher's counters, its send latency histogram and the gauges the
 * listener thread refreshes from the database (outbox depth by status, channels by health),
 * written as Prometheus text for /metrics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch_internal.h"

static const double hist_bounds[DISPATCH_HIST_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                          0.5,   1,    2.5,   5,    10,  30};

static const char *const verdict_names[6] = {"sent",      "retry",        "rate_limited",
                                             "permanent", "auth_invalid", "no_answer"};
static const char *const result_names[DISPATCH_RES_COUNT] = {
    "none", "sent", "retry", "failed", "dead", "undeliverable", "released"};
static const char *const depth_names[DEPTH_COUNT] = {"pending", "sending", "failed", "dead",
                                                     "undeliverable"};

void dispatch_stats_init(struct dispatch_stats *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
}

void dispatch_stats_clear(struct dispatch_stats *s)
{
	s->nhealth = 0;
	pthread_mutex_destroy(&s->lock);
}

void dispatch_stats_observe_send(struct dispatch_stats *s, double seconds, long http_status,
                                 int verdict)
{
	size_t b;

	if (http_status == 0)
		verdict = 5;
	if (verdict >= 0 && verdict < 6)
		atomic_fetch_add(&s->verdicts[verdict], 1);
	pthread_mutex_lock(&s->lock);
	for (b = 0; b < DISPATCH_HIST_BUCKETS; b++)
		if (seconds <= hist_bounds[b])
			s->hist[b]++;
	s->hist_count++;
	s->hist_sum += seconds;
	pthread_mutex_unlock(&s->lock);
}

void dispatch_stats_write(struct dispatch_stats *s, struct ratelimit *rl, int64_t now_ms,
                          struct sbuf *out)
{
	size_t i;

	sbuf_puts(out,
	          "# HELP ccgw_outbox_depth Outbox rows by status (sent rows are not counted).\n"
	          "# TYPE ccgw_outbox_depth gauge\n");
	pthread_mutex_lock(&s->lock);
	if (s->depth_known)
		for (i = 0; i < DEPTH_COUNT; i++)
			sbuf_printf(out, "ccgw_outbox_depth{status=\"%s\"} %lld\n", depth_names[i],
			            s->depth[i]);
	sbuf_puts(out, "# HELP ccgw_dispatch_send_duration_seconds Time of one outbound request, "
	               "sent to answered.\n"
	               "# TYPE ccgw_dispatch_send_duration_seconds histogram\n");
	for (i = 0; i < DISPATCH_HIST_BUCKETS; i++)
		sbuf_printf(out, "ccgw_dispatch_send_duration_seconds_bucket{le=\"%g\"} %llu\n",
		            hist_bounds[i], s->hist[i]);
	sbuf_printf(out, "ccgw_dispatch_send_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
	            s->hist_count);
	sbuf_printf(out, "ccgw_dispatch_send_duration_seconds_sum %.6f\n", s->hist_sum);
	sbuf_printf(out, "ccgw_dispatch_send_duration_seconds_count %llu\n", s->hist_count);
	sbuf_puts(out, "# HELP ccgw_channels Channels by type and health status.\n"
	               "# TYPE ccgw_channels gauge\n");
	for (i = 0; i < s->nhealth; i++)
		sbuf_printf(out, "ccgw_channels{type=\"%s\",status=\"%s\"} %lld\n",
		            s->health[i].type, s->health[i].status, s->health[i].n);
	/* no channel ids here: /metrics names no tenant's objects (GET /api/v1/channels shows
	 * each channel's health to its own tenant) */
	pthread_mutex_unlock(&s->lock);
	sbuf_puts(out, "# HELP ccgw_dispatch_requests_total Outbound requests by how the "
	               "platform's answer was classified.\n"
	               "# TYPE ccgw_dispatch_requests_total counter\n");
	for (i = 0; i < 6; i++)
		sbuf_printf(out, "ccgw_dispatch_requests_total{verdict=\"%s\"} %llu\n",
		            verdict_names[i], (unsigned long long)atomic_load(&s->verdicts[i]));
	sbuf_puts(out, "# HELP ccgw_dispatch_rows_total Outbox row attempts by outcome (retry = "
	               "will be tried again).\n"
	               "# TYPE ccgw_dispatch_rows_total counter\n");
	for (i = 1; i < DISPATCH_RES_COUNT; i++)
		sbuf_printf(out, "ccgw_dispatch_rows_total{outcome=\"%s\"} %llu\n", result_names[i],
		            (unsigned long long)atomic_load(&s->results[i]));
	sbuf_printf(
	    out,
	    "# HELP ccgw_dispatch_retries_total Attempts that failed and were scheduled again.\n"
	    "# TYPE ccgw_dispatch_retries_total counter\n"
	    "ccgw_dispatch_retries_total %llu\n",
	    (unsigned long long)atomic_load(&s->results[DISPATCH_RES_RETRY]));
	sbuf_printf(out,
	            "# HELP ccgw_dispatch_rate_limit_pauses_total Pauses a platform asked for (429 "
	            "and rate-limit codes).\n"
	            "# TYPE ccgw_dispatch_rate_limit_pauses_total counter\n"
	            "ccgw_dispatch_rate_limit_pauses_total{scope=\"channel\"} %llu\n"
	            "ccgw_dispatch_rate_limit_pauses_total{scope=\"recipient\"} %llu\n",
	            (unsigned long long)atomic_load(&s->pauses_channel),
	            (unsigned long long)atomic_load(&s->pauses_recipient));
	sbuf_printf(out,
	            "# HELP ccgw_dispatch_paused Channels and recipients paused right now.\n"
	            "# TYPE ccgw_dispatch_paused gauge\n"
	            "ccgw_dispatch_paused %zu\n",
	            rl ? ratelimit_paused_count(rl, now_ms) : (size_t)0);
	sbuf_printf(out,
	            "# HELP ccgw_dispatch_claimed_rows_total Outbox rows claimed by this process.\n"
	            "# TYPE ccgw_dispatch_claimed_rows_total counter\n"
	            "ccgw_dispatch_claimed_rows_total %llu\n",
	            (unsigned long long)atomic_load(&s->claimed_rows));
	sbuf_printf(out,
	            "# HELP ccgw_dispatch_db_errors_total Dispatcher statements that failed.\n"
	            "# TYPE ccgw_dispatch_db_errors_total counter\n"
	            "ccgw_dispatch_db_errors_total %llu\n",
	            (unsigned long long)atomic_load(&s->db_errors));
}
