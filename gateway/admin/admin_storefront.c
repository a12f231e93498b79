/*
 * admin_storefront.c: the seller's storefront (docs/STOREFRONT.md): GET|PUT
 * /api/v1/storefront/draft (one draft per shop: headline, about, language, theme colours whose
 * contrast is checked, logo, featured categories and products, banners with optional start
 * and end times), GET /api/v1/storefront/draft/preview (the page as it would look),
 * POST /api/v1/storefront/publish (the draft becomes version n+1 and is what the public sees)
 * and POST /api/v1/storefront/rollback (the version before is shown again).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "app.h"
#include "config.h"
#include "pg.h"
#include "storefront.h"
#include "util.h"

#define SF_FEATURED_CATS_MAX 20
#define SF_FEATURED_PRODS_MAX 24
#define SF_BANNERS_MAX 10

static const char *const draft_fields[] = {
    "headline", "about", "lang", "theme", "logo_asset_id", "featured_categories",
    "featured_products", "banners",
    /* read-only fields of an answer, accepted and ignored so a GET body can be sent back */
    "published_version", "updated_at", NULL,
};

/* ---- GET /api/v1/storefront/draft ---- */

static int draft_get_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	PGresult *res;
	json_t *d = NULL, *theme;

	(void)arg;
	res = pg_exec(conn,
	              "SELECT COALESCE((SELECT content::text FROM storefront_drafts"
	              "   WHERE tenant_id = app_tenant_id()),"
	              "  (SELECT s.content::text FROM storefronts s JOIN storefront_config c"
	              "   ON c.tenant_id = s.tenant_id AND c.published_version = s.version"
	              "   WHERE s.tenant_id = app_tenant_id())),"
	              " (SELECT published_version FROM storefront_config"
	              "   WHERE tenant_id = app_tenant_id()),"
	              " (SELECT to_json(updated_at)#>>'{}' FROM storefront_drafts"
	              "   WHERE tenant_id = app_tenant_id()),"
	              " (SELECT jsonb_build_object('primary', theme->'primary', 'background',"
	              "   theme->'background', 'text', theme->'text')::text FROM storefront_config"
	              "   WHERE tenant_id = app_tenant_id())",
	              0, NULL);
	if (!res)
		return PG_ERR_QUERY;
	if (!PQgetisnull(res, 0, 0))
		d = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (!json_is_object(d)) {
		/* nothing saved yet: an empty draft in the web chat's colours */
		json_decref(d);
		theme = PQgetisnull(res, 0, 3) ? json_object()
		                               : json_loads(PQgetvalue(res, 0, 3), 0, NULL);
		d = json_pack("{s:s, s:s, s:o, s:n, s:[], s:[], s:[]}", "headline", "", "about", "",
		              "theme", theme ? theme : json_object(), "logo_asset_id",
		              "featured_categories", "featured_products", "banners");
	}
	json_object_set_new(d, "published_version", admin_col_int(res, 0, 1));
	json_object_set_new(d, "updated_at", admin_col_string(res, 0, 2));
	PQclear(res);
	admin_answer_json(call, 200, d);
	return 0;
}

ADMIN_HANDLER(admin_storefront_draft_get)
{
	struct admin_call call;

	if (admin_call_begin(&call, ctx, req, resp) == 0)
		admin_call_run(&call, draft_get_tx, NULL);
	admin_call_end(&call);
}

/* ---- PUT /api/v1/storefront/draft ---- */

