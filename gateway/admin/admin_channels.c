/*
 * admin_channels.c: a seller's channels (WhatsApp numbers, Telegram bots, ...). What a type
 * takes is its adapter's (channel_ops.fields: names, which are secret, which required, and
 * their checks); this file reads a body against that table, seals the secret fields with
 * AES-256-GCM (secrets.h) into channels.secrets, where they never leave for an answer or a
 * log line, stores the others in channels.config, and answers with the webhook URL built
 * from CCGW_PUBLIC_URL. Channels are listed, read, renamed, re-keyed, re-enabled (PATCH) and
 * disabled (DELETE or PATCH status).
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "channel.h"
#include "channel_open.h"
#include "config.h"
#include "outcall.h"
#include "pg.h"
#include "secrets.h"
#include "app.h"

#define CHANNEL_COLS                                                                               \
	"c.id, c.type, c.name, c.status, c.health_error, c.external_id, "                          \
	"to_json(c.created_at)#>>'{}', to_json(c.updated_at)#>>'{}', c.config::text"
#define CHANNEL_NCOLS   9
#define CHANNEL_MISSING "no such channel"
#define CHANNEL_NAMED_MAX 512 /* the text[] literal of the config keys a body names */

/* The config fields of ops (those answered) from a channel's config, or null each. */
static void config_fields_answer(json_t *o, const struct channel_ops *ops, const json_t *cfg)
{
	const struct channel_field *f;

	for (f = ops->fields; f && f->name; f++) {
		json_t *v = json_object_get(cfg, f->name);

		if (f->flags & CHANNEL_FIELD_CONFIG)
			json_object_set_new(o, f->name, v ? json_deep_copy(v) : json_null());
	}
}

static json_t *channel_json(const struct admin_call *call, const PGresult *res, int r)
{
	const struct channel_ops *ops = channel_ops_find(pg_value(res, r, 1));
	const char *id = pg_value(res, r, 0);
	char *url = NULL;
	json_t *o, *cfg;

	if (ops && ops->webhook && id)
		url = admin_webhook_url(call, ops->type, id);
	o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", admin_col_string(res, r, 0),
	              "type", admin_col_string(res, r, 1), "name", admin_col_string(res, r, 2),
	              "status", admin_col_string(res, r, 3), "health_error",
	              admin_col_string(res, r, 4), "external_id", admin_col_string(res, r, 5),
	              "webhook_url", url ? json_string(url) : json_null(), "created_at",
	              admin_col_string(res, r, 6), "updated_at", admin_col_string(res, r, 7));
	if (o && ops && ops->external_field && ops->external_shown)
		json_object_set_new(o, ops->external_field, admin_col_string(res, r, 5));
	if (o && ops) {
		cfg = admin_col_json(res, r, 8);
		config_fields_answer(o, ops, cfg);
		json_decref(cfg);
	}
	free(url);
	return o;
}

/* ---- input ---- */

/* A channel body read against its type's fields. */
struct channel_in {
	const struct channel_ops *ops;
	json_t *config;    /* the config keys to set; NULL when none */
	json_t *secrets;   /* the secret fields given; NULL when none */
	char external[64]; /* the routing id, "" when not given */
	char named[CHANNEL_NAMED_MAX]; /* the object keys the body names, a text[] literal */
};

static void channel_in_clear(struct channel_in *in)
{
	json_decref(in->config);
	channel_config_free(in->secrets);
	in->config = in->secrets = NULL;
}

/* Sets key in *obj (created when NULL), taking v. 0, or -1 out of memory. */
static int obj_set(json_t **obj, const char *key, json_t *v)
{
	if (!*obj)
		*obj = json_object();
	if (!*obj || !v || json_object_set_new(*obj, key, v) < 0) {
		json_decref(v);
		return -1;
	}
	return 0;
}

/* An object field (a template): its checked copy set, or its key only named when null. */
static int object_field_read(json_t *v, const struct channel_field *f, struct channel_in *in,
                             struct jfield_error *err)
{
	json_t *checked = NULL;
	size_t n = strlen(in->named);

