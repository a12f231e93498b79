/*
 * admin_call.c: the life of one admin API request (see admin_internal.h): authentication,
 * the Idempotency-Key header, the tenant transaction that builds the answer, and writing the
 * answer out, and the body and query readers. Field checks are common/jfield.c; paging and
 * the routes' common shapes (a paged list, one row by id) are admin_page.c.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_internal.h"
#include "pg.h"
#include "secrets.h"
#include "app.h"
#include "utf8.h"
#include "util.h"

/* ---- answers ---- */

static void answer_reset(struct admin_answer *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
}

void admin_answer_json(struct admin_call *call, int status, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	answer_reset(&call->ans);
	if (!s) {
		call->ans.status = 500;
		call->ans.body = strdup("{\"error\":{\"code\":\"internal\","
		                        "\"message\":\"could not encode the answer\"}}");
		return;
	}
	call->ans.status = status;
	call->ans.body = s;
}

void admin_answer_empty(struct admin_call *call, int status)
{
	answer_reset(&call->ans);
	call->ans.status = status;
}

static void answer_error_v(struct admin_call *call, int status, const char *code, const char *field,
                           const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void answer_error_v(struct admin_call *call, int status, const char *code, const char *field,
                           const char *fmt, va_list ap)
{
	char msg[512];
	json_t *err;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	err = json_pack("{s:s,s:s}", "code", code, "message", msg);
	if (err && field)
		json_object_set_new(err, "field", json_string(field));
	admin_answer_json(call, status, err ? json_pack("{s:o}", "error", err) : NULL);
}

void admin_answer_error(struct admin_call *call, int status, const char *code, const char *field,
                        const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	answer_error_v(call, status, code, field, fmt, ap);
	va_end(ap);
}

void admin_answer_not_found(struct admin_call *call, const char *missing)
{
	admin_answer_error(call, 404, "not_found", NULL, "%s", missing);
}

void admin_answer_db_error(struct admin_call *call, int rc)
{
	if (rc == PG_ERR_UNAVAILABLE) {
		admin_answer_error(call, 503, "unavailable", NULL,
		                   "the database is not available; retry later");
	} else if (rc == PG_ERR_RETRY) {
		admin_answer_error(call, 503, "busy", NULL,
		                   "the change collided with another one; retry");
	} else {
		log_warn(&call->log, "admin: %s %s failed in the database (%d)", call->req->method,
		         call->req->route ? call->req->route : call->req->path, rc);
		admin_answer_error(call, 500, "internal", NULL, "a database error occurred");
	}
}

void admin_answer_verr(struct admin_call *call, const struct jfield_error *err)
{
	admin_answer_error(call, 400, "validation", err->field, "%s: %s", err->field, err->message);
}

/* ---- the call ---- */

static int idem_key_valid(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > ADMIN_IDEM_KEY_MAX)
		return 0;
	for (; *k; k++)
		if ((unsigned char)*k < 0x20 || (unsigned char)*k > 0x7e)
			return 0;
	return 1;
}

static void request_hash(const struct http_request *req, char out[65])
{
	struct sbuf b;
	size_t n;
	char *s;

	sbuf_init(&b);
	sbuf_printf(&b, "%s\n%s\n%s\n", req->method, req->path, req->query ? req->query : "");
	if (req->body)
		sbuf_append(&b, req->body, req->body_len);
	n = b.len; /* not strlen: a binary body (a KYC document) holds NUL bytes */
	s = sbuf_take(&b);
	if (s) {
		util_sha256_hex(s, n, out);
		free(s);
	} else {
		out[0] = '\0';
	}
}

int admin_call_begin(struct admin_call *call, struct http_ctx *ctx, const struct http_request *req,
                     struct http_response *resp)
{
	const char *key;
	int rc;

	memset(call, 0, sizeof(*call));
	call->ctx = ctx;
	call->req = req;
	call->resp = resp;
	if (!ctx->conn) {
		admin_answer_error(call, 503, "unavailable", NULL,
		                   "the database is not available; retry later");
		return -1;
	}
	rc = admin_auth_tenant(ctx->conn, http_request_header(req, "authorization"),
	                       call->tenant_id);
	if (rc == 1) {
		admin_answer_error(call, 401, "unauthorized", NULL,
		                   "a valid API key is required: Authorization: Bearer <api_key>");
		return -1;
	}
	if (rc < 0) {
		admin_answer_db_error(call, rc);
		return -1;
	}
	call->log.tenant = call->tenant_id;
	if (strcmp(req->method, "POST") == 0) {
		key = http_request_header(req, "idempotency-key");
		if (key) {
			if (!idem_key_valid(key)) {
				admin_answer_error(
				    call, 400, "validation", "Idempotency-Key",
				    "Idempotency-Key: 1 to %d printable ASCII characters",
				    ADMIN_IDEM_KEY_MAX);
				return -1;
			}
			request_hash(req, call->idem_hash);
			if (!call->idem_hash[0]) {
				admin_answer_error(call, 500, "internal", NULL, "out of memory");
				return -1;
			}
			call->idem_key = key;
		}
	}
	return 0;
}

int admin_call_begin_id(struct admin_call *call, struct http_ctx *ctx,
                        const struct http_request *req, struct http_response *resp,
                        const char *missing)
{
	if (admin_call_begin(call, ctx, req, resp) < 0)
		return -1;
	call->id = admin_path_uuid(call, 0);
	if (!call->id) {
		admin_answer_not_found(call, missing);
		return -1;
	}
	return 0;
}

