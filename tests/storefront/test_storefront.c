/*
 * test_storefront.c: the storefront end to end against the real `ccgw serve`, a real
 * PostgreSQL and the mock Graph and Bot APIs: image assets (types by magic bytes, the size
 * limit, once by SHA-256, variants, the public URL's ETag and cache headers, another tenant's
 * asset), the draft (validation naming the field, contrast, another tenant's ids), preview,
 * publish and rollback, the public pages' HTML (prices, stock, order links, Open Graph tags,
 * escaping, size), 404s, a price change seen at once, and the wa.me prefilled text and the
 * Telegram start payload taken from the page and sent through the real webhooks, which must
 * land the product (with its add-to-cart buttons) in front of the shopper.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"
#include "util.h"

#define APP_SECRET "wa-app-secret-19"
#define PNID       "109876543210987"
#define WA_NUMBER  "254712345678"
#define BOT_TOKEN  "7012345679:AAH-storefront-bot_token"
#define TG_SECRET  "tg-secret-19"
#define BOT_USER   "asali_shop_bot"
#define XSS_NAME   "<script>alert(1)</script>"

static char *other_id, *other_key;
static pid_t tg_pid;
static int tg_port;
static char wa_channel[40], tg_channel[40];
static char honey_id[40], honey_product[40];
static char env_tg[96];

/* ---- helpers ---- */

static void expect(const char *method, const char *path, const char *body, long status)
{
	struct testhttp_resp r;

	hx_api(method, path, body, &r);
	if (r.status != status)
		fail_msg("%s %s answered %ld, expected %ld: %s", method, path, r.status, status,
		         r.body);
	testhttp_resp_clear(&r);
}

/* A 400 whose error names field. */
static void expect_field(const char *key, const char *method, const char *path, const char *body,
                         const char *field)
{
	struct testhttp_resp r;
	json_t *o;

	hx_api_as(key, method, path, body, &r);
	if (r.status != 400)
		fail_msg("%s %s answered %ld, expected 400 naming %s: %s", method, path, r.status,
		         field, r.body);
	o = hx_json(&r);
	if (!json_string_value(json_object_get(json_object_get(o, "error"), "field")) ||
	    strcmp(json_string_value(json_object_get(json_object_get(o, "error"), "field")),
	           field) != 0)
		fail_msg("%s %s: the error names %s, expected %s", method, path, r.body, field);
	json_decref(o);
	testhttp_resp_clear(&r);
}

static void get_page(const char *path, const char *accept, struct testhttp_resp *r)
{
	char url[512], acc[128];
	const char *headers[2] = {acc, NULL};

	snprintf(url, sizeof(url), "%s%s", hx.srv.base_url, path);
	snprintf(acc, sizeof(acc), "Accept: %s", accept ? accept : "*/*");
	testhttp_request("GET", url, headers, NULL, 0, r);
}

static char *read_file(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/storefront/%s", CCGW_TEST_DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void upload(const char *key, const char *data, size_t len, struct testhttp_resp *r)
{
	char url[256], auth[256];
	const char *headers[3] = {auth, "Content-Type: application/octet-stream", NULL};

	snprintf(url, sizeof(url), "%s/api/v1/assets", hx.srv.base_url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	testhttp_request("POST", url, headers, data, len, r);
}

/* Uploads a file from tests/data/storefront and returns the answer (201 or 200 expected). */
static json_t *upload_file(const char *key, const char *name, long status)
{
	struct testhttp_resp r;
	size_t len;
	char *data = read_file(name, &len);
	json_t *o;

	upload(key, data, len, &r);
	if (r.status != status)
		fail_msg("upload of %s answered %ld, expected %ld: %s", name, r.status, status,
		         r.body);
	o = hx_json(&r);
	testhttp_resp_clear(&r);
	free(data);
	return o;
}

static void create_product(const char *sku, const char *name, long price, long stock,
                           char *id_out)
{
	struct testhttp_resp r;
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:i}", "sku", sku, "name", name,
	                         "description", "Fresh from the hive", "category", "Honey",
	                         "price_minor", (json_int_t)price, "currency", "KES", "stock",
	                         (json_int_t)stock);
	char *text = json_dumps(body, JSON_COMPACT);
	json_t *o;

	hx_api("POST", "/api/v1/products", text, &r);
	if (r.status != 201)
		fail_msg("product %s answered %ld: %s", sku, r.status, r.body);
	o = hx_json(&r);
	if (id_out)
		snprintf(id_out, 40, "%s", json_string_value(json_object_get(o, "id")));
	json_decref(o);
	json_decref(body);
	free(text);
	testhttp_resp_clear(&r);
}

