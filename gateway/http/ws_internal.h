/*
 * ws_internal.h: what the server's lws callback calls for WebSocket connections (ws.c).
 * Everything here runs on the loop thread.
 */
#ifndef CCGW_WS_INTERNAL_H
#define CCGW_WS_INTERNAL_H

#include <libwebsockets.h>
#include <stdint.h>

#include "ws.h"

struct wsc;

void ws_bind(struct lws_context *ctx, const struct ws_route *routes);
/* Keepalive: a ping after ping_ms without a frame from the peer, a close after idle_ms. */
void ws_keepalive(int64_t ping_ms, int64_t idle_ms);
/* From the server's sweep (every 250 ms): pings the quiet connections, closes the silent. */
void ws_sweep(int64_t now_ms);
/* LWS_CALLBACK_RECEIVE_PONG: the peer is there. */
void ws_pong(struct wsc *c);
/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: 0 to let the upgrade go on, 1 to refuse it. */
int ws_filter(struct lws *wsi);
/* LWS_CALLBACK_ESTABLISHED: the connection's record, or NULL (close it). */
struct wsc *ws_established(struct lws *wsi);
/* LWS_CALLBACK_RECEIVE: 0, or -1 to close at once. */
int ws_receive(struct lws *wsi, struct wsc *c, const void *in, size_t len);
/* LWS_CALLBACK_SERVER_WRITEABLE: writes one queued frame; -1 to close. */
int ws_writeable(struct lws *wsi, struct wsc *c);
/* LWS_CALLBACK_CLOSED: forgets the connection (the record is freed). */
void ws_closed(struct wsc *c);
/* LWS_CALLBACK_EVENT_WAIT_CANCELLED: asks to write on connections with queued frames. */
void ws_wake(void);
/* At teardown: forgets every connection (the context is gone). */
void ws_reset(void);

#endif
