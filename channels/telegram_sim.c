/*
 * telegram_sim.c: Telegram for `ccgw simulate` (channel_sim.h): a simulated bot (a token
 * whose bot id starts with 9 and whose secret starts SIM), a shopper's step as the Update
 * Telegram posts (with X-Telegram-Bot-Api-Secret-Token), and the Bot API's answers to
 * /bot<token>/<method>: sendMessage and editMessageText show the shopper a message (its
 * inline keyboard as choices, each remembering the message it sits on, for the callback
 * query a press sends); every other method is answered true.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel_sim.h"
#include "telegram.h"

static json_t *tg_sim_registration(const char *const hex[3], const char *digits)
{
	char token[96];

	snprintf(token, sizeof(token), "9%s:SIM%s", digits, hex[0]);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "telegram", "name",
	                 "simulated Telegram bot (ccgw simulate)", "bot_token", token,
	                 "secret_token", hex[1], "mode", "webhook");
}

static void tg_sim_shopper_id(const char *digits, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", digits);
}

static json_t *user_json(const struct channel_sim_shopper *sh)
{
	return json_pack("{s:I, s:b, s:s}", "id", (json_int_t)strtoll(sh->id, NULL, 10), "is_bot",
	                 0, "first_name", sh->name);
}

static json_t *chat_json(const struct channel_sim_shopper *sh)
{
	return json_pack("{s:I, s:s, s:s}", "id", (json_int_t)strtoll(sh->id, NULL, 10), "type",
	                 "private", "first_name", sh->name);
}

/* The update for the shopper's input, without its update_id. */
static json_t *input_update(const struct channel_sim_shopper *sh,
                            const struct channel_sim_input *in)
{
	const json_t *mid = json_object_get(in->choice, "message_id");
	const char *payload = channel_config_str(in->choice, "payload");
	json_t *m;

	if (in->act == CHANNEL_SIM_PRESS) {
		if (!payload)
			return NULL;
		return json_pack("{s:{s:s, s:o, s:{s:I, s:o, s:I, s:s}, s:s, s:s}}",
		                 "callback_query", "id", "sim", "from", user_json(sh), "message",
		                 "message_id",
		                 json_is_integer(mid) ? json_integer_value(mid) : (json_int_t)1,
		                 "chat", chat_json(sh), "date", (json_int_t)time(NULL), "text", "",
		                 "chat_instance", "simulated", "data", payload);
	}
	m = json_pack("{s:I, s:o, s:o, s:I}", "message_id", (json_int_t)(sh->seq % 1000000000LL),
	              "from", user_json(sh), "chat", chat_json(sh), "date", (json_int_t)time(NULL));
	if (!m)
		return NULL;
	switch (in->act) {
	case CHANNEL_SIM_TEXT:
		json_object_set_new(m, "text", json_string(in->text));
		break;
	case CHANNEL_SIM_LOCATION:
		json_object_set_new(
		    m, "location",
		    json_pack("{s:f, s:f}", "latitude", in->lat, "longitude", in->lon));
		break;
	case CHANNEL_SIM_CONTACT:
		json_object_set_new(m, "contact",
		                    json_pack("{s:s, s:s, s:I}", "phone_number", in->text,
		                              "first_name", sh->name, "user_id",
		                              (json_int_t)strtoll(sh->id, NULL, 10)));
		break;
	default:
		break;
	}
	return json_pack("{s:o}", "message", m);
}

static int tg_sim_inbound(const json_t *config, const struct channel_sim_shopper *sh,
                          const struct channel_sim_input *in, struct channel_request *out,
                          char *err, size_t errlen)
{
	const char *secret = channel_config_str(config, "secret_token");
	json_t *u = input_update(sh, in);
	char header[320];

	memset(out, 0, sizeof(*out));
	if (!secret) {
		snprintf(err, errlen, "the simulated channel has no secret token");
		goto fail;
	}
	if (!u || json_object_set_new(u, "update_id", json_integer((json_int_t)sh->seq)) < 0)
		goto oom;
	/* a press's callback query id: unique too */
	if (json_object_get(u, "callback_query"))
		json_object_set_new(json_object_get(u, "callback_query"), "id",
		                    json_sprintf("%lld", sh->seq));
	out->body = json_dumps(u, JSON_COMPACT);
	snprintf(header, sizeof(header), "X-Telegram-Bot-Api-Secret-Token: %s", secret);
	if (!out->body || channel_request_add_header(out, header) < 0 ||
	    channel_request_add_header(out, "Content-Type: application/json") < 0)
		goto oom;
	json_decref(u);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(u);
	channel_request_clear(out);
	return -1;
}

