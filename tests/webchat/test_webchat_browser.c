/*
 * test_webchat_browser.c: the web chat in a real browser. Starts the real `ccgw serve` with a
 * shop and a catalog, then tests/browser/chat_browser.py drives headless Chromium (Debian's
 * chromium, chromium-driver and python3-selenium, installed by scripts/test) through the page:
 * typing and clicking the offered buttons to a placed order, a reload that resumes the
 * conversation, a phone-width view, the accessibility basics, and a plain page that embeds
 * widget.js. Screenshots are kept under build/webchat-screens/ as evidence.
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

#include "testsrv.h"

static void create_product(const struct testsrv *srv, const char *key, const char *sku,
                           const char *name, long price)
{
	struct testhttp_resp r;
	char body[512], url[256], auth[256];
	const char *headers[3] = {auth, "Content-Type: application/json", NULL};

	snprintf(url, sizeof(url), "%s/api/v1/products", srv->base_url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	snprintf(body, sizeof(body),
	         "{\"sku\": \"%s\", \"name\": \"%s\", \"description\": \"%s\", \"category\":"
	         " \"Honey\", \"price_minor\": %ld, \"currency\": \"KES\", \"stock\": 50,"
	         " \"active\": true}",
	         sku, name, name, price);
	testhttp_request("POST", url, headers, body, strlen(body), &r);
	if (r.status != 201)
		fail_msg("product create answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
}

static void test_chat_in_chromium(void **state)
{
	static const char *const shots[] = {"webchat-desktop.png", "webchat-desktop-resumed.png",
	                                    "webchat-phone.png", "webchat-embed.png", NULL};
	const char *env[] = {"CCGW_LOG_LEVEL=info", NULL};
	struct testdb db;
	struct testsrv srv;
	char *tenant, *key, cmd[1024], path[512];
	struct stat st;
	int rc, i;

	(void)state;
	testdb_setup(&db, "webchat_browser");
	tenant = testdb_tenant_create(&db, "asali-web", &key);
	testsrv_start(&srv, &db, env);
	create_product(&srv, key, "HN-ACA-500", "Acacia honey 500g", 85000);
	create_product(&srv, key, "HN-MAN-250", "Mangrove honey 250g", 60000);
	snprintf(path, sizeof(path), "%s/webchat-screens", CCGW_BUILD_DIR);
	mkdir(path, 0755);
	for (i = 0; shots[i]; i++) {
		char f[600];

		snprintf(f, sizeof(f), "%s/%s", path, shots[i]);
		unlink(f);
	}
	snprintf(cmd, sizeof(cmd),
	         "/usr/bin/python3 %s/tests/browser/chat_browser.py --base %s --slug asali-web"
	         " --out %s",
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
	free(tenant);
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chat_in_chromium),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