	/* "{a,b}": the key goes before the closing brace */
	snprintf(in->named + n - 1, sizeof(in->named) - (n - 1), "%s%s}", n > 2 ? "," : "",
	         f->name);
	if (json_is_null(v))
		return 0;
	if (f->check && f->check(v, &checked, err) < 0)
		return -1;
	if (obj_set(&in->config, f->name, checked ? checked : json_deep_copy(v)) < 0) {
		jfield_error_set(err, "", f->name, "could not be read");
		return -1;
	}
	return 0;
}

/* Reads one field of in's type from body (nothing is required when partial). 0 or -1. */
static int field_read(json_t *body, const struct channel_field *f, int partial,
                      struct channel_in *in, struct jfield_error *err)
{
	const struct channel_ops *ops = in->ops;
	json_t *v = json_object_get(body, f->name), *checked = NULL;
	const char *s = NULL;
	int rc, is_external;

	if (f->flags & CHANNEL_FIELD_OBJECT)
		return v ? object_field_read(v, f, in, err) : 0;
	rc = jfield_string(body, "", f->name, !partial && (f->flags & CHANNEL_FIELD_REQUIRED),
	                   f->min, f->max, &s, err);
	if (rc <= 0)
		return rc;
	if (f->check && f->check(v, &checked, err) < 0)
		return -1;
	json_decref(checked);
	is_external = ops->external_field && strcmp(f->name, ops->external_field) == 0;
	if (is_external && ops->external_id(s, in->external, sizeof(in->external)) < 0) {
		jfield_error_set(err, "", f->name, "cannot be read");
		return -1;
	}
	if (((f->flags & CHANNEL_FIELD_SECRET) && obj_set(&in->secrets, f->name, json_string(s)) < 0) ||
	    ((f->flags & CHANNEL_FIELD_CONFIG) && obj_set(&in->config, f->name, json_string(s)) < 0)) {
		jfield_error_set(err, "", f->name, "could not be read");
		return -1;
	}
	return 0;
}

/* Reads the fields of in->ops' type from body, in the order the adapter lists them (so the
 * first wrong one is named), and the external id into the config. 0 or -1 with err. */
static int channel_fields_read(json_t *body, int partial, struct channel_in *in,
                               struct jfield_error *err)
{
	const struct channel_field *f;

	snprintf(in->named, sizeof(in->named), "{}");
	for (f = in->ops->fields; f && f->name; f++) {
		if (field_read(body, f, partial, in, err) < 0)
			return -1;
		/* a registration that leaves a config field out gets its default */
		if (!partial && f->def && (f->flags & CHANNEL_FIELD_CONFIG) &&
		    !json_object_get(body, f->name) &&
		    obj_set(&in->config, f->name, json_string(f->def)) < 0) {
			jfield_error_set(err, "", f->name, "could not be read");
			return -1;
		}
	}
	if (in->external[0] && in->ops->external_config_key &&
	    obj_set(&in->config, in->ops->external_config_key, json_string(in->external)) < 0) {
		jfield_error_set(err, "", in->ops->external_field, "could not be read");
		return -1;
	}
	return 0;
}

/* The body's keys allowed for ops: type, name, (status,) then the type's fields. */
static int channel_fields_known(json_t *body, const struct channel_ops *ops, int patch,
                                struct jfield_error *err)
{
	const char *allowed[24];
	const struct channel_field *f;
	size_t n = 0;

	allowed[n++] = "type";
	allowed[n++] = "name";
	if (patch)
		allowed[n++] = "status";
	for (f = ops->fields; f && f->name && n < sizeof(allowed) / sizeof(allowed[0]) - 1; f++)
		allowed[n++] = f->name;
	allowed[n] = NULL;
	return jfield_known(body, "", allowed, err);
}

/* 1 when body names a secret field of any channel type. */
static int body_has_secret(json_t *body)
{
	const struct channel_ops *ops;
	const struct channel_field *f;
	size_t i;

	for (i = 0; (ops = channel_ops_at(i)); i++)
		for (f = ops->fields; f && f->name; f++)
			if ((f->flags & CHANNEL_FIELD_SECRET) && json_object_get(body, f->name))
				return 1;
	return 0;
}

