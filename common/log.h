/*
 * log.h: one line per event on stderr: time, level, then tenant / channel / conversation when
 * known, then the message. The level is checked before the arguments are evaluated. Never pass
 * a secret (token, app secret, API key) to these macros.
 */
#ifndef CCGW_LOG_H
#define CCGW_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Where a line comes from; any field may be NULL. */
struct log_ctx {
	const char *tenant;
	const char *channel;
	const char *conversation;
};

extern enum log_level log_threshold;

/* Parses "error", "warn", "info", "debug"; returns 0 or -1. */
int log_level_parse(const char *name, enum log_level *out) __attribute__((warn_unused_result));
void log_level_set(enum log_level level);

void log_write(enum log_level level, const struct log_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_at(level, ctx, ...)                                                                  \
	do {                                                                                     \
		if ((level) <= log_threshold)                                                    \
			log_write((level), (ctx), __VA_ARGS__);                                  \
	} while (0)
#define log_error(ctx, ...) log_at(LOG_ERROR, ctx, __VA_ARGS__)
#define log_warn(ctx, ...) log_at(LOG_WARN, ctx, __VA_ARGS__)
#define log_info(ctx, ...) log_at(LOG_INFO, ctx, __VA_ARGS__)
#define log_debug(ctx, ...) log_at(LOG_DEBUG, ctx, __VA_ARGS__)

#endif
