/*
 * admin_channels.c: a seller's WhatsApp numbers and Telegram bots. Registering one answers
 * with the webhook URL built from CCGW_PUBLIC_URL; its secrets (access token, app secret,
 * verify token, bot token, secret token) are sealed with AES-256-GCM (secrets.h) into
 * channels.secrets and never appear in an answer or a log line. Channels are listed, read,
 * renamed, re-keyed, re-enabled (PATCH) and disabled (DELETE or PATCH status).
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "pg.h"
#include "secrets.h"
#include "server.h"

#define CHANNEL_COLS                                                                               \
	"c.id, c.type, c.name, c.status, c.health_error, c.external_id, "                          \
	"to_json(c.created_at)#>>'{}', to_json(c.updated_at)#>>'{}', "                             \
	"c.config->'status_template', c.config->'notify_template'"
#define CHANNEL_NCOLS   10
#define CHANNEL_MISSING "no such channel"

/* The secret fields of each type, as stored in the sealed JSON. */
static const char *const whatsapp_secrets[] = {"access_token", "app_secret", "verify_token", NULL};
static const char *const telegram_secrets[] = {"bot_token", "secret_token", NULL};

struct channel_in {
	const char *type;
	const char *name;
	const char *status;          /* PATCH only */
	const char *phone_number_id; /* whatsapp */
	const char *access_token, *app_secret, *verify_token;
	const char *bot_token, *secret_token; /* telegram */
	char bot_id[24];                      /* digits before the colon of bot_token */
};

static json_t *channel_json(const struct admin_call *call, const PGresult *res, int r)
{
	const char *type = pg_value(res, r, 1);
	const char *id = pg_value(res, r, 0);
	char *url = NULL;
	json_t *o;

	if (type && id && (strcmp(type, "whatsapp") == 0 || strcmp(type, "telegram") == 0))
		url = admin_webhook_url(call, type, id);
	o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", admin_col_string(res, r, 0),
	              "type", admin_col_string(res, r, 1), "name", admin_col_string(res, r, 2),
	              "status", admin_col_string(res, r, 3), "health_error",
	              admin_col_string(res, r, 4), "external_id", admin_col_string(res, r, 5),
	              "webhook_url", url ? json_string(url) : json_null(), "created_at",
	              admin_col_string(res, r, 6), "updated_at", admin_col_string(res, r, 7));
	if (o && type && strcmp(type, "whatsapp") == 0) {
		json_object_set_new(o, "phone_number_id", admin_col_string(res, r, 5));
		json_object_set_new(o, "status_template", admin_col_json(res, r, 8));
		json_object_set_new(o, "notify_template", admin_col_json(res, r, 9));
	}
	free(url);
	return o;
}

/* ---- input ---- */

static int all_chars(const char *s, const char *allowed_extra, int digits_only)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= '0' && c <= '9')
			continue;
		if (digits_only)
			return 0;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			continue;
		if (!strchr(allowed_extra, c))
			return 0;
	}
	return 1;
}

static int no_space(const char *s)
{
	for (; *s; s++)
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			return 0;
	return 1;
}

/* A WhatsApp template language code: "en", "fil", "en_US", "pt_BR". */
static int template_language_valid(const char *s)
{
	size_t n = 0;

	while (s[n] >= 'a' && s[n] <= 'z')
		n++;
	if (n < 2 || n > 3)
		return 0;
	if (!s[n])
		return 1;
	return s[n] == '_' && s[n + 1] >= 'A' && s[n + 1] <= 'Z' && s[n + 2] >= 'A' &&
	       s[n + 2] <= 'Z' && !s[n + 3];
}

/* The templates a WhatsApp channel may carry in channels.config, read by
 * channels/whatsapp_render.c outside the 24-hour window: a shopper's order status update goes
 * as "status_template", a seller notification (new order, complaint, ...) as
 * "notify_template". */
static const char *const wa_template_keys[] = {"status_template", "notify_template", NULL};

/*
 * The optional template key (one of wa_template_keys) of a WhatsApp channel:
 * {"name": 1-512 of a-z 0-9 _, "language": "en" | "en_US" ..., "body_param": true|false
 * (optional)}. *present is 1 when the body names it; *out is the checked copy, or NULL for
 * JSON null (no template). 0, or -1 with err.
 */
static int template_parse(json_t *body, const char *key, int *present, json_t **out,
                          struct admin_verr *err)
{
	static const char *const fields[] = {"name", "language", "body_param", NULL};
	json_t *v = json_object_get(body, key);
	const char *name, *lang;
	char prefix[32];
	int body_param = 1, has_param;
	size_t i;

