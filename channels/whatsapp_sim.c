/*
 * whatsapp_sim.c: WhatsApp for `ccgw simulate` (channel_sim.h): a simulated number (a phone
 * number id and shopper numbers starting 999, no country's code), a shopper's step as the
 * Cloud API webhook Meta posts (signed X-Hub-Signature-256 with the app secret), and the
 * Graph API's answer to /{version}/{phone_number_id}/messages with what the shopper sees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel_sim.h"
#include "util.h"
#include "whatsapp.h"

static json_t *wa_sim_registration(const char *const hex[3], const char *digits)
{
	char pnid[24];

	snprintf(pnid, sizeof(pnid), "999%s", digits);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "whatsapp", "name",
	                 "simulated WhatsApp (ccgw simulate)", "phone_number_id", pnid,
	                 "access_token", hex[0], "app_secret", hex[1], "verify_token", hex[2]);
}

static void wa_sim_shopper_id(const char *digits, char *out, size_t outlen)
{
	snprintf(out, outlen, "999%s", digits);
}

/* The message object of the shopper's input, without from, id and timestamp. */
static json_t *input_message(const struct channel_sim_shopper *sh,
                             const struct channel_sim_input *in)
{
	const char *payload = channel_config_str(in->choice, "payload");
	const char *title = channel_config_str(in->choice, "title");
	const char *kind;

	switch (in->act) {
	case CHANNEL_SIM_TEXT:
		return json_pack("{s:s, s:{s:s}}", "type", "text", "text", "body", in->text);
	case CHANNEL_SIM_PRESS:
		if (!payload || !title)
			return NULL;
		kind = json_is_true(json_object_get(in->choice, "list_row")) ? "list_reply"
		                                                             : "button_reply";
		return json_pack("{s:s, s:{s:s, s:{s:s, s:s}}}", "type", "interactive",
		                 "interactive", "type", kind, kind, "id", payload, "title", title);
	case CHANNEL_SIM_LOCATION:
		return json_pack("{s:s, s:{s:f, s:f}}", "type", "location", "location", "latitude",
		                 in->lat, "longitude", in->lon);
	case CHANNEL_SIM_CONTACT:
		return json_pack("{s:s, s:[{s:{s:s, s:s}, s:[{s:s, s:s}]}]}", "type", "contacts",
		                 "contacts", "name", "formatted_name", sh->name, "first_name",
		                 sh->name, "phones", "phone", in->text, "type", "CELL");
	}
	return NULL;
}