/* "2026-12-24T08:00:00Z", "2026-12-24T08:00+03:00", fractions allowed. */
static int time_valid(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd";
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi;
	size_t i;

	if (strlen(s) < sizeof(pat) - 1 || strlen(s) > 40)
		return 0;

	for (i = 0; i < sizeof(pat) - 1; i++)
		if (pat[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pat[i])
			return 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d", &y, &mo, &d, &h, &mi) != 5 || y < 1970 || mo < 1 ||
	    mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return 0;
	s += i;
	if (s[0] == ':' && s[1] >= '0' && s[1] <= '5' && s[2] >= '0' && s[2] <= '9') {
		s += 3;
		if (*s == '.')
			for (s++; *s >= '0' && *s <= '9'; s++)
				;
	}
	if (strcmp(s, "Z") == 0)
		return 1;
	return (s[0] == '+' || s[0] == '-') && strlen(s) == 6 && s[1] >= '0' && s[1] <= '9' &&
	       s[2] >= '0' && s[2] <= '9' && s[3] == ':' && s[4] >= '0' && s[4] <= '9' &&
	       s[5] >= '0' && s[5] <= '9';
}

static int uuid_field(const json_t *obj, const char *prefix, const char *name,
                      struct jfield_error *err)
{
	const json_t *v = json_object_get(obj, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !util_uuid_valid(json_string_value(v))) {
		jfield_error_set(err, prefix, name, "must be the id of an asset (POST /api/v1/assets)");
		return -1;
	}
	return 0;
}

static int string_list(const json_t *obj, const char *name, size_t max_items, size_t max_chars,
                       struct jfield_error *err)
{
	const json_t *arr = json_object_get(obj, name), *e;
	char prefix[48];
	size_t i;
	const char *s;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > max_items) {
		jfield_error_set(err, "", name, "must be a list of at most %zu names", max_items);
		return -1;
	}
	json_array_foreach(arr, i, e)
	{
		json_t *wrap = json_pack("{s:O}", "v", e);
		int rc;

		snprintf(prefix, sizeof(prefix), "%s[%zu]", name, i);
		rc = jfield_string(wrap, "", "v", 1, 1, max_chars, &s, err);
		json_decref(wrap);
		if (rc < 0) {
			/* name the element, not the wrapper */
			char msg[256];

			snprintf(msg, sizeof(msg), "%s", err->message);
			jfield_error_set(err, "", prefix, "%s",
			                 strncmp(msg, "v: ", 3) == 0 ? msg + 3 : msg);
			return -1;
		}
	}
	return 0;
}

static int theme_check(const json_t *body, struct jfield_error *err)
{
	static const char *const fields[] = {"primary", "background", "text", NULL};
	static const char *const defaults[] = {"#0a7d4f", "#ffffff", "#1b1b1b"};
	const json_t *theme = json_object_get(body, "theme");
	const char *c[3];
	double ratio, ink;
	size_t i;

	if (!theme || json_is_null(theme))
		return 0;
	if (!json_is_object(theme)) {
		jfield_error_set(err, "", "theme", "must be an object");
		return -1;
	}
	if (jfield_known(theme, "theme.", fields, err) < 0)
		return -1;
	for (i = 0; i < 3; i++) {
		c[i] = NULL;
		if (jfield_string(theme, "theme.", fields[i], 0, 7, 7, &c[i], err) < 0)
			return -1;
		if (c[i] && !storefront_color_valid(c[i])) {
			jfield_error_set(err, "theme.", fields[i], "must be a colour such as \"#0a7d4f\"");
			return -1;
		}
		if (!c[i])
			c[i] = defaults[i];
	}
	ratio = storefront_contrast(c[2], c[1]);
	if (ratio < STOREFRONT_MIN_CONTRAST) {
		jfield_error_set(err, "theme.", "text",
		                 "contrast with the background is %.2f:1; at least %.1f:1 is needed "
		                 "to be readable (WCAG AA)",
		                 ratio, STOREFRONT_MIN_CONTRAST);
		return -1;
	}
	ink = storefront_contrast("#ffffff", c[0]);
	if (storefront_contrast("#111111", c[0]) > ink)
		ink = storefront_contrast("#111111", c[0]);
	if (ink < STOREFRONT_MIN_CONTRAST) {
		jfield_error_set(err, "theme.", "primary",
		                 "no text colour reads on it (best contrast %.2f:1; at least %.1f:1 "
		                 "is needed): pick a darker or lighter colour",
		                 ink, STOREFRONT_MIN_CONTRAST);
		return -1;
	}
	return 0;
}