	snprintf(prefix, sizeof(prefix), "%s.", key);
	*present = v != NULL;
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		admin_verr_set(err, "", key,
		               "must be an object {\"name\": ..., \"language\": ...} or null");
		return -1;
	}
	if (admin_fields_known(v, prefix, fields, err) < 0 ||
	    admin_field_string(v, prefix, "name", 1, 1, 512, &name, err) < 0 ||
	    admin_field_string(v, prefix, "language", 1, 2, 6, &lang, err) < 0)
		return -1;
	for (i = 0; name[i]; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_')) {
			admin_verr_set(err, prefix, "name",
			               "must be the template's name as approved by Meta: a-z, 0-9 "
			               "and _ only");
			return -1;
		}
	if (!template_language_valid(lang)) {
		admin_verr_set(err, prefix, "language",
		               "must be a template language code such as \"en\" or \"en_US\"");
		return -1;
	}
	has_param = admin_field_bool(v, prefix, "body_param", 0, &body_param, err);
	if (has_param < 0)
		return -1;
	*out = json_pack("{s:s, s:s}", "name", name, "language", lang);
	if (*out && has_param)
		json_object_set_new(*out, "body_param", json_boolean(body_param));
	if (!*out) {
		admin_verr_set(err, "", key, "could not be read");
		return -1;
	}
	return 0;
}

/* Every template key a WhatsApp body names: *tpls holds the checked templates given (an
 * object, NULL when none; JSON null is left out) and named (a text[] literal such as
 * "{status_template}") the keys the body names, which a PATCH replaces whole. 0, or -1 with
 * err. */
static int templates_parse(json_t *body, json_t **tpls, char named[64], struct admin_verr *err)
{
	json_t *tpl;
	size_t i, n = 1;
	int present;

	*tpls = NULL;
	snprintf(named, 64, "{");
	for (i = 0; wa_template_keys[i]; i++) {
		if (template_parse(body, wa_template_keys[i], &present, &tpl, err) < 0)
			goto fail;
		if (present)
			n += (size_t)snprintf(named + n, 64 - n, "%s%s", n > 1 ? "," : "",
			                      wa_template_keys[i]);
		if (!tpl)
			continue;
		if (!*tpls)
			*tpls = json_object();
		if (!*tpls || json_object_set_new(*tpls, wa_template_keys[i], tpl) < 0) {
			admin_verr_set(err, "", wa_template_keys[i], "could not be read");
			goto fail;
		}
	}
	snprintf(named + n, 64 - n, "}");
	return 0;
fail:
	json_decref(*tpls);
	*tpls = NULL;
	return -1;
}

/* Reads the type-specific fields (all required unless partial). 0 or -1 with err. */
static int channel_fields_parse(json_t *obj, const char *type, int partial, struct channel_in *in,
                                struct admin_verr *err)
{
	const char *colon;
	size_t n;

	if (strcmp(type, "whatsapp") == 0) {
		if (admin_field_string(obj, "", "phone_number_id", !partial, 1, 32,
		                       &in->phone_number_id, err) < 0)
			return -1;
		if (in->phone_number_id && !all_chars(in->phone_number_id, "", 1)) {
			admin_verr_set(err, "", "phone_number_id",
			               "must be the numeric Phone number ID from the Meta app");
			return -1;
		}
		if (admin_field_string(obj, "", "access_token", !partial, 1, 2048,
		                       &in->access_token, err) < 0)
			return -1;
		if (in->access_token && !no_space(in->access_token)) {
			admin_verr_set(err, "", "access_token", "must not contain spaces");
			return -1;
		}
		if (admin_field_string(obj, "", "app_secret", !partial, 1, 256, &in->app_secret,
		                       err) < 0)
			return -1;
		if (admin_field_string(obj, "", "verify_token", !partial, 1, 256, &in->verify_token,
		                       err) < 0)
			return -1;
		return 0;
	}
	if (admin_field_string(obj, "", "bot_token", !partial, 3, 256, &in->bot_token, err) < 0)
		return -1;
	if (in->bot_token) {
		colon = strchr(in->bot_token, ':');
		n = colon ? (size_t)(colon - in->bot_token) : 0;
		if (!colon || n == 0 || n >= sizeof(in->bot_id) || !colon[1] ||
		    !all_chars(colon + 1, "_-", 0)) {
			admin_verr_set(err, "", "bot_token",
			               "must be a token from @BotFather (<bot id>:<secret>)");
			return -1;
		}
		memcpy(in->bot_id, in->bot_token, n);
		in->bot_id[n] = '\0';
		if (!all_chars(in->bot_id, "", 1)) {
			admin_verr_set(err, "", "bot_token",
			               "must be a token from @BotFather (<bot id>:<secret>)");
			return -1;
		}
	}
	if (admin_field_string(obj, "", "secret_token", !partial, 1, 256, &in->secret_token, err) <
	    0)
		return -1;
	if (in->secret_token && !all_chars(in->secret_token, "_-", 0)) {
		admin_verr_set(err, "", "secret_token",
		               "may hold only A-Z, a-z, 0-9, _ and - (Telegram's rule)");
		return -1;
	}
	return 0;
}

