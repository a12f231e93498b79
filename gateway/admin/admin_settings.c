/*
 * admin_settings.c: the shop's settings and its own questions and answers (issue 16).
 * GET|PATCH /api/v1/settings: the shop's name (tenants.name), its currency (read only) and
 * every key of tenants.settings the engine reads (commerce/shop_settings.h), each checked by
 * shop_settings_check before anything is stored; null puts a key back to its default. The
 * UPDATE gives the tenant row a new version (xmin), so the engine's cached settings turn over
 * at the next message. GET|POST /api/v1/faqs, GET|PATCH|DELETE /api/v1/faqs/{id}: table faqs;
 * every change touches the tenant row for the same reason (the engine keeps the questions
 * with the settings).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "pg.h"
#include "shop_settings.h"

#define FAQ_MISSING      "no such question"
#define FAQS_MAX         100
#define FAQ_EXAMPLES_MAX 20

/* ---- GET /api/v1/settings ---- */

/* The settings as answered: every known key, the stored value or its default. */
static json_t *settings_answer(const char *name, const char *currency, const char *settings_js)
{
	json_t *set = json_loads(settings_js, 0, NULL), *o;
	size_t i;

	if (!json_is_object(set)) {
		json_decref(set);
		set = json_object();
	}
	o = json_pack("{s:s, s:s}", "name", name, "currency", currency);
	for (i = 0; o && shop_settings_keys[i]; i++) {
		const char *k = shop_settings_keys[i];
		json_t *v = json_object_get(set, k);

		if (v && !json_is_null(v))
			json_object_set(o, k, v);
		else if (strcmp(k, "tax_bp") == 0 || strcmp(k, "delivery_fee_minor") == 0)
			json_object_set_new(o, k, json_integer(0));
		else if (strcmp(k, "handoff_timeout_minutes") == 0)
			json_object_set_new(o, k, json_integer(30));
		else if (strcmp(k, "payment_methods") == 0)
			json_object_set_new(o, k, json_pack("[s]", "cash_on_delivery"));
		else if (strcmp(k, "delivery_zones") == 0)
			json_object_set_new(o, k, json_array());
		else
			json_object_set_new(o, k, json_null());
	}
	json_decref(set);
	return o;
}

static int settings_answer_tx(PGconn *conn, struct admin_call *call, int status)
{
	PGresult *res = pg_exec(conn,
	                        "SELECT name, currency, settings::text FROM tenants"
	                        " WHERE id = app_tenant_id()",
	                        0, NULL);

	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_answer_not_found(call, "no such shop");
		return ADMIN_ROLLBACK;
	}
	admin_answer_json(
	    call, status,
	    settings_answer(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)));
	PQclear(res);
	return 0;
}

static int settings_get_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	(void)arg;
	return settings_answer_tx(conn, call, 200);
}

ADMIN_HANDLER(admin_settings_get)
{
	struct admin_call call;

	if (admin_call_begin(&call, ctx, req, resp) == 0)
		admin_call_run(&call, settings_get_tx, NULL);
	admin_call_end(&call);
}

/* ---- PATCH /api/v1/settings ---- */

struct settings_patch {
	char *set_js;   /* the keys given a value, as a JSON object */
	char *unset_js; /* the keys given null, as a JSON array of names */
	const char *name;
	const char *time_zone;
};

static int settings_patch_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct settings_patch *p = arg;
	const char *params[3] = {p->set_js, p->unset_js, p->name};
	PGresult *res;

	if (p->time_zone) {
		res = pg_exec(conn, "SELECT 1 FROM pg_timezone_names WHERE name = $1", 1,
		              &p->time_zone);
		if (!res)
			return PG_ERR_QUERY;
		if (PQntuples(res) == 0) {
			PQclear(res);
			admin_answer_error(call, 400, "validation", "time_zone",
			                   "time_zone: not a time zone name (use one such as "
			                   "\"Africa/Nairobi\")");
			return ADMIN_ROLLBACK;
		}
		PQclear(res);
	}
	/* always a new row version: the engine's cache is keyed by it */
	if (pg_cmd(conn,
	           "UPDATE tenants SET settings = (settings || $1::jsonb) - ARRAY(SELECT"
	           " jsonb_array_elements_text($2::jsonb)), name = COALESCE($3, name)"
	           " WHERE id = app_tenant_id()",
	           3, params) < 0)
		return PG_ERR_QUERY;
	return settings_answer_tx(conn, call, 200);
}

