/*
 * wa_webhook.c: the WhatsApp Cloud API webhook routes. GET answers Meta's verification
 * (hub.verify_token against the channel's sealed verify token). POST checks
 * X-Hub-Signature-256 over the raw body before anything else, parses it (channels/whatsapp.h),
 * routes each change by its phone_number_id, hands every message to the engine in its own
 * tenant transaction, applies delivery statuses to the outbox forward-only, and answers 200
 * only after all of it committed (503 when the database cannot take it, so Meta retries).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "routes.h"
#include "secrets.h"
#include "server.h"
#include "util.h"
#include "whatsapp.h"

#define WA_CHALLENGE_MAX 256
#define WA_SIG_PREFIX    "sha256="

/* A WhatsApp channel row with its secrets opened. */
struct wa_channel {
	char tenant_id[MSG_UUID_LEN];
	char channel_id[MSG_UUID_LEN];
	char *external_id;  /* phone_number_id */
	char *app_secret;   /* wiped on release */
	char *verify_token; /* wiped on release */
	int active;         /* type whatsapp and not disabled */
};

enum wa_load {
	WA_LOAD_OK = 0,
	WA_LOAD_NOT_FOUND = 1,
	WA_LOAD_DB = -1,     /* the database did not answer: 503 */
	WA_LOAD_SECRETS = -2 /* the sealed secrets do not open: the operator's key is wrong */
};

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void wa_channel_clear(struct wa_channel *ch)
{
	free(ch->external_id);
	secret_free(ch->app_secret);
	secret_free(ch->verify_token);
	memset(ch, 0, sizeof(*ch));
}

static char *json_secret(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) && json_string_length(v) > 0 ? strdup(json_string_value(v)) : NULL;
}

/* Opens the sealed secrets JSON of a channel into app_secret and verify_token. */
static int wa_channel_open(struct server *srv, const char *bytea, struct wa_channel *ch)
{
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	char *plain = NULL;
	json_t *obj = NULL;
	int rc = WA_LOAD_SECRETS;

	if (!bytea || !srv->has_secret_key)
		goto out;
	if (secrets_bytea_decode(bytea, &sealed, &sealed_len) < 0 ||
	    secrets_open(srv->secret_key, ch->tenant_id, sealed, sealed_len, &plain) < 0)
		goto out;
	obj = json_loads(plain, 0, NULL);
	if (!json_is_object(obj))
		goto out;
	ch->app_secret = json_secret(obj, "app_secret");
	ch->verify_token = json_secret(obj, "verify_token");
	rc = WA_LOAD_OK;
out:
	if (obj) {
		/* wipe the secret strings inside the parsed object before it is freed */
		const char *k;
		json_t *v;

		json_object_foreach(obj, k, v) if (json_is_string(v))
		    explicit_bzero((char *)json_string_value(v), json_string_length(v));
	}
	json_decref(obj);
	secret_free(plain);
	free(sealed);
	return rc;
}

