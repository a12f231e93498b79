/*
 * ops.c: the operator's routes: /healthz (the process runs), /readyz (the database answers)
 * and /metrics (Prometheus text: requests, latency, database pool, dispatcher, build info).
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dispatch.h"
#include "metrics.h"
#include "routes.h"
#include "server.h"
#include "util.h"

void ops_healthz(struct http_ctx *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	(void)req;
	http_response_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

void ops_readyz(struct http_ctx *ctx, const struct http_request *req, struct http_response *resp)
{
	PGresult *res;

	(void)req;
	/* the server answers 503 before calling us when no connection could be had */
	res = PQexec(ctx->conn, "SELECT 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		http_response_error(resp, 503, "database_unavailable", "the database is not answering");
		return;
	}
	PQclear(res);
	http_response_json(resp, 200, json_pack("{s:s,s:s}", "status", "ready", "database", "ok"));
}

void ops_metrics(struct http_ctx *ctx, const struct http_request *req, struct http_response *resp)
{
	struct sbuf b;
	int in_use = 0, idle = 0, size = 0;
	char *text;

	(void)req;
	sbuf_init(&b);
	sbuf_printf(&b, "# HELP ccgw_build_info Build of the running gateway.\n"
			"# TYPE ccgw_build_info gauge\n"
			"ccgw_build_info{version=\"%s\"} 1\n", CCGW_VERSION);
	metrics_write(&b);
	db_pool_stats(ctx->srv->pool, &in_use, &idle, &size);
	sbuf_printf(&b, "# HELP ccgw_db_pool_connections Request-worker database connections.\n"
			"# TYPE ccgw_db_pool_connections gauge\n"
			"ccgw_db_pool_connections{state=\"in_use\"} %d\n"
			"ccgw_db_pool_connections{state=\"idle\"} %d\n"
			"# HELP ccgw_db_pool_size Largest number of request-worker connections.\n"
			"# TYPE ccgw_db_pool_size gauge\n"
			"ccgw_db_pool_size %d\n", in_use, idle, size);
	if (ctx->srv->dispatcher)
		dispatcher_metrics_write(ctx->srv->dispatcher, &b);
	text = sbuf_take(&b);
	if (!text) {
		http_response_error(resp, 500, "internal", "out of memory");
		return;
	}
	http_response_body(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
	free(text);
}
