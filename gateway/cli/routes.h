/*
 * routes.h: the handlers listed in routes.c, grouped by the file that defines them.
 */
#ifndef CCGW_ROUTES_H
#define CCGW_ROUTES_H

#include "admin.h" /* admin_*.c: the seller's admin API under /api/v1 */
#include "http.h"
#include "server.h" /* struct http_body_limit */

/* Every HTTP route of the gateway, in match order, terminated by a NULL pattern. */
extern const struct http_route server_routes[];
/* Routes whose body may pass max_body (server.h), terminated by a NULL path. */
extern const struct http_body_limit server_body_limits[];

/* ops.c: health, readiness, metrics */
void ops_healthz(struct http_ctx *ctx, const struct http_request *req, struct http_response *resp);
void ops_readyz(struct http_ctx *ctx, const struct http_request *req, struct http_response *resp);
void ops_metrics(struct http_ctx *ctx, const struct http_request *req, struct http_response *resp);

/* inbound.c: webhooks of every channel type: verification (GET) and delivery (POST) */
#include "inbound.h"
#include "webchat_gw.h" /* the web chat: page, files, socket */
#include "storefront.h" /* the public shop pages and assets */

#endif