static int contains(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle) != NULL;
}

/* The value of attribute attr in the first tag of html that contains marker (heap). */
static char *attr_after(const char *html, const char *marker, const char *attr)
{
	const char *p = strstr(html, marker), *start, *end;
	char key[64];

	if (!p)
		return NULL;
	start = p;
	while (start > html && *start != '<')
		start--;
	snprintf(key, sizeof(key), "%s=\"", attr);
	p = strstr(start, key);
	if (!p)
		return NULL;
	p += strlen(key);
	end = strchr(p, '"');
	return end ? strndup(p, (size_t)(end - p)) : NULL;
}

static void percent_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%' && util_hex_digit(s[1]) >= 0 && util_hex_digit(s[2]) >= 0) {
			*o++ = (char)(util_hex_digit(s[1]) * 16 + util_hex_digit(s[2]));
			s += 2;
		} else {
			*o++ = *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
}

static void publish(void)
{
	struct testhttp_resp r;

	hx_api("POST", "/api/v1/storefront/publish", "", &r);
	if (r.status != 200)
		fail_msg("publish answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
}

/* ---- set-up ---- */

static int setup(void **state)
{
	const char *env[3] = {env_tg, "CCGW_PUBLIC_URL=https://shop.example", NULL};
	struct testhttp_resp r;
	char body[512];
	json_t *o;

	(void)state;
	hx_setup("storefront", "asali");
	other_id = testdb_tenant_create(&hx.db, "other-shop", &other_key);
	tg_pid = testsrv_spawn_mock("telegram_mock.py", NULL, &tg_port);
	snprintf(env_tg, sizeof(env_tg), "CCGW_TELEGRAM_API_BASE=http://127.0.0.1:%d", tg_port);
	hx_serve("graph_mock.py", "CCGW_WHATSAPP_API_BASE", env);

	snprintf(body, sizeof(body),
	         "{\"type\": \"whatsapp\", \"phone_number_id\": \"" PNID "\", \"access_token\":"
	         " \"EAAG-test-token\", \"app_secret\": \"" APP_SECRET "\", \"verify_token\":"
	         " \"vt-19\", \"display_phone_number\": \"" WA_NUMBER "\"}");
	hx_api("POST", "/api/v1/channels", body, &r);
	if (r.status != 201)
		fail_msg("whatsapp channel answered %ld: %s", r.status, r.body);
	o = hx_json(&r);
	snprintf(wa_channel, sizeof(wa_channel), "%s", json_string_value(json_object_get(o, "id")));
	json_decref(o);
	testhttp_resp_clear(&r);
	hx_api("POST", "/api/v1/channels",
	       "{\"type\": \"telegram\", \"bot_token\": \"" BOT_TOKEN
	       "\", \"secret_token\": \"" TG_SECRET "\", \"bot_username\": \"" BOT_USER "\"}",
	       &r);
	if (r.status != 201)
		fail_msg("telegram channel answered %ld: %s", r.status, r.body);
	o = hx_json(&r);
	snprintf(tg_channel, sizeof(tg_channel), "%s", json_string_value(json_object_get(o, "id")));
	json_decref(o);
	testhttp_resp_clear(&r);

	create_product("HN-ACA-500", "Acacia honey 500g", 85000, 40, honey_product);
	create_product("HN-COMB", "Honeycomb", 70000, 3, NULL);
	create_product("HN-GIN", "Ginger honey", 65000, 0, NULL);
	create_product("XSS-1", XSS_NAME, 100, 10, NULL);
	create_product("HN-OLD", "Old honey", 1000, 10, NULL);
	create_product("CL/KIK 1", "Kikoi one", 5000, 7, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hx_teardown();
	testsrv_stop_pid(tg_pid);
	free(other_id);
	free(other_key);
	return 0;
}

/* ---- assets ---- */

static void test_assets(void **state)
{
	json_t *jpg, *png, *webp, *again, *v;
	struct testhttp_resp r;
	char path[256], etag_hdr[128], *bad, url[256];
	const char *etag;
	size_t len;
	char *orig;
	char sha[65];

	(void)state;
	jpg = upload_file(hx.api_key, "honey.jpg", 201);
	png = upload_file(hx.api_key, "logo.png", 201);
	webp = upload_file(hx.api_key, "banner.webp", 201);
	assert_string_equal(json_string_value(json_object_get(jpg, "content_type")), "image/jpeg");
	assert_string_equal(json_string_value(json_object_get(png, "content_type")), "image/png");
	assert_string_equal(json_string_value(json_object_get(webp, "content_type")), "image/webp");
	assert_int_equal(json_integer_value(json_object_get(jpg, "width")), 800);
	assert_int_equal(json_integer_value(json_object_get(jpg, "height")), 600);
	/* the variants fit their boxes and keep the proportions */
	v = json_object_get(json_object_get(jpg, "variants"), "thumb");
	assert_int_equal(json_integer_value(json_object_get(v, "width")), 240);
	assert_int_equal(json_integer_value(json_object_get(v, "height")), 180);
	v = json_object_get(json_object_get(jpg, "variants"), "card");
	assert_int_equal(json_integer_value(json_object_get(v, "width")), 640);
	assert_int_equal(json_integer_value(json_object_get(v, "height")), 480);
	/* a small picture is not scaled up */
	v = json_object_get(json_object_get(png, "variants"), "card");
	assert_int_equal(json_integer_value(json_object_get(v, "width")), 300);
	snprintf(honey_id, sizeof(honey_id), "%s", json_string_value(json_object_get(jpg, "id")));

	/* the same bytes again: the same asset, stored once */
	again = upload_file(hx.api_key, "honey.jpg", 200);
	assert_string_equal(json_string_value(json_object_get(again, "id")), honey_id);
	snprintf(path, sizeof(path),
	         "SELECT count(*) FROM storefront_assets WHERE parent_asset_id IS NULL");
	bad = hx_tscalar(hx.tenant_id, path, 0, NULL);
	assert_string_equal(bad, "3");
	free(bad);

	/* the public URL: the very bytes, an ETag, a long cache, 304 when unchanged */
	orig = read_file("honey.jpg", &len);
	util_sha256_hex(orig, len, sha);
	snprintf(url, sizeof(url), "%s%s", hx.srv.base_url,
	         json_string_value(json_object_get(jpg, "url")));
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, len);
	assert_memory_equal(r.body, orig, len);
	assert_true(contains(r.headers, "image/jpeg"));
	assert_true(contains(r.headers, "max-age=31536000"));
	assert_true(contains(r.headers, sha));
	testhttp_resp_clear(&r);
	free(orig);
	etag = json_string_value(json_object_get(jpg, "sha256"));
	assert_string_equal(etag, sha);
	snprintf(etag_hdr, sizeof(etag_hdr), "If-None-Match: \"%s\"", sha);
	{
		const char *h[2] = {etag_hdr, NULL};

		testhttp_request("GET", url, h, NULL, 0, &r);
		assert_int_equal(r.status, 304);
		testhttp_resp_clear(&r);
	}
	/* a variant is a JPEG of its own */
	snprintf(url, sizeof(url), "%s%s", hx.srv.base_url,
	         json_string_value(json_object_get(
	             json_object_get(json_object_get(webp, "variants"), "thumb"), "url")));
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_true(r.body_len > 3 && (unsigned char)r.body[0] == 0xff &&
	            (unsigned char)r.body[1] == 0xd8);
	testhttp_resp_clear(&r);
	/* not under another shop's address */
	snprintf(url, sizeof(url), "%s/shop/other-shop/assets/%s", hx.srv.base_url, honey_id);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);

	/* bad uploads: named, 400 / 413, nothing stored */
	upload(hx.api_key, "GIF89a not allowed", sizeof("GIF89a not allowed") - 1, &r);
	assert_int_equal(r.status, 400);
	assert_true(contains(r.body, "\"field\":\"file\""));
	testhttp_resp_clear(&r);
	upload(hx.api_key, "\xff\xd8\xff\xe0 this is not really a jpeg",
	       sizeof("\xff\xd8\xff\xe0 this is not really a jpeg") - 1, &r);
	assert_int_equal(r.status, 400);
	assert_true(contains(r.body, "\"field\":\"file\""));
	testhttp_resp_clear(&r);
	upload(hx.api_key, "", 0, &r);
	assert_int_equal(r.status, 400);
	testhttp_resp_clear(&r);
	bad = calloc(1, 3 * 1024 * 1024 + 1);
	memcpy(bad, "\xff\xd8\xff\xe0", 4);
	upload(hx.api_key, bad, 3 * 1024 * 1024 + 1, &r);
	assert_int_equal(r.status, 413);
	testhttp_resp_clear(&r);
	free(bad);
	bad = hx_tscalar(hx.tenant_id, path, 0, NULL);
	assert_string_equal(bad, "3");
	free(bad);

	/* another tenant: the asset is not theirs (404), nor can their product show it (400) */
	snprintf(path, sizeof(path), "/api/v1/assets/%s", honey_id);
	hx_api_as(other_key, "GET", path, NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	hx_api("GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	{
		char body[256];
		json_t *o;

		snprintf(body, sizeof(body),
		         "{\"sku\": \"O-1\", \"name\": \"Other\", \"price_minor\": 100,"
		         " \"image_asset_id\": \"%s\"}",
		         honey_id);
		expect_field(other_key, "POST", "/api/v1/products", body, "image_asset_id");
		hx_api("GET", "/api/v1/assets?limit=2", NULL, &r);
		assert_int_equal(r.status, 200);
		o = hx_json(&r);
		assert_int_equal(json_array_size(json_object_get(o, "data")), 2);
		assert_true(json_is_string(json_object_get(o, "next_cursor")));
		json_decref(o);
		testhttp_resp_clear(&r);
		/* the product shows the picture */
		snprintf(body, sizeof(body), "{\"image_asset_id\": \"%s\"}", honey_id);
		snprintf(path, sizeof(path), "/api/v1/products/%s", honey_product);
		hx_api("PATCH", path, body, &r);
		assert_int_equal(r.status, 200);
		assert_true(contains(r.body, honey_id));
		testhttp_resp_clear(&r);
		expect_field(hx.api_key, "PATCH", path, "{\"image_asset_id\": \"nope\"}",
		             "image_asset_id");
	}
	json_decref(jpg);
	json_decref(png);
	json_decref(webp);
	json_decref(again);
}

/* ---- draft, preview, publish, rollback ---- */

static void draft_with(const char *headline)
{
	struct testhttp_resp r;
	json_t *body = json_pack(
	    "{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:[s], s:[s, s], s:[{s:s}, {s:s, s:s}, {s:s, s:s}]}",
	    "headline", headline, "about", "Bees & <honey> from Baringo", "lang", "en", "theme",
	    "primary", "#7a4a00", "background", "#fffaf0", "text", "#222222",
	    "featured_categories", "Honey", "featured_products", "HN-COMB", "HN-ACA-500", "banners",
	    "title", "Honey week: <b>10% off</b>", "title", "Gone banner", "ends_at",
	    "2020-01-01T00:00:00Z", "title", "Future banner", "starts_at", "2099-01-01T00:00:00Z");
	char *text = json_dumps(body, JSON_COMPACT);

	hx_api("PUT", "/api/v1/storefront/draft", text, &r);
	if (r.status != 200)
		fail_msg("draft PUT answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
	free(text);
	json_decref(body);
}

static void test_draft_publish_rollback(void **state)
{
	struct testhttp_resp r;
	char body[512];
	json_t *o;

	(void)state;
	/* not published yet: 404, JSON for programs and a page for browsers */
	get_page("/shop/asali", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_true(contains(r.body, "\"not_found\""));
	testhttp_resp_clear(&r);
	get_page("/shop/asali", "text/html,application/xhtml+xml", &r);
	assert_int_equal(r.status, 404);
	assert_true(contains(r.body, "<html"));
	testhttp_resp_clear(&r);
	expect("POST", "/api/v1/storefront/publish", "", 409);
	expect("GET", "/api/v1/storefront/draft/preview", NULL, 404);

	/* validation names the field and changes nothing */
	expect_field(hx.api_key, "PUT", "/api/v1/storefront/draft", "{\"colour\": \"red\"}",
	             "colour");
	expect_field(hx.api_key, "PUT", "/api/v1/storefront/draft",
	             "{\"theme\": {\"text\": \"#777777\", \"background\": \"#888888\"}}",
	             "theme.text");
	expect_field(hx.api_key, "PUT", "/api/v1/storefront/draft",
	             "{\"theme\": {\"primary\": \"#777777\"}}", "theme.primary");
	expect_field(hx.api_key, "PUT", "/api/v1/storefront/draft",
	             "{\"theme\": {\"text\": \"red\"}}", "theme.text");
	expect_field(hx.api_key, "PUT", "/api/v1/storefront/draft", "{\"lang\": \"fr\"}", "lang");
	expect_field(hx.api_key, "PUT", "/api/v1/storefront/draft",
	             "{\"featured_products\": [\"NO-SUCH-SKU\"]}", "featured_products[0]");
	expect_field(hx.api_key, "PUT", "/api/v1/storefront/draft",
	             "{\"banners\": [{\"title\": \"x\", \"starts_at\": \"2026-02-30T00:00:00Z\"}]}",
	             "banners[0].starts_at");
	expect_field(hx.api_key, "PUT", "/api/v1/storefront/draft",
	             "{\"banners\": [{\"title\": \"x\", \"starts_at\": \"2026-03-02T00:00:00Z\","
	             " \"ends_at\": \"2026-03-01T00:00:00Z\"}]}",
	             "banners[0].ends_at");
	expect_field(hx.api_key, "PUT", "/api/v1/storefront/draft",
	             "{\"banners\": [{\"title\": \"x\", \"link_url\": \"javascript:alert(1)\"}]}",
	             "banners[0].link_url");
	expect_field(hx.api_key, "PUT", "/api/v1/storefront/draft", "{\"headline\": 5}",
	             "headline");
	/* another tenant's asset is no asset here */
	snprintf(body, sizeof(body), "{\"logo_asset_id\": \"%s\"}", honey_id);
	expect_field(other_key, "PUT", "/api/v1/storefront/draft", body, "logo_asset_id");
	hx_api("GET", "/api/v1/storefront/draft", NULL, &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	assert_string_equal(json_string_value(json_object_get(o, "headline")), "");
	assert_true(json_is_null(json_object_get(o, "published_version")));
	json_decref(o);
	testhttp_resp_clear(&r);

	/* a draft is not public; its preview is the seller's */
	draft_with("First headline");
	get_page("/shop/asali", NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	hx_api("GET", "/api/v1/storefront/draft/preview", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(contains(r.headers, "text/html"));
	assert_true(contains(r.body, "First headline"));
	testhttp_resp_clear(&r);
	hx_api_as(other_key, "GET", "/api/v1/storefront/draft", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_false(contains(r.body, "First headline"));
	testhttp_resp_clear(&r);
	hx_api_as(other_key, "POST", "/api/v1/storefront/publish", "", &r);
	assert_int_equal(r.status, 409);
	testhttp_resp_clear(&r);

	/* publish: version 1 is what the public sees */
	hx_api("POST", "/api/v1/storefront/publish", "", &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "published_version")), 1);
	json_decref(o);
	testhttp_resp_clear(&r);
	get_page("/shop/asali", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(contains(r.body, "First headline"));
	testhttp_resp_clear(&r);

	/* an edited draft stays private until published */
	draft_with("Second headline");
	get_page("/shop/asali", NULL, &r);
	assert_true(contains(r.body, "First headline"));
	assert_false(contains(r.body, "Second headline"));
	testhttp_resp_clear(&r);
	publish();
	get_page("/shop/asali", NULL, &r);
	assert_true(contains(r.body, "Second headline"));
	testhttp_resp_clear(&r);

	/* rollback: version 1 again; then there is nothing before it */
	hx_api("POST", "/api/v1/storefront/rollback", "", &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "published_version")), 1);
	json_decref(o);
	testhttp_resp_clear(&r);
	get_page("/shop/asali", NULL, &r);
	assert_true(contains(r.body, "First headline"));
	assert_false(contains(r.body, "Second headline"));
	testhttp_resp_clear(&r);
	expect("POST", "/api/v1/storefront/rollback", "", 409);
	/* publishing again makes version 3 of the draft (the second headline) */
	hx_api("POST", "/api/v1/storefront/publish", "", &r);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "published_version")), 3);
	json_decref(o);
	testhttp_resp_clear(&r);
	/* another tenant's key cannot roll this shop back */
	hx_api_as(other_key, "POST", "/api/v1/storefront/rollback", "", &r);
	assert_int_equal(r.status, 409);
	testhttp_resp_clear(&r);
	get_page("/shop/asali", NULL, &r);
	assert_true(contains(r.body, "Second headline"));
	testhttp_resp_clear(&r);
	/* no key: 401 */
	{
		char url[256];

		snprintf(url, sizeof(url), "%s/api/v1/storefront/draft", hx.srv.base_url);
		testhttp_request("GET", url, NULL, NULL, 0, &r);
		assert_int_equal(r.status, 401);
		testhttp_resp_clear(&r);
	}
}

/* ---- the public page ---- */

static void test_page_html(void **state)
{
	struct testhttp_resp r;
	char *href, *og;
	char path[128];

	(void)state;
	get_page("/shop/asali", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(contains(r.headers, "text/html"));
	assert_true(contains(r.headers, "no-cache"));
	/* fast on a cheap phone: the HTML under 100 KB */
	assert_true(r.body_len < 100 * 1024);
	assert_true(contains(r.body, "<html lang=\"en\">"));
	assert_true(contains(r.body, "<main"));
	assert_true(contains(r.body, "<header"));
	assert_true(contains(r.body, "<nav aria-label="));
	assert_true(contains(r.body, "<footer"));
	assert_false(contains(r.body, "<script"));
	/* every seller-supplied text is text */
	assert_false(contains(r.body, XSS_NAME));
	assert_true(contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_true(contains(r.body, "Honey week: &lt;b&gt;10% off&lt;/b&gt;"));
	assert_true(contains(r.body, "Bees &amp; &lt;honey&gt; from Baringo"));
	/* banners by time */
	assert_false(contains(r.body, "Gone banner"));
	assert_false(contains(r.body, "Future banner"));
	/* prices and stock states */
	assert_true(contains(r.body, "KES 850"));
	assert_true(contains(r.body, "KES 700"));
	assert_true(contains(r.body, "Only 3 left"));
	assert_true(contains(r.body, "Out of stock"));
	assert_true(contains(r.body, "In stock"));
	/* the image: lazy, in sizes, with alt text */
	og = attr_after(r.body, "alt=\"Acacia honey 500g\"", "srcset");
	assert_non_null(og);
	assert_true(contains(og, " 240w") && contains(og, " 640w"));
	free(og);
	assert_true(contains(r.body, "loading=\"lazy\""));
	/* the theme's colours */
	assert_true(contains(r.body, "--pr:#7a4a00"));
	/* order links for the channels the shop has */
	href = attr_after(r.body, "https://wa.me/" WA_NUMBER, "href");
	assert_non_null(href);
	free(href);
	assert_true(contains(r.body, "https://t.me/" BOT_USER "?start=p_HN-ACA-500"));
	assert_true(contains(r.body, "href=\"/chat/asali?product=HN-ACA-500\""));
	/* Open Graph and Twitter cards with absolute URLs */
	assert_true(contains(r.body, "<meta property=\"og:title\" content=\""));
	assert_true(contains(r.body, "<meta property=\"og:url\" content=\"https://shop.example/shop/asali\">"));
	assert_true(contains(r.body, "<meta name=\"twitter:card\""));
	testhttp_resp_clear(&r);

	/* the product page */
	get_page("/shop/asali/p/HN-ACA-500", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(contains(r.body, "<h1>Acacia honey 500g</h1>"));
	assert_true(contains(r.body, "<meta property=\"og:type\" content=\"product\">"));
	assert_true(contains(r.body, "<meta property=\"product:price:amount\" content=\"850.00\">"));
	assert_true(contains(r.body, "<meta property=\"product:price:currency\" content=\"KES\">"));
	og = attr_after(r.body, "property=\"og:image\"", "content");
	assert_non_null(og);
	assert_true(strncmp(og, "https://shop.example/shop/asali/assets/", 39) == 0);
	free(og);
	assert_true(contains(r.body, "summary_large_image"));
	testhttp_resp_clear(&r);
	get_page("/shop/asali/p/XSS-1", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_false(contains(r.body, XSS_NAME));
	assert_true(contains(r.body, "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"));
	testhttp_resp_clear(&r);
	/* a SKU with a '/' and a space still has its page */
	get_page("/shop/asali", NULL, &r);
	assert_true(contains(r.body, "href=\"/shop/asali/p/CL/KIK%201\""));
	testhttp_resp_clear(&r);
	get_page("/shop/asali/p/CL/KIK%201", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(contains(r.body, "<h1>Kikoi one</h1>"));
	assert_true(contains(r.body, "start=h_"));
	testhttp_resp_clear(&r);
	/* out of stock: no order links that cannot be filled, the chat still there */
	get_page("/shop/asali/p/HN-GIN", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_false(contains(r.body, "https://wa.me/"));
	assert_true(contains(r.body, "/chat/asali?product=HN-GIN"));
	testhttp_resp_clear(&r);

	/* never staler than the catalog: a new price and stock show at once */
	snprintf(path, sizeof(path), "/api/v1/products/%s", honey_product);
	expect("PATCH", path, "{\"price_minor\": 91000, \"stock\": 2}", 200);
	get_page("/shop/asali/p/HN-ACA-500", NULL, &r);
	assert_true(contains(r.body, "KES 910"));
	assert_true(contains(r.body, "Only 2 left"));
	assert_false(contains(r.body, "KES 850"));
	testhttp_resp_clear(&r);
	expect("PATCH", path, "{\"price_minor\": 85000, \"stock\": 40}", 200);
}

static void test_not_found(void **state)
{
	struct testhttp_resp r;
	char path[128], *id;

	(void)state;
	/* an inactive product, a deleted one, an unknown SKU, an unknown slug */
	id =
	    hx_tscalar(hx.tenant_id, "SELECT id::text FROM products WHERE sku = 'HN-OLD'", 0, NULL);
	assert_non_null(id);
	get_page("/shop/asali/p/HN-OLD", NULL, &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	snprintf(path, sizeof(path), "/api/v1/products/%s", id);
	expect("PATCH", path, "{\"active\": false}", 200);
	get_page("/shop/asali/p/HN-OLD", NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	get_page("/shop/asali", NULL, &r);
	assert_false(contains(r.body, "Old honey"));
	testhttp_resp_clear(&r);
	expect("PATCH", path, "{\"active\": true}", 200);
	expect("DELETE", path, NULL, 204);
	get_page("/shop/asali/p/HN-OLD", "text/html", &r);
	assert_int_equal(r.status, 404);
	assert_true(contains(r.body, "<html"));
	testhttp_resp_clear(&r);
	get_page("/shop/asali/p/NOPE", NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	get_page("/shop/no-such-shop", NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	get_page("/shop/other-shop", NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	get_page("/shop/other-shop/p/HN-ACA-500", NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	free(id);
}

/* ---- the links through the engine ---- */

/* The mock's recorded requests as one JSON text, polled until it holds every needle. */
static char *wait_mock(int port, const char *const *needles)
{
	struct testhttp_resp r;
	char url[128];
	int tries, i, ok;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__requests", port);
	for (tries = 0; tries < 100; tries++) {
		testhttp_request("GET", url, NULL, NULL, 0, &r);
		for (i = 0, ok = 1; needles[i]; i++)
			ok = ok && contains(r.body, needles[i]);
		if (ok) {
			char *out = r.body;

			r.body = NULL;
			testhttp_resp_clear(&r);
			return out;
		}
		testhttp_resp_clear(&r);
		usleep(100 * 1000);
	}
	fail_msg("the platform was never sent %s", needles[0]);
	return NULL;
}

static void test_links_land_product(void **state)
{
	struct testhttp_resp r;
	char *href, *text, *start, *body, *seen, url[256], sig[128], hex[65];
	const char *headers[3];
	json_t *o;
	char product_add[80];

	(void)state;
	snprintf(product_add, sizeof(product_add), "add:%s:1", honey_product);
	get_page("/shop/asali/p/HN-ACA-500", NULL, &r);
	assert_int_equal(r.status, 200);
	/* WhatsApp: the prefilled text of the page's link, as a shopper sends it */
	href = attr_after(r.body, "https://wa.me/", "href");
	testhttp_resp_clear(&r);
	assert_non_null(href);
	assert_true(strncmp(href, "https://wa.me/" WA_NUMBER "?text=", 14 + 12 + 6) == 0);
	text = strdup(strchr(href, '=') + 1);
	percent_decode(text);
	assert_true(contains(text, "Acacia honey 500g"));
	assert_true(contains(text, "HN-ACA-500"));
	o = json_pack("{s:s, s:[{s:s, s:[{s:{s:s, s:{s:s, s:s}, s:[{s:{s:s}, s:s}], s:[{s:s, s:s, "
	              "s:s, s:s, s:{s:s}}]}, s:s}]}]}",
	              "object", "whatsapp_business_account", "entry", "id", "102290129340398",
	              "changes", "value", "messaging_product", "whatsapp", "metadata",
	              "display_phone_number", WA_NUMBER, "phone_number_id", PNID, "contacts",
	              "profile", "name", "Amina", "wa_id", "254700000019", "messages", "from",
	              "254700000019", "id", "wamid.STOREFRONT1", "timestamp", "1765000000", "type",
	              "text", "text", "body", text, "field", "messages");
	body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	util_hmac_sha256_hex(APP_SECRET, strlen(APP_SECRET), body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
	headers[0] = sig;
	headers[1] = "Content-Type: application/json";
	headers[2] = NULL;
	snprintf(url, sizeof(url), "%s/webhooks/whatsapp/%s", hx.srv.base_url, wa_channel);
	testhttp_request("POST", url, headers, body, strlen(body), &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	/* the bot's answer: that product, with its add-to-cart buttons */
	seen = wait_mock(hx.mock_port, (const char *const[]){"254700000019", "Acacia honey 500g",
	                                                     product_add, NULL});
	free(seen);
	free(body);
	free(text);
	free(href);

	/* Telegram: the page's deep link's start payload, as Telegram delivers it */
	get_page("/shop/asali/p/HN-ACA-500", NULL, &r);
	href = attr_after(r.body, "https://t.me/", "href");
	testhttp_resp_clear(&r);
	assert_non_null(href);
	start = strstr(href, "?start=");
	assert_non_null(start);
	start += 7;
	assert_true(strlen(start) <= 64 && strspn(start, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmno"
	                                                 "pqrstuvwxyz0123456789_-") == strlen(start));
	text = malloc(strlen(start) + 8);
	sprintf(text, "/start %s", start);
	o = json_pack("{s:i, s:{s:i, s:i, s:{s:i, s:s}, s:{s:i, s:b, s:s}, s:s}}", "update_id",
	              (json_int_t)91000001, "message", "message_id", 11, "date", 1765000000, "chat",
	              "id", 4242019, "type", "private", "from", "id", 4242019, "is_bot", 0,
	              "first_name", "Baraka", "text", text);
	body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	headers[0] = "X-Telegram-Bot-Api-Secret-Token: " TG_SECRET;
	snprintf(url, sizeof(url), "%s/webhooks/telegram/%s", hx.srv.base_url, tg_channel);
	testhttp_request("POST", url, headers, body, strlen(body), &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	seen = wait_mock(tg_port, (const char *const[]){"4242019", "Acacia honey 500g", product_add,
	                                                NULL});
	free(seen);
	free(body);
	free(text);
	free(href);
}

/* The shop's language: the page's own words, <html lang> and the prefilled text. */
static void test_language(void **state)
{
	struct testhttp_resp r;
	char *href;

	(void)state;
	expect("PUT", "/api/v1/storefront/draft",
	       "{\"headline\": \"Asali safi\", \"lang\": \"sw\"}", 200);
	get_page("/shop/asali", NULL, &r);
	assert_false(contains(r.body, "Asali safi")); /* not yet published */
	testhttp_resp_clear(&r);
	publish();
	get_page("/shop/asali/p/HN-ACA-500", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(contains(r.body, "<html lang=\"sw\">"));
	assert_true(contains(r.body, ">Ongea hapa</a>"));
	assert_true(contains(r.body, ">Agiza kwa WhatsApp</a>"));
	assert_true(contains(r.body, ">Zipo</p>"));
	href = attr_after(r.body, "https://wa.me/", "href");
	assert_non_null(href);
	assert_true(contains(href, "Habari%21%20Ningependa%20kuagiza"));
	free(href);
	testhttp_resp_clear(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_assets),
	    cmocka_unit_test(test_draft_publish_rollback),
	    cmocka_unit_test(test_page_html),
	    cmocka_unit_test(test_not_found),
	    cmocka_unit_test(test_links_land_product),
	    cmocka_unit_test(test_language),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