/* The adapter of a type a seller may register (one with fields), or NULL with err. */
static const struct channel_ops *registrable_type(const char *type, struct jfield_error *err)
{
	const struct channel_ops *ops = channel_ops_find(type), *o;
	char list[128] = "";
	size_t i, n = 0, count = 0;

	if (ops && ops->fields)
		return ops;
	for (i = 0; (o = channel_ops_at(i)); i++)
		count += o->fields != NULL;
	for (i = 0; (o = channel_ops_at(i)) && n < sizeof(list); i++) {
		if (!o->fields)
			continue;
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s\"%s\"",
		                      n == 0 ? "" : --count > 1 ? ", " : " or ", o->type);
	}
	jfield_error_set(err, "", "type", "must be %s", list);
	return NULL;
}

/* The sealed-secrets JSON: the given secrets over base (may be NULL); heap text. */
static char *secrets_text(const struct channel_in *in, const json_t *base)
{
	json_t *o = base ? json_deep_copy(base) : json_object();
	char *s;

	if (!o)
		return NULL;
	if (in->secrets && json_object_update(o, in->secrets) < 0) {
		json_decref(o);
		return NULL;
	}
	s = json_dumps(o, JSON_COMPACT);
	channel_config_free(o);
	return s;
}

static void text_wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* 409 when another active channel of the type has the same routing id. */
static void answer_conflict(struct admin_call *call, const struct channel_ops *ops, int patch)
{
	const char *field = ops->external_field ? ops->external_field : "type";
	const char *noun = ops->external_noun ? ops->external_noun : "channel";

	if (patch)
		admin_answer_error(call, 409, "already_registered", field,
		                   "another active channel has the same %s", noun);
	else
		admin_answer_error(call, 409, "already_registered", field,
		                   "%s: this %s is already registered to an active channel", field,
		                   noun);
}

/* ---- the platform's webhook ---- */

#define WEBHOOK_SETUP_TIMEOUT_MS 15000

struct opened_tx {
	const char *id;
	const char *tenant_id;
	const struct app *app;
	json_t *config; /* out: config with secrets */
};

static int opened_tx_fn(PGconn *conn, void *arg)
{
	struct opened_tx *t = arg;
	PGresult *res = pg_exec(conn,
	                        "SELECT config::text, secrets FROM channels WHERE tenant_id ="
	                        " app_tenant_id() AND id = $1",
	                        1, &t->id);
	char err[160];
	int rc = 0;

	if (!res)
		return PG_ERR_QUERY;
	channel_config_free(t->config);
	t->config = NULL;
	if (PQntuples(res) == 1 &&
	    channel_open_bytea(app_secret_key(t->app), t->tenant_id, PQgetvalue(res, 0, 0),
	                       pg_value(res, 0, 1), &t->config, err, sizeof(err)) != CHANNEL_OPEN_OK)
		rc = 0; /* reported as not set up */
	PQclear(res);
	return rc;
}

static int idem_restore_fn(PGconn *conn, void *arg)
{
	return admin_idem_store(conn, arg);
}

/* Points the platform's webhook at this channel's URL (webhook mode, an https public URL) or
 * removes it (polling mode), after a registration or a change of mode or secrets, and adds
 * what happened to the answer as "webhook_setup": {"ok", "action", "description"}. */
