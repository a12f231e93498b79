/*
 * ws.h: WebSocket connections on the HTTP server's loop. A module registers the paths it
 * takes (server_ws_routes) with handlers that run on the loop thread and must not block: they
 * hand work to the request workers (server_task). Frames go out only from the loop's
 * SERVER_WRITEABLE callback: ws_send queues a text frame for a connection, from any thread,
 * and wakes the loop. Connections are named by a 64-bit id that is never reused, so a late
 * send to a closed connection is a harmless no-op.
 */
#ifndef CCGW_WS_H
#define CCGW_WS_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define WS_MAX_FRAME 16384 /* a larger message gets an error frame and close 1009 */

struct ws_handlers {
	/* A new connection on a matching path (loop thread). params: the pattern's {name}
	 * segments; origin and peer may be NULL. Returns 0 to accept (*user kept for the
	 * connection), -1 to refuse it. */
	int (*open)(uint64_t id, const char *const *params, size_t nparams, const char *origin,
		    const char *peer, void **user);
	/* One whole text message (loop thread; data is borrowed for the call). */
	void (*message)(uint64_t id, void *user, const char *data, size_t len);
	/* The connection is gone (loop thread); user is the handler's to free. */
	void (*close)(uint64_t id, void *user);
};

struct ws_route {
	const char *pattern; /* "/ws/chat/{slug}" */
	const struct ws_handlers *h;
};

/* Queues a text frame for connection id; 0, or -1 when it is closed or out of memory. */
int ws_send(uint64_t id, const char *text, size_t len);
/* Closes connection id with status (1000, 1008, 1009, ...) after its queued frames. */
int ws_close(uint64_t id, int status, const char *reason);
/* Open WebSocket connections now. */
long ws_count(void);

/* Runs fn on a request worker with a database connection borrowed from the pool (ctx->conn
 * NULL when the database is unavailable). 0, or -1 when the queue is full or stopping. */
int server_task(void (*fn)(struct http_ctx *ctx, void *arg), void *arg);

#endif
