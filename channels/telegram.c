/*
 * telegram.c: the Telegram adapter's table and registration checks. A bot token is
 * "<bot id>:<secret>"; the bot id routes the channel (channels.external_id) and is kept in
 * its config as bot_id. The secret token may hold only A-Z, a-z, 0-9, _ and - (the Bot API's
 * rule for setWebhook's secret_token).
 */
#include "telegram.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define TG_BOT_ID_MAX 24

/* The bot id of a token, into out; -1 when token is not "<digits>:<secret>". */
static int tg_bot_id(const char *token, char *out, size_t outlen)
{
	const char *colon = strchr(token, ':');
	size_t n = colon ? (size_t)(colon - token) : 0;

	if (!colon || n == 0 || n >= TG_BOT_ID_MAX || n >= outlen || !colon[1] ||
	    !jfield_chars_ok(colon + 1, "_-", 0))
		return -1;
	memcpy(out, token, n);
	out[n] = '\0';
	return jfield_chars_ok(out, "", 1) ? 0 : -1;
}

static int check_bot_token(const json_t *v, json_t **out, struct jfield_error *err)
{
	char id[TG_BOT_ID_MAX];

	(void)out;
	if (tg_bot_id(json_string_value(v), id, sizeof(id)) < 0) {
		jfield_error_set(err, "", "bot_token",
				 "must be a token from @BotFather (<bot id>:<secret>)");
		return -1;
	}
	return 0;
}

static int check_secret_token(const json_t *v, json_t **out, struct jfield_error *err)
{
	(void)out;
	if (!jfield_chars_ok(json_string_value(v), "_-", 0)) {
		jfield_error_set(err, "", "secret_token",
				 "may hold only A-Z, a-z, 0-9, _ and - (Telegram's rule)");
		return -1;
	}
	return 0;
}

/* Telegram chat ids are integers (negative for groups) or @channelusername. */
static int tg_notify_read(const json_t *body, char *out, size_t outlen, struct jfield_error *err)
{
	const json_t *v = json_object_get(body, "chat_id");
	const char *s;
	size_t i;

	if (json_is_integer(v)) {
		snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
		return 0;
	}
	if (jfield_string(body, "", "chat_id", 1, 1, 64, &s, err) < 0)
		return -1;
	i = s[0] == '-' ? 1 : 0;
	if (s[0] == '@') {
		for (i = 1; s[i]; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '_')
				break;
		if (i > 1 && !s[i]) {
			snprintf(out, outlen, "%s", s);
			return 0;
		}
	} else if (s[i] && strspn(s + i, "0123456789") == strlen(s + i) && strlen(s + i) <= 20) {
		snprintf(out, outlen, "%s", s);
		return 0;
	}
	jfield_error_set(err, "", "chat_id", "must be a Telegram chat id (a number) or @channelname");
	return -1;
}

static const struct channel_field tg_fields[] = {
	{"bot_token", CHANNEL_FIELD_REQUIRED | CHANNEL_FIELD_SECRET, 3, 256, check_bot_token},
	{"secret_token", CHANNEL_FIELD_REQUIRED | CHANNEL_FIELD_SECRET, 1, 256, check_secret_token},
	{NULL, 0, 0, 0, NULL},
};

const struct channel_ops telegram_channel_ops = {
	.type = "telegram",
	.fields = tg_fields,
	.external_field = "bot_token",
	.external_noun = "bot",
	.external_id = tg_bot_id,
	.external_config_key = "bot_id",
	.webhook = 1,
	.notify_field = "chat_id",
	.notify_read = tg_notify_read,
	.auth_secret = "secret_token",
	.auth_header = "X-Telegram-Bot-Api-Secret-Token",
	.settings = {.api_base = "telegram_api_base",
		     .rate = "telegram_rate",
		     .recipient_rate = "telegram_chat_rate"},
	.recipient_burst = 3,
	.limit_prefix = "tg",
};
