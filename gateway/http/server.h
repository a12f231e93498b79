/*
 * server.h: the HTTP server of `ccgw serve`: one libwebsockets loop reading whole requests
 * and a pool of worker threads running the route handlers with a database connection
 * borrowed from the application's pool. It owns nothing else: the caller opens the
 * application context (app.h) and gives it the route table.
 */
#ifndef CCGW_SERVER_H
#define CCGW_SERVER_H

#include "app.h"
#include "config.h"
#include "http.h"

/* The WebSocket paths server_run serves besides routes (ws.h); NULL: none. Call before it. */
struct ws_route;
void server_set_ws_routes(const struct ws_route *routes);

/* Routes whose request body may be larger than max_body (a file upload): method, exact path
 * and the largest body in bytes; terminated by a NULL path. Call before server_run. */
struct http_body_limit {
	const char *method;
	const char *path;
	long max_body;
};
void server_set_body_limits(const struct http_body_limit *limits);

/* Serves routes (terminated by a NULL pattern) with app until SIGINT/SIGTERM, then finishes
 * in-flight requests (shutdown_grace). Returns the exit code. */
int server_run(struct app *app, const struct http_route *routes);

/* Asks a server_run on another thread to stop, as SIGTERM does (async-signal-safe). */
void server_stop(void);

/* The request handling of serve without a listening socket, a role check or signal
 * handlers, for the HTTP fuzz target: start it (it opens its own application context over
 * cfg), hand it connected sockets (it owns them), and turn its loop. Not for production. */
int server_embed_start(const struct config *cfg, const struct http_route *routes);
int server_embed_adopt(int fd);
int server_embed_service(void);
int server_embed_busy(void); /* requests read whole and not yet answered */
void server_embed_stop(void);

/* Connections closed because a request was pipelined behind an unanswered one. */
unsigned long long server_pipelined_closed(void);

/* Requests waiting for a worker now, and those refused with 503 because the queue was full. */
void server_queue_stats(long *queued, unsigned long long *rejected);

#endif