static int banners_check(const json_t *body, struct jfield_error *err)
{
	static const char *const fields[] = {"title", "link_url", "asset_id", "starts_at", "ends_at",
	                                     NULL};
	const json_t *arr = json_object_get(body, "banners"), *b;
	char prefix[32];
	const char *s;
	size_t i, k;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > SF_BANNERS_MAX) {
		jfield_error_set(err, "", "banners", "must be a list of at most %d banners",
		                 SF_BANNERS_MAX);
		return -1;
	}
	json_array_foreach(arr, i, b)
	{
		snprintf(prefix, sizeof(prefix), "banners[%zu].", i);
		if (!json_is_object(b)) {
			jfield_error_set(err, "", prefix, "must be an object");
			return -1;
		}
		if (jfield_known(b, prefix, fields, err) < 0 ||
		    jfield_string(b, prefix, "title", 1, 1, 160, &s, err) < 0)
			return -1;
		s = NULL;
		if (jfield_string(b, prefix, "link_url", 0, 1, 2048, &s, err) < 0)
			return -1;
		if (s && strncmp(s, "https://", 8) != 0 && !(s[0] == '/' && s[1] != '/')) {
			jfield_error_set(err, prefix, "link_url",
			                 "must be an https:// URL or a path on this site");
			return -1;
		}
		if (uuid_field(b, prefix, "asset_id", err) < 0)
			return -1;
		for (k = 0; k < 2; k++) {
			const char *name = k ? "ends_at" : "starts_at";

			s = NULL;
			if (jfield_string(b, prefix, name, 0, 1, 40, &s, err) < 0)
				return -1;
			if (s && !time_valid(s)) {
				jfield_error_set(err, prefix, name,
				                 "must be a time such as \"2026-12-24T08:00:00Z\" or "
				                 "\"2026-12-24T08:00:00+03:00\"");
				return -1;
			}
		}
	}
	return 0;
}

/* The body checked as far as it can be without the database. */
static int draft_check(const json_t *body, struct jfield_error *err)
{
	const char *s = NULL;

	if (jfield_known(body, "", draft_fields, err) < 0 ||
	    jfield_string(body, "", "headline", 0, 0, 160, &s, err) < 0 ||
	    jfield_string(body, "", "about", 0, 0, 2000, &s, err) < 0)
		return -1;
	s = NULL;
	if (jfield_string(body, "", "lang", 0, 2, 2, &s, err) < 0)
		return -1;
	if (s && strcmp(s, "en") != 0 && strcmp(s, "sw") != 0) {
		jfield_error_set(err, "", "lang", "must be \"en\" or \"sw\"");
		return -1;
	}
	if (theme_check(body, err) < 0 || uuid_field(body, "", "logo_asset_id", err) < 0 ||
	    string_list(body, "featured_categories", SF_FEATURED_CATS_MAX, 100, err) < 0 ||
	    string_list(body, "featured_products", SF_FEATURED_PRODS_MAX, 64, err) < 0 ||
	    banners_check(body, err) < 0)
		return -1;
	return 0;
}

/* 1 when the id names one of this tenant's uploaded images, 0 not, -1 error. */
static int asset_exists(PGconn *conn, const char *id)
{
	PGresult *res = pg_exec(conn,
	                        "SELECT 1 FROM storefront_assets WHERE tenant_id = app_tenant_id()"
	                        " AND id = $1 AND parent_asset_id IS NULL AND data IS NOT NULL",
	                        1, (const char *const[]){id});
	int n;

	if (!res)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n == 1;
}

struct draft_put {
	json_t *content;
	char *text;
};

/* The checks that need the database: assets of this tenant, SKUs in the catalog, banner
 * times in order. 0, ADMIN_ROLLBACK (answered 400), or PG_ERR_*. */
