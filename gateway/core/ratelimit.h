/*
 * ratelimit.h: token buckets keyed by name (a channel, a channel's recipient), shared by the
 * dispatcher's threads. A send takes one token from every bucket it is subject to, or none;
 * a bucket can be paused until a time the platform asked for (a 429's retry_after), which
 * holds back that key only. Time is passed in by the caller (monotonic ms) so tests need no
 * clock. Idle buckets are dropped by ratelimit_gc.
 */
#ifndef CCGW_RATELIMIT_H
#define CCGW_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* One bucket a send is subject to: key (copied when the bucket is first made), refill rate in
 * tokens per second, and burst (the bucket's size, at least 1). */
struct ratelimit_spec {
	const char *key;
	double rate;
	double burst;
};

struct ratelimit *ratelimit_new(void) __attribute__((warn_unused_result));
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes one token from each of the n buckets, all or none. Returns 0 when taken; otherwise the
 * milliseconds (> 0) until a token of every bucket could be there (a pause counts), and
 * nothing is taken. Returns -1 when out of memory (nothing taken).
 */
int64_t ratelimit_take(struct ratelimit *rl, const struct ratelimit_spec *specs, size_t n,
                       int64_t now_ms) __attribute__((warn_unused_result));

/* Holds key back until until_ms (the later of this and an earlier pause wins); when the pause
 * ends the bucket holds one token, not a whole burst, so sends resume gently. Creates the
 * bucket when needed (rate and burst of spec). Returns 0 or -1 when out of memory. */
int ratelimit_pause(struct ratelimit *rl, const struct ratelimit_spec *spec, int64_t until_ms,
                    int64_t now_ms) __attribute__((warn_unused_result));

/* Counts one more rate-limit answer for spec's key that named no wait, and returns how many
 * came in a row (1 for the first): the caller's pause grows with it. An answer that comes
 * while the key is paused (a send that was under way when the pause began) does not count
 * again. ratelimit_forgive() starts the count again after a send goes through. */
int ratelimit_strike(struct ratelimit *rl, const struct ratelimit_spec *spec, int64_t now_ms);
void ratelimit_forgive(struct ratelimit *rl, const struct ratelimit_spec *specs, size_t n);

/* The end of key's pause, or 0 when it is not paused at now_ms. */
int64_t ratelimit_paused_until(struct ratelimit *rl, const char *key, int64_t now_ms);

/* Buckets paused at now_ms, for /metrics. */
size_t ratelimit_paused_count(struct ratelimit *rl, int64_t now_ms);

/* Drops buckets that are full again and not paused (they behave as new ones would). */
void ratelimit_gc(struct ratelimit *rl, int64_t now_ms);
/* Buckets held, for tests and /metrics. */
size_t ratelimit_size(struct ratelimit *rl);

#endif