static int wa_sim_inbound(const json_t *config, const struct channel_sim_shopper *sh,
                          const struct channel_sim_input *in, struct channel_request *out,
                          char *err, size_t errlen)
{
	const char *secret = channel_config_str(config, "app_secret");
	const char *pnid = channel_config_str(config, "phone_number_id");
	json_t *msg = input_message(sh, in), *hook = NULL;
	char sig[65], header[96];

	memset(out, 0, sizeof(*out));
	if (!secret || !pnid) {
		snprintf(err, errlen, "the simulated channel has no app secret or number");
		goto fail;
	}
	if (!msg || json_object_set_new(msg, "from", json_string(sh->id)) < 0 ||
	    json_object_set_new(msg, "id", json_sprintf("wamid.SIM%lld", sh->seq)) < 0 ||
	    json_object_set_new(msg, "timestamp", json_sprintf("%lld", (long long)time(NULL))) < 0)
		goto oom;
	hook = json_pack("{s:s, s:[{s:s, s:[{s:s, s:{s:s, s:{s:s, s:s}, s:[{s:{s:s}, s:s}], "
	                 "s:[O]}}]}]}",
	                 "object", "whatsapp_business_account", "entry", "id", "SIMULATED",
	                 "changes", "field", "messages", "value", "messaging_product", "whatsapp",
	                 "metadata", "display_phone_number", pnid, "phone_number_id", pnid,
	                 "contacts", "profile", "name", sh->name, "wa_id", sh->id, "messages", msg);
	out->body = hook ? json_dumps(hook, JSON_COMPACT) : NULL;
	if (!out->body)
		goto oom;
	util_hmac_sha256_hex(secret, strlen(secret), out->body, strlen(out->body), sig);
	snprintf(header, sizeof(header), "X-Hub-Signature-256: sha256=%s", sig);
	if (channel_request_add_header(out, header) < 0 ||
	    channel_request_add_header(out, "Content-Type: application/json") < 0)
		goto oom;
	json_decref(msg);
	json_decref(hook);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(msg);
	json_decref(hook);
	channel_request_clear(out);
	return -1;
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A Graph API message as the shopper sees it. */
static json_t *message_reply(const json_t *m)
{
	const char *type = str_at(m, "type", NULL), *text = NULL;
	const json_t *inter = json_object_get(m, "interactive");
	const json_t *action = json_object_get(inter, "action"), *btn, *sec, *row, *c;
	json_t *r = NULL, *choices = json_array();
	char buf[1200];
	size_t i, j;

	if (!choices)
		return NULL;
	type = type ? type : "text";
	if (strcmp(type, "text") == 0) {
		text = str_at(m, "text", "body");
	} else if (strcmp(type, "image") == 0) {
		text = str_at(m, "image", "caption");
		if (!text)
			text = "[image]";
	} else if (strcmp(type, "template") == 0) {
		c = json_array_get(json_object_get(json_object_get(m, "template"), "components"),
		                   0);
		snprintf(
		    buf, sizeof(buf), "[template %s] %s",
		    str_at(m, "template", "name") ? str_at(m, "template", "name") : "?",
		    str_at(json_array_get(json_object_get(c, "parameters"), 0), "text", NULL)
		        ? str_at(json_array_get(json_object_get(c, "parameters"), 0), "text", NULL)
		        : "");
		text = buf;
	} else if (strcmp(type, "interactive") == 0) {
		text = str_at(inter, "body", "text");
		json_array_foreach(json_object_get(action, "buttons"), i, btn)
		    channel_sim_choice_add(choices, str_at(btn, "reply", "title"),
		                           str_at(btn, "reply", "id"), NULL);
		json_array_foreach(json_object_get(action, "sections"), i, sec)
		    json_array_foreach(json_object_get(sec, "rows"), j, row)
		        channel_sim_choice_add(choices, str_at(row, "title", NULL),
		                               str_at(row, "id", NULL),
		                               str_at(row, "description", NULL));
	} else {
		snprintf(buf, sizeof(buf), "[%s]", type);
		text = buf;
	}
	r = json_pack("{s:s, s:O}", "text", text ? text : "", "choices", choices);
	if (r && str_at(action, "button", NULL)) {
		/* a list: its rows are answered as list replies */
		json_object_set_new(r, "list_button", json_string(str_at(action, "button", NULL)));
		json_array_foreach(choices, i, c)
		    json_object_set_new((json_t *)c, "list_row", json_true());
	}
	json_decref(choices);
	return r;
}

static int wa_sim_outbound(const char *path, const json_t *body, long long seq, int *status,
                           char **answer, char *recipient, size_t rlen, json_t **reply)
{
	const char *to = str_at(body, "to", NULL), *end;
	json_t *a;
	char wamid[48];

	*reply = NULL;
	recipient[0] = '\0';
	*status = 200;
	end = path + strlen(path);
	if ((size_t)(end - path) < 10 || strcmp(end - 9, "/messages") != 0) {
		*status = 404;
		*answer = strdup(
		    "{\"error\": {\"message\": \"Unknown path components\", \"code\": 100}}");
		return *answer ? 0 : -1;
	}
	if (str_at(body, "status", NULL) && strcmp(str_at(body, "status", NULL), "read") == 0) {
		*answer = strdup("{\"success\": true}");
		return *answer ? 0 : -1;
	}
	if (!to) {
		*status = 400;
		*answer = strdup(
		    "{\"error\": {\"message\": \"(#100) Invalid parameter\", \"code\": 100}}");
		return *answer ? 0 : -1;
	}
	snprintf(recipient, rlen, "%s", to);
	*reply = message_reply(body);
	snprintf(wamid, sizeof(wamid), "wamid.SIM%lld", seq);
	a = json_pack("{s:s, s:[{s:s, s:s}], s:[{s:s}]}", "messaging_product", "whatsapp",
	              "contacts", "input", to, "wa_id", to, "messages", "id", wamid);
	*answer = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return *answer ? 0 : -1;
}

const struct channel_sim_ops whatsapp_sim_ops = {
    .registration = wa_sim_registration,
    .shopper_id = wa_sim_shopper_id,
    .inbound = wa_sim_inbound,
    .outbound = wa_sim_outbound,
};
