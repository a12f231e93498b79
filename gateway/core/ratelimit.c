/*
 * ratelimit.c: token buckets in a chained hash table under one mutex (see ratelimit.h). A take
 * is a few hash lookups and arithmetic; the table grows by doubling and shrinks through gc.
 */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
	struct bucket *next;
	double tokens;
	double rate, burst;
	int64_t last_ms; /* when tokens was last brought up to date */
	int64_t paused_until;
	int strikes; /* rate-limit answers in a row without a named wait (ratelimit_strike) */
	char key[];
};

struct ratelimit {
	pthread_mutex_t lock;
	struct bucket **slots;
	size_t nslots, count;
};

#define RATELIMIT_MAX_SPECS 8

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

struct ratelimit *ratelimit_new(void)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return NULL;
	rl->nslots = 64;
	rl->slots = calloc(rl->nslots, sizeof(*rl->slots));
	if (!rl->slots) {
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	size_t i;

	if (!rl)
		return;
	for (i = 0; i < rl->nslots; i++) {
		struct bucket *b = rl->slots[i], *next;

		for (; b; b = next) {
			next = b->next;
			free(b);
		}
	}
	free(rl->slots);
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static void table_grow(struct ratelimit *rl)
{
	size_t n = rl->nslots * 2, i;
	struct bucket **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return; /* keep the longer chains; still correct */
	for (i = 0; i < rl->nslots; i++) {
		struct bucket *b = rl->slots[i], *next;

		for (; b; b = next) {
			size_t s = (size_t)(key_hash(b->key) & (n - 1));

			next = b->next;
			b->next = slots[s];
			slots[s] = b;
		}
	}
	free(rl->slots);
	rl->slots = slots;
	rl->nslots = n;
}

static struct bucket *bucket_find(struct ratelimit *rl, const char *key)
{
	struct bucket *b = rl->slots[key_hash(key) & (rl->nslots - 1)];

	for (; b; b = b->next)
		if (strcmp(b->key, key) == 0)
			return b;
	return NULL;
}

/* Finds or makes the bucket of spec, brought up to date at now_ms; NULL when out of memory. */
static struct bucket *bucket_get(struct ratelimit *rl, const struct ratelimit_spec *spec,
                                 int64_t now_ms)
{
	struct bucket *b = bucket_find(rl, spec->key);
	double burst = spec->burst < 1 ? 1 : spec->burst;
	size_t len, slot;

	if (!b) {
		if (rl->count >= rl->nslots)
			table_grow(rl);
		len = strlen(spec->key);
		b = malloc(sizeof(*b) + len + 1);
		if (!b)
			return NULL;
		memcpy(b->key, spec->key, len + 1);
		b->tokens = burst;
		b->last_ms = now_ms;
		b->paused_until = 0;
		b->strikes = 0;
		slot = (size_t)(key_hash(b->key) & (rl->nslots - 1));
		b->next = rl->slots[slot];
		rl->slots[slot] = b;
		rl->count++;
	}
	/* the configuration may change between calls: the latest spec wins */
	b->rate = spec->rate > 0 ? spec->rate : 1e-9;
	b->burst = burst;
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
		b->last_ms = now_ms;
	}
	if (b->tokens > b->burst)
		b->tokens = b->burst;
	return b;
}

/* Milliseconds until b has a whole token and is not paused; 0 when it has one now. */
static int64_t bucket_wait(const struct bucket *b, int64_t now_ms)
{
	int64_t wait = 0;

	if (b->paused_until > now_ms)
		wait = b->paused_until - now_ms;
	if (b->tokens < 1.0) {
		int64_t refill = (int64_t)((1.0 - b->tokens) * 1000.0 / b->rate) + 1;

		if (refill > wait)
			wait = refill;
	}
	return wait;
}

