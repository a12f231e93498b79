/*
 * metrics.h: the HTTP server's own Prometheus metrics (requests by route, method and status,
 * and a latency histogram). Other modules write their own lines into the same /metrics answer
 * (the dispatcher through dispatcher_metrics_write).
 */
#ifndef CCGW_METRICS_H
#define CCGW_METRICS_H

#include "util.h"

/* Records one answered request; route is the matched pattern (a static string) or NULL. */
void metrics_request_observe(const char *route, const char *method, int status, double seconds);
/* Counts inbound platform messages by channel type and outcome ("handled", "duplicate", ...). */
void metrics_inbound_observe(const char *channel, const char *outcome);
/* Appends the metrics of this module in Prometheus text format. */
void metrics_write(struct sbuf *out);

#endif
