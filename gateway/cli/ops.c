/*
 * ops.c: the operator's routes: /healthz (the process runs), /readyz (the database answers)
 * and /metrics (Prometheus text: requests, latency, database pool, dispatcher, build info).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conns.h"
#include "db.h"
#include "dispatch.h"
#include "latency.h"
#include "metrics.h"
#include "routes.h"
#include "server.h"
#include "txgroup.h"
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

/* The HTTP server's own limits: connections, refusals, read timeouts, the work queue. */
static void server_metrics_write(struct sbuf *b)
{
	struct conns_stats cs;
	long queued = 0;
	unsigned long long full = 0;

	conns_stats_get(&cs);
	server_queue_stats(&queued, &full);
	sbuf_printf(b, "# HELP ccgw_http_connections Open HTTP connections.\n"
		       "# TYPE ccgw_http_connections gauge\n"
		       "ccgw_http_connections %ld\n"
		       "# HELP ccgw_http_client_addresses Distinct client addresses with open connections.\n"
		       "# TYPE ccgw_http_client_addresses gauge\n"
		       "ccgw_http_client_addresses %ld\n"
		       "# HELP ccgw_http_connections_refused_total New connections refused, by the cap that refused them.\n"
		       "# TYPE ccgw_http_connections_refused_total counter\n"
		       "ccgw_http_connections_refused_total{cap=\"total\"} %llu\n"
		       "ccgw_http_connections_refused_total{cap=\"per_address\"} %llu\n"
		       "# HELP ccgw_http_read_timeouts_total Connections closed because a request was not read in time.\n"
		       "# TYPE ccgw_http_read_timeouts_total counter\n"
		       "ccgw_http_read_timeouts_total %llu\n"
		       "# HELP ccgw_http_queue_depth Requests waiting for a worker.\n"
		       "# TYPE ccgw_http_queue_depth gauge\n"
		       "ccgw_http_queue_depth %ld\n"
		       "# HELP ccgw_http_queue_full_total Requests answered 503 because the work queue was full.\n"
		       "# TYPE ccgw_http_queue_full_total counter\n"
		       "ccgw_http_queue_full_total %llu\n"
		       "# HELP ccgw_http_pipelined_closed_total Connections closed over a request pipelined behind an unanswered one.\n"
		       "# TYPE ccgw_http_pipelined_closed_total counter\n"
		       "ccgw_http_pipelined_closed_total %llu\n",
		    cs.open, cs.addresses, cs.refused_total, cs.refused_per_addr, cs.read_timeouts,
		    queued, full, server_pipelined_closed());
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
	db_pool_stats(ctx->app->pool, &in_use, &idle, &size);
	sbuf_printf(&b, "# HELP ccgw_db_pool_connections Request-worker database connections.\n"
			"# TYPE ccgw_db_pool_connections gauge\n"
			"ccgw_db_pool_connections{state=\"in_use\"} %d\n"
			"ccgw_db_pool_connections{state=\"idle\"} %d\n"
			"# HELP ccgw_db_pool_size Largest number of request-worker connections.\n"
			"# TYPE ccgw_db_pool_size gauge\n"
			"ccgw_db_pool_size %d\n"
			"# HELP ccgw_db_pool_cut_total Connections cut because a request held one past db_hold_timeout_ms.\n"
			"# TYPE ccgw_db_pool_cut_total counter\n"
			"ccgw_db_pool_cut_total %llu\n", in_use, idle, size,
		    db_pool_cut_count(ctx->app->pool));
	{
		unsigned long long groups, grouped;

		txgroup_stats(ctx->app->txgroup, &groups, &grouped);
		sbuf_printf(&b, "# HELP ccgw_group_commits_total Transactions that held several inbound messages (group commit).\n"
				"# TYPE ccgw_group_commits_total counter\n"
				"ccgw_group_commits_total %llu\n"
				"# HELP ccgw_group_commit_messages_total Inbound messages run in those transactions.\n"
				"# TYPE ccgw_group_commit_messages_total counter\n"
				"ccgw_group_commit_messages_total %llu\n", groups, grouped);
	}
	server_metrics_write(&b);
	latency_metrics_write(&b);
	if (cli_serve_dispatcher())
		dispatcher_metrics_write(cli_serve_dispatcher(), &b);
	text = sbuf_take(&b);
	if (!text) {
		http_response_error(resp, 500, "internal", "out of memory");
		return;
	}
	http_response_body(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
	free(text);
}
