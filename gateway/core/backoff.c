/*
 * backoff.c: the retry schedule of the dispatcher (see backoff.h).
 */
#include "backoff.h"

#include <stdatomic.h>
#include <time.h>

int64_t backoff_delay_ms(int64_t base_ms, int attempt, double jitter01)
{
	double d = (double)(base_ms > 0 ? base_ms : 1);
	int i;

	if (jitter01 < 0)
		jitter01 = 0;
	if (jitter01 >= 1)
		jitter01 = 0.999999;
	for (i = 1; i < attempt && d < (double)BACKOFF_MAX_MS; i++)
		d *= BACKOFF_FACTOR;
	d *= 1.0 - BACKOFF_JITTER + 2.0 * BACKOFF_JITTER * jitter01;
	if (d > (double)BACKOFF_MAX_MS)
		d = (double)BACKOFF_MAX_MS;
	if (d < 1)
		d = 1;
	return (int64_t)d;
}

int64_t backoff_reply_delay_ms(int64_t first_ms, int64_t cap_ms, int attempt, double jitter01)
{
	double d = (double)(first_ms > 0 ? first_ms : 1);
	int i;

	if (jitter01 < 0)
		jitter01 = 0;
	if (jitter01 >= 1)
		jitter01 = 0.999999;
	for (i = 1; i < attempt && d < (double)cap_ms; i++)
		d *= 2;
	d *= 0.5 + 1.5 * jitter01;
	if (d > (double)cap_ms)
		d = (double)cap_ms;
	if (d < 1)
		d = 1;
	return (int64_t)d;
}

double backoff_random01(void)
{
	static _Atomic uint64_t state;
	uint64_t x, zero = 0;

	if (atomic_load(&state) == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_nsec * 6364136223846793005ULL + (uint64_t)ts.tv_sec + 1;
		atomic_compare_exchange_strong(&state, &zero, x);
	}
	/* splitmix64 */
	x = atomic_fetch_add(&state, 0x9E3779B97F4A7C15ULL) + 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	x ^= x >> 31;
	return (double)(x >> 11) / 9007199254740992.0;
}
