/*
 * storefront_routes.c: the public storefront routes, run by worker threads with a pooled
 * connection: GET /shop/{slug} and /shop/{slug}/p/{sku} (the published version over the live
 * catalog, never cached: Cache-Control no-cache) and GET /shop/{slug}/assets/{id} (an image's
 * bytes, immutable: ETag and a year's Cache-Control). A shop that is not published, an unknown
 * slug, an inactive or deleted product answer 404: an HTML page for browsers, the JSON error
 * for every other client.
 */
#include "storefront.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "log.h"
#include "pg.h"
#include "tenant.h"
#include "util.h"

#define PAGE_CSP                                                                                   \
	"default-src 'none'; img-src 'self' https:; style-src 'unsafe-inline'; base-uri 'none'; "  \
	"form-action 'none'; frame-ancestors 'none'"

static void not_found(const struct http_request *req, struct http_response *resp,
                      const char *lang)
{
	const char *accept = http_request_header(req, "accept");
	char *html;

	if (accept && strstr(accept, "text/html") && (html = storefront_not_found_html(lang))) {
		http_response_body(resp, 404, "text/html; charset=utf-8", html, strlen(html));
		http_response_header(resp, "Cache-Control", "no-cache");
		free(html);
		return;
	}
	http_response_error(resp, 404, "not_found", "there is no such shop or product here");
}

static void unavailable(struct http_response *resp)
{
	http_response_error(resp, 503, "database_unavailable",
	                    "the database is not answering; try again shortly");
	http_response_header(resp, "Retry-After", "1");
}

/* The tenant of the {slug} path parameter: 0, 1 (answered 404) or -1 (answered 503). */
static int shop_tenant(struct http_ctx *ctx, const struct http_request *req,
                       struct http_response *resp, char tenant[37])
{
	const char *slug = req->nparams > 0 ? req->params[0] : "";
	int rc;

	if (!tenant_slug_valid(slug)) {
		not_found(req, resp, NULL);
		return 1;
	}
	if (!ctx->conn) {
		unavailable(resp);
		return -1;
	}
	rc = tenant_id_by_slug(ctx->conn, slug, tenant);
	if (rc == TENANT_ERR_NOT_FOUND) {
		not_found(req, resp, NULL);
		return 1;
	}
	if (rc != 0) {
		unavailable(resp);
		return -1;
	}
	return 0;
}

static void public_base(const struct http_ctx *ctx, char *out, size_t outlen)
{
	const char *pub = ctx->app && ctx->app->cfg && ctx->app->cfg->public_url
	                      ? ctx->app->cfg->public_url
	                      : "";
	size_t n = strlen(pub);

	while (n > 0 && pub[n - 1] == '/')
		n--;
	snprintf(out, outlen, "%.*s", (int)n, pub);
}

struct page_tx {
	const struct storefront_req *rq;
	char *html;
	size_t len;
	int found;
};

static int page_tx_fn(PGconn *conn, void *arg)
{
	struct page_tx *t = arg;
	int rc;

	free(t->html);
	t->html = NULL;
	rc = storefront_render(conn, t->rq, &t->html, &t->len);
	t->found = rc != STOREFRONT_NOT_FOUND;
	return rc == STOREFRONT_NOT_FOUND ? 0 : rc;
}

static void serve_page(struct http_ctx *ctx, const struct http_request *req,
                       struct http_response *resp, const char *sku)
{
	char tenant[37], base[512];
	struct storefront_req rq = {NULL, base, sku, 0};
	struct page_tx t = {&rq, NULL, 0, 0};
	int rc;

