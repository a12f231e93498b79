/*
 * ws_internal.h: what the server's lws callback calls for WebSocket connections (ws.c).
 * Everything here runs on the loop thread.
 */
#ifndef CCGW_WS_INTERNAL_H
#define CCGW_WS_INTERNAL_H

#include <libwebsockets.h>

#include "ws.h"

struct wsc;

void ws_bind(struct lws_context *ctx, const struct ws_route *routes);
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
