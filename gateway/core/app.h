/*
 * app.h: what every subcommand shares: the configuration path given with --config (taken out
 * of argv by main before dispatch), the loader that applies the log level, and the one
 * application context (struct app) that owns the database pool, the NLP, the engine and the
 * secret key. The HTTP server, the inbound flow, the admin API and the dispatcher all borrow
 * it; none of them owns another.
 */
#ifndef CCGW_APP_H
#define CCGW_APP_H

#include <libpq-fe.h>
#include <stdatomic.h>

#include "config.h"

struct db_pool;
struct engine;
struct nlp;

struct app {
	const struct config *cfg;
	struct db_pool *pool;  /* request workers' connections; NULL when not opened */
	struct nlp *nlp;
	struct engine *engine;
	struct txgroup *txgroup; /* group commit of inbound messages (txgroup.h) */
	unsigned char secret_key[32]; /* AES-256 key for sealed secrets (secrets.h) */
	int has_secret_key;
	/* wakes the outbox's sender (the dispatcher) after rows were committed; may be unset */
	void (*outbox_kick)(void *arg);
	void *outbox_kick_arg;
	/* channel rows kept in process (inbound.c) are good while this process hears of every
	 * change of the channels table (059's NOTIFY ccgw_channels, heard by the dispatcher's
	 * listener): the generation grows at each change and each time the listener (re)connects
	 * or loses its connection; watched is 1 while it listens */
	_Atomic unsigned long channels_gen;
	_Atomic int channels_watched;
};

extern const char *app_config_path;

#define APP_POOL 1 /* app_open: also open the request workers' database pool */

/* Opens the context for cfg (borrowed for its life): the secret key, the NLP, the engine and
 * with APP_POOL the pool. 0, or -1 after logging why; app_close undoes it either way. */
int app_open(struct app *app, const struct config *cfg, int flags)
	__attribute__((warn_unused_result));
void app_close(struct app *app);

/* The secret key, or NULL when CCGW_SECRET_KEY is not set. */
const unsigned char *app_secret_key(const struct app *app);

/* The channels table changed, or it is watched (1) or not (0) from now on (safe from any
 * thread; NULL app is ignored). */
void app_channels_changed(struct app *app);
void app_channels_watch(struct app *app, int watched);

/* Wakes the outbox's sender (cheap; safe from any thread). */
void app_outbox_kick(struct app *app);

/* Refuses a database role that row-level security does not hold back (a superuser, BYPASSRLS
 * or a table owner): -1 after logging why. 0 also when the database does not answer now (the
 * pool checks each connection as it opens it). */
int app_role_check(const struct config *cfg) __attribute__((warn_unused_result));

/* Loads the configuration and sets the log level; on failure prints the reason to stderr
 * and returns -1. */
int app_config_load(struct config *cfg) __attribute__((warn_unused_result));

/* Opens a database session on conninfo with the configured timeouts (pg_connect): every
 * connection of every subcommand goes through here. extra_options: more "-c name=value"
 * settings, or NULL. Check PQstatus; PQfinish either way. */
PGconn *app_db_connect(const struct config *cfg, const char *conninfo, const char *app_name,
		       const char *extra_options);

#endif