	if (shop_tenant(ctx, req, resp, tenant) != 0)
		return;
	rq.slug = req->params[0];
	public_base(ctx, base, sizeof(base));
	rc = pg_tx_run(ctx->conn, tenant, page_tx_fn, &t);
	if (rc != 0) {
		log_warn(NULL, "storefront: the page of %s failed (%d)", rq.slug, rc);
		unavailable(resp);
	} else if (!t.found || !t.html) {
		not_found(req, resp, NULL);
	} else {
		http_response_body(resp, 200, "text/html; charset=utf-8", t.html, t.len);
		/* prices and stock are read live: a browser asks again every time */
		http_response_header(resp, "Cache-Control", "no-cache");
		http_response_header(resp, "Content-Security-Policy", PAGE_CSP);
		http_response_header(resp, "X-Content-Type-Options", "nosniff");
		http_response_header(resp, "Referrer-Policy", "strict-origin-when-cross-origin");
	}
	free(t.html);
}

void storefront_page(struct http_ctx *ctx, const struct http_request *req,
                     struct http_response *resp)
{
	serve_page(ctx, req, resp, NULL);
}

void storefront_product(struct http_ctx *ctx, const struct http_request *req,
                        struct http_response *resp)
{
	char sku[80] = "";
	size_t i, n;

	/* a SKU with a '/' arrives as more segments (the path is decoded before it is routed):
	 * /shop/{slug}/p/{a}/{b}[/{c}] are the same route */
	for (i = 1; i < req->nparams; i++) {
		n = strlen(sku);
		snprintf(sku + n, sizeof(sku) - n, "%s%s", i > 1 ? "/" : "", req->params[i]);
	}
	n = strlen(sku);
	if (n < 1 || n > 64) {
		not_found(req, resp, NULL);
		return;
	}
	serve_page(ctx, req, resp, sku);
}

struct asset_tx {
	const char *id;
	char type[64];
	char etag[80];
	unsigned char *data; /* PQunescapeBytea's */
	size_t len;
	int found;
};

static int asset_tx_fn(PGconn *conn, void *arg)
{
	struct asset_tx *t = arg;
	PGresult *res = pg_exec(conn,
	                        "SELECT content_type, sha256, data FROM storefront_assets"
	                        " WHERE tenant_id = app_tenant_id() AND id = $1 AND data IS NOT NULL",
	                        1, (const char *const[]){t->id});

	if (!res)
		return PG_ERR_QUERY;
	if (t->data) {
		PQfreemem(t->data);
		t->data = NULL;
	}
	t->found = PQntuples(res) == 1;
	if (t->found) {
		snprintf(t->type, sizeof(t->type), "%s", PQgetvalue(res, 0, 0));
		snprintf(t->etag, sizeof(t->etag), "\"%s\"", PQgetvalue(res, 0, 1));
		t->data = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 2), &t->len);
	}
	PQclear(res);
	return t->found && !t->data ? PG_ERR_ABORT : 0;
}

void storefront_asset(struct http_ctx *ctx, const struct http_request *req,
                      struct http_response *resp)
{
	char tenant[37];
	struct asset_tx t;
	const char *inm;
	int rc;

	memset(&t, 0, sizeof(t));
	if (shop_tenant(ctx, req, resp, tenant) != 0)
		return;
	t.id = req->nparams > 1 ? req->params[1] : "";
	if (!util_uuid_valid(t.id)) {
		not_found(req, resp, NULL);
		return;
	}
	rc = pg_tx_run(ctx->conn, tenant, asset_tx_fn, &t);
	if (rc != 0) {
		unavailable(resp);
	} else if (!t.found) {
		http_response_error(resp, 404, "not_found", "no such asset");
	} else {
		inm = http_request_header(req, "if-none-match");
		if (inm && util_ct_streq(inm, t.etag))
			http_response_body(resp, 304, t.type, "", 0);
		else
			http_response_body(resp, 200, t.type, (const char *)t.data, t.len);
		/* an asset's id names its bytes for ever */
		http_response_header(resp, "ETag", t.etag);
		http_response_header(resp, "Cache-Control", "public, max-age=31536000, immutable");
		http_response_header(resp, "X-Content-Type-Options", "nosniff");
		http_response_header(resp, "Content-Security-Policy", "default-src 'none'");
	}
	if (t.data)
		PQfreemem(t.data);
}
