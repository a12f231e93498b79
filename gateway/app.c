/*
 * app.c: configuration loading shared by every subcommand.
 */
#include "app.h"

#include <stdio.h>

#include "log.h"
#include "pg.h"

const char *app_config_path;

int app_config_load(struct config *cfg)
{
	char err[512];
	enum log_level level;

	if (config_load(cfg, app_config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "ccgw: configuration: %s\n", err);
		config_clear(cfg);
		return -1;
	}
	if (log_level_parse(cfg->log_level, &level) < 0) {
		fprintf(stderr, "ccgw: configuration: log_level must be error, warn, info or debug\n");
		config_clear(cfg);
		return -1;
	}
	log_level_set(level);
	return 0;
}

PGconn *app_db_connect(const struct config *cfg, const char *conninfo, const char *app_name,
		       const char *extra_options)
{
	struct pg_session_opts o = {
		.application_name = app_name,
		.connect_timeout_s = cfg->db_connect_timeout,
		.statement_timeout_ms = cfg->db_statement_timeout_ms,
		.idle_tx_timeout_ms = cfg->db_idle_tx_timeout_ms,
		.extra_options = extra_options,
	};

	return pg_connect(conninfo, &o);
}
