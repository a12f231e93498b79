/*
 * test_dispatch_seller.c: seller notifications end to end, through the real binaries. The demo
 * shop (`ccgw demo`) registers a webhook target through the admin API of a running `ccgw serve`;
 * an order placed in `ccgw console` reaches that webhook, signed (the receiver checks the
 * signature with its secret), with the contract's body; a status change through the admin API
 * (PATCH with If-Match) reaches it too as order.status_changed, and its message to the shopper,
 * on the console channel, is left to the console (printed at the next line, never failed by
 * the dispatcher). Also: a product the admin API creates without a currency sells, whatever
 * tenants.settings says (the shop's currency has one source, tenants.currency).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dispatch_fixture.h"
#include "testsrv.h"

static struct fx fx;
static struct testsrv srv;

/* Runs the ccgw binary with args against the test database, stdin_text (printf escapes, no
 * quotes) on its standard input; returns its stdout (heap). */
static char *run_binary(const char *args, const char *stdin_text)
{
	char cmd[4096], *out = calloc(1, 65536);
	size_t n;
	FILE *p;

	assert_non_null(out);
	snprintf(cmd, sizeof(cmd),
	         "printf '%s' | CCGW_HOME=/nonexistent-ccgw-home CCGW_DATABASE_URL='%s'"
	         " CCGW_SECRET_KEY='%s' '%s' %s 2>/dev/null",
	         stdin_text ? stdin_text : "", fx.db.app_url, fx.db.secret_key, CCGW_BINARY, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, 65535, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	return out;
}

/* Waits for the mock to have a request on path whose JSON body has "event" = event. */
static json_t *wait_event(const char *path, const char *event)
{
	json_t *reqs, *r, *found = NULL, *body;
	size_t i;
	int tries;

	for (tries = 0; tries < 300 && !found; tries++) {
		reqs = fx_mock_requests(&fx);
		json_array_foreach(reqs, i, r)
		{
			if (strcmp(json_string_value(json_object_get(r, "path")), path) != 0)
				continue;
			body = json_loads(json_string_value(json_object_get(r, "body")), 0, NULL);
			if (body && json_is_string(json_object_get(body, "event")) &&
			    strcmp(json_string_value(json_object_get(body, "event")), event) == 0) {
				found = json_incref(r);
				json_decref(body);
				break;
			}
			json_decref(body);
		}
		json_decref(reqs);
		if (!found)
			fx_sleep_ms(50);
	}
	if (!found)
		fail_msg("no %s arrived at %s", event, path);
	return found;
}

/* Checks a delivered webhook and returns its parsed body (caller decrefs). */
static json_t *check_delivery(const json_t *req, const char *tenant)
{
	const json_t *hd = json_object_get(req, "headers");
	json_t *body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
	const json_t *order;

	assert_non_null(body);
	assert_true(json_is_true(json_object_get(req, "sig_ok")));
	assert_string_equal(json_string_value(json_object_get(hd, "x-ccgw-event-id")),
	                    json_string_value(json_object_get(body, "event_id")));
	assert_string_equal(json_string_value(json_object_get(body, "tenant_id")), tenant);
	order = json_object_get(body, "order");
	assert_true(json_is_object(order));
	assert_int_equal(json_integer_value(json_object_get(order, "order_number")), 1001);
	assert_true(json_array_size(json_object_get(order, "items")) >= 1);
	assert_true(json_integer_value(
	                json_object_get(json_object_get(order, "totals"), "total_minor")) > 0);
	return body;
}

static void test_console_order_reaches_webhook(void **state)
{
	/* the seller's receiver is a local mock */
	const char *env[] = {"CCGW_DISPATCH_BACKOFF_MS=200", "CCGW_WEBHOOK_ALLOW_PRIVATE=1", NULL};
	char url[256], auth[160], match[64], hook[128], body[512], path[128];
	const char *headers[4];
	struct testhttp_resp r;
	json_t *demo, *list, *order, *placed, *changed, *b;
	char *out, *tenant, *key;

	(void)state;
	out = run_binary("demo", NULL);
	demo = json_loads(out, 0, NULL);
	assert_non_null(demo);
	tenant = strdup(json_string_value(json_object_get(demo, "tenant_id")));
	key = strdup(json_string_value(json_object_get(demo, "api_key")));
	json_decref(demo);
	free(out);

	testsrv_start(&srv, &fx.db, env);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	snprintf(hook, sizeof(hook), "%s/hook/seller", fx.mock_url);
	fx_mock_secret(&fx, "/hook/seller", "seller-secret-1");
	snprintf(body, sizeof(body),
	         "{\"kind\": \"webhook\", \"url\": \"%s\", \"secret\": \"seller-secret-1\"}", hook);
	snprintf(url, sizeof(url), "%s/api/v1/notification-targets", srv.base_url);
	headers[0] = auth;
	headers[1] = "Content-Type: application/json";
	headers[2] = NULL;
	testhttp_request("POST", url, headers, body, strlen(body), &r);
	if (r.status != 201)
		fail_msg("notification target: %ld %s", r.status, r.body);
	testhttp_resp_clear(&r);

	/* a shopper orders in the console: browse, a category, a product, 2, checkout, details */
	out = run_binary(
	    "console --tenant demo --user e2e-1",
	    "hi\\n1\\n1\\n1\\n2\\ncheckout\\nAli\\nTom Mboya St\\n0711 222 333\\n1\\nyes\\n");
	assert_non_null(strstr(out, "Your order #1001"));
	free(out);

	placed = wait_event("/hook/seller", "order.placed");
	b = check_delivery(placed, tenant);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(b, "order"), "status")), "pending");
	json_decref(b);

	/* the seller confirms through the admin API; the webhook hears of it */
	snprintf(url, sizeof(url), "%s/api/v1/orders", srv.base_url);
	headers[1] = NULL;
	testhttp_request("GET", url, headers, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	list = json_loads(r.body, 0, NULL);
	testhttp_resp_clear(&r);
	order = json_array_get(json_object_get(list, "data"), 0);
	assert_non_null(order);
	snprintf(path, sizeof(path), "%s/api/v1/orders/%s", srv.base_url,
	         json_string_value(json_object_get(order, "id")));
	snprintf(match, sizeof(match), "If-Match: %lld",
	         (long long)json_integer_value(json_object_get(order, "version")));
	headers[1] = match;
	headers[2] = "Content-Type: application/json";
	headers[3] = NULL;
	testhttp_request("PATCH", path, headers, "{\"status\": \"confirmed\"}", 23, &r);
	if (r.status != 200)
		fail_msg("PATCH: %ld %s", r.status, r.body);
	testhttp_resp_clear(&r);
	json_decref(list);

	changed = wait_event("/hook/seller", "order.status_changed");
	b = check_delivery(changed, tenant);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(b, "order"), "status")), "confirmed");
	assert_string_equal(json_string_value(json_object_get(placed, "path")), "/hook/seller");
	json_decref(b);
	/* two deliveries, two rows sent, each exactly once (the outcome is written just after
	 * the receiver answered: wait for it) */
	{
		long sent_once = 0;
		int tries;

		for (tries = 0; tries < 100 && sent_once != 2; tries++) {
			sent_once = fx_ql(
			    &fx, tenant,
			    "SELECT count(*) FROM outbox WHERE kind = 'webhook' AND status = 'sent'"
			    " AND attempts = 1",
			    0, NULL);
			if (sent_once != 2)
				fx_sleep_ms(50);
		}
		assert_int_equal(sent_once, 2);
		assert_int_equal(fx_ql(&fx, tenant,
		                       "SELECT count(*) FROM outbox WHERE kind = 'webhook'", 0,
		                       NULL),
		                 2);
	}
	/* the shopper's "confirmed" message is on the console channel: the dispatcher, which has
	 * no sender for it, leaves it pending for the console (it looked at it: it parked it
	 * out of its due range) instead of failing it */
	{
		static const char row_sql[] =
		    "SELECT o.status || CASE WHEN o.next_attempt_at = 'infinity' THEN '|left' ELSE "
		    "'' END"
		    " FROM outbox o JOIN channels c ON c.tenant_id = o.tenant_id AND c.id = "
		    "o.channel_id"
		    " WHERE c.type = 'console' AND o.event_type = 'order.status_changed'";
		char *st = NULL;
		int tries;

		for (tries = 0; tries < 100; tries++) {
			free(st);
			st = fx_q(&fx, tenant, row_sql, 0, NULL);
			if (strcmp(st, "pending") != 0)
				break;
			fx_sleep_ms(50);
		}
		assert_string_equal(st, "pending|left");
		free(st);
		/* the shopper's next line prints it, before the answer to that line */
		out = run_binary("console --tenant demo --user e2e-1", "hi\\n");
		if (!strstr(out, "your order #1001 has been confirmed") ||
		    strstr(out, "your order #1001 has been confirmed") > strstr(out, "Karibu"))
			fail_msg("the console did not print the update first:\n%s", out);
		free(out);
		st = fx_q(&fx, tenant, row_sql, 0, NULL);
		assert_string_equal(st, "sent|left");
		free(st);
	}
	json_decref(placed);
	json_decref(changed);
	testsrv_stop(&srv);
	free(tenant);
	free(key);
}

