/*
 * harness.c: the shared part of the integration tests that drive the real `ccgw serve` for
 * one shop: set-up and tear-down of the database, server and platform mock, admin API calls
 * and scalar checks in the shop's scope (harness.h).
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct harness hx;

void hx_setup(const char *db_name, const char *slug)
{
	testdb_setup(&hx.db, db_name);
	hx.tenant_id = testdb_tenant_create(&hx.db, slug, &hx.api_key);
}

void hx_serve(const char *mock_script, const char *base_var, const char *const *extra_env)
{
	const char *env[16];
	size_t n = 0;

	hx.mock_pid = testsrv_spawn_mock(mock_script, NULL, &hx.mock_port);
	snprintf(hx.mock_env, sizeof(hx.mock_env), "%s=http://127.0.0.1:%d", base_var,
	         hx.mock_port);
	env[n++] = hx.mock_env;
	while (extra_env && extra_env[n - 1]) {
		assert_true(n < sizeof(env) / sizeof(env[0]) - 1);
		env[n] = extra_env[n - 1];
		n++;
	}
	env[n] = NULL;
	testsrv_start(&hx.srv, &hx.db, env);
	hx.app_conn = testdb_connect_app(&hx.db);
}

void hx_teardown(void)
{
	testsrv_stop(&hx.srv);
	testsrv_stop_pid(hx.mock_pid);
	PQfinish(hx.app_conn);
	hx.app_conn = NULL;
	free(hx.tenant_id);
	free(hx.api_key);
	hx.tenant_id = hx.api_key = NULL;
}

json_t *hx_json(const struct testhttp_resp *r)
{
	json_t *o = json_loads(r->body ? r->body : "", 0, NULL);

	if (!o)
		fail_msg("answer is not JSON (HTTP %ld): %s", r->status, r->body ? r->body : "");
	return o;
}

void hx_api_as(const char *key, const char *method, const char *path, const char *body,
               struct testhttp_resp *r)
{
	char url[512], auth[256];
	const char *headers[3] = {auth, "Content-Type: application/json", NULL};

	snprintf(url, sizeof(url), "%s%s", hx.srv.base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	testhttp_request(method, url, headers, body, body ? strlen(body) : 0, r);
}

void hx_api(const char *method, const char *path, const char *body, struct testhttp_resp *r)
{
	hx_api_as(hx.api_key, method, path, body, r);
}

void hx_product_create(const char *sku, const char *name, const char *category, long price,
                       int stock)
{
	struct testhttp_resp r;
	char body[512];

	snprintf(body, sizeof(body),
	         "{\"sku\": \"%s\", \"name\": \"%s\", \"description\": \"A fine %s\", "
	         "\"category\": \"%s\", \"price_minor\": %ld, \"currency\": \"KES\", "
	         "\"stock\": %d, \"active\": true}",
	         sku, name, name, category, price, stock);
	hx_api("POST", "/api/v1/products", body, &r);
	if (r.status != 201)
		fail_msg("product create answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
}

pid_t hx_sink_start(const char *secret, int *port)
{
	struct testhttp_resp r;
	char url[128], body[512];
	pid_t pid = testsrv_spawn_mock("sink_mock.py", NULL, port);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__secret", *port);
	snprintf(body, sizeof(body), "{\"prefix\": \"/hook\", \"secret\": \"%s\"}", secret);
	testhttp_request("POST", url, NULL, body, strlen(body), &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	snprintf(body, sizeof(body),
	         "{\"kind\": \"webhook\", \"url\": \"http://127.0.0.1:%d/hook\", \"secret\": "
	         "\"%s\"}",
	         *port, secret);
	hx_api("POST", "/api/v1/notification-targets", body, &r);
	if (r.status != 201)
		fail_msg("webhook target answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
	return pid;
}

char *hx_tscalar(const char *tenant, const char *sql, int n, const char *const *params)
{
	const char *tp[1] = {tenant};
	PGresult *res;
	char *out = NULL;

	res = PQexecParams(hx.app_conn, "SELECT set_config('app.tenant_id', $1, false)", 1, NULL,
	                   tp, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	res = PQexecParams(hx.app_conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("query failed: %s: %s", sql, PQerrorMessage(hx.app_conn));
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		out = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return out;
}

long hx_tcount(const char *sql, int n, const char *const *params)
{
	char *v = hx_tscalar(hx.tenant_id, sql, n, params);
	long c = v ? atol(v) : -1;

	free(v);
	return c;
}

json_t *hx_mock_get(int port)
{
	char url[128];
	struct testhttp_resp r;
	json_t *arr;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__requests", port);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	arr = hx_json(&r);
	testhttp_resp_clear(&r);
	return arr;
}
