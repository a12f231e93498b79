/*
 * latency.c: where a request's time went (see latency.h). A record per worker thread, summed
 * into process counters under a lock once per slow job and once per job for the totals.
 */
#include "latency.h"

#include <pthread.h>
#include <stdatomic.h>

#include "log.h"

static const char *const stage_names[LATENCY_NSTAGES] = {
    "queue", "pool", "group_wait", "transaction", "commit", "alone", "other", "write",
};

static _Thread_local int64_t rec[LATENCY_NSTAGES];

static atomic_ullong stage_us[LATENCY_NSTAGES];
static atomic_ullong slow_by[LATENCY_NSTAGES];
static atomic_ullong jobs_total;

void latency_begin(void)
{
	int i;

	for (i = 0; i < LATENCY_NSTAGES; i++)
		rec[i] = 0;
}

void latency_add(enum latency_stage stage, int64_t us)
{
	if (stage >= 0 && stage < LATENCY_NSTAGES && us > 0)
		rec[stage] += us;
}

void latency_end(const char *what, int64_t total_us)
{
	int64_t known = 0;
	int i, top = LATENCY_QUEUE;

	for (i = 0; i < LATENCY_OTHER; i++)
		known += rec[i];
	rec[LATENCY_OTHER] = total_us > known ? total_us - known : 0;
	for (i = 0; i < LATENCY_WRITE; i++) {
		atomic_fetch_add(&stage_us[i], (unsigned long long)rec[i]);
		if (rec[i] > rec[top])
			top = i;
	}
	atomic_fetch_add(&jobs_total, 1);
	if (total_us < LATENCY_SLOW_MS * 1000LL)
		return;
	atomic_fetch_add(&slow_by[top], 1);
	log_info(NULL,
	         "slow: %s took %.1f ms, most in %s: queue %.1f, pool %.1f, group wait %.1f,"
	         " transaction %.1f, commit %.1f, alone %.1f, other %.1f",
	         what, (double)total_us / 1000.0, stage_names[top],
	         (double)rec[LATENCY_QUEUE] / 1000.0, (double)rec[LATENCY_POOL] / 1000.0,
	         (double)rec[LATENCY_GROUP_WAIT] / 1000.0, (double)rec[LATENCY_TX] / 1000.0,
	         (double)rec[LATENCY_COMMIT] / 1000.0, (double)rec[LATENCY_ALONE] / 1000.0,
	         (double)rec[LATENCY_OTHER] / 1000.0);
}

void latency_write_observe(int64_t us)
{
	if (us <= 0)
		return;
	atomic_fetch_add(&stage_us[LATENCY_WRITE], (unsigned long long)us);
	if (us >= LATENCY_SLOW_MS * 1000LL) {
		atomic_fetch_add(&slow_by[LATENCY_WRITE], 1);
		log_info(NULL, "slow: an answer waited %.1f ms for the loop to write it",
		         (double)us / 1000.0);
	}
}

void latency_metrics_write(struct sbuf *out)
{
	int i;

	sbuf_printf(out, "# HELP ccgw_request_stage_seconds_total Time request workers' jobs spent"
	                 " in each stage, from the last byte read to the answer ready.\n"
	                 "# TYPE ccgw_request_stage_seconds_total counter\n");
	for (i = 0; i < LATENCY_NSTAGES; i++)
		sbuf_printf(out, "ccgw_request_stage_seconds_total{stage=\"%s\"} %.6f\n",
		            stage_names[i], (double)atomic_load(&stage_us[i]) / 1e6);
	sbuf_printf(out,
	            "# HELP ccgw_request_jobs_total Request workers' jobs timed.\n"
	            "# TYPE ccgw_request_jobs_total counter\n"
	            "ccgw_request_jobs_total %llu\n"
	            "# HELP ccgw_request_slow_total Jobs over %d ms, by the stage that took"
	            " most of their time.\n"
	            "# TYPE ccgw_request_slow_total counter\n",
	            atomic_load(&jobs_total), LATENCY_SLOW_MS);
	for (i = 0; i < LATENCY_NSTAGES; i++)
		sbuf_printf(out, "ccgw_request_slow_total{stage=\"%s\"} %llu\n", stage_names[i],
		            atomic_load(&slow_by[i]));
}