/* One admin API request with the key; returns the parsed answer (caller decrefs) and sets
 * *status. */
static json_t *admin_call(const char *method, const char *path, const char *key, const char *body,
                          long *status)
{
	char url[512], auth[160];
	const char *headers[3] = {auth, body ? "Content-Type: application/json" : NULL, NULL};
	struct testhttp_resp r;
	json_t *j;

	snprintf(url, sizeof(url), "%s%s", srv.base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	testhttp_request(method, url, headers, body, body ? strlen(body) : 0, &r);
	*status = r.status;
	j = json_loads(r.body, 0, NULL);
	if (!j)
		fail_msg("%s %s: %ld %s", method, path, r.status, r.body);
	testhttp_resp_clear(&r);
	return j;
}

/*
 * One currency per shop: a product the admin API creates without a currency gets the shop's
 * currency, and the bot sells it, even when tenants.settings names another currency (the
 * settings key is not a second source of truth; tenants.currency is the shop's currency).
 */
static void test_admin_product_default_currency_sells(void **state)
{
	json_t *t, *p;
	char *out, *tenant, *key, *v;
	long status;

	(void)state;
	out = run_binary("tenant create --slug cur-shop --name 'Cur Shop' --currency KES", NULL);
	t = json_loads(out, 0, NULL);
	assert_non_null(t);
	tenant = strdup(json_string_value(json_object_get(t, "tenant_id")));
	key = strdup(json_string_value(json_object_get(t, "api_key")));
	json_decref(t);
	free(out);
	/* a settings blob that disagrees with tenants.currency */
	v = fx_q(&fx, tenant,
	         "UPDATE tenants SET settings = settings || '{\"currency\": \"USD\"}'::jsonb"
	         " WHERE id = app_tenant_id() RETURNING settings->>'currency'",
	         0, NULL);
	assert_string_equal(v, "USD");
	free(v);

	testsrv_start(&srv, &fx.db, NULL);
	p = admin_call("POST", "/api/v1/products", key,
	               "{\"sku\": \"MJ-1\", \"name\": \"Mango Jam\", \"price_minor\": 45000,"
	               " \"stock\": 5}",
	               &status);
	if (status != 201)
		fail_msg("POST /products: %ld %s", status, json_dumps(p, 0));
	assert_string_equal(json_string_value(json_object_get(p, "currency")), "KES");
	json_decref(p);
	testsrv_stop(&srv);

	/* the shopper finds it, adds two and orders: priced and totalled in KES */
	out =
	    run_binary("console --tenant cur-shop --user cur-1",
	               "mango jam\\n2\\ncheckout\\nAli\\nTom Mboya St\\n0711 222 333\\n1\\nyes\\n");
	if (!strstr(out, "Your order #1001") || strstr(out, "priced in"))
		fail_msg("the bot did not sell the product:\n%s", out);
	free(out);
	assert_int_equal(fx_ql(&fx, tenant,
	                       "SELECT count(*) FROM orders WHERE currency = 'KES'"
	                       " AND subtotal_minor = 90000",
	                       0, NULL),
	                 1);
	free(tenant);
	free(key);
}

static int stop_server(void **state)
{
	(void)state;
	if (srv.pid > 0)
		testsrv_kill(&srv);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_console_order_reaches_webhook, stop_server),
	    cmocka_unit_test_teardown(test_admin_product_default_currency_sells, stop_server),
	};
	int rc;

	fx_setup(&fx, "dispatch_seller");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	fx_teardown(&fx);
	return rc;
}