int64_t ratelimit_take(struct ratelimit *rl, const struct ratelimit_spec *specs, size_t n,
                       int64_t now_ms)
{
	struct bucket *got[RATELIMIT_MAX_SPECS];
	int64_t wait = 0, w;
	size_t i;

	if (n > RATELIMIT_MAX_SPECS)
		return -1;
	pthread_mutex_lock(&rl->lock);
	for (i = 0; i < n; i++) {
		got[i] = bucket_get(rl, &specs[i], now_ms);
		if (!got[i]) {
			pthread_mutex_unlock(&rl->lock);
			return -1;
		}
		w = bucket_wait(got[i], now_ms);
		if (w > wait)
			wait = w;
	}
	if (wait == 0)
		for (i = 0; i < n; i++)
			got[i]->tokens -= 1.0;
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

int ratelimit_pause(struct ratelimit *rl, const struct ratelimit_spec *spec, int64_t until_ms,
                    int64_t now_ms)
{
	struct bucket *b;

	pthread_mutex_lock(&rl->lock);
	b = bucket_get(rl, spec, now_ms);
	if (b) {
		if (until_ms > b->paused_until)
			b->paused_until = until_ms;
		/* after the pause, one token rather than a whole burst; refilling starts then */
		b->last_ms = b->paused_until > now_ms ? b->paused_until : now_ms;
		b->tokens = 1.0;
	}
	pthread_mutex_unlock(&rl->lock);
	return b ? 0 : -1;
}

int64_t ratelimit_paused_until(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	struct bucket *b;
	int64_t until = 0;

	pthread_mutex_lock(&rl->lock);
	b = bucket_find(rl, key);
	if (b && b->paused_until > now_ms)
		until = b->paused_until;
	pthread_mutex_unlock(&rl->lock);
	return until;
}

size_t ratelimit_paused_count(struct ratelimit *rl, int64_t now_ms)
{
	size_t i, n = 0;

	pthread_mutex_lock(&rl->lock);
	for (i = 0; i < rl->nslots; i++) {
		const struct bucket *b;

		for (b = rl->slots[i]; b; b = b->next)
			if (b->paused_until > now_ms)
				n++;
	}
	pthread_mutex_unlock(&rl->lock);
	return n;
}

void ratelimit_gc(struct ratelimit *rl, int64_t now_ms)
{
	size_t i;

	pthread_mutex_lock(&rl->lock);
	for (i = 0; i < rl->nslots; i++) {
		struct bucket **pp = &rl->slots[i], *b;

		while ((b = *pp)) {
			double tokens = b->tokens;

			if (now_ms > b->last_ms)
				tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
			if (b->paused_until <= now_ms && tokens >= b->burst) {
				*pp = b->next;
				free(b);
				rl->count--;
			} else {
				pp = &b->next;
			}
		}
	}
	pthread_mutex_unlock(&rl->lock);
}

size_t ratelimit_size(struct ratelimit *rl)
{
	size_t n;

	pthread_mutex_lock(&rl->lock);
	n = rl->count;
	pthread_mutex_unlock(&rl->lock);
	return n;
}

int ratelimit_strike(struct ratelimit *rl, const struct ratelimit_spec *spec, int64_t now_ms)
{
	struct bucket *b;
	int n = 1;

	pthread_mutex_lock(&rl->lock);
	b = bucket_get(rl, spec, now_ms);
	if (b) {
		/* answers to sends that were under way when the pause began are the same event:
		 * one strike per pause, or a burst of concurrent sends would pause for minutes */
		if (b->paused_until <= now_ms && b->strikes < 1000)
			b->strikes++;
		if (b->strikes < 1)
			b->strikes = 1;
		n = b->strikes;
	}
	pthread_mutex_unlock(&rl->lock);
	return n;
}

void ratelimit_forgive(struct ratelimit *rl, const struct ratelimit_spec *specs, size_t n)
{
	struct bucket *b;
	size_t i;

	pthread_mutex_lock(&rl->lock);
	for (i = 0; i < n; i++) {
		b = bucket_find(rl, specs[i].key);
		if (b)
			b->strikes = 0;
	}
	pthread_mutex_unlock(&rl->lock);
}