/* The sealed-secrets JSON of in's type from in's fields over base (may be NULL); heap text. */
static char *secrets_text(const char *type, const struct channel_in *in, json_t *base)
{
	json_t *o = base ? json_deep_copy(base) : json_object();
	char *s;

	if (!o)
		return NULL;
	if (strcmp(type, "whatsapp") == 0) {
		if (in->access_token)
			json_object_set_new(o, "access_token", json_string(in->access_token));
		if (in->app_secret)
			json_object_set_new(o, "app_secret", json_string(in->app_secret));
		if (in->verify_token)
			json_object_set_new(o, "verify_token", json_string(in->verify_token));
	} else {
		if (in->bot_token)
			json_object_set_new(o, "bot_token", json_string(in->bot_token));
		if (in->secret_token)
			json_object_set_new(o, "secret_token", json_string(in->secret_token));
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void text_wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static int has_any(json_t *obj, const char *const *names)
{
	size_t i;

	for (i = 0; names[i]; i++)
		if (json_object_get(obj, names[i]))
			return 1;
	return 0;
}

/* ---- POST /api/v1/channels ---- */

struct create_state {
	struct channel_in in;
	char *config;       /* JSON text */
	char *sealed;       /* bytea text */
	const json_t *tpls; /* the templates given, borrowed; NULL for none */
};

static int create_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct create_state *st = arg;
	const char *external =
	    strcmp(st->in.type, "whatsapp") == 0 ? st->in.phone_number_id : st->in.bot_id;
	const char *params[5] = {st->in.type, st->in.name ? st->in.name : "", external, st->config,
	                         st->sealed};
	PGresult *res;
	json_t *o;
	char *url;
	size_t i;

	res = pg_exec(
	    conn,
	    "INSERT INTO channels (tenant_id, type, name, external_id, config, secrets) "
	    "VALUES (app_tenant_id(), $1, $2, $3, $4::jsonb, $5::bytea) RETURNING id, status",
	    5, params);
	if (!res) {
		if (strcmp(pg_last_sqlstate(), "23505") == 0) {
			const char *field =
			    strcmp(st->in.type, "whatsapp") == 0 ? "phone_number_id" : "bot_token";
			admin_answer_error(call, 409, "already_registered", field,
			                   "%s: this %s is already registered to an active channel",
			                   field,
			                   strcmp(st->in.type, "whatsapp") == 0 ? "number" : "bot");
			return ADMIN_ROLLBACK;
		}
		return PG_ERR_QUERY;
	}
	url = admin_webhook_url(call, st->in.type, PQgetvalue(res, 0, 0));
	o = json_pack("{s:s,s:s,s:s,s:s?,s:s}", "id", PQgetvalue(res, 0, 0), "type", st->in.type,
	              "name", st->in.name ? st->in.name : "", "webhook_url", url, "status",
	              PQgetvalue(res, 0, 1));
	free(url);
	PQclear(res);
	for (i = 0; o && strcmp(st->in.type, "whatsapp") == 0 && wa_template_keys[i]; i++) {
		json_t *tpl = json_object_get(st->tpls, wa_template_keys[i]);

		json_object_set_new(o, wa_template_keys[i],
		                    tpl ? json_deep_copy(tpl) : json_null());
	}
	admin_answer_json(call, 201, o);
	return 0;
}

ADMIN_HANDLER(admin_channels_create)
{
	static const char *const wa_fields[] = {
	    "type",       "name",         "phone_number_id", "access_token",
	    "app_secret", "verify_token", "status_template", "notify_template",
	    NULL};
	static const char *const tg_fields[] = {"type", "name", "bot_token", "secret_token", NULL};
	struct admin_call call;
	struct admin_verr err;
	struct create_state st;
	json_t *body = NULL, *cfg = NULL, *tpls = NULL;
	char *plain = NULL, named[64];
	int wa;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (admin_field_string(body, "", "type", 1, 1, 16, &st.in.type, &err) < 0)
		goto invalid;
	if (strcmp(st.in.type, "whatsapp") != 0 && strcmp(st.in.type, "telegram") != 0) {
		admin_verr_set(&err, "", "type", "must be \"whatsapp\" or \"telegram\"");
		goto invalid;
	}
	wa = strcmp(st.in.type, "whatsapp") == 0;
	if (admin_fields_known(body, "", wa ? wa_fields : tg_fields, &err) < 0)
		goto invalid;
	if (admin_field_string(body, "", "name", 0, 0, 200, &st.in.name, &err) < 0)
		goto invalid;
	if (channel_fields_parse(body, st.in.type, 0, &st.in, &err) < 0)
		goto invalid;
	if (wa && templates_parse(body, &tpls, named, &err) < 0)
		goto invalid;
	if (!admin_can_seal(&call))
		goto out;
	cfg = wa ? json_pack("{s:s}", "phone_number_id", st.in.phone_number_id)
	         : json_pack("{s:s}", "bot_id", st.in.bot_id);
	if (cfg && tpls && json_object_update(cfg, tpls) < 0) {
		json_decref(cfg);
		cfg = NULL;
	}
	st.tpls = tpls;
	st.config = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
	plain = secrets_text(st.in.type, &st.in, NULL);
	if (!st.config || !plain) {
		admin_answer_error(&call, 500, "internal", NULL, "out of memory");
		goto out;
	}
	if (admin_seal(&call, plain, strlen(plain), &st.sealed) < 0)
		goto out;
	admin_call_run(&call, create_tx, &st);
	if (call.ans.status == 201)
		log_info(&call.log, "admin: %s channel registered", st.in.type);
	goto out;
invalid:
	admin_answer_verr(&call, &err);
out:
	text_wipe_free(plain);
	free(st.sealed);
	free(st.config);
	json_decref(cfg);
	json_decref(tpls);
	json_decref(body);
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
	int rekey; /* the body carries secret fields */
};

/* The config keys a PATCH sets over the stored ones (*cfg, NULL when none) and the template
 * keys the body replaces or removes (tpl_named, a text[] literal). 0; -1 invalid (err
 * filled); -2 out of memory. */
static int patch_config(json_t *body, const char *type, const char *external, json_t **cfg,
                        char tpl_named[64], struct admin_verr *err)
{
	json_t *tpls = NULL;
	int wa = strcmp(type, "whatsapp") == 0, rc = -2;

	*cfg = NULL;
	snprintf(tpl_named, 64, "{}");
	if (wa && templates_parse(body, &tpls, tpl_named, err) < 0)
		return -1;
	if (!external && !tpls)
		return 0;
	*cfg = json_object();
	if (!*cfg)
		goto out;
	if (external &&
	    json_object_set_new(*cfg, wa ? "phone_number_id" : "bot_id", json_string(external)) < 0)
		goto out;
	if (tpls && json_object_update(*cfg, tpls) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		json_decref(*cfg);
		*cfg = NULL;
	}
	json_decref(tpls);
	return rc;
}

/* The channel's current secrets as JSON, or NULL when there are none or they do not open
 * (another key, another tenant): *unreadable tells which. */
static json_t *secrets_load(struct admin_call *call, const char *bytea, int *unreadable)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	char *plain = NULL;
	json_t *o = NULL;

	*unreadable = 0;
	if (!bytea)
		return NULL;
	if (secrets_bytea_decode(bytea, &sealed, &len) < 0 ||
	    secrets_open(call->ctx->srv->secret_key, call->tenant_id, sealed, len, &plain) < 0) {
		*unreadable = 1;
		goto out;
	}
	o = json_loads(plain, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		o = NULL;
		*unreadable = 1;
	}
out:
	text_wipe_free(plain);
	free(sealed);
	return o;
}

