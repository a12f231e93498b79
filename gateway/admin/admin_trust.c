/*
 * admin_trust.c: trust and safety through the admin API (docs/TRUST.md): complaints (list,
 * one with its order, conversation and evidence, the seller's answer), behavior patterns
 * (list, tune or switch off) and violations (list, one with its evidence, confirm or
 * dismiss). The work behind the answers (telling the shopper, lifting an action) is in
 * commerce/trust.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "order_json.h"
#include "pg.h"
#include "trust.h"

#define COMPLAINT_MISSING "no such complaint"
#define PATTERN_MISSING   "no such behavior pattern"
#define VIOLATION_MISSING "no such violation"

static json_t *json_row(const struct admin_call *call, const PGresult *res, int r)
{
	(void)call; /* an admin_row_fn */
	return admin_col_json(res, r, 0);
}

/* ?status=S when it is one of allowed: 0 (list->params[0] set or left NULL), -1 answered. */
static int status_filter(struct admin_call *call, struct admin_list *list, char *buf, size_t len,
                         const char *const *allowed, const char *names)
{
	size_t i;

	if (http_query_get(call->req, "status", buf, len) != 0)
		return 0;
	for (i = 0; allowed[i]; i++) {
		if (strcmp(buf, allowed[i]) == 0) {
			list->params[0] = buf;
			return 0;
		}
	}
	admin_answer_error(call, 400, "validation", "status", "status: must be one of %s", names);
	return -1;
}

/* A list (complaints, violations) with an optional ?status= among allowed ($4). */
static void status_list_serve(struct http_ctx *ctx, const struct http_request *req,
                              struct http_response *resp, struct admin_list *list,
                              const char *const *allowed, const char *names)
{
	struct admin_call call;
	char status[16];

	if (admin_call_begin_list(&call, ctx, req, resp, list) < 0 ||
	    status_filter(&call, list, status, sizeof(status), allowed, names) < 0)
		goto out;
	admin_list_run(&call, list);
out:
	admin_call_end(&call);
}

/* The answer to a trust update (trust_complaint_update, trust_violation_update) that did
 * not succeed: 404, 409 (final says what is final) or a database error; 0 when rc is 0. */
static int update_failed(struct admin_call *call, int rc, const char *missing, const char *final,
                         const char *status)
{
	switch (rc) {
	case 0:
		return 0;
	case TRUST_ERR_NOT_FOUND:
		admin_answer_not_found(call, missing);
		return ADMIN_ROLLBACK;
	case TRUST_ERR_FINAL:
		admin_answer_error(call, 409, "transition_forbidden", "status",
		                   "status: %s is final; it cannot become %s", final, status);
		return ADMIN_ROLLBACK;
	default:
		return PG_ERR_QUERY;
	}
}

/* ---- complaints ---- */

/* One complaint as JSON, from complaints k, orders o and customers cu. */
#define COMPLAINT_JSON_SQL                                                                         \
	"jsonb_build_object('id', k.id, 'status', k.status, 'text', k.text,"                       \
	" 'resolution', k.resolution, 'order_id', k.order_id, 'order_number', o.order_number,"     \
	" 'conversation_id', k.conversation_id, 'customer', CASE WHEN cu.id IS NULL THEN NULL"     \
	" ELSE jsonb_build_object('id', cu.id, 'name', cu.name, 'phone', cu.phone) END,"           \
	" 'created_at', k.created_at, 'updated_at', k.updated_at, 'resolved_at', k.resolved_at)"
#define COMPLAINT_FROM_SQL                                                                         \
	" FROM complaints k LEFT JOIN orders o ON o.tenant_id = k.tenant_id AND o.id = k.order_id" \
	" LEFT JOIN customers cu ON cu.tenant_id = k.tenant_id AND cu.id = k.customer_id"

static const char *const complaint_statuses[] = {"open", "in_review", "resolved", "rejected", NULL};

ADMIN_HANDLER(admin_complaints_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " COMPLAINT_JSON_SQL "::text, " ADMIN_CURSOR_SQL("k.created_at", "k.id")
	           COMPLAINT_FROM_SQL " WHERE k.tenant_id = app_tenant_id()"
	           " AND ($4::text IS NULL OR k.status = $4) AND "
	           ADMIN_LIST_AFTER_SQL("k.created_at", "k.id", "<")
	           " ORDER BY k.created_at DESC, k.id DESC LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = 1,
	    .row = json_row,
	    .nparams = 1,
	};

	status_list_serve(ctx, req, resp, &list, complaint_statuses,
	                  "open, in_review, resolved, rejected");
}

