/*
 * whatsapp_adapter.c: the WhatsApp Cloud API adapter's table (whatsapp_channel_ops) and its
 * registration and inbound halves. A seller registers a number with its phone_number_id, a
 * system-user access token, the Meta app's secret and the verify token of the webhook, and
 * optionally the templates used outside the 24-hour window. Meta verifies the webhook with a
 * GET (hub.mode, hub.verify_token, hub.challenge) and signs every POST with
 * X-Hub-Signature-256 over the raw body with the app secret; one app's webhook may carry
 * changes for several of its numbers, each routed by its phone_number_id. Parsing is
 * whatsapp.c; rendering and classifying, whatsapp_render.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "whatsapp.h"

#define WA_SIG_HEADER "x-hub-signature-256"
#define WA_SIG_PREFIX "sha256="

/* ---- registration ---- */

static int check_phone_number_id(const json_t *v, json_t **out, struct jfield_error *err)
{
	(void)out;
	if (!jfield_chars_ok(json_string_value(v), "", 1)) {
		jfield_error_set(err, "", "phone_number_id",
				 "must be the numeric Phone number ID from the Meta app");
		return -1;
	}
	return 0;
}

static int check_access_token(const json_t *v, json_t **out, struct jfield_error *err)
{
	(void)out;
	if (strpbrk(json_string_value(v), " \t\n\r")) {
		jfield_error_set(err, "", "access_token", "must not contain spaces");
		return -1;
	}
	return 0;
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

/*
 * A template (status_template: a shopper's order status update outside the 24-hour window;
 * notify_template: a seller notification there), read by whatsapp_render.c:
 * {"name": 1-512 of a-z 0-9 _, "language": "en" | "en_US" ..., "body_param": true|false
 * (optional)}.
 */
static int check_template(const char *key, const json_t *v, json_t **out,
			  struct jfield_error *err)
{
	static const char *const fields[] = {"name", "language", "body_param", NULL};
	const char *name, *lang;
	char prefix[32];
	int body_param = 1, has_param;
	size_t i;

	snprintf(prefix, sizeof(prefix), "%s.", key);
	if (!json_is_object(v)) {
		jfield_error_set(err, "", key,
				 "must be an object {\"name\": ..., \"language\": ...} or null");
		return -1;
	}
	if (jfield_known(v, prefix, fields, err) < 0 ||
	    jfield_string(v, prefix, "name", 1, 1, 512, &name, err) < 0 ||
	    jfield_string(v, prefix, "language", 1, 2, 6, &lang, err) < 0)
		return -1;
	for (i = 0; name[i]; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_')) {
			jfield_error_set(err, prefix, "name",
					 "must be the template's name as approved by Meta: a-z, "
					 "0-9 and _ only");
			return -1;
		}
	if (!template_language_valid(lang)) {
		jfield_error_set(err, prefix, "language",
				 "must be a template language code such as \"en\" or \"en_US\"");
		return -1;
	}
	has_param = jfield_bool(v, prefix, "body_param", 0, &body_param, err);
	if (has_param < 0)
		return -1;
	*out = json_pack("{s:s, s:s}", "name", name, "language", lang);
	if (*out && has_param)
		json_object_set_new(*out, "body_param", json_boolean(body_param));
	if (!*out) {
		jfield_error_set(err, "", key, "could not be read");
		return -1;
	}
	return 0;
}

static int check_status_template(const json_t *v, json_t **out, struct jfield_error *err)
{
	return check_template("status_template", v, out, err);
}

static int check_notify_template(const json_t *v, json_t **out, struct jfield_error *err)
{
	return check_template("notify_template", v, out, err);
}

/* The number shoppers see, in international form without + (e.g. 254712345678): the
 * storefront's wa.me links. */
static int check_display_phone(const json_t *v, json_t **out, struct jfield_error *err)
{
	(void)out;
	if (!jfield_chars_ok(json_string_value(v), "", 1)) {
		jfield_error_set(err, "", "display_phone_number",
		                 "must be the number in international form, digits only "
		                 "(e.g. 254712345678)");
		return -1;
	}
	return 0;
}

/* https://wa.me/<display number>?text=<the prefilled words>: the shopper's WhatsApp opens a
 * chat with the shop, the words ready to send. */
static int wa_order_link(const json_t *config, const char *sku, const char *text, char *base,
                         size_t baselen, const char **param, char *value, size_t valuelen)
{
	const char *num = channel_config_str(config, "display_phone_number");

	(void)sku;
	if (!num || strlen(num) < 6 || strlen(num) > 15 || !jfield_chars_ok(num, "", 1))
		return -1;
	snprintf(base, baselen, "https://wa.me/%s", num);
	*param = "text";
	snprintf(value, valuelen, "%s", text);
	return 0;
}

static const struct channel_field wa_fields[] = {
	{"phone_number_id", CHANNEL_FIELD_REQUIRED, 1, 32, check_phone_number_id, NULL},
	{"access_token", CHANNEL_FIELD_REQUIRED | CHANNEL_FIELD_SECRET, 1, 2048, check_access_token,
	 NULL},
	{"app_secret", CHANNEL_FIELD_REQUIRED | CHANNEL_FIELD_SECRET, 1, 256, NULL, NULL},
	{"verify_token", CHANNEL_FIELD_REQUIRED | CHANNEL_FIELD_SECRET, 1, 256, NULL, NULL},
	{"status_template", CHANNEL_FIELD_CONFIG | CHANNEL_FIELD_OBJECT, 0, 0, check_status_template,
	 NULL},
	{"notify_template", CHANNEL_FIELD_CONFIG | CHANNEL_FIELD_OBJECT, 0, 0, check_notify_template,
	 NULL},
	{"display_phone_number", CHANNEL_FIELD_CONFIG, 6, 15, check_display_phone, NULL},
	{NULL, 0, 0, 0, NULL, NULL},
};

/* A WhatsApp number: 6 to 15 digits, optionally written with +, spaces or dashes. */
static int wa_notify_read(const json_t *body, char *out, size_t outlen, struct jfield_error *err)
{
	const char *s;
	size_t n = 0;

	if (jfield_string(body, "", "to", 1, 1, 32, &s, err) < 0)
		return -1;
	if (*s == '+')
		s++;
	for (; *s; s++) {
		if (*s == ' ' || *s == '-')
			continue;
		if (!isdigit((unsigned char)*s) || n + 1 >= outlen) {
			n = 0;
			break;
		}
		out[n++] = *s;
	}
	out[n] = '\0';
	if (n < 6 || n > 15) {
		jfield_error_set(err, "", "to",
		               "must be a phone number in international form, e.g. +254712345678");
		return -1;
	}
	return 0;
}

static int wa_external_id(const char *value, char *out, size_t outlen)
{
	return snprintf(out, outlen, "%s", value) < (int)outlen ? 0 : -1;
}

/* ---- inbound ---- */

/* "sha256=<hex>" against the HMAC of the raw body with the app secret. */
static enum channel_auth wa_authenticate(const struct channel_http *in, const json_t *config)
{
	const char *sig = in->header(in->req, WA_SIG_HEADER);
	const char *app_secret = channel_config_str(config, "app_secret");
	char want[65], got[65];
	size_t i, n;

	if (!sig)
		return CHANNEL_AUTH_MISSING;
	if (!app_secret || strncmp(sig, WA_SIG_PREFIX, strlen(WA_SIG_PREFIX)) != 0)
		return CHANNEL_AUTH_WRONG;
	sig += strlen(WA_SIG_PREFIX);
	n = strlen(sig);
	if (n != 64)
		return CHANNEL_AUTH_WRONG;
	for (i = 0; i < n; i++)
		got[i] = (sig[i] >= 'A' && sig[i] <= 'F') ? (char)(sig[i] - 'A' + 'a') : sig[i];
	got[64] = '\0';
	util_hmac_sha256_hex(app_secret, strlen(app_secret), in->body ? in->body : "",
			     in->body_len, want);
	return util_ct_streq(got, want) ? CHANNEL_AUTH_OK : CHANNEL_AUTH_WRONG;
}

/* Meta's GET: hub.mode=subscribe and the registered verify token; answered with the
 * challenge. */
static int wa_verify(const struct channel_http *in, const json_t *config, char *out,
		     size_t outlen, char *err, size_t errlen)
{
	char mode[32], token[512];
	int rc;

	if (in->query(in->req, "hub.mode", mode, sizeof(mode)) < 0 ||
	    in->query(in->req, "hub.verify_token", token, sizeof(token)) < 0 ||
	    in->query(in->req, "hub.challenge", out, outlen) < 0 ||
	    strcmp(mode, "subscribe") != 0) {
		snprintf(err, errlen,
			 "expected hub.mode=subscribe, hub.verify_token and hub.challenge");
		return -1;
	}
	rc = util_ct_streq(token, channel_config_str(config, "verify_token")) ? 0 : -2;
	if (rc < 0)
		snprintf(err, errlen, "the verify token does not match");
	explicit_bzero(token, sizeof(token));
	return rc;
}

static enum channel_status_kind status_kind(enum wa_status_kind k)
{
	switch (k) {
	case WA_STATUS_SENT:
		return CHANNEL_STATUS_SENT;
	case WA_STATUS_DELIVERED:
		return CHANNEL_STATUS_DELIVERED;
	case WA_STATUS_READ:
		return CHANNEL_STATUS_READ;
	case WA_STATUS_FAILED:
		return CHANNEL_STATUS_FAILED;
	default:
		return CHANNEL_STATUS_OTHER;
	}
}

static char *notice_summary(const struct wa_account_error *e)
{
	char line[600];

	snprintf(line, sizeof(line), "Meta reports an account error %ld: %s%s%s", e->code,
		 e->title ? e->title : "", e->details ? " - " : "", e->details ? e->details : "");
	return strdup(line);
}

/* Moves what wa_webhook_parse found into a channel batch (the strings change hands). */
static int batch_take(struct channel_batch *cb, struct wa_batch *b)
{
	size_t i;

	cb->messages = calloc(b->nmessages + 1, sizeof(*cb->messages));
	cb->statuses = calloc(b->nstatuses + 1, sizeof(*cb->statuses));
	cb->notices = calloc(b->nerrors + 1, sizeof(*cb->notices));
	if (!cb->messages || !cb->statuses || !cb->notices)
		return -1;
	for (i = 0; i < b->nmessages; i++, cb->nmessages++) {
		cb->messages[i].route = b->messages[i].phone_number_id;
		cb->messages[i].msg = b->messages[i].msg;
		b->messages[i].phone_number_id = NULL;
		b->messages[i].msg = NULL;
	}
	for (i = 0; i < b->nstatuses; i++, cb->nstatuses++) {
		struct wa_status *w = &b->statuses[i];
		struct channel_status *s = &cb->statuses[i];

		s->route = w->phone_number_id;
		s->platform_message_id = w->wamid;
		s->kind = status_kind(w->status);
		s->name = w->status_name;
		s->recipient = w->recipient_id;
		s->timestamp = w->timestamp;
		s->error_code = w->error_code;
		s->error_title = w->error_title;
		s->error_details = w->error_details;
		memset(w, 0, sizeof(*w));
	}
	for (i = 0; i < b->nerrors; i++, cb->nnotices++) {
		struct wa_account_error *e = &b->errors[i];
		struct channel_notice *n = &cb->notices[i];

		n->event = strdup("account_error");
		n->payload = json_pack("{s:I, s:s?, s:s?, s:s?}", "code", (json_int_t)e->code,
				       "title", e->title, "details", e->details, "phone_number_id",
				       e->phone_number_id);
		n->summary = notice_summary(e);
		n->route = e->phone_number_id;
		e->phone_number_id = NULL;
		if (!n->event || !n->payload || !n->summary)
			return -1;
	}
	return 0;
}

static struct channel_batch *wa_parse(const char *body, size_t len, char *err, size_t errlen)
{
	struct wa_batch *b = wa_webhook_parse(body, len, err, errlen);
	struct channel_batch *cb;

	if (!b)
		return NULL;
	cb = channel_batch_new();
	if (!cb || batch_take(cb, b) < 0) {
		snprintf(err, errlen, "out of memory");
		channel_batch_free(cb);
		cb = NULL;
	}
	wa_batch_free(b);
	return cb;
}

const struct channel_ops whatsapp_channel_ops = {
	.type = "whatsapp",
	.fields = wa_fields,
	.external_field = "phone_number_id",
	.external_shown = 1,
	.external_noun = "number",
	.external_id = wa_external_id,
	.external_config_key = "phone_number_id",
	.webhook = 1,
	.notify_field = "to",
	.notify_phone = 1,
	.notify_read = wa_notify_read,
	.auth_secret = "app_secret",
	.auth_header = "X-Hub-Signature-256",
	.authenticate = wa_authenticate,
	.verify = wa_verify,
	.parse = wa_parse,
	.settings = {.api_base = "whatsapp_api_base",
		     .api_version = "whatsapp_api_version",
		     .rate = "whatsapp_rate",
		     .recipient_rate = "whatsapp_recipient_rate",
		     .mark_read = "whatsapp_mark_read"},
	.window_age = 1,
	.recipient_burst = 3,
	.limit_prefix = "wa",
	.render = whatsapp_render,
	.classify = whatsapp_classify,
	.order_title = "WhatsApp",
	.order_link = wa_order_link,
	.sim = &whatsapp_sim_ops,
};
