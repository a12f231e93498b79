/*
 * metrics.c: counters and a latency histogram for HTTP requests, kept in small fixed tables
 * under one mutex (a request costs one short lock).
 */
#include "metrics.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pg.h"

#define METRICS_MAX_SERIES 256
#define METRICS_MAX_INBOUND 32

static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
	const char *route;
	char method[8];
	int status;
	unsigned long long count;
};

struct hist {
	const char *route;
	unsigned long long counts[NBUCKETS];
	unsigned long long total;
	double sum;
};

struct inbound {
	char channel[16];
	char outcome[24];
	unsigned long long count;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct series series[METRICS_MAX_SERIES];
static size_t nseries;
static struct hist hists[METRICS_MAX_SERIES];
static size_t nhists;
static struct inbound inbounds[METRICS_MAX_INBOUND];
static size_t ninbounds;

void metrics_request_observe(const char *route, const char *method, int status, double seconds)
{
	size_t i, b;

	if (!route)
		route = "unmatched";
	pthread_mutex_lock(&lock);
	for (i = 0; i < nseries; i++)
		if (series[i].route == route && series[i].status == status &&
		    strcmp(series[i].method, method) == 0)
			break;
	if (i == nseries && nseries < METRICS_MAX_SERIES) {
		series[i].route = route;
		snprintf(series[i].method, sizeof(series[i].method), "%s", method);
		series[i].status = status;
		nseries++;
	}
	if (i < nseries)
		series[i].count++;
	for (i = 0; i < nhists; i++)
		if (hists[i].route == route)
			break;
	if (i == nhists && nhists < METRICS_MAX_SERIES) {
		hists[i].route = route;
		nhists++;
	}
	if (i < nhists) {
		for (b = 0; b < NBUCKETS; b++)
			if (seconds <= buckets[b])
				hists[i].counts[b]++;
		hists[i].total++;
		hists[i].sum += seconds;
	}
	pthread_mutex_unlock(&lock);
}

void metrics_inbound_observe(const char *channel, const char *outcome)
{
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < ninbounds; i++)
		if (strcmp(inbounds[i].channel, channel) == 0 && strcmp(inbounds[i].outcome, outcome) == 0)
			break;
	if (i == ninbounds && ninbounds < METRICS_MAX_INBOUND) {
		snprintf(inbounds[i].channel, sizeof(inbounds[i].channel), "%s", channel);
		snprintf(inbounds[i].outcome, sizeof(inbounds[i].outcome), "%s", outcome);
		ninbounds++;
	}
	if (i < ninbounds)
		inbounds[i].count++;
	pthread_mutex_unlock(&lock);
}

/* What the database was asked, by the part of ccgw that asked (pg.h: pg_stats). */
static void metrics_write_db(struct sbuf *out)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} fams[] = {
	    {"ccgw_db_statements_total", "Statements run.",
	     offsetof(struct pg_stats, statements)},
	    {"ccgw_db_round_trips_total", "Round trips to the database (a statement's first run on a connection adds its Parse).",
	     offsetof(struct pg_stats, round_trips)},
	    {"ccgw_db_transactions_total", "Transactions committed.",
	     offsetof(struct pg_stats, transactions)},
	    {"ccgw_db_statements_prepared_total", "Statements prepared on a connection.",
	     offsetof(struct pg_stats, prepared)},
	};
	struct pg_stats st[PG_POOL_COUNT];
	size_t f;
	int p;

	for (p = 0; p < PG_POOL_COUNT; p++)
		pg_stats_get((enum pg_pool)p, &st[p]);
	for (f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		sbuf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", fams[f].name, fams[f].help,
			    fams[f].name);
		for (p = 0; p < PG_POOL_COUNT; p++)
			sbuf_printf(out, "%s{part=\"%s\"} %llu\n", fams[f].name,
				    pg_pool_name((enum pg_pool)p),
				    *(const unsigned long long *)((const char *)&st[p] + fams[f].off));
	}
}

void metrics_write(struct sbuf *out)
{
	size_t i, b;

	pthread_mutex_lock(&lock);
	sbuf_puts(out, "# HELP ccgw_http_requests_total HTTP requests answered, by route, method and status.\n"
		       "# TYPE ccgw_http_requests_total counter\n");
	for (i = 0; i < nseries; i++)
		sbuf_printf(out, "ccgw_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
			    series[i].route, series[i].method, series[i].status, series[i].count);
	sbuf_puts(out, "# HELP ccgw_http_request_duration_seconds Time from a whole request to its answer.\n"
		       "# TYPE ccgw_http_request_duration_seconds histogram\n");
	for (i = 0; i < nhists; i++) {
		for (b = 0; b < NBUCKETS; b++)
			sbuf_printf(out, "ccgw_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
				    hists[i].route, buckets[b], hists[i].counts[b]);
		sbuf_printf(out, "ccgw_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
			    hists[i].route, hists[i].total);
		sbuf_printf(out, "ccgw_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
			    hists[i].route, hists[i].sum);
		sbuf_printf(out, "ccgw_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
			    hists[i].route, hists[i].total);
	}
	sbuf_puts(out, "# HELP ccgw_inbound_messages_total Platform messages received, by channel and outcome.\n"
		       "# TYPE ccgw_inbound_messages_total counter\n");
	for (i = 0; i < ninbounds; i++)
		sbuf_printf(out, "ccgw_inbound_messages_total{channel=\"%s\",outcome=\"%s\"} %llu\n",
			    inbounds[i].channel, inbounds[i].outcome, inbounds[i].count);
	pthread_mutex_unlock(&lock);
	metrics_write_db(out);
}
