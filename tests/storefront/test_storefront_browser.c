/*
 * test_storefront_browser.c: the storefront in a real browser. Seeds the demo shop with the
 * real `ccgw demo` (which publishes /shop/demo), gives two of its products a picture through
 * the admin API, starts the real `ccgw serve`, then tests/browser/shop_browser.py drives
 * headless Chromium (Debian's chromium, chromium-driver and python3-selenium): /shop/demo at
 * phone and desktop widths, a product page, and "Chat here", which must open the web chat with
 * that product in front of the shopper. Screenshots are kept under build/storefront-screens/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <jansson.h>

#include "testsrv.h"

static void api(const struct testsrv *srv, const char *key, const char *method, const char *path,
                const char *body, size_t len, struct testhttp_resp *r)
{
	char url[1024], auth[256];
	const char *headers[3] = {auth, "Content-Type: application/json", NULL};

	snprintf(url, sizeof(url), "%s%s", srv->base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	testhttp_request(method, url, headers, body, len, r);
}

/* Runs `ccgw demo` against the test's database; returns the demo's API key (heap). */
static char *seed_demo(const struct testdb *db)
{
	char cmd[512], out[4096];
	size_t n;
	FILE *p;
	json_t *o;
	char *key;

	setenv("CCGW_DATABASE_URL", db->app_url, 1);
	setenv("CCGW_SECRET_KEY", db->secret_key, 1);
	snprintf(cmd, sizeof(cmd), "%s demo", CCGW_BINARY);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	o = json_loads(out, 0, NULL);
	if (!o || !json_string_value(json_object_get(o, "api_key")))
		fail_msg("ccgw demo printed %s", out);
	key = strdup(json_string_value(json_object_get(o, "api_key")));
	json_decref(o);
	return key;
}

/* Uploads the test picture and shows it on the products with these SKUs. */
static void add_pictures(const struct testsrv *srv, const char *key, const char *const *skus)
{
	struct testhttp_resp r;
	char path[512], body[128], url[256], auth[256];
	const char *headers[3] = {auth, "Content-Type: application/octet-stream", NULL};
	json_t *asset, *list, *p;
	FILE *f;
	char *data;
	long n;
	size_t i, k;

	snprintf(path, sizeof(path), "%s/storefront/honey.jpg", CCGW_TEST_DATA);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	snprintf(url, sizeof(url), "%s/api/v1/assets", srv->base_url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	testhttp_request("POST", url, headers, data, (size_t)n, &r);
	free(data);
	if (r.status != 201)
		fail_msg("upload answered %ld: %s", r.status, r.body);
	asset = json_loads(r.body, 0, NULL);
	testhttp_resp_clear(&r);
	api(srv, key, "GET", "/api/v1/products?limit=200", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	list = json_loads(r.body, 0, NULL);
	testhttp_resp_clear(&r);
	for (k = 0; skus[k]; k++)
		json_array_foreach(json_object_get(list, "data"), i, p)
		{
			if (strcmp(json_string_value(json_object_get(p, "sku")), skus[k]) != 0)
				continue;
			snprintf(path, sizeof(path), "/api/v1/products/%s",
			         json_string_value(json_object_get(p, "id")));
			snprintf(body, sizeof(body), "{\"image_asset_id\": \"%s\"}",
			         json_string_value(json_object_get(asset, "id")));
			api(srv, key, "PATCH", path, body, strlen(body), &r);
			assert_int_equal(r.status, 200);
			testhttp_resp_clear(&r);
		}
	json_decref(list);
	json_decref(asset);
}

static void test_shop_in_chromium(void **state)
{
	static const char *const shots[] = {"shop-phone.png", "shop-desktop.png", "shop-product.png",
	                                    "shop-chat.png", NULL};
	const char *env[] = {"CCGW_LOG_LEVEL=info", NULL};
	struct testdb db;
	struct testsrv srv;
	char *key, cmd[1024], path[512];
	struct stat st;
	int rc, i;

	(void)state;
	testdb_setup(&db, "storefront_browser");
	key = seed_demo(&db);
	testsrv_start(&srv, &db, env);
	add_pictures(&srv, key, (const char *const[]){"HNY-ACA-500", "HNY-ACA-1K", NULL});
	snprintf(path, sizeof(path), "%s/storefront-screens", CCGW_BUILD_DIR);
	mkdir(path, 0755);
	for (i = 0; shots[i]; i++) {
		char f[600];

		snprintf(f, sizeof(f), "%s/%s", path, shots[i]);
		unlink(f);
	}
	snprintf(cmd, sizeof(cmd),
	         "/usr/bin/python3 %s/tests/browser/shop_browser.py --base %s --slug demo --out %s",
	         CCGW_SOURCE_DIR, srv.base_url, path);
	rc = system(cmd);
	testsrv_stop(&srv);
	if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
		fail_msg("the browser test failed (%d); the server's log: %s", rc, srv.log_path);
	for (i = 0; shots[i]; i++) {
		char f[600];

		snprintf(f, sizeof(f), "%s/%s", path, shots[i]);
		if (stat(f, &st) != 0 || st.st_size < 1000)
			fail_msg("no screenshot %s", f);
	}
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shop_in_chromium),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