ADMIN_HANDLER(admin_settings_patch)
{
	struct admin_call call;
	struct jfield_error err;
	struct settings_patch p;
	json_t *body = NULL, *set = NULL, *unset = NULL, *v;
	const char *key;

	memset(&p, 0, sizeof(p));
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (shop_settings_check(body, &err) < 0) {
		admin_answer_verr(&call, &err);
		goto out;
	}
	set = json_object();
	unset = json_array();
	if (!set || !unset)
		goto out;
	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "name") == 0)
			p.name = json_string_value(v);
		else if (json_is_null(v))
			json_array_append_new(unset, json_string(key));
		else
			json_object_set(set, key, v);
	}
	p.time_zone = json_string_value(json_object_get(body, "time_zone"));
	p.set_js = json_dumps(set, JSON_COMPACT);
	p.unset_js = json_dumps(unset, JSON_COMPACT);
	if (!p.set_js || !p.unset_js)
		goto out;
	admin_call_run(&call, settings_patch_tx, &p);
out:
	free(p.set_js);
	free(p.unset_js);
	json_decref(set);
	json_decref(unset);
	json_decref(body);
	admin_call_end(&call);
}

/* ---- the seller's questions: /api/v1/faqs ---- */

#define FAQ_COLS                                                                                   \
	"f.id, f.question, f.examples::text, f.answer, f.answer_sw,"                               \
	" to_json(f.created_at)#>>'{}', to_json(f.updated_at)#>>'{}'"
#define FAQ_NCOLS 7

static json_t *faq_json(const struct admin_call *call, const PGresult *res, int r)
{
	(void)call; /* an admin_row_fn */
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", admin_col_string(res, r, 0),
	                 "question", admin_col_string(res, r, 1), "examples",
	                 admin_col_json(res, r, 2), "answer", admin_col_string(res, r, 3),
	                 "answer_sw", admin_col_string(res, r, 4), "created_at",
	                 admin_col_string(res, r, 5), "updated_at", admin_col_string(res, r, 6));
}

/* The fields of a question: required ones when creating. *examples_js is the examples as
 * JSON text (heap) when given. 0 or -1 with err. */
static int faq_read(const json_t *body, int create, char **examples_js, struct jfield_error *err)
{
	static const char *const fields[] = {"question", "examples", "answer", "answer_sw", NULL};
	const json_t *ex = json_object_get(body, "examples"), *e;
	const char *s;
	size_t i;

	*examples_js = NULL;
	if (jfield_known(body, "", fields, err) < 0 ||
	    jfield_string(body, "", "question", create, 1, 300, &s, err) < 0 ||
	    jfield_string(body, "", "answer", create, 1, 1000, &s, err) < 0 ||
	    jfield_string(body, "", "answer_sw", 0, 1, 1000, &s, err) < 0)
		return -1;
	if (!create && json_is_null(json_object_get(body, "question"))) {
		jfield_error_set(err, "", "question", "cannot be removed");
		return -1;
	}
	if (!create && json_is_null(json_object_get(body, "answer"))) {
		jfield_error_set(err, "", "answer", "cannot be removed");
		return -1;
	}
	if (!ex || json_is_null(ex))
		return 0;
	if (!json_is_array(ex) || json_array_size(ex) > FAQ_EXAMPLES_MAX) {
		jfield_error_set(err, "", "examples", "must be an array of at most %d phrasings",
		                 FAQ_EXAMPLES_MAX);
		return -1;
	}
	json_array_foreach(ex, i, e)
	{
		char name[32];
		json_t *wrap = json_pack("{s:O}", "x", e);
		int rc;

		snprintf(name, sizeof(name), "examples[%zu]", i);
		rc = jfield_string(wrap, "", "x", 1, 1, 200, &s, err);
		json_decref(wrap);
		if (rc < 0) {
			char msg[sizeof(err->message)];

			snprintf(msg, sizeof(msg), "%s", err->message);
			jfield_error_set(err, "", name, "%s",
			                 strncmp(msg, "x: ", 3) == 0 ? msg + 3 : msg);
			return -1;
		}
	}
	*examples_js = json_dumps(ex, JSON_COMPACT);
	return *examples_js ? 0 : -1;
}

/* The engine keeps the questions with the shop's settings, by the tenant row's version. */
static int faqs_touch(PGconn *conn)
{
	return pg_cmd(conn, "UPDATE tenants SET updated_at = now() WHERE id = app_tenant_id()", 0,
	              NULL);
}

struct faq_write {
	const json_t *body;
	char *examples_js;
};

