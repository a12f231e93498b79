/*
 * log.c: the line writer behind log.h. One fprintf-equivalent write per line so that lines
 * from several threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int log_level_parse(const char *name, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (name && strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_level_set(enum log_level level)
{
	log_threshold = level;
}

void log_write(enum log_level level, const struct log_ctx *ctx, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s", ts.tv_nsec / 1000000L,
		     level_names[level]);
	n += r > 0 ? (size_t)r : 0;
	if (ctx && ctx->tenant && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " tenant=%s", ctx->tenant);
	if (ctx && ctx->channel && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " channel=%s", ctx->channel);
	if (ctx && ctx->conversation && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " conversation=%s",
				      ctx->conversation);
	if (n < sizeof(line) - 1)
		line[n++] = ' ';
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		n += r > 0 ? (size_t)r : 0;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* one line, no embedded newlines from the message */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