/* The evidence rows of a complaint or violation ($1 its id) with the events they point at. */
#define EVIDENCE_JSON_SQL(col)                                                                     \
	"SELECT COALESCE(jsonb_agg(jsonb_build_object('id', e.id, 'detection_id', e.detection_id," \
	" 'conversation_event_id', e.conversation_event_id, 'conversation_id', "                   \
	"ce.conversation_id,"                                                                      \
	" 'event_type', ce.event_type, 'payload', ce.payload, 'event_created_at', ce.created_at,"  \
	" 'note', e.note, 'created_at', e.created_at) ORDER BY ce.seq, e.created_at), '[]')::text" \
	" FROM evidence e LEFT JOIN conversation_events ce ON ce.tenant_id = e.tenant_id"          \
	"  AND ce.id = e.conversation_event_id"                                                    \
	" WHERE e.tenant_id = app_tenant_id() AND e." col " = $1"

/* The answer of GET and PATCH of a complaint or violation: the row sql ($1 call->id) selects
 * as JSON (with_order: and the id of its order, loaded as "order"), and its evidence. */
static int evidence_answer(PGconn *conn, struct admin_call *call, const char *sql,
                           const char *missing, int with_order, const char *evidence_sql,
                           int status)
{
	const char *params[1] = {call->id};
	PGresult *res = pg_exec(conn, sql, 1, params);
	json_t *obj = NULL, *order = NULL;
	int rc = PG_ERR_QUERY;

	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) != 1) {
		admin_answer_not_found(call, missing);
		PQclear(res);
		return ADMIN_ROLLBACK;
	}
	obj = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (!obj)
		goto out;
	if (with_order) {
		if (!PQgetisnull(res, 0, 1)) {
			order = order_json_load(conn, PQgetvalue(res, 0, 1), NULL);
			if (!order)
				goto out;
		}
		json_object_set_new(obj, "order", order ? order : json_null());
		order = NULL;
	}
	PQclear(res);
	res = pg_exec(conn, evidence_sql, 1, params);
	if (!res)
		goto out;
	json_object_set_new(obj, "evidence", json_loads(PQgetvalue(res, 0, 0), 0, NULL));
	admin_answer_json(call, status, obj);
	obj = NULL;
	rc = 0;
out:
	json_decref(obj);
	json_decref(order);
	PQclear(res);
	return rc;
}

/* The complaint, its order and its evidence. */
static int complaint_answer(PGconn *conn, struct admin_call *call, int status)
{
	return evidence_answer(conn, call,
	                       "SELECT " COMPLAINT_JSON_SQL "::text, k.order_id" COMPLAINT_FROM_SQL
	                       " WHERE k.tenant_id = app_tenant_id() AND k.id = $1",
	                       COMPLAINT_MISSING, 1, EVIDENCE_JSON_SQL("complaint_id"), status);
}

static int complaint_get_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	(void)arg;
	return complaint_answer(conn, call, 200);
}

ADMIN_HANDLER(admin_complaints_get)
{
	admin_id_serve(ctx, req, resp, COMPLAINT_MISSING, complaint_get_tx, NULL);
}

struct complaint_patch {
	const char *status, *resolution;
};

static int complaint_patch_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct complaint_patch *p = arg;
	int rc = trust_complaint_update(conn, call->tenant_id, call->id, p->status, p->resolution);

	rc = update_failed(call, rc, COMPLAINT_MISSING, "a complaint that is resolved or rejected",
	                   p->status);
	if (rc < 0)
		return rc;
	call->kick = 1; /* the shopper's message and the seller's notices are in the outbox */
	return complaint_answer(conn, call, 200);
}

