/*
 * webchat_page.c: the web chat's page and its files (web/), served by ccgw for each shop:
 * GET /chat/{slug} (the page, with a Content-Security-Policy that allows nothing from
 * elsewhere), /chat/{slug}/chat.js and chat.css, widget.js (the one-line embed for any site)
 * and config.json (the shop's name, greeting, colours, logo and language, from its settings
 * and storefront_config.theme).
 */
#include "webchat_gw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "shop_settings.h"
#include "tenant.h"
#include "util.h"

#define PAGE_CSP                                                                                   \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "           \
	"connect-src 'self'; base-uri 'none'; form-action 'none'"
#define FILE_MAX (512 * 1024)
#ifndef CCGW_WEB_DIR
#define CCGW_WEB_DIR "web" /* the build names the checkout's web/ */
#endif

static const char *web_dir(void)
{
	const char *d = getenv("CCGW_WEB_DIR");

	return d && *d ? d : CCGW_WEB_DIR;
}

/* A file of web/ (heap, NUL-terminated), or NULL. */
static char *web_file(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", web_dir(), name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > FILE_MAX ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

/* text with every {{KEY}} replaced by value (heap). */
static char *substitute(const char *text, const char *key, const char *value)
{
	struct sbuf b;
	const char *p = text, *hit;
	size_t klen = strlen(key);

	sbuf_init(&b);
	while ((hit = strstr(p, key))) {
		sbuf_append(&b, p, (size_t)(hit - p));
		sbuf_puts(&b, value);
		p = hit + klen;
	}
	sbuf_puts(&b, p);
	return sbuf_take(&b);
}

/* The public base URL without a trailing slash, into out. */
static void public_base(const struct http_ctx *ctx, char *out, size_t outlen)
{
	const char *pub = ctx->app->cfg->public_url ? ctx->app->cfg->public_url : "";
	size_t n = strlen(pub);

	while (n > 0 && pub[n - 1] == '/')
		n--;
	snprintf(out, outlen, "%.*s", (int)n, pub);
}

/* The tenant of the slug in the path, or an answer (404 / 503) and -1. */
static int shop_of(struct http_ctx *ctx, const struct http_request *req,
                   struct http_response *resp, char tenant[37])
{
	const char *slug = req->nparams > 0 ? req->params[0] : "";
	int rc;

	if (!tenant_slug_valid(slug)) {
		http_response_error(resp, 404, "not_found", "there is no shop here");
		return -1;
	}
	if (!ctx->conn) {
		http_response_error(resp, 503, "database_unavailable",
		                    "the database is not answering; try again shortly");
		return -1;
	}
	rc = tenant_id_by_slug(ctx->conn, slug, tenant);
	if (rc == TENANT_ERR_NOT_FOUND) {
		http_response_error(resp, 404, "not_found", "there is no shop here");
		return -1;
	}
	if (rc != 0) {
		http_response_error(resp, 503, "database_unavailable",
		                    "the database is not answering; try again shortly");
		return -1;
	}
	return 0;
}

static void file_answer(struct http_response *resp, const char *name, const char *type,
                        const char *slug, const char *base)
{
	size_t len = 0;
	char *raw = web_file(name, &len), *a = NULL, *b = NULL;

	if (!raw) {
		log_error(NULL, "webchat: %s/%s cannot be read (CCGW_WEB_DIR?)", web_dir(), name);
		http_response_error(resp, 500, "internal", "the chat page is not installed");
		return;
	}
	a = substitute(raw, "{{SLUG}}", slug);
	b = a ? substitute(a, "{{BASE}}", base) : NULL;
	if (!b) {
		http_response_error(resp, 500, "internal", "out of memory");
	} else {
		http_response_body(resp, 200, type, b, strlen(b));
		http_response_header(resp, "X-Content-Type-Options", "nosniff");
		http_response_header(resp, "Cache-Control", "no-cache");
	}
	free(raw);
	free(a);
	free(b);
}

void webchat_page(struct http_ctx *ctx, const struct http_request *req,
                  struct http_response *resp)
{
	char tenant[37], base[512];

	if (shop_of(ctx, req, resp, tenant) < 0)
		return;
	public_base(ctx, base, sizeof(base));
	file_answer(resp, "chat.html", "text/html; charset=utf-8", req->params[0], base);
	if (resp->status == 200) {
		http_response_header(resp, "Content-Security-Policy", PAGE_CSP);
		http_response_header(resp, "Referrer-Policy", "no-referrer");
	}
}

struct look_tx {
	const char *tenant;
	json_t *config; /* out */
};

static int look_tx_fn(PGconn *conn, void *arg)
{
	struct look_tx *t = arg;
	struct shop_settings shop;
	PGresult *res;
	json_t *theme = NULL, *colors;
	const char *greeting;

	if (shop_settings_load(conn, t->tenant, &shop) != 0)
		return PG_ERR_QUERY;
	res = pg_exec(conn,
	              "SELECT theme::text FROM storefront_config WHERE tenant_id = app_tenant_id()",
	              0, NULL);
	if (!res) {
		shop_settings_clear(&shop);
		return PG_ERR_QUERY;
	}
	if (PQntuples(res) == 1)
		theme = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	colors = json_pack("{s:s, s:s, s:s}", "primary",
	                   json_string_value(json_object_get(theme, "primary"))
	                       ? json_string_value(json_object_get(theme, "primary"))
	                       : "#0a7d4f",
	                   "background",
	                   json_string_value(json_object_get(theme, "background"))
	                       ? json_string_value(json_object_get(theme, "background"))
	                       : "#ffffff",
	                   "text",
	                   json_string_value(json_object_get(theme, "text"))
	                       ? json_string_value(json_object_get(theme, "text"))
	                       : "#1b1b1b");
	greeting = json_string_value(json_object_get(theme, "greeting"));
	json_decref(t->config);
	t->config = json_pack(
	    "{s:s, s:s?, s:s, s:o, s:O?}", "name",
	    json_string_value(json_object_get(theme, "name")) ? json_string_value(
	                                                            json_object_get(theme, "name"))
	                                                      : shop.name,
	    "greeting", greeting, /* the bot's own welcome answers the first "hi" */
	    "lang",
	    json_string_value(json_object_get(theme, "lang")) ? json_string_value(
	                                                            json_object_get(theme, "lang"))
	                                                      : "en",
	    "colors", colors, "logo_url", json_object_get(theme, "logo_url"));
	json_decref(theme);
	shop_settings_clear(&shop);
	return t->config ? 0 : PG_ERR_ABORT;
}

void webchat_asset(struct http_ctx *ctx, const struct http_request *req,
                   struct http_response *resp)
{
	static const char *const files[][2] = {
	    {"chat.js", "text/javascript; charset=utf-8"},
	    {"chat.css", "text/css; charset=utf-8"},
	    {"widget.js", "text/javascript; charset=utf-8"},
	};
	const char *file = req->nparams > 1 ? req->params[1] : "";
	char tenant[37], base[512], ws[160];
	struct look_tx t = {tenant, NULL};
	size_t i;

	if (shop_of(ctx, req, resp, tenant) < 0)
		return;
	public_base(ctx, base, sizeof(base));
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (strcmp(file, files[i][0]) == 0) {
			file_answer(resp, files[i][0], files[i][1], req->params[0], base);
			if (resp->status == 200 && strcmp(file, "widget.js") == 0)
				/* any site may embed it */
				http_response_header(resp, "Access-Control-Allow-Origin", "*");
			return;
		}
	if (strcmp(file, "config.json") != 0) {
		http_response_error(resp, 404, "not_found", "no such file");
		return;
	}
	if (pg_tx_run(ctx->conn, tenant, look_tx_fn, &t) != 0) {
		json_decref(t.config);
		http_response_error(resp, 503, "database_unavailable",
		                    "the database is not answering; try again shortly");
		return;
	}
	snprintf(ws, sizeof(ws), "/ws/chat/%s", req->params[0]);
	json_object_set_new(t.config, "slug", json_string(req->params[0]));
	json_object_set_new(t.config, "ws_path", json_string(ws));
	http_response_json(resp, 200, t.config);
	http_response_header(resp, "Cache-Control", "no-cache");
}