struct run_state {
	struct admin_call *call;
	admin_tx_fn fn;
	void *arg;
};

static int run_tx(PGconn *conn, void *arg)
{
	struct run_state *st = arg;
	struct admin_call *call = st->call;
	int rc;

	answer_reset(&call->ans);
	call->kick = 0;
	if (call->idem_key) {
		rc = admin_idem_claim(conn, call);
		if (rc == 1)
			return 0; /* replay: nothing written */
		if (rc < 0)
			return rc;
	}
	rc = st->fn(conn, call, st->arg);
	if (rc < 0)
		return rc;
	if (call->idem_key) {
		/* only successful answers are remembered; a failed request leaves no trace and
		 * may be retried with the same key */
		if (call->ans.status < 200 || call->ans.status > 299)
			return ADMIN_ROLLBACK;
		rc = admin_idem_store(conn, call);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void admin_call_run(struct admin_call *call, admin_tx_fn fn, void *arg)
{
	struct run_state st = {call, fn, arg};
	int rc;

	rc = pg_tx_run(call->ctx->conn, call->tenant_id, run_tx, &st);
	if (rc == 0) {
		if (call->kick && call->ctx->app)
			app_outbox_kick(call->ctx->app);
		return;
	}
	if (rc == ADMIN_ROLLBACK && call->ans.status)
		return;
	call->kick = 0;
	admin_answer_db_error(call, rc);
}

void admin_call_end(struct admin_call *call)
{
	struct http_response *resp = call->resp;
	struct admin_answer *a = &call->ans;

	if (!a->status) {
		http_response_error(resp, 500, "internal", "the request was not answered");
		goto out;
	}
	if (a->body) {
		http_response_body(resp, a->status, NULL, a->body, strlen(a->body));
	} else {
		free(resp->body);
		resp->body = NULL;
		resp->body_len = 0;
		resp->status = a->status;
	}
	if (a->etag[0])
		http_response_header(resp, "ETag", a->etag);
	if (a->replayed)
		http_response_header(resp, "Idempotent-Replayed", "true");
	if (a->status == 401)
		http_response_header(resp, "WWW-Authenticate", "Bearer realm=\"ccgw\"");
out:
	answer_reset(a);
}

/* ---- input ---- */

json_t *admin_body_object(struct admin_call *call)
{
	const struct http_request *req = call->req;
	json_error_t jerr;
	json_t *o;

	if (!req->body || req->body_len == 0) {
		admin_answer_error(call, 400, "invalid_json", NULL,
		                   "the request body must be a JSON object");
		return NULL;
	}
	o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		admin_answer_error(call, 400, "invalid_json", NULL,
		                   "the body is not valid JSON: %s (line %d)", jerr.text,
		                   jerr.line);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		admin_answer_error(call, 400, "invalid_json", NULL,
		                   "the request body must be a JSON object");
		return NULL;
	}
	return o;
}

/* Characters (not bytes) of valid UTF-8 without NUL bytes (len is its strlen); -1 when s
 * holds a control character other than tab, newline or carriage return. */
int admin_query_bool(struct admin_call *call, const char *name, const char **out)
{
	char v[8];

	*out = NULL;
	if (http_query_get(call->req, name, v, sizeof(v)) < 0)
		return 0;
	if (strcmp(v, "true") == 0) {
		*out = "true";
	} else if (strcmp(v, "false") == 0) {
		*out = "false";
	} else {
		admin_answer_error(call, 400, "validation", name, "%s: must be true or false",
		                   name);
		return -1;
	}
	return 0;
}

/* ---- secrets ---- */

int admin_can_seal(struct admin_call *call)
{
	if (call->ctx->app && call->ctx->app->has_secret_key)
		return 1;
	log_error(&call->log, "admin: cannot store a secret: CCGW_SECRET_KEY is not configured");
	admin_answer_error(call, 500, "secret_key_missing", NULL,
	                   "the server has no CCGW_SECRET_KEY configured, so it cannot store "
	                   "secrets; ask the operator to set one");
	return 0;
}

int admin_seal(struct admin_call *call, const char *plain, size_t len, char **bytea)
{
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;

	*bytea = NULL;
	if (!admin_can_seal(call))
		return -1;
	if (secrets_seal(call->ctx->app->secret_key, call->tenant_id, plain, len, &sealed,
	                 &sealed_len) < 0) {
		admin_answer_error(call, 500, "internal", NULL, "could not seal the secret");
		return -1;
	}
	*bytea = secrets_bytea_encode(sealed, sealed_len);
	free(sealed);
	if (!*bytea) {
		admin_answer_error(call, 500, "internal", NULL, "out of memory");
		return -1;
	}
	return 0;
}

char *admin_webhook_url(const struct admin_call *call, const char *type, const char *id)
{
	const char *base = call->ctx->app && call->ctx->app->cfg && call->ctx->app->cfg->public_url
	                       ? call->ctx->app->cfg->public_url
	                       : "http://127.0.0.1:8080";
	size_t n = strlen(base);
	struct sbuf b;

	while (n > 0 && base[n - 1] == '/')
		n--;
	sbuf_init(&b);
	sbuf_append(&b, base, n);
	sbuf_printf(&b, "/webhooks/%s/%s", type, id);
	return sbuf_take(&b);
}