ADMIN_HANDLER(admin_complaints_patch)
{
	static const char *const fields[] = {"status", "resolution", NULL};
	static const char *const allowed[] = {"in_review", "resolved", "rejected", NULL};
	struct complaint_patch p = {NULL, NULL};
	struct admin_call call;
	struct jfield_error err;
	json_t *body = NULL;
	size_t i;

	if (admin_call_begin_id(&call, ctx, req, resp, COMPLAINT_MISSING) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (jfield_known(body, "", fields, &err) < 0 ||
	    jfield_string(body, "", "status", 1, 1, 32, &p.status, &err) < 0 ||
	    jfield_string(body, "", "resolution", 0, 0, 2000, &p.resolution, &err) < 0)
		goto invalid;
	for (i = 0; allowed[i] && strcmp(allowed[i], p.status) != 0; i++)
		;
	if (!allowed[i]) {
		jfield_error_set(&err, "", "status", "must be in_review, resolved or rejected");
		goto invalid;
	}
	admin_call_run(&call, complaint_patch_tx, &p);
	goto out;
invalid:
	admin_answer_verr(&call, &err);
out:
	json_decref(body);
	admin_call_end(&call);
}

/* ---- behavior patterns ---- */

#define PATTERN_COLUMNS                                                                            \
	"b.id, b.name, b.active, b.definition::text, to_json(b.created_at)#>>'{}',"                \
	" to_json(b.updated_at)#>>'{}'"

static json_t *pattern_row(const struct admin_call *call, const PGresult *res, int r)
{
	json_t *def = admin_col_json(res, r, 3);
	char *desc = trust_pattern_describe(PQgetvalue(res, r, 1), def);
	json_t *o =
	    json_pack("{s:o, s:o, s:o, s:o, s:s?, s:o, s:o}", "id", admin_col_string(res, r, 0),
	              "name", admin_col_string(res, r, 1), "active", admin_col_bool(res, r, 2),
	              "definition", def, "description", desc, "created_at",
	              admin_col_string(res, r, 4), "updated_at", admin_col_string(res, r, 5));

	(void)call;
	free(desc);
	return o;
}

ADMIN_HANDLER(admin_patterns_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " PATTERN_COLUMNS ", " ADMIN_CURSOR_SQL("b.created_at", "b.id")
	           " FROM behavior_patterns b WHERE b.tenant_id = app_tenant_id() AND "
	           ADMIN_LIST_AFTER_SQL("b.created_at", "b.id", ">")
	           " ORDER BY b.created_at, b.id LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = 6,
	    .row = pattern_row,
	};

	admin_list_serve(ctx, req, resp, &list);
}

struct pattern_patch {
	int has_active, active;
	const json_t *definition; /* borrowed from the body; NULL when not given */
};

static int pattern_patch_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct pattern_patch *p = arg;
	const char *params[3] = {call->id, NULL,
	                         p->has_active ? (p->active ? "true" : "false") : NULL};
	PGresult *res = pg_exec(conn,
	                        "SELECT definition::text FROM behavior_patterns"
	                        " WHERE tenant_id = app_tenant_id() AND id = $1 FOR UPDATE",
	                        1, params);
	json_t *def = NULL;
	char *def_js = NULL, field[96], msg[200];
	int rc = PG_ERR_QUERY;

	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) != 1) {
		admin_answer_not_found(call, PATTERN_MISSING);
		rc = ADMIN_ROLLBACK;
		goto out;
	}
	def = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (!json_is_object(def))
		goto out;
	if (p->definition && json_object_update(def, (json_t *)p->definition) < 0)
		goto out;
	if (trust_definition_check(def, field, sizeof(field), msg, sizeof(msg)) < 0) {
		admin_answer_error(call, 400, "validation", field, "%s: %s", field, msg);
		rc = ADMIN_ROLLBACK;
		goto out;
	}
	def_js = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
	if (!def_js)
		goto out;
	params[1] = def_js;
	PQclear(res);
	res = pg_exec(conn,
	              "UPDATE behavior_patterns b SET definition = $2::jsonb,"
	              " active = COALESCE($3::boolean, active)"
	              " WHERE tenant_id = app_tenant_id() AND id = $1 RETURNING " PATTERN_COLUMNS,
	              3, params);
	if (!res || PQntuples(res) != 1)
		goto out;
	admin_answer_json(call, 200, pattern_row(call, res, 0));
	rc = 0;
out:
	free(def_js);
	json_decref(def);
	PQclear(res);
	return rc;
}