static void webhook_setup(struct admin_call *call, const struct channel_ops *ops, const char *id)
{
	const struct app *app = call->ctx->app;
	struct opened_tx t = {id, call->tenant_id, app, NULL};
	struct channel_target target = {0};
	struct channel_request req;
	const char *public_url = app->cfg->public_url, *base = NULL, *action;
	char err[256] = "", *url = NULL;
	json_t *ans, *setup;
	struct sbuf body;
	long status = 0;
	int polling, ok = 0;

	if (!ops->webhook_request || call->ans.status / 100 != 2 || !call->ans.body ||
	    call->ans.replayed)
		return; /* a replay answers what the first call answered, set-up included */
	if (pg_tx_run(call->ctx->conn, call->tenant_id, opened_tx_fn, &t) != 0 || !t.config) {
		snprintf(err, sizeof(err), "the channel's secrets could not be opened");
		action = "none";
		goto answer;
	}
	polling = ops->polling && ops->polling(t.config);
	action = polling ? "deleteWebhook" : "setWebhook";
	if (!polling && (!public_url || strncmp(public_url, "https://", 8) != 0)) {
		action = "none";
		snprintf(err, sizeof(err),
		         "CCGW_PUBLIC_URL is not https, so the platform cannot reach this gateway: "
		         "use \"mode\": \"polling\", or set the webhook by hand");
		goto answer;
	}
	url = polling ? NULL : admin_webhook_url(call, ops->type, id);
	(void)config_get(app->cfg, ops->settings.api_base, &base, NULL);
	target.channel_id = id;
	target.api_base = base;
	target.config = t.config;
	if (ops->webhook_request(&target, url, &req, err, sizeof(err)) < 0)
		goto answer;
	sbuf_init(&body);
	status = outcall_perform(&req, WEBHOOK_SETUP_TIMEOUT_MS, NULL, &body, err, sizeof(err));
	channel_request_clear(&req);
	if (status) {
		json_t *r = json_loadb(body.data ? body.data : "", body.len, 0, NULL);

		ok = status == 200 && json_is_true(json_object_get(r, "ok"));
		snprintf(err, sizeof(err), "%s",
		         channel_config_str(r, "description") ? channel_config_str(r, "description")
		         : ok ? "done" : "the platform refused it");
		json_decref(r);
	}
	sbuf_free(&body);
answer:
	if (ok)
		log_info(&call->log, "admin: %s %s for the channel", ops->type, action);
	else if (strcmp(action, "none") != 0)
		log_warn(&call->log, "admin: %s %s failed: %s", ops->type, action, err);
	ans = json_loads(call->ans.body, 0, NULL);
	setup = json_pack("{s:b, s:s, s:s}", "ok", ok, "action", action, "description", err);
	if (json_is_object(ans) && setup && json_object_set_new(ans, "webhook_setup", setup) == 0) {
		char *text = json_dumps(ans, JSON_COMPACT);

		if (text) {
			free(call->ans.body);
			call->ans.body = text;
		}
	} else {
		json_decref(setup);
	}
	json_decref(ans);
	free(url);
	channel_config_free(t.config);
	/* the stored answer of an Idempotency-Key gets the set-up too, so a replay is the same */
	if (call->idem_key && pg_tx_run(call->ctx->conn, call->tenant_id, idem_restore_fn, call) != 0)
		log_warn(&call->log, "admin: the idempotent answer was stored without the set-up");
}

/* ---- POST /api/v1/channels ---- */

struct create_state {
	struct channel_in in;
	const char *name;
	char id[37]; /* the new channel's */
	char *config; /* JSON text */
	char *sealed; /* bytea text */
};

static int create_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct create_state *st = arg;
	const struct channel_ops *ops = st->in.ops;
	const char *params[5] = {ops->type, st->name ? st->name : "",
	                         st->in.external[0] ? st->in.external : NULL, st->config,
	                         st->sealed};
	PGresult *res;
	json_t *o;
	char *url = NULL;

	res = pg_exec(
	    conn,
	    "INSERT INTO channels (tenant_id, type, name, external_id, config, secrets) "
	    "VALUES (app_tenant_id(), $1, $2, $3, $4::jsonb, $5::bytea) RETURNING id, status",
	    5, params);
	if (!res) {
		if (strcmp(pg_last_sqlstate(), "23505") == 0) {
			answer_conflict(call, ops, 0);
			return ADMIN_ROLLBACK;
		}
		return PG_ERR_QUERY;
	}
	snprintf(st->id, sizeof(st->id), "%s", PQgetvalue(res, 0, 0));
	if (ops->webhook)
		url = admin_webhook_url(call, ops->type, PQgetvalue(res, 0, 0));
	o = json_pack("{s:s,s:s,s:s,s:s?,s:s}", "id", PQgetvalue(res, 0, 0), "type", ops->type,
	              "name", st->name ? st->name : "", "webhook_url", url, "status",
	              PQgetvalue(res, 0, 1));
	free(url);
	PQclear(res);
	if (o)
		config_fields_answer(o, ops, st->in.config);
	admin_answer_json(call, 201, o);
	return 0;
}

