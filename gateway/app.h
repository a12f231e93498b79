/*
 * app.h: what every subcommand shares: the configuration path given with --config (taken out
 * of argv by main before dispatch) and the loader that applies the log level.
 */
#ifndef CCGW_APP_H
#define CCGW_APP_H

#include <libpq-fe.h>

#include "config.h"

extern const char *app_config_path;

/* Loads the configuration and sets the log level; on failure prints the reason to stderr
 * and returns -1. */
int app_config_load(struct config *cfg) __attribute__((warn_unused_result));

/* Opens a database session on conninfo with the configured timeouts (pg_connect): every
 * connection of every subcommand goes through here. extra_options: more "-c name=value"
 * settings, or NULL. Check PQstatus; PQfinish either way. */
PGconn *app_db_connect(const struct config *cfg, const char *conninfo, const char *app_name,
		       const char *extra_options);

#endif