static int draft_refs_check(PGconn *conn, struct admin_call *call, const json_t *c)
{
	struct jfield_error err;
	const json_t *e;
	const char *id;
	size_t i;
	int rc;

	id = json_string_value(json_object_get(c, "logo_asset_id"));
	if (id && (rc = asset_exists(conn, id)) != 1) {
		if (rc < 0)
			return PG_ERR_QUERY;
		jfield_error_set(&err, "", "logo_asset_id", "no such asset");
		admin_answer_verr(call, &err);
		return ADMIN_ROLLBACK;
	}
	json_array_foreach(json_object_get(c, "featured_products"), i, e)
	{
		PGresult *res = pg_exec(conn,
		                        "SELECT 1 FROM products WHERE tenant_id = app_tenant_id()"
		                        " AND sku = $1 AND deleted_at IS NULL",
		                        1, (const char *const[]){json_string_value(e)});
		int n;
		char field[48];

		if (!res)
			return PG_ERR_QUERY;
		n = PQntuples(res);
		PQclear(res);
		if (n != 1) {
			snprintf(field, sizeof(field), "featured_products[%zu]", i);
			jfield_error_set(&err, "", field, "no product has the SKU \"%.64s\"",
			                 json_string_value(e));
			admin_answer_verr(call, &err);
			return ADMIN_ROLLBACK;
		}
	}
	json_array_foreach(json_object_get(c, "banners"), i, e)
	{
		char prefix[32];
		const char *from = json_string_value(json_object_get(e, "starts_at"));
		const char *to = json_string_value(json_object_get(e, "ends_at"));

		snprintf(prefix, sizeof(prefix), "banners[%zu].", i);
		id = json_string_value(json_object_get(e, "asset_id"));
		if (id && (rc = asset_exists(conn, id)) != 1) {
			if (rc < 0)
				return PG_ERR_QUERY;
			jfield_error_set(&err, prefix, "asset_id", "no such asset");
			admin_answer_verr(call, &err);
			return ADMIN_ROLLBACK;
		}
		if (from && to) {
			PGresult *res = pg_exec(conn, "SELECT $1::timestamptz >= $2::timestamptz", 2,
			                        (const char *const[]){from, to});
			int bad;

			if (!res)
				return PG_ERR_QUERY;
			bad = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
			PQclear(res);
			if (bad) {
				jfield_error_set(&err, prefix, "ends_at", "must be after starts_at");
				admin_answer_verr(call, &err);
				return ADMIN_ROLLBACK;
			}
		}
	}
	return 0;
}

static int draft_put_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct draft_put *st = arg;
	int rc = draft_refs_check(conn, call, st->content);

	if (rc != 0)
		return rc;
	if (pg_cmd(conn,
	           "INSERT INTO storefront_drafts (tenant_id, content) VALUES (app_tenant_id(),"
	           " $1::jsonb) ON CONFLICT (tenant_id) DO UPDATE SET content = EXCLUDED.content,"
	           " updated_at = now()",
	           1, (const char *const[]){st->text}) < 0)
		return PG_ERR_QUERY;
	return draft_get_tx(conn, call, NULL);
}

ADMIN_HANDLER(admin_storefront_draft_put)
{
	struct admin_call call;
	struct jfield_error err;
	struct draft_put st = {NULL, NULL};
	json_t *body = NULL;

	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (draft_check(body, &err) < 0) {
		admin_answer_verr(&call, &err);
		goto out;
	}
	st.content = json_deep_copy(body);
	if (st.content) {
		json_object_del(st.content, "published_version");
		json_object_del(st.content, "updated_at");
		st.text = json_dumps(st.content, JSON_COMPACT);
	}
	if (!st.text) {
		admin_answer_error(&call, 500, "internal", NULL, "out of memory");
		goto out;
	}
	admin_call_run(&call, draft_put_tx, &st);
out:
	free(st.text);
	json_decref(st.content);
	json_decref(body);
	admin_call_end(&call);
}

/* ---- GET /api/v1/storefront/draft/preview ---- */