/* The registration of a channel from body (borrowed) for call's tenant: the answer is set;
 * *id_out (37 bytes, may be NULL) gets the new channel's id on 201. */
static void channels_create_run(struct admin_call *call, json_t *body, char *id_out)
{
	struct jfield_error err;
	struct create_state st;
	const char *type;
	char *plain = NULL;

	memset(&st, 0, sizeof(st));
	if (jfield_string(body, "", "type", 1, 1, 16, &type, &err) < 0)
		goto invalid;
	st.in.ops = registrable_type(type, &err);
	if (!st.in.ops || channel_fields_known(body, st.in.ops, 0, &err) < 0 ||
	    jfield_string(body, "", "name", 0, 0, 200, &st.name, &err) < 0 ||
	    channel_fields_read(body, 0, &st.in, &err) < 0)
		goto invalid;
	if (!admin_can_seal(call))
		goto out;
	st.config = st.in.config ? json_dumps(st.in.config, JSON_COMPACT) : strdup("{}");
	plain = secrets_text(&st.in, NULL);
	if (!st.config || !plain) {
		admin_answer_error(call, 500, "internal", NULL, "out of memory");
		goto out;
	}
	if (admin_seal(call, plain, strlen(plain), &st.sealed) < 0)
		goto out;
	admin_call_run(call, create_tx, &st);
	if (call->ans.status == 201) {
		log_info(&call->log, "admin: %s channel registered", st.in.ops->type);
		webhook_setup(call, st.in.ops, st.id);
		if (id_out)
			snprintf(id_out, 37, "%s", st.id);
	}
	goto out;
invalid:
	admin_answer_verr(call, &err);
out:
	text_wipe_free(plain);
	free(st.sealed);
	free(st.config);
	channel_in_clear(&st.in);
}

ADMIN_HANDLER(admin_channels_create)
{
	struct admin_call call;
	json_t *body = NULL;

	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	body = admin_body_object(&call);
	if (body)
		channels_create_run(&call, body, NULL);
out:
	json_decref(body);
	admin_call_end(&call);
}

void admin_channels_register(struct http_ctx *ctx, const char *tenant_id, json_t *body,
                             struct http_response *resp, char id_out[37])
{
	static const struct http_request req = {.method = "POST", .path = "/api/v1/channels",
	                                        .query = "", .body = "", .route = "/api/v1/channels"};
	struct admin_call call;

	memset(&call, 0, sizeof(call));
	call.ctx = ctx;
	call.req = &req;
	call.resp = resp;
	snprintf(call.tenant_id, sizeof(call.tenant_id), "%s", tenant_id);
	call.log.tenant = call.tenant_id;
	id_out[0] = '\0';
	if (!ctx->conn)
		admin_answer_error(&call, 503, "unavailable", NULL,
		                   "the database is not available; retry later");
	else
		channels_create_run(&call, body, id_out);
	admin_call_end(&call);
}

/* ---- GET /api/v1/channels ---- */

ADMIN_HANDLER(admin_channels_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " CHANNEL_COLS ", " ADMIN_CURSOR_SQL("c.created_at", "c.id")
	           " FROM channels c WHERE c.tenant_id = app_tenant_id() "
	           "AND " ADMIN_LIST_AFTER_SQL("c.created_at", "c.id", ">")
	           " ORDER BY c.created_at, c.id LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = CHANNEL_NCOLS,
	    .row = channel_json,
	};

	admin_list_serve(ctx, req, resp, &list);
}

