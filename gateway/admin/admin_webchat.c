/*
 * admin_webchat.c: the web chat's settings (GET and PUT /api/v1/webchat): the origins allowed
 * to open the shop's chat socket besides ccgw's own page (a site that embeds widget.js loads
 * the page from ccgw, so its own origin is only needed for sockets opened by the shop's
 * code), and the look: name, greeting, colours, logo URL and language. Kept in
 * storefront_config (chat_origins, theme).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "pg.h"

#define WEBCHAT_ORIGINS_MAX 20

static json_t *settings_json(const PGresult *res)
{
	json_t *origins = PQntuples(res) ? admin_col_json(res, 0, 0) : json_array();
	json_t *theme = PQntuples(res) ? admin_col_json(res, 0, 1) : json_object();

	return json_pack("{s:o, s:o}", "allowed_origins", json_is_array(origins) ? origins : json_array(),
	                 "theme", json_is_object(theme) ? theme : json_object());
}

static int get_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	PGresult *res = pg_exec(conn,
	                        "SELECT to_json(chat_origins)::text, theme::text FROM storefront_config"
	                        " WHERE tenant_id = app_tenant_id()",
	                        0, NULL);

	(void)arg;
	if (!res)
		return PG_ERR_QUERY;
	admin_answer_json(call, 200, settings_json(res));
	PQclear(res);
	return 0;
}

ADMIN_HANDLER(admin_webchat_get)
{
	struct admin_call call;

	if (admin_call_begin(&call, ctx, req, resp) == 0)
		admin_call_run(&call, get_tx, NULL);
	admin_call_end(&call);
}

/* "https://shop.example" or "http://127.0.0.1:8080": a scheme, a host, maybe a port; no path. */
static int origin_valid(const char *o)
{
	const char *h = strncmp(o, "https://", 8) == 0 ? o + 8
	                : strncmp(o, "http://", 7) == 0 ? o + 7
	                                                 : NULL;

	if (!h || !*h)
		return 0;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= '0' && *h <= '9') || *h == '.' ||
		      *h == '-' || *h == ':' || *h == '[' || *h == ']'))
			return 0;
	return 1;
}

static int color_valid(const char *c)
{
	size_t i;

	if (strlen(c) != 7 || c[0] != '#')
		return 0;
	for (i = 1; i < 7; i++)
		if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f') ||
		      (c[i] >= 'A' && c[i] <= 'F')))
			return 0;
	return 1;
}

/* The theme of the body, checked: {"name", "greeting", "lang", "primary", "background",
 * "text", "logo_url"}, all optional. *out is a copy. 0 or -1 with err. */
static int theme_read(json_t *body, json_t **out, struct jfield_error *err)
{
	static const char *const fields[] = {"name",       "greeting", "lang",     "primary",
	                                     "background", "text",     "logo_url", NULL};
	static const char *const colors[] = {"primary", "background", "text", NULL};
	json_t *theme = json_object_get(body, "theme");
	const char *v;
	size_t i;

	*out = json_object();
	if (!theme || json_is_null(theme))
		return 0;
	if (!json_is_object(theme)) {
		jfield_error_set(err, "", "theme", "must be an object");
		return -1;
	}
	if (jfield_known(theme, "theme.", fields, err) < 0 ||
	    jfield_string(theme, "theme.", "name", 0, 1, 100, &v, err) < 0 ||
	    jfield_string(theme, "theme.", "greeting", 0, 1, 500, &v, err) < 0)
		return -1;
	v = NULL;
	if (jfield_string(theme, "theme.", "lang", 0, 2, 2, &v, err) < 0)
		return -1;
	if (v && strcmp(v, "en") != 0 && strcmp(v, "sw") != 0) {
		jfield_error_set(err, "theme.", "lang", "must be \"en\" or \"sw\"");
		return -1;
	}
	for (i = 0; colors[i]; i++) {
		v = NULL;
		if (jfield_string(theme, "theme.", colors[i], 0, 7, 7, &v, err) < 0)
			return -1;
		if (v && !color_valid(v)) {
			jfield_error_set(err, "theme.", colors[i], "must be a colour such as \"#0a7d4f\"");
			return -1;
		}
	}
	v = NULL;
	if (jfield_string(theme, "theme.", "logo_url", 0, 1, 2048, &v, err) < 0)
		return -1;
	if (v && v[0] != '/' && strncmp(v, "https://", 8) != 0) {
		jfield_error_set(err, "theme.", "logo_url",
		                 "must be an https:// URL or a path on this gateway");
		return -1;
	}
	json_decref(*out);
	*out = json_deep_copy(theme);
	return 0;
}

/* The allowed origins of the body, checked, as a text[] literal. 0 or -1 with err. */
static int origins_read(json_t *body, struct sbuf *lit, struct jfield_error *err)
{
	json_t *arr = json_object_get(body, "allowed_origins"), *o;
	size_t i;

	sbuf_puts(lit, "{");
	if (arr && !json_is_null(arr)) {
		if (!json_is_array(arr) || json_array_size(arr) > WEBCHAT_ORIGINS_MAX) {
			jfield_error_set(err, "", "allowed_origins",
			                 "must be a list of at most 20 origins");
			return -1;
		}
		json_array_foreach(arr, i, o)
		{
			const char *s = json_string_value(o);

			if (!s || strlen(s) > 253 || !origin_valid(s)) {
				jfield_error_set(err, "", "allowed_origins",
				                 "[%zu] must be an origin such as \"https://shop.example\" "
				                 "(scheme, host, port; no path)",
				                 i);
				return -1;
			}
			sbuf_printf(lit, "%s\"%s\"", i ? "," : "", s);
		}
	}
	sbuf_puts(lit, "}");
	return 0;
}

struct put_state {
	const char *origins; /* text[] literal */
	char *theme;         /* JSON text */
};

static int put_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct put_state *st = arg;
	const char *params[2] = {st->origins, st->theme};
	PGresult *res = pg_exec(conn,
	                        "INSERT INTO storefront_config (tenant_id, chat_origins, theme)"
	                        " VALUES (app_tenant_id(), $1::text[], $2::jsonb)"
	                        " ON CONFLICT (tenant_id) DO UPDATE SET chat_origins ="
	                        " EXCLUDED.chat_origins, theme = EXCLUDED.theme, updated_at = now()"
	                        " RETURNING to_json(chat_origins)::text, theme::text",
	                        2, params);

	if (!res)
		return PG_ERR_QUERY;
	admin_answer_json(call, 200, settings_json(res));
	PQclear(res);
	return 0;
}

ADMIN_HANDLER(admin_webchat_put)
{
	static const char *const fields[] = {"allowed_origins", "theme", NULL};
	struct admin_call call;
	struct jfield_error err;
	struct put_state st = {NULL, NULL};
	json_t *body = NULL, *theme = NULL;
	struct sbuf lit;

	sbuf_init(&lit);
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (jfield_known(body, "", fields, &err) < 0 || origins_read(body, &lit, &err) < 0 ||
	    theme_read(body, &theme, &err) < 0) {
		admin_answer_verr(&call, &err);
		goto out;
	}
	st.origins = lit.data;
	st.theme = json_dumps(theme, JSON_COMPACT);
	if (!st.origins || !st.theme) {
		admin_answer_error(&call, 500, "internal", NULL, "out of memory");
		goto out;
	}
	admin_call_run(&call, put_tx, &st);
out:
	free(st.theme);
	json_decref(theme);
	json_decref(body);
	sbuf_free(&lit);
	admin_call_end(&call);
}