struct preview {
	struct storefront_req rq;
	char slug[48], base[512];
	char *html;
	size_t len;
};

static int preview_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct preview *p = arg;
	PGresult *res = pg_exec(conn, "SELECT slug FROM tenants WHERE id = app_tenant_id()", 0, NULL);
	int rc;

	if (!res)
		return PG_ERR_QUERY;
	snprintf(p->slug, sizeof(p->slug), "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	free(p->html);
	p->html = NULL;
	rc = storefront_render(conn, &p->rq, &p->html, &p->len);
	if (rc == STOREFRONT_NOT_FOUND) {
		admin_answer_not_found(call, "no draft yet: PUT /api/v1/storefront/draft first");
		return 0;
	}
	if (rc != 0)
		return rc;
	admin_answer_empty(call, 200); /* the HTML is written after admin_call_end */
	return 0;
}

ADMIN_HANDLER(admin_storefront_preview)
{
	struct admin_call call;
	struct preview p;
	const char *pub = ctx->app && ctx->app->cfg && ctx->app->cfg->public_url
	                      ? ctx->app->cfg->public_url
	                      : "";
	int ok;

	memset(&p, 0, sizeof(p));
	p.rq.slug = p.slug;
	p.rq.base = p.base;
	p.rq.draft = 1;
	snprintf(p.base, sizeof(p.base), "%s", pub);
	while (p.base[0] && p.base[strlen(p.base) - 1] == '/')
		p.base[strlen(p.base) - 1] = '\0';
	if (admin_call_begin(&call, ctx, req, resp) == 0)
		admin_call_run(&call, preview_tx, &p);
	ok = call.ans.status == 200 && p.html;
	admin_call_end(&call);
	if (ok) {
		http_response_body(resp, 200, "text/html; charset=utf-8", p.html, p.len);
		http_response_header(resp, "Cache-Control", "no-store");
		http_response_header(resp, "Content-Security-Policy",
		                     "default-src 'none'; img-src 'self' https:; style-src "
		                     "'unsafe-inline'; base-uri 'none'; form-action 'none'");
	}
	free(p.html);
}

/* ---- POST /api/v1/storefront/publish and /rollback ---- */

static int version_tx(PGconn *conn, struct admin_call *call, const char *fn, const char *code,
                      const char *missing)
{
	char sql[96];
	PGresult *res;

	snprintf(sql, sizeof(sql), "SELECT %s(), (SELECT slug FROM tenants WHERE id ="
	         " app_tenant_id())", fn);
	res = pg_exec(conn, sql, 0, NULL);
	if (!res)
		return PG_ERR_QUERY;
	if (PQgetisnull(res, 0, 0)) {
		admin_answer_error(call, 409, code, NULL, "%s", missing);
		PQclear(res);
		return ADMIN_ROLLBACK;
	}
	admin_answer_json(call, 200,
	                  json_pack("{s:o, s:s+}", "published_version", admin_col_int(res, 0, 0),
	                            "path", "/shop/", PQgetvalue(res, 0, 1)));
	PQclear(res);
	return 0;
}

static int publish_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	(void)arg;
	return version_tx(conn, call, "storefront_publish", "no_draft",
	                  "there is no draft to publish: PUT /api/v1/storefront/draft first");
}

static int rollback_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	(void)arg;
	return version_tx(conn, call, "storefront_rollback", "no_previous_version",
	                  "there is no earlier published version to go back to");
}

ADMIN_HANDLER(admin_storefront_publish)
{
	struct admin_call call;

	if (admin_call_begin(&call, ctx, req, resp) == 0)
		admin_call_run(&call, publish_tx, NULL);
	admin_call_end(&call);
}

ADMIN_HANDLER(admin_storefront_rollback)
{
	struct admin_call call;

	if (admin_call_begin(&call, ctx, req, resp) == 0)
		admin_call_run(&call, rollback_tx, NULL);
	admin_call_end(&call);
}