/* ---- GET /api/v1/channels/{id} ---- */

ADMIN_HANDLER(admin_channels_get)
{
	static const struct admin_row_op op = {
	    .sql = "SELECT " CHANNEL_COLS " FROM channels c WHERE c.tenant_id = app_tenant_id() "
	           "AND c.id = $1",
	    .row = channel_json,
	    .missing = CHANNEL_MISSING,
	};

	admin_row_serve(ctx, req, resp, &op);
}

/* ---- PATCH /api/v1/channels/{id} ---- */

struct patch_state {
	json_t *body;
	const char *name, *status;
	char type[16]; /* the channel's, once read */
	int rekey; /* the body carries secret fields */
};

/* The channel's current secrets, or NULL when they do not open (another key, another
 * tenant): *unreadable says so. */
static json_t *secrets_load(struct admin_call *call, const char *bytea, int *unreadable)
{
	const struct app *app = call->ctx->app;
	json_t *o = NULL;
	char err[160];

	*unreadable = channel_open_bytea(app_secret_key(app),
	                                 call->tenant_id, NULL, bytea, &o, err,
	                                 sizeof(err)) != CHANNEL_OPEN_OK;
	return o;
}

/* With stored secrets that do not open, a re-key must bring every secret field: 409 naming
 * the first missing one. 0 when complete. */
static int secrets_complete(struct admin_call *call, const struct channel_ops *ops, json_t *body)
{
	const struct channel_field *f;

	for (f = ops->fields; f && f->name; f++)
		if ((f->flags & CHANNEL_FIELD_SECRET) && !json_object_get(body, f->name)) {
			admin_answer_error(call, 409, "secrets_unreadable", f->name,
			                   "the stored secrets cannot be opened with the current key: "
			                   "send all of them (%s is missing)",
			                   f->name);
			return -1;
		}
	return 0;
}

/* Reads the body against the stored channel's type: *cfg_text the config keys to set (NULL
 * when none); in->named the object keys replaced or removed. 0, or -1 answered. */
static int patch_read(struct admin_call *call, struct patch_state *st, const char *type,
                      struct channel_in *in, char **cfg_text)
{
	const char *jt = json_string_value(json_object_get(st->body, "type"));
	struct jfield_error err;

	*cfg_text = NULL;
	if (json_object_get(st->body, "type") && (!jt || strcmp(jt, type) != 0)) {
		admin_answer_error(call, 400, "validation", "type",
		                   "type: a channel's type cannot be changed");
		return -1;
	}
	in->ops = channel_ops_find(type);
	if (!in->ops) {
		admin_answer_error(call, 409, "unknown_type", "type",
		                   "type: this build has no adapter for '%s'", type);
		return -1;
	}
	if (channel_fields_known(st->body, in->ops, 1, &err) < 0 ||
	    channel_fields_read(st->body, 1, in, &err) < 0) {
		admin_answer_verr(call, &err);
		return -1;
	}
	if (in->config && !(*cfg_text = json_dumps(in->config, JSON_COMPACT))) {
		admin_answer_error(call, 500, "internal", NULL, "out of memory");
		return -1;
	}
	return 0;
}

