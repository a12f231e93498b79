/*
 * dispatch.h: the outbound dispatcher inside `ccgw serve`. Worker threads claim due outbox
 * rows, render them through the channel adapters (channels/channel.h), send them with libcurl,
 * and record the outcome. See docs/ARCHITECTURE.md for ordering, rate limits and retries.
 */
#ifndef CCGW_DISPATCH_H
#define CCGW_DISPATCH_H

#include "util.h"

struct app;
struct dispatcher;

/* Creates the dispatcher for app (borrowed for its life); NULL on failure. */
struct dispatcher *dispatcher_new(struct app *app) __attribute__((warn_unused_result));
/* Starts its threads; 0 or -1. */
int dispatcher_start(struct dispatcher *d) __attribute__((warn_unused_result));
/* Wakes it now: outbox rows were committed. Cheap; safe from any thread. */
void dispatcher_kick(struct dispatcher *d);
/* Stops claiming, finishes in-flight sends, joins the threads. */
void dispatcher_stop(struct dispatcher *d);
void dispatcher_free(struct dispatcher *d);
/* Appends its Prometheus lines (outbox depth by status, send latency, retries, rate-limit
 * pauses, channel health). */
void dispatcher_metrics_write(struct dispatcher *d, struct sbuf *out);

#endif
