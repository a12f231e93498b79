/*
 * wsclient.h: the WebSocket client of the protocol tests: common/ws_client.h on loopback
 * (one client serves `ccgw simulate` and the tests), under the names the tests use.
 */
#ifndef CCGW_WSCLIENT_H
#define CCGW_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ws_client.h"

struct wsc_client {
	struct ws_client ws;
};

/* Connects to ws://127.0.0.1:port<path> with Origin (NULL: none). 0 when upgraded; the HTTP
 * status when refused; -1 when the connection failed. */
static inline int wsc_connect(struct wsc_client *c, int port, const char *path, const char *origin)
{
	return ws_client_connect(&c->ws, "127.0.0.1", port, path, origin);
}

static inline int wsc_send_text(struct wsc_client *c, const char *text)
{
	return ws_client_send_text(&c->ws, text);
}

/* One frame of any opcode and length (for an oversized message). */
static inline int wsc_send_frame(struct wsc_client *c, int opcode, const void *data, size_t len)
{
	return ws_client_send_frame(&c->ws, opcode, data, len);
}

/* The next text message (heap) within ms, or NULL: then *close_code (may be NULL) is the
 * close status, 1006 for a dropped connection, 0 for a timeout. */
static inline char *wsc_recv(struct wsc_client *c, int ms, int *close_code)
{
	return ws_client_recv(&c->ws, ms, close_code);
}

static inline void wsc_close(struct wsc_client *c)
{
	ws_client_close(&c->ws);
}

#endif