/* sendMessage / editMessageText as the shopper sees it. */
static json_t *message_reply(const json_t *p, json_int_t message_id, int edited)
{
	const json_t *rows = json_object_get(json_object_get(p, "reply_markup"), "inline_keyboard");
	const json_t *row, *b, *c;
	json_t *r, *choices = json_array();
	size_t i, j;

	if (!choices)
		return NULL;
	json_array_foreach(rows, i, row) json_array_foreach(row, j, b) channel_sim_choice_add(
	    choices, channel_config_str(b, "text"), channel_config_str(b, "callback_data"), NULL);
	/* a press is a callback query on the message the keyboard sits on */
	json_array_foreach(choices, i, c)
	    json_object_set_new((json_t *)c, "message_id", json_integer(message_id));
	r = json_pack("{s:s, s:O}", "text",
	              channel_config_str(p, "text") ? channel_config_str(p, "text") : "", "choices",
	              choices);
	if (r && edited)
		json_object_set_new(r, "edited", json_true());
	json_decref(choices);
	return r;
}

static int tg_sim_outbound(const char *path, const json_t *body, long long seq, int *status,
                           char **answer, char *recipient, size_t rlen, json_t **reply)
{
	const json_t *chat = json_object_get(body, "chat_id");
	const char *method = strncmp(path, "/bot", 4) == 0 ? strchr(path + 4, '/') : NULL;
	json_t *a = NULL;

	*reply = NULL;
	*status = 200;
	recipient[0] = '\0';
	if (json_is_integer(chat))
		snprintf(recipient, rlen, "%lld", (long long)json_integer_value(chat));
	else if (json_is_string(chat))
		snprintf(recipient, rlen, "%s", json_string_value(chat));
	if (!method) {
		*status = 404;
		a = json_pack("{s:b, s:i, s:s}", "ok", 0, "error_code", 404, "description",
		              "Not Found");
	} else if ((strcmp(method, "/sendMessage") == 0 ||
	            strcmp(method, "/editMessageText") == 0) &&
	           recipient[0]) {
		int edited = method[1] == 'e';
		json_int_t mid = edited && json_is_integer(json_object_get(body, "message_id"))
		                     ? json_integer_value(json_object_get(body, "message_id"))
		                     : (json_int_t)(seq % 1000000000LL);

		*reply = message_reply(body, mid, edited);
		a = json_pack("{s:b, s:{s:I, s:I, s:{s:I, s:s}, s:s}}", "ok", 1, "result",
		              "message_id", mid, "date", (json_int_t)time(NULL), "chat", "id",
		              (json_int_t)strtoll(recipient, NULL, 10), "type", "private", "text",
		              channel_config_str(body, "text") ? channel_config_str(body, "text")
		                                               : "");
	} else if (strcmp(method, "/getMe") == 0) {
		a = json_pack("{s:b, s:{s:I, s:b, s:s, s:s}}", "ok", 1, "result", "id",
		              (json_int_t)strtoll(path + 4, NULL, 10), "is_bot", 1, "first_name",
		              "Simulated", "username", "ccgw_simulated_bot");
	} else if (strcmp(method, "/getUpdates") == 0) {
		a = json_pack("{s:b, s:[]}", "ok", 1, "result");
	} else {
		a = json_pack("{s:b, s:b}", "ok", 1, "result", 1);
	}
	*answer = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	if (!*answer) {
		json_decref(*reply);
		*reply = NULL;
		return -1;
	}
	return 0;
}

const struct channel_sim_ops telegram_sim_ops = {
    .registration = tg_sim_registration,
    .shopper_id = tg_sim_shopper_id,
    .inbound = tg_sim_inbound,
    .outbound = tg_sim_outbound,
};