static int patch_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct patch_state *st = arg;
	const char *params[7];
	struct channel_in in;
	PGresult *res = NULL;
	json_t *old = NULL;
	char *plain = NULL, *sealed = NULL, *cfg_text = NULL;
	int rc = ADMIN_ROLLBACK, unreadable = 0;

	memset(&in, 0, sizeof(in));
	params[0] = call->id;
	res = pg_exec(conn,
	              "SELECT type, secrets FROM channels WHERE tenant_id = app_tenant_id() "
	              "AND id = $1 FOR UPDATE",
	              1, params);
	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) != 1) {
		admin_answer_not_found(call, CHANNEL_MISSING);
		goto out;
	}
	snprintf(st->type, sizeof(st->type), "%s", PQgetvalue(res, 0, 0));
	if (patch_read(call, st, PQgetvalue(res, 0, 0), &in, &cfg_text) < 0)
		goto out;
	if (st->rekey) {
		old = secrets_load(call, pg_value(res, 0, 1), &unreadable);
		if (unreadable && secrets_complete(call, in.ops, st->body) < 0)
			goto out;
		plain = secrets_text(&in, unreadable ? NULL : old);
		if (!plain) {
			rc = PG_ERR_ABORT;
			goto out;
		}
		if (admin_seal(call, plain, strlen(plain), &sealed) < 0)
			goto out;
	}
	PQclear(res);
	params[1] = st->name;
	params[2] = st->status;
	params[3] = sealed;
	params[4] = in.external[0] ? in.external : NULL;
	params[5] = cfg_text;
	params[6] = in.named;
	/* new secrets give an unhealthy channel another chance; re-enabling clears the error;
	 * an object field in the body (an object or null) replaces the stored one whole */
	res = pg_exec(
	    conn,
	    "UPDATE channels c SET name = COALESCE($2, c.name), "
	    "status = COALESCE($3, CASE WHEN $4::bytea IS NOT NULL AND c.status = 'unhealthy' "
	    "THEN 'active' ELSE c.status END), "
	    "health_error = CASE WHEN COALESCE($3, CASE WHEN $4::bytea IS NOT NULL "
	    "THEN 'active' END) = 'active' THEN NULL ELSE c.health_error END, "
	    "secrets = COALESCE($4::bytea, c.secrets), "
	    "external_id = COALESCE($5, c.external_id), "
	    "config = (c.config - $7::text[]) || COALESCE($6::jsonb, '{}'::jsonb) "
	    "WHERE c.tenant_id = app_tenant_id() AND c.id = $1 RETURNING " CHANNEL_COLS,
	    7, params);
	if (!res) {
		if (strcmp(pg_last_sqlstate(), "23505") == 0) {
			answer_conflict(call, in.ops, 1);
			goto out;
		}
		rc = PG_ERR_QUERY;
		goto out;
	}
	admin_answer_json(call, 200, channel_json(call, res, 0));
	rc = 0;
out:
	PQclear(res);
	channel_config_free(old);
	channel_in_clear(&in);
	free(cfg_text);
	text_wipe_free(plain);
	free(sealed);
	return rc;
}

ADMIN_HANDLER(admin_channels_patch)
{
	struct admin_call call;
	struct jfield_error err;
	struct patch_state st;
	int rc;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin_id(&call, ctx, req, resp, CHANNEL_MISSING) < 0)
		goto out;
	st.body = admin_body_object(&call);
	if (!st.body)
		goto out;
	if (jfield_string(st.body, "", "name", 0, 0, 200, &st.name, &err) < 0)
		goto invalid;
	rc = jfield_string(st.body, "", "status", 0, 1, 16, &st.status, &err);
	if (rc < 0)
		goto invalid;
	if (st.status && strcmp(st.status, "active") != 0 && strcmp(st.status, "disabled") != 0) {
		jfield_error_set(&err, "", "status", "must be \"active\" or \"disabled\"");
		goto invalid;
	}
	st.rekey = body_has_secret(st.body);
	if (st.rekey && !admin_can_seal(&call))
		goto out;
	admin_call_run(&call, patch_tx, &st);
	if (call.ans.status == 200 && (json_object_get(st.body, "mode") || st.rekey))
		if (channel_ops_find(st.type))
			webhook_setup(&call, channel_ops_find(st.type), call.id);
	goto out;
invalid:
	admin_answer_verr(&call, &err);
out:
	json_decref(st.body);
	admin_call_end(&call);
}

/* ---- DELETE /api/v1/channels/{id}: disable ---- */

ADMIN_HANDLER(admin_channels_delete)
{
	static const struct admin_row_op op = {
	    .sql = "UPDATE channels SET status = 'disabled' WHERE tenant_id = app_tenant_id() "
	           "AND id = $1 RETURNING id",
	    .missing = CHANNEL_MISSING,
	};

	admin_row_serve(ctx, req, resp, &op);
}