ADMIN_HANDLER(admin_patterns_patch)
{
	static const char *const fields[] = {"active", "definition", NULL};
	struct pattern_patch p;
	struct admin_call call;
	struct jfield_error err;
	json_t *body = NULL;
	int rc;

	memset(&p, 0, sizeof(p));
	if (admin_call_begin_id(&call, ctx, req, resp, PATTERN_MISSING) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (jfield_known(body, "", fields, &err) < 0)
		goto invalid;
	rc = jfield_bool(body, "", "active", 0, &p.active, &err);
	if (rc < 0)
		goto invalid;
	p.has_active = rc == 1;
	p.definition = json_object_get(body, "definition");
	if (p.definition && !json_is_object(p.definition)) {
		jfield_error_set(&err, "", "definition",
		                 "must be an object such as {\"threshold\": 20, "
		                 "\"window_seconds\": 60, \"action\": \"throttle\"}");
		goto invalid;
	}
	if (!p.has_active && !p.definition) {
		jfield_error_set(&err, "", "definition", "give active, definition or both");
		goto invalid;
	}
	admin_call_run(&call, pattern_patch_tx, &p);
	goto out;
invalid:
	admin_answer_verr(&call, &err);
out:
	json_decref(body);
	admin_call_end(&call);
}

/* ---- violations ---- */

#define VIOLATION_JSON_SQL                                                                         \
	"jsonb_build_object('id', v.id, 'kind', v.kind, 'severity', v.severity, 'status', "        \
	"v.status,"                                                                                \
	" 'action', v.action, 'pattern_id', v.pattern_id, 'customer', CASE WHEN cu.id IS NULL"     \
	" THEN NULL ELSE jsonb_build_object('id', cu.id, 'name', cu.name, 'phone', cu.phone) END," \
	" 'conversation_id', v.conversation_id, 'order_id', v.order_id,"                           \
	" 'complaint_id', v.complaint_id, 'detections', v.detections, 'details', v.details,"       \
	" 'created_at', v.created_at, 'updated_at', v.updated_at,"                                 \
	" 'last_detected_at', v.last_detected_at)"
#define VIOLATION_FROM_SQL                                                                         \
	" FROM violations v LEFT JOIN customers cu ON cu.tenant_id = v.tenant_id"                  \
	" AND cu.id = v.customer_id"

static const char *const violation_statuses[] = {"open", "confirmed", "dismissed", NULL};

ADMIN_HANDLER(admin_violations_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " VIOLATION_JSON_SQL "::text, " ADMIN_CURSOR_SQL("v.created_at", "v.id")
	           VIOLATION_FROM_SQL " WHERE v.tenant_id = app_tenant_id()"
	           " AND ($4::text IS NULL OR v.status = $4) AND "
	           ADMIN_LIST_AFTER_SQL("v.created_at", "v.id", "<")
	           " ORDER BY v.created_at DESC, v.id DESC LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = 1,
	    .row = json_row,
	    .nparams = 1,
	};

	status_list_serve(ctx, req, resp, &list, violation_statuses, "open, confirmed, dismissed");
}

static int violation_answer(PGconn *conn, struct admin_call *call)
{
	return evidence_answer(conn, call,
	                       "SELECT " VIOLATION_JSON_SQL "::text" VIOLATION_FROM_SQL
	                       " WHERE v.tenant_id = app_tenant_id() AND v.id = $1",
	                       VIOLATION_MISSING, 0, EVIDENCE_JSON_SQL("violation_id"), 200);
}

static int violation_get_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	(void)arg;
	return violation_answer(conn, call);
}

ADMIN_HANDLER(admin_violations_get)
{
	admin_id_serve(ctx, req, resp, VIOLATION_MISSING, violation_get_tx, NULL);
}

static int violation_patch_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	const char *status = arg;
	int rc = trust_violation_update(conn, call->tenant_id, call->id, status);

	rc = update_failed(call, rc, VIOLATION_MISSING, "a dismissed violation", status);
	if (rc < 0)
		return rc;
	return violation_answer(conn, call);
}

ADMIN_HANDLER(admin_violations_patch)
{
	static const char *const fields[] = {"status", NULL};
	struct admin_call call;
	struct jfield_error err;
	const char *status = NULL;
	json_t *body = NULL;

	if (admin_call_begin_id(&call, ctx, req, resp, VIOLATION_MISSING) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (jfield_known(body, "", fields, &err) < 0 ||
	    jfield_string(body, "", "status", 1, 1, 32, &status, &err) < 0)
		goto invalid;
	if (strcmp(status, "confirmed") != 0 && strcmp(status, "dismissed") != 0) {
		jfield_error_set(&err, "", "status", "must be confirmed or dismissed");
		goto invalid;
	}
	admin_call_run(&call, violation_patch_tx, (void *)status);
	goto out;
invalid:
	admin_answer_verr(&call, &err);
out:
	json_decref(body);
	admin_call_end(&call);
}
