/*
 * cli_serve.c: `ccgw serve`, where the parts meet: it opens the application context (pool,
 * NLP, engine, key), checks the database role, starts the dispatcher and lets the context wake
 * it, starts the poller (channels in long polling mode), then runs the HTTP server with the
 * route table until a signal, and stops the poller and the dispatcher after the last request
 * was answered.
 */
#include "cli.h"

#include <stdio.h>

#include "app.h"
#include "dispatch.h"
#include "engine.h"
#include "log.h"
#include "poller.h"
#include "routes.h"
#include "server.h"
#include "webchat_gw.h"

static struct dispatcher *serve_dispatcher;

struct dispatcher *cli_serve_dispatcher(void)
{
	return serve_dispatcher;
}

static void serve_kick(void *arg)
{
	dispatcher_kick(arg);
}

int cli_serve(int argc, char **argv)
{
	struct config cfg;
	struct app app;
	struct poller *poller = NULL;
	int rc = 1;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: ccgw serve\n");
		return 2;
	}
	if (app_config_load(&cfg) < 0)
		return 1;
	if (!cfg.database_url) {
		log_error(NULL, "no database: set CCGW_DATABASE_URL or run scripts/run once");
		config_clear(&cfg);
		return 1;
	}
	if (app_open(&app, &cfg, APP_POOL) < 0 || app_role_check(&cfg) < 0)
		goto out;
	if (cfg.dispatch_workers > 0) {
		serve_dispatcher = dispatcher_new(&app);
		if (!serve_dispatcher || dispatcher_start(serve_dispatcher) < 0) {
			log_error(NULL, "the dispatcher could not start");
			goto out;
		}
		app.outbox_kick = serve_kick;
		app.outbox_kick_arg = serve_dispatcher;
		/* webhook turns wake it in process: their rows skip the NOTIFY (sql/099) */
		engine_set_wake_local(app.engine, 1);
	}
	poller = poller_new(&app);
	if (!poller || poller_start(poller) < 0) {
		log_error(NULL, "the poller could not start");
		goto out;
	}
	if (webchat_start(&app) < 0) {
		log_error(NULL, "the web chat could not start");
		goto out;
	}
	server_set_ws_routes(webchat_ws_routes);
	server_set_body_limits(server_body_limits);
	rc = server_run(&app, server_routes);
	webchat_stop();
out:
	poller_free(poller);
	if (serve_dispatcher) {
		dispatcher_stop(serve_dispatcher);
		dispatcher_free(serve_dispatcher);
		serve_dispatcher = NULL;
	}
	app_close(&app);
	config_clear(&cfg);
	return rc;
}