static int patch_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct patch_state *st = arg;
	const char *const *secret_names;
	const char *params[7];
	struct channel_in in;
	struct admin_verr err;
	PGresult *res = NULL;
	json_t *old = NULL, *cfg = NULL;
	char *plain = NULL, *sealed = NULL, *cfg_text = NULL;
	const char *type, *external = NULL, *jt;
	char tpl_named[64] = "{}";
	int rc = ADMIN_ROLLBACK, unreadable = 0, wa;
	size_t i;

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
	type = PQgetvalue(res, 0, 0);
	wa = strcmp(type, "whatsapp") == 0;
	jt = json_string_value(json_object_get(st->body, "type"));
	if (json_object_get(st->body, "type") && (!jt || strcmp(jt, type) != 0)) {
		admin_answer_error(call, 400, "validation", "type",
		                   "type: a channel's type cannot be changed");
		goto out;
	}
	memset(&in, 0, sizeof(in));
	secret_names = wa ? whatsapp_secrets : telegram_secrets;
	if (strcmp(type, "whatsapp") != 0 && strcmp(type, "telegram") != 0) {
		static const char *const other_fields[] = {"type", "name", "status", NULL};

		if (admin_fields_known(st->body, "", other_fields, &err) < 0) {
			admin_answer_verr(call, &err);
			goto out;
		}
	} else {
		static const char *const wa_fields[] = {"type",
		                                        "name",
		                                        "status",
		                                        "phone_number_id",
		                                        "access_token",
		                                        "app_secret",
		                                        "verify_token",
		                                        "status_template",
		                                        "notify_template",
		                                        NULL};
		static const char *const tg_fields[] = {"type",      "name",         "status",
		                                        "bot_token", "secret_token", NULL};

		if (admin_fields_known(st->body, "", wa ? wa_fields : tg_fields, &err) < 0 ||
		    channel_fields_parse(st->body, type, 1, &in, &err) < 0) {
			admin_answer_verr(call, &err);
			goto out;
		}
		external = wa ? in.phone_number_id : (in.bot_token ? in.bot_id : NULL);
		rc = patch_config(st->body, type, external, &cfg, tpl_named, &err);
		if (rc == -1) {
			admin_answer_verr(call, &err);
			rc = ADMIN_ROLLBACK;
			goto out;
		}
		if (rc < 0 || (cfg && !(cfg_text = json_dumps(cfg, JSON_COMPACT)))) {
			rc = PG_ERR_ABORT;
			goto out;
		}
		rc = ADMIN_ROLLBACK;
	}
	if (st->rekey) {
		old = secrets_load(call, pg_value(res, 0, 1), &unreadable);
		if (unreadable)
			for (i = 0; secret_names[i]; i++)
				if (!json_object_get(st->body, secret_names[i])) {
					admin_answer_error(
					    call, 409, "secrets_unreadable", secret_names[i],
					    "the stored secrets cannot be opened with "
					    "the current key: send all of them (%s is "
					    "missing)",
					    secret_names[i]);
					goto out;
				}
		plain = secrets_text(type, &in, unreadable ? NULL : old);
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
	params[4] = external;
	params[5] = cfg_text;
	params[6] = tpl_named;
	/* new secrets give an unhealthy channel another chance; re-enabling clears the error;
	 * a template in the body (an object or null) replaces the stored one whole */
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
			admin_answer_error(call, 409, "already_registered",
			                   wa ? "phone_number_id" : "bot_token",
			                   "another active channel has the same %s",
			                   wa ? "phone_number_id" : "bot");
			goto out;
		}
		rc = PG_ERR_QUERY;
		goto out;
	}
	admin_answer_json(call, 200, channel_json(call, res, 0));
	rc = 0;
out:
	PQclear(res);
	json_decref(old);
	json_decref(cfg);
	free(cfg_text);
	text_wipe_free(plain);
	free(sealed);
	return rc;
}

ADMIN_HANDLER(admin_channels_patch)
{
	struct admin_call call;
	struct admin_verr err;
	struct patch_state st;
	int rc;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin_id(&call, ctx, req, resp, CHANNEL_MISSING) < 0)
		goto out;
	st.body = admin_body_object(&call);
	if (!st.body)
		goto out;
	if (admin_field_string(st.body, "", "name", 0, 0, 200, &st.name, &err) < 0)
		goto invalid;
	rc = admin_field_string(st.body, "", "status", 0, 1, 16, &st.status, &err);
	if (rc < 0)
		goto invalid;
	if (st.status && strcmp(st.status, "active") != 0 && strcmp(st.status, "disabled") != 0) {
		admin_verr_set(&err, "", "status", "must be \"active\" or \"disabled\"");
		goto invalid;
	}
	st.rekey = has_any(st.body, whatsapp_secrets) || has_any(st.body, telegram_secrets);
	if (st.rekey && !admin_can_seal(&call))
		goto out;
	admin_call_run(&call, patch_tx, &st);
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
