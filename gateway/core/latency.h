/*
 * latency.h: where a request's time went. A worker clears its thread's record when it takes
 * a job; the pool, group commit and the handler add the time spent in each stage; when the
 * job took longer than LATENCY_SLOW_MS from its last byte read to its answer, one info line
 * names every stage, and /metrics counts the stages' time and the slow requests by the stage
 * that took most of them (docs/PERFORMANCE.md, "Tail latency").
 */
#ifndef CCGW_LATENCY_H
#define CCGW_LATENCY_H

#include <stdint.h>

#include "util.h"

#define LATENCY_SLOW_MS 50

enum latency_stage {
	LATENCY_QUEUE,      /* read whole, waiting for a worker */
	LATENCY_POOL,       /* waiting for a database connection */
	LATENCY_GROUP_WAIT, /* queued for group commit: no leader's place, or its conversation held
	                     */
	LATENCY_TX,     /* its transaction's work (in a group: the whole group's), commit aside */
	LATENCY_COMMIT, /* COMMIT: the WAL flush, and the queue for the NOTIFY lock */
	LATENCY_ALONE,  /* written again alone after its group failed it (a lock, an error) */
	LATENCY_OTHER,  /* the rest of the handler: parsing, authenticating, answering */
	LATENCY_WRITE,  /* the answer ready, until the loop wrote it (not a worker's) */
	LATENCY_NSTAGES
};

/* This thread's record: cleared when a worker takes a job. */
void latency_begin(void);
void latency_add(enum latency_stage stage, int64_t us);
/* The job is done: total_us from its last byte read; what names it in the log line. Counts
 * it, and logs it when slow. */
void latency_end(const char *what, int64_t total_us);
/* The loop wrote an answer us after it was ready (any thread). */
void latency_write_observe(int64_t us);
/* The counters in Prometheus text format. */
void latency_metrics_write(struct sbuf *out);

#endif