/* Loads a channel through channel_route($1) or channel_route_external('whatsapp', $1). */
static enum wa_load wa_channel_load(struct server *srv, PGconn *conn, int by_external,
                                    const char *key, struct wa_channel *ch)
{
	static const char by_id[] =
	    "SELECT tenant_id, channel_id, type, status, external_id, secrets"
	    " FROM channel_route($1::uuid)";
	static const char by_ext[] =
	    "SELECT tenant_id, channel_id, type, status, external_id, secrets"
	    " FROM channel_route_external('whatsapp', $1)";
	const char *params[1] = {key};
	PGresult *res;
	enum wa_load rc;
	const char *type, *status;

	memset(ch, 0, sizeof(*ch));
	res = pg_exec(conn, by_external ? by_ext : by_id, 1, params);
	if (!res)
		return WA_LOAD_DB;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return WA_LOAD_NOT_FOUND;
	}
	snprintf(ch->tenant_id, sizeof(ch->tenant_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(ch->channel_id, sizeof(ch->channel_id), "%s", PQgetvalue(res, 0, 1));
	type = PQgetvalue(res, 0, 2);
	status = PQgetvalue(res, 0, 3);
	ch->active = strcmp(type, "whatsapp") == 0 && strcmp(status, "disabled") != 0;
	if (pg_value(res, 0, 4))
		ch->external_id = strdup(PQgetvalue(res, 0, 4));
	rc = ch->active ? (enum wa_load)wa_channel_open(srv, pg_value(res, 0, 5), ch) : WA_LOAD_OK;
	PQclear(res);
	return rc;
}

/* ---- GET: Meta's verification request ---- */

void wa_webhook_verify(struct http_ctx *ctx, const struct http_request *req,
                       struct http_response *resp)
{
	const char *id = req->nparams > 0 ? req->params[0] : "";
	char mode[32], token[512], challenge[WA_CHALLENGE_MAX];
	struct wa_channel ch;
	struct log_ctx lc = {NULL, id, NULL};
	enum wa_load rc;
	int ok;

	memset(&ch, 0, sizeof(ch));
	if (http_query_get(req, "hub.mode", mode, sizeof(mode)) < 0 ||
	    http_query_get(req, "hub.verify_token", token, sizeof(token)) < 0 ||
	    http_query_get(req, "hub.challenge", challenge, sizeof(challenge)) < 0 ||
	    strcmp(mode, "subscribe") != 0 || !util_uuid_valid(id)) {
		http_response_error(
		    resp, 403, "forbidden",
		    "expected hub.mode=subscribe, hub.verify_token and hub.challenge");
		return;
	}
	rc = wa_channel_load(ctx->srv, ctx->conn, 0, id, &ch);
	if (rc == WA_LOAD_DB) {
		http_response_error(resp, 503, "database_unavailable",
		                    "the database is not answering; try again shortly");
		goto out;
	}
	if (rc == WA_LOAD_SECRETS)
		log_error(&lc, "whatsapp: the channel's secrets do not open (CCGW_SECRET_KEY?)");
	ok = rc == WA_LOAD_OK && ch.active && util_ct_streq(token, ch.verify_token);
	if (!ok) {
		log_warn(&lc, "whatsapp: webhook verification refused");
		http_response_error(resp, 403, "forbidden", "the verify token does not match");
		goto out;
	}
	log_info(&lc, "whatsapp: webhook verified by Meta");
	http_response_body(resp, 200, "text/plain", challenge, strlen(challenge));
out:
	explicit_bzero(token, sizeof(token));
	wa_channel_clear(&ch);
}

/* ---- POST: messages and statuses ---- */

/* Where the changes for one phone_number_id go, resolved once per POST. */
enum wa_route_state { WA_ROUTE_OK, WA_ROUTE_UNKNOWN, WA_ROUTE_FOREIGN };

struct wa_route {
	const char *pnid; /* borrowed from the batch */
	enum wa_route_state state;
	struct wa_channel ch;
	int reported;
};

/* The state of one POST. */
struct wa_post {
	struct http_ctx *ctx;
	struct wa_channel url_ch; /* the channel of the URL, whose app secret signed the body */
	struct wa_route *routes;
	size_t nroutes;
	int db_error; /* a PG_ERR_*: answer 503 */
	int handled, duplicates, skipped, statuses, replies, failed;
	int retry_later; /* a message failed for good, not yet for the last time: 503 at the end,
	                  * after the batch's other messages and statuses are done */
};

static struct wa_route *wa_route_get(struct wa_post *p, const char *pnid)
{
	struct wa_route *r, *nr;
	enum wa_load rc;
	size_t i;

	for (i = 0; i < p->nroutes; i++)
		if (strcmp(p->routes[i].pnid, pnid) == 0)
			return &p->routes[i];
	nr = realloc(p->routes, (p->nroutes + 1) * sizeof(*nr));
	if (!nr) {
		p->db_error = PG_ERR_ABORT; /* out of memory: answer 503, Meta retries */
		return NULL;
	}
	p->routes = nr;
	r = &p->routes[p->nroutes];
	memset(r, 0, sizeof(*r));
	r->pnid = pnid;
	if (p->url_ch.external_id && strcmp(p->url_ch.external_id, pnid) == 0) {
		/* the common case: the number of the URL's own channel */
		rc = WA_LOAD_OK;
		memcpy(r->ch.tenant_id, p->url_ch.tenant_id, sizeof(r->ch.tenant_id));
		memcpy(r->ch.channel_id, p->url_ch.channel_id, sizeof(r->ch.channel_id));
		r->ch.active = 1;
		r->state = WA_ROUTE_OK;
	} else {
		rc = wa_channel_load(p->ctx->srv, p->ctx->conn, 1, pnid, &r->ch);
		if (rc == WA_LOAD_DB) {
			p->db_error = PG_ERR_UNAVAILABLE;
			return NULL;
		}
		if (rc != WA_LOAD_OK || !r->ch.active)
			r->state = WA_ROUTE_UNKNOWN;
		else if (!util_ct_streq(r->ch.app_secret, p->url_ch.app_secret))
			/* another Meta app's number: this app's signature does not vouch for it */
			r->state = WA_ROUTE_FOREIGN;
		else
			r->state = WA_ROUTE_OK;
	}
	p->nroutes++;
	return r;
}

/* Inserts a channel_events row in its own tenant transaction. */
struct wa_event_tx {
	const char *tenant_id, *channel_id, *type;
	json_t *payload;
};

static int wa_event_tx_fn(PGconn *conn, void *arg)
{
	struct wa_event_tx *e = arg;
	char *payload = json_dumps(e->payload, JSON_COMPACT);
	const char *params[4] = {e->tenant_id, e->channel_id, e->type, payload};
	int rc;

	if (!payload)
		return PG_ERR_ABORT;
	rc = pg_cmd(conn,
	            "INSERT INTO channel_events (tenant_id, channel_id, event_type, payload)"
	            " VALUES ($1, $2, $3, $4::jsonb)",
	            4, params);
	free(payload);
	return rc < 0 ? PG_ERR_QUERY : 0;
}

static void wa_channel_event(struct wa_post *p, const struct wa_channel *ch, const char *type,
                             json_t *payload)
{
	struct wa_event_tx e = {ch->tenant_id, ch->channel_id, type, payload};
	int rc;

	if (!payload)
		return;
	rc = pg_tx_run(p->ctx->conn, ch->tenant_id, wa_event_tx_fn, &e);
	if (rc == PG_ERR_UNAVAILABLE || rc == PG_ERR_RETRY)
		p->db_error = rc;
	json_decref(payload);
}

/* Resolves pnid to a routable channel, or logs (once) and records why it is skipped. */
static struct wa_route *wa_route_for(struct wa_post *p, const char *pnid)
{
	struct wa_route *r = wa_route_get(p, pnid);
	struct log_ctx lc = {p->url_ch.tenant_id, p->url_ch.channel_id, NULL};

	if (!r)
		return NULL;
	if (r->state == WA_ROUTE_OK)
		return r;
	if (!r->reported) {
		r->reported = 1;
		log_warn(&lc, "whatsapp: change for phone_number_id %s skipped: %s", pnid,
		         r->state == WA_ROUTE_UNKNOWN
		             ? "no active channel has that number"
		             : "that number's channel is of another Meta app");
		wa_channel_event(p, &p->url_ch, "whatsapp_unknown_number",
		                 json_pack("{s:s, s:s}", "phone_number_id", pnid, "reason",
		                           r->state == WA_ROUTE_UNKNOWN ? "unknown" : "other_app"));
	}
	return NULL;
}

struct wa_msg_tx {
	struct engine *engine;
	const struct msg_inbound *m;
	struct engine_result res;
	int rc;
};

static int wa_msg_tx_fn(PGconn *conn, void *arg)
{
	struct wa_msg_tx *t = arg;

	memset(&t->res, 0, sizeof(t->res));
	t->rc = engine_handle(t->engine, conn, t->m, &t->res);
	return t->rc < 0 ? t->rc : 0;
}

struct wa_fail_tx {
	const struct msg_inbound *m;
	const char *error;
	int final;
};

static int wa_fail_tx_fn(PGconn *conn, void *arg)
{
	struct wa_fail_tx *f = arg;

	return engine_inbound_failed(conn, f->m, f->error, &f->final) < 0 ? PG_ERR_QUERY : 0;
}

/* A message that failed for good (a constraint, a bug: not the database being away). Its
 * tries are counted across redeliveries: before the last, 503 (Meta sends the batch again,
 * and what was handled in it is a duplicate then); at the last it is recorded as failed and
 * the batch answered 200, so one bad message cannot keep the others retrying for ever. */
static void wa_post_failed(struct wa_post *p, const struct msg_inbound *m, int rc,
                           const struct log_ctx *lc)
{
	char error[96];
	struct wa_fail_tx f = {m, error, 0};
	int frc;

	snprintf(error, sizeof(error), "the engine could not handle it (error %d, SQLSTATE %s)",
	         rc, pg_last_sqlstate()[0] ? pg_last_sqlstate() : "none");
	frc = pg_tx_run(p->ctx->conn, m->tenant_id, wa_fail_tx_fn, &f);
	if (frc != 0) {
		p->db_error = frc;
		metrics_inbound_observe("whatsapp", "unavailable");
		log_error(lc, "whatsapp: message %s not handled, nor its failure recorded (%d)",
		          m->message_id, frc);
		return;
	}
	if (!f.final) {
		p->retry_later = 1; /* 503 once the rest is done: tried again at the redelivery */
		metrics_inbound_observe("whatsapp", "retrying");
		log_error(lc, "whatsapp: message %s not handled: %s; Meta will send it again",
		          m->message_id, error);
		return;
	}
	p->failed++;
	metrics_inbound_observe("whatsapp", "failed");
	log_error(lc, "whatsapp: message %s failed for good after %d tries: %s", m->message_id,
	          ENGINE_INBOUND_TRIES, error);
}

static void wa_post_message(struct wa_post *p, struct wa_message *wm)
{
	struct wa_route *r = wa_route_for(p, wm->phone_number_id);
	struct msg_inbound *m = wm->msg;
	struct wa_msg_tx t = {.engine = p->ctx->srv->engine, .m = m};
	struct log_ctx lc = {NULL, NULL, NULL};
	int rc;

	if (!r) {
		p->skipped++;
		metrics_inbound_observe("whatsapp", "skipped");
		return;
	}
	memcpy(m->tenant_id, r->ch.tenant_id, sizeof(m->tenant_id));
	memcpy(m->channel_id, r->ch.channel_id, sizeof(m->channel_id));
	lc.tenant = m->tenant_id;
	lc.channel = m->channel_id;
	rc = pg_tx_run(p->ctx->conn, m->tenant_id, wa_msg_tx_fn, &t);
	if (rc == 0 && t.rc == ENGINE_DUPLICATE) {
		p->duplicates++;
		metrics_inbound_observe("whatsapp", "duplicate");
		log_debug(&lc, "whatsapp: %s already handled", m->message_id);
	} else if (rc == 0) {
		p->handled++;
		p->replies += t.res.replies;
		metrics_inbound_observe("whatsapp", "handled");
		lc.conversation = t.res.conversation_id;
		log_debug(&lc, "whatsapp: %s (%s) handled, %d replies", m->message_id,
		          msg_kind_name(m->kind), t.res.replies);
	} else if (rc == ENGINE_ERR_INVALID) {
		p->skipped++;
		metrics_inbound_observe("whatsapp", "invalid");
		log_warn(&lc, "whatsapp: message %s is not one the engine can take; skipped",
		         m->message_id);
	} else if (rc == PG_ERR_UNAVAILABLE || rc == PG_ERR_RETRY) {
		/* transient: 503, Meta delivers the batch again */
		p->db_error = rc;
		metrics_inbound_observe("whatsapp", "unavailable");
		log_warn(&lc, "whatsapp: message %s not handled now (database unavailable)",
		         m->message_id);
	} else {
		wa_post_failed(p, m, rc, &lc);
	}
}

/* outbox rank: pending/sending/dead/undeliverable 0 < sent 1 < delivered 2 < read 3; a
 * failure applies only before delivery and is final. */
#define WA_RANK(col)                                                                               \
	"(CASE " col " WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3"              \
	" WHEN 'failed' THEN 4 ELSE 0 END)"

struct wa_status_tx {
	const struct wa_status *st;
	const char *channel_id;
	int updated;
	int pending; /* kept for when the send's outcome is written (053) */
};

/* The event payload of a status, without the outbox id (heap JSON text, or NULL). */
static char *wa_status_payload(const struct wa_status *st)
{
	json_t *pj = json_pack("{s:s, s:s, s:s?, s:I}", "platform_message_id", st->wamid,
	                       "channel", "whatsapp", "recipient", st->recipient_id, "timestamp",
	                       (json_int_t)st->timestamp);
	char *out;

	if (pj && st->status == WA_STATUS_FAILED) {
		json_object_set_new(pj, "error_code", json_integer(st->error_code));
		if (st->error_title)
			json_object_set_new(pj, "error_title", json_string(st->error_title));
		if (st->error_details)
			json_object_set_new(pj, "error_details", json_string(st->error_details));
	}
	out = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
	json_decref(pj);
	return out;
}

static int wa_status_tx_fn(PGconn *conn, void *arg)
{
	struct wa_status_tx *t = arg;
	const struct wa_status *st = t->st;
	const char *status = wa_status_kind_name(st->status);
	char code[24] = "";
	char *payload = wa_status_payload(st);
	const char *upd[6];
	const char *ev[4];
	const char *event = st->status == WA_STATUS_READ        ? "message_read"
	                    : st->status == WA_STATUS_DELIVERED ? "message_delivered"
	                    : st->status == WA_STATUS_FAILED    ? "message_failed"
	                                                        : NULL;
	PGresult *res = NULL;
	int rc = PG_ERR_QUERY;

	t->updated = 0;
	t->pending = 0;
	if (!payload)
		return PG_ERR_ABORT;
	if (st->error_code)
		snprintf(code, sizeof(code), "%ld", st->error_code);
	upd[0] = t->channel_id;
	upd[1] = st->wamid;
	upd[2] = status;
	upd[3] = code[0] ? code : NULL;
	upd[4] = st->error_title ? st->error_title : st->error_details;
	upd[5] = payload;
	/* one message's statuses and its send outcome, one at a time (the dispatcher takes the
	 * same lock before it stores the id): a status is either applied or kept, never lost */
	if (pg_cmd(conn, "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))", 2,
	           upd) < 0)
		goto out;
	res = pg_exec(
	    conn,
	    "UPDATE outbox o SET status = $3,"
	    " error_code = CASE WHEN $3 = 'failed' THEN $4::bigint ELSE o.error_code END,"
	    " last_error = CASE WHEN $3 = 'failed' THEN $5 ELSE o.last_error END"
	    " WHERE o.tenant_id = app_tenant_id() AND o.channel_id = $1::uuid"
	    " AND o.platform_message_id = $2"
	    " AND CASE WHEN $3 = 'failed' THEN " WA_RANK(
	        "o.status") " < 2"
	                    " ELSE o.status <> 'failed' AND " WA_RANK("o.status") " < " WA_RANK(
	                        "$3") " END"
	                              " RETURNING o.id, o.conversation_id",
	    5, upd);
	if (!res)
		goto out;
	t->updated = PQntuples(res);
	if (t->updated && event && pg_value(res, 0, 1)) {
		ev[0] = PQgetvalue(res, 0, 1);
		ev[1] = event;
		ev[2] = payload;
		ev[3] = PQgetvalue(res, 0, 0);
		if (pg_cmd(conn,
		           "INSERT INTO conversation_events (tenant_id, conversation_id, event_type,"
		           " payload) VALUES (app_tenant_id(), $1::uuid, $2,"
		           " $3::jsonb || jsonb_build_object('outbox_id', $4::text))",
		           4, ev) < 0)
			goto out;
	}
	if (!t->updated) {
		PQclear(res);
		/* no row has this id yet: the send's outcome is still to be written (the status
		 * won the race), unless the message is known and the status is simply stale */
		res = pg_exec(conn,
		              "INSERT INTO pending_statuses (tenant_id, channel_id, platform_message_id,"
		              " status, error_code, error_text, payload)"
		              " SELECT app_tenant_id(), $1::uuid, $2, $3, $4::bigint, $5, $6::jsonb"
		              " WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id ="
		              " app_tenant_id() AND o.channel_id = $1::uuid AND o.platform_message_id"
		              " = $2) RETURNING 1",
		              6, upd);
		if (!res)
			goto out;
		t->pending = PQntuples(res);
		if (t->pending &&
		    pg_cmd(conn,
		           "DELETE FROM pending_statuses WHERE tenant_id = app_tenant_id()"
		           " AND received_at < now() - interval '1 day'",
		           0, NULL) < 0)
			goto out;
	}
	rc = 0;
out:
	free(payload);
	PQclear(res);
	return rc;
}

static void wa_post_status(struct wa_post *p, const struct wa_status *st)
{
	struct wa_route *r = wa_route_for(p, st->phone_number_id);
	struct wa_status_tx t = {st, NULL, 0, 0};
	struct log_ctx lc = {NULL, NULL, NULL};
	int rc;

	if (!r || st->status == WA_STATUS_OTHER)
		return;
	t.channel_id = r->ch.channel_id;
	lc.tenant = r->ch.tenant_id;
	lc.channel = r->ch.channel_id;
	rc = pg_tx_run(p->ctx->conn, r->ch.tenant_id, wa_status_tx_fn, &t);
	if (rc < 0) {
		p->db_error = rc;
		return;
	}
	p->statuses += t.updated;
	if (st->status == WA_STATUS_FAILED)
		log_warn(&lc, "whatsapp: message %s to %s failed: %ld %s%s", st->wamid,
		         st->recipient_id ? st->recipient_id : "?", st->error_code,
		         st->error_title ? st->error_title : "",
		         t.updated  ? ""
		         : t.pending ? " (kept until the send's outcome is written)"
		                     : " (not recorded: already delivered)");
	else
		log_debug(&lc, "whatsapp: message %s %s%s", st->wamid, st->status_name,
		          t.updated  ? ""
		          : t.pending ? " (kept until the send's outcome is written)"
		                      : " (no newer state to record)");
}

static void wa_post_account_error(struct wa_post *p, const struct wa_account_error *e)
{
	const struct wa_channel *ch = &p->url_ch;
	struct wa_route *r = e->phone_number_id ? wa_route_for(p, e->phone_number_id) : NULL;
	struct log_ctx lc;

	if (e->phone_number_id && !r)
		return; /* skipped: already logged and recorded */
	if (r)
		ch = &r->ch;
	lc = (struct log_ctx){ch->tenant_id, ch->channel_id, NULL};
	log_error(&lc, "whatsapp: Meta reports an account error %ld: %s%s%s", e->code,
	          e->title ? e->title : "", e->details ? " - " : "", e->details ? e->details : "");
	wa_channel_event(p, ch, "whatsapp_account_error",
	                 json_pack("{s:I, s:s?, s:s?, s:s?}", "code", (json_int_t)e->code, "title",
	                           e->title, "details", e->details, "phone_number_id",
	                           e->phone_number_id));
}

/* Checks "sha256=<hex>" against the HMAC of the raw body; 1 when it matches. */
static int wa_signature_ok(const struct http_request *req, const char *app_secret)
{
	const char *sig = http_request_header(req, "x-hub-signature-256");
	char want[65], got[65];
	size_t i, n;

	if (!sig || !app_secret || strncmp(sig, WA_SIG_PREFIX, strlen(WA_SIG_PREFIX)) != 0)
		return 0;
	sig += strlen(WA_SIG_PREFIX);
	n = strlen(sig);
	if (n != 64)
		return 0;
	for (i = 0; i < n; i++)
		got[i] = (sig[i] >= 'A' && sig[i] <= 'F') ? (char)(sig[i] - 'A' + 'a') : sig[i];
	got[64] = '\0';
	util_hmac_sha256_hex(app_secret, strlen(app_secret), req->body ? req->body : "",
	                     req->body_len, want);
	return util_ct_streq(got, want);
}

void wa_webhook_receive(struct http_ctx *ctx, const struct http_request *req,
                        struct http_response *resp)
{
	const char *id = req->nparams > 0 ? req->params[0] : "";
	struct wa_post p;
	struct wa_batch *b = NULL;
	struct log_ctx lc = {NULL, id, NULL};
	char err[256];
	enum wa_load rc;
	size_t i;

	memset(&p, 0, sizeof(p));
	p.ctx = ctx;
	if (!util_uuid_valid(id)) {
		http_response_error(resp, 404, "not_found", "unknown channel");
		return;
	}
	if (!ctx->srv->engine) {
		http_response_error(resp, 503, "unavailable", "the engine is not running");
		return;
	}
	rc = wa_channel_load(ctx->srv, ctx->conn, 0, id, &p.url_ch);
	if (rc == WA_LOAD_DB) {
		http_response_error(resp, 503, "database_unavailable",
		                    "the database is not answering; try again shortly");
		goto out;
	}
	if (rc == WA_LOAD_NOT_FOUND || !p.url_ch.active) {
		http_response_error(resp, 404, "not_found", "unknown channel");
		goto out;
	}
	lc.tenant = p.url_ch.tenant_id;
	if (rc == WA_LOAD_SECRETS || !p.url_ch.app_secret) {
		log_error(&lc, "whatsapp: the channel's app secret is not available "
		               "(CCGW_SECRET_KEY changed?)");
		http_response_error(resp, 500, "channel_secrets",
		                    "the channel's app secret is not available");
		goto out;
	}
	if (!wa_signature_ok(req, p.url_ch.app_secret)) {
		log_warn(&lc, "whatsapp: webhook with a %s X-Hub-Signature-256 refused",
		         http_request_header(req, "x-hub-signature-256") ? "wrong" : "missing");
		http_response_error(resp, 401, "bad_signature",
		                    "X-Hub-Signature-256 is missing or does not match the body");
		goto out;
	}
	b = wa_webhook_parse(req->body, req->body_len, err, sizeof(err));
	if (!b) {
		log_warn(&lc, "whatsapp: webhook body refused: %s", err);
		http_response_error(resp, 400, "bad_payload", "%s", err);
		goto out;
	}
	for (i = 0; i < b->nmessages && !p.db_error; i++)
		wa_post_message(&p, &b->messages[i]);
	for (i = 0; i < b->nstatuses && !p.db_error; i++)
		wa_post_status(&p, &b->statuses[i]);
	for (i = 0; i < b->nerrors && !p.db_error; i++)
		wa_post_account_error(&p, &b->errors[i]);
	if (p.replies)
		server_outbox_kick(ctx->srv);
	if (p.db_error || p.retry_later) {
		http_response_error(resp, 503, "database_unavailable",
		                    "the webhook could not be stored; Meta will retry");
		goto out;
	}
	http_response_json(resp, 200,
	                   json_pack("{s:i, s:i, s:i, s:i, s:i}", "handled", p.handled, "duplicates",
	                             p.duplicates, "skipped", p.skipped, "statuses", p.statuses,
	                             "failed", p.failed));
out:
	wa_batch_free(b);
	for (i = 0; i < p.nroutes; i++)
		wa_channel_clear(&p.routes[i].ch);
	free(p.routes);
	wa_channel_clear(&p.url_ch);
}