static int faq_create_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct faq_write *w = arg;
	const char *params[4] = {json_string_value(json_object_get(w->body, "question")),
	                         w->examples_js ? w->examples_js : "[]",
	                         json_string_value(json_object_get(w->body, "answer")),
	                         json_string_value(json_object_get(w->body, "answer_sw"))};
	PGresult *res =
	    pg_exec(conn, "SELECT count(*) FROM faqs WHERE tenant_id = app_tenant_id()", 0, NULL);
	int n;

	if (!res)
		return PG_ERR_QUERY;
	n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (n >= FAQS_MAX) {
		admin_answer_error(call, 400, "validation", "question",
		                   "question: a shop has at most %d questions; delete one first",
		                   FAQS_MAX);
		return ADMIN_ROLLBACK;
	}
	res = pg_exec(conn,
	              "INSERT INTO faqs AS f (tenant_id, question, examples, answer, answer_sw)"
	              " VALUES (app_tenant_id(), $1, $2::jsonb, $3, $4) RETURNING " FAQ_COLS,
	              4, params);
	if (!res)
		return PG_ERR_QUERY;
	admin_answer_json(call, 201, faq_json(call, res, 0));
	PQclear(res);
	return faqs_touch(conn) < 0 ? PG_ERR_QUERY : 0;
}

ADMIN_HANDLER(admin_faqs_create)
{
	struct admin_call call;
	struct jfield_error err;
	struct faq_write w;
	json_t *body = NULL;

	memset(&w, 0, sizeof(w));
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (faq_read(body, 1, &w.examples_js, &err) < 0) {
		admin_answer_verr(&call, &err);
		goto out;
	}
	w.body = body;
	admin_call_run(&call, faq_create_tx, &w);
out:
	free(w.examples_js);
	json_decref(body);
	admin_call_end(&call);
}

ADMIN_HANDLER(admin_faqs_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " FAQ_COLS ", " ADMIN_CURSOR_SQL("f.created_at", "f.id")
	           " FROM faqs f WHERE f.tenant_id = app_tenant_id() "
	           "AND " ADMIN_LIST_AFTER_SQL("f.created_at", "f.id", ">")
	           " ORDER BY f.created_at, f.id LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = FAQ_NCOLS,
	    .row = faq_json,
	};

	admin_list_serve(ctx, req, resp, &list);
}

ADMIN_HANDLER(admin_faqs_get)
{
	static const struct admin_row_op op = {
	    .sql = "SELECT " FAQ_COLS " FROM faqs f WHERE f.tenant_id = app_tenant_id()"
	           " AND f.id = $1",
	    .row = faq_json,
	    .missing = FAQ_MISSING,
	};

	admin_row_serve(ctx, req, resp, &op);
}

static int faq_patch_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct faq_write *w = arg;
	const json_t *sw = json_object_get(w->body, "answer_sw");
	const char *params[6] = {call->id,
	                         json_string_value(json_object_get(w->body, "question")),
	                         w->examples_js,
	                         json_string_value(json_object_get(w->body, "answer")),
	                         json_string_value(sw),
	                         json_is_null(sw) ? "t" : "f"};
	PGresult *res =
	    pg_exec(conn,
	            "UPDATE faqs AS f SET question = COALESCE($2, question),"
	            " examples = COALESCE($3::jsonb, examples), answer = COALESCE($4, answer),"
	            " answer_sw = CASE WHEN $6::boolean THEN NULL ELSE COALESCE($5, answer_sw) END"
	            " WHERE f.tenant_id = app_tenant_id() AND f.id = $1 RETURNING " FAQ_COLS,
	            6, params);

	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_answer_not_found(call, FAQ_MISSING);
		return ADMIN_ROLLBACK;
	}
	admin_answer_json(call, 200, faq_json(call, res, 0));
	PQclear(res);
	return faqs_touch(conn) < 0 ? PG_ERR_QUERY : 0;
}

ADMIN_HANDLER(admin_faqs_patch)
{
	struct admin_call call;
	struct jfield_error err;
	struct faq_write w;
	json_t *body = NULL;

	memset(&w, 0, sizeof(w));
	if (admin_call_begin_id(&call, ctx, req, resp, FAQ_MISSING) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (faq_read(body, 0, &w.examples_js, &err) < 0) {
		admin_answer_verr(&call, &err);
		goto out;
	}
	w.body = body;
	admin_call_run(&call, faq_patch_tx, &w);
out:
	free(w.examples_js);
	json_decref(body);
	admin_call_end(&call);
}

ADMIN_HANDLER(admin_faqs_delete)
{
	static const struct admin_row_op op = {
	    .sql = "DELETE FROM faqs WHERE tenant_id = app_tenant_id() AND id = $1 RETURNING id",
	    .then = "UPDATE tenants SET updated_at = now() WHERE id = app_tenant_id()"
	            " AND $1::uuid IS NOT NULL",
	    .missing = FAQ_MISSING,
	};

	admin_row_serve(ctx, req, resp, &op);
}
