/*
 * routes.c: every HTTP route of the gateway in one table, matched in order. Each module owns
 * its handlers; this file only lists them.
 */
#include "routes.h"

#include <stddef.h>

#include "server.h"

const struct http_route server_routes[] = {
	{ "GET", "/healthz", ops_healthz, 0 },
	{ "GET", "/readyz", ops_readyz, 1 },
	{ "GET", "/metrics", ops_metrics, 0 },
	{ NULL, NULL, NULL, 0 },
};
