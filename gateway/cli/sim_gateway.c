/*
 * sim_gateway.c: the simulator's gateway in this process (sim_internal.h), wired as `ccgw
 * serve` wires it: the application context with its pool, the dispatcher woken by the
 * context, the web chat, and the HTTP server with the route table on a thread of its own,
 * listening on a free loopback port.
 */
#include "sim_internal.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "log.h"
#include "routes.h"
#include "server.h"
#include "util.h"
#include "webchat_gw.h"

static volatile sig_atomic_t sim_gw_running;
static atomic_int sim_gw_done; /* the gateway's thread left server_run */

static void *gw_main(void *arg)
{
	struct sim *sim = arg;

	sim_gw_running = 1;
	if (server_run(&sim->app, server_routes) != 0)
		log_error(NULL, "simulate: the gateway stopped with an error");
	sim_gw_running = 0;
	atomic_store(&sim_gw_done, 1);
	return NULL;
}

static void gw_kick(void *arg)
{
	dispatcher_kick(arg);
}

static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int sim_config_set(char **slot, const char *value)
{
	char *v = strdup(value);

	if (!v)
		return -1;
	free(*slot);
	*slot = v;
	return 0;
}

int sim_gateway_start(struct sim *sim, char *err, size_t errlen)
{
	char listen[64];
	int i;

	sim->port = free_port();
	if (sim->port <= 0) {
		snprintf(err, errlen, "no free port on 127.0.0.1");
		return -1;
	}
	snprintf(sim->host, sizeof(sim->host), "127.0.0.1");
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", sim->port);
	snprintf(sim->url, sizeof(sim->url), "http://%s", listen);
	if (sim_config_set(&sim->cfg.listen, listen) < 0 ||
	    sim_config_set(&sim->cfg.public_url, sim->url) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* a shopper at a time: a few workers and connections are plenty */
	if (sim->cfg.workers > 4)
		sim->cfg.workers = 4;
	if (sim->cfg.db_pool_size > 4)
		sim->cfg.db_pool_size = 4;
	if (app_open(&sim->app, &sim->cfg, APP_POOL) < 0 || app_role_check(&sim->cfg) < 0) {
		sim->app_opened = 1;
		snprintf(err, errlen, "the gateway could not open its database pool (see above)");
		return -1;
	}
	sim->app_opened = 1;
	if (sim->cfg.dispatch_workers > 0) {
		sim->disp = dispatcher_new(&sim->app);
		if (!sim->disp || dispatcher_start(sim->disp) < 0) {
			snprintf(err, errlen, "the dispatcher could not start");
			return -1;
		}
		sim->app.outbox_kick = gw_kick;
		sim->app.outbox_kick_arg = sim->disp;
	}
	if (webchat_start(&sim->app) < 0) {
		snprintf(err, errlen, "the web chat could not start");
		return -1;
	}
	sim->webchat_started = 1;
	server_set_ws_routes(webchat_ws_routes);
	atomic_store(&sim_gw_done, 0);
	if (pthread_create(&sim->gw_thread, NULL, gw_main, sim) != 0) {
		snprintf(err, errlen, "cannot start a thread");
		return -1;
	}
	sim->gw_started = 1;
	for (i = 0; i < 150 && !atomic_load(&sim_gw_done); i++) {
		struct timespec ts = {0, 100 * 1000000L};

		if (sim_http_healthy(sim->url))
			return 0;
		nanosleep(&ts, NULL);
	}
	snprintf(err, errlen, "the gateway did not answer on %s", sim->url);
	return -1;
}

void sim_gateway_stop(struct sim *sim)
{
	if (sim->gw_started) {
		/* again until it has stopped: a stop asked before its loop began is forgotten */
		while (!atomic_load(&sim_gw_done)) {
			struct timespec ts = {0, 50 * 1000000L};

			server_stop();
			nanosleep(&ts, NULL);
		}
		pthread_join(sim->gw_thread, NULL);
		sim->gw_started = 0;
	}
	if (sim->webchat_started)
		webchat_stop();
	sim->webchat_started = 0;
	if (sim->disp) {
		dispatcher_stop(sim->disp);
		dispatcher_free(sim->disp);
		sim->disp = NULL;
	}
}

void sim_interrupt(void)
{
	if (sim_gw_running)
		server_stop();
}

/* "http://A.B.C.D:PORT[/]" into host and port. */