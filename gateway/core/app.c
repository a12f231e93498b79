/*
 * app.c: configuration loading shared by every subcommand, and the application context.
 */
#include "app.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "engine.h"
#include "kyc.h"
#include "log.h"
#include "nlp.h"
#include "pg.h"
#include "secrets.h"
#include "txgroup.h"

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

int app_open(struct app *app, const struct config *cfg, int flags)
{
	char err[512];

	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	if (cfg->secret_key) {
		if (secrets_key_parse(cfg->secret_key, app->secret_key) < 0) {
			log_error(NULL, "secret_key must be 64 hex characters (32 bytes)");
			return -1;
		}
		app->has_secret_key = 1;
	} else {
		log_warn(NULL, "no CCGW_SECRET_KEY: channels with secrets cannot be registered or used");
	}
	app->nlp = nlp_new(NULL, err, sizeof(err));
	if (!app->nlp) {
		log_error(NULL, "nlp: %s", err);
		return -1;
	}
	kyc_policy_set((int)cfg->kyc_required, cfg->kyc_unverified_order_limit);
	app->engine = engine_new(app->nlp);
	if (!app->engine) {
		log_error(NULL, "out of memory");
		return -1;
	}
	app->txgroup = txgroup_new((int)cfg->group_commit_leaders, (int)cfg->group_commit);
	if (!app->txgroup) {
		log_error(NULL, "out of memory");
		return -1;
	}
	if (flags & APP_POOL) {
		struct pg_session_opts o = {
			.application_name = "ccgw",
			.connect_timeout_s = cfg->db_connect_timeout,
			.statement_timeout_ms = cfg->db_statement_timeout_ms,
			.idle_tx_timeout_ms = cfg->db_idle_tx_timeout_ms,
		};

		app->pool = db_pool_new(cfg->database_url, (int)cfg->db_pool_size, &o,
		                        cfg->db_hold_timeout_ms);
		if (!app->pool) {
			log_error(NULL, "the database pool could not be made");
			return -1;
		}
	}
	return 0;
}

void app_close(struct app *app)
{
	engine_free(app->engine);
	txgroup_free(app->txgroup);
	db_pool_free(app->pool);
	nlp_free(app->nlp);
	explicit_bzero(app->secret_key, sizeof(app->secret_key));
	memset(app, 0, sizeof(*app));
}

const unsigned char *app_secret_key(const struct app *app)
{
	return app->has_secret_key ? app->secret_key : NULL;
}

void app_channels_changed(struct app *app)
{
	if (app)
		atomic_fetch_add(&app->channels_gen, 1);
}

void app_channels_watch(struct app *app, int watched)
{
	if (!app)
		return;
	atomic_fetch_add(&app->channels_gen, 1);
	atomic_store(&app->channels_watched, watched);
}

void app_outbox_kick(struct app *app)
{
	if (app && app->outbox_kick)
		app->outbox_kick(app->outbox_kick_arg);
}

int app_role_check(const struct config *cfg)
{
	char err[256];
	PGconn *c = app_db_connect(cfg, cfg->database_url, "ccgw", NULL);
	int rc = 0;

	if (PQstatus(c) != CONNECTION_OK) {
		log_warn(NULL, "the database does not answer yet; its role is checked at each new "
		               "connection");
	} else if (db_role_check(c, err, sizeof(err)) == -1) {
		log_error(NULL, "refusing to serve: %s. Row-level security does not hold such a role "
		                "back: set CCGW_DATABASE_URL to the application role (NOSUPERUSER, "
		                "NOBYPASSRLS, owning nothing)", err);
		rc = -1;
	}
	pg_finish(c);
	return rc;
}
