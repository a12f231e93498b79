/*
 * backoff.h: when to try a failed send again. Exponential (x3 per attempt) from a configurable
 * first delay, with +-20% jitter so rows that failed together do not come back together, and
 * a ceiling. With the default 3 s first delay, 8 attempts span about 55 minutes.
 */
#ifndef CCGW_BACKOFF_H
#define CCGW_BACKOFF_H

#include <stdint.h>

#define BACKOFF_FACTOR 3
#define BACKOFF_JITTER 0.2
#define BACKOFF_MAX_MS (6LL * 3600 * 1000)

/* The delay before attempt number attempt+1, after attempt (1-based) failed. jitter01 is a
 * number in [0, 1) (random in production, fixed in tests). */
int64_t backoff_delay_ms(int64_t base_ms, int attempt, double jitter01);

/* The delay before a conversation reply is tried again, after its attempt-th failure (or its
 * attempt-th rate-limit answer in a row that named no wait): first_ms x 2^(attempt-1), with
 * jitter from x0.5 to x2 (so a 500 ms first delay starts between a quarter of a second and
 * one second), at most cap_ms. A shopper is waiting at the phone: the cap keeps a reply from
 * drifting minutes away. */
int64_t backoff_reply_delay_ms(int64_t first_ms, int64_t cap_ms, int attempt, double jitter01);

/* A uniform random number in [0, 1), for jitter (thread-safe, not for secrets). */
double backoff_random01(void);

#endif
