/*
 * telegram.c: the Telegram Bot API adapter. A seller registers a bot with the token from
 * @BotFather ("<bot id>:<secret>"; the bot id routes the channel and is kept in its config as
 * bot_id) and a secret token that Telegram sends back in X-Telegram-Bot-Api-Secret-Token
 * (A-Z, a-z, 0-9, _ and -, the Bot API's rule), and picks webhook or long polling ("mode").
 *
 * Inbound, one Update becomes: a message (text, location or venue, contact, media), a postback
 * (callback_query: the payload we put in callback_data), or a chat event (edited_message;
 * my_chat_member: the shopper blocked or unblocked the bot). Everything else is answered and
 * ignored. A message's platform id is "<update_id>" (de-duplication per channel), a
 * postback's "<update_id>:<callback query id>:<message id>", so the reply can answer the
 * press (answerCallbackQuery) and, when the reply asks for it, edit the message pressed.
 *
 * Outbound, a reply is plain text (no parse_mode, so nothing needs escaping) cut into parts of
 * at most 4096 characters, with its buttons and list rows as an inline keyboard on the last
 * part (callback_data at most 64 bytes); answers are classified by HTTP status and the Bot
 * API's error_code: 429 pauses the bot for parameters.retry_after, 403 "blocked by the user"
 * stops sending to that chat, 401/404 mark the bot's token invalid.
 */
#include "telegram.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply_text.h"
#include "utf8.h"
#include "util.h"

#define TG_BOT_ID_MAX     24
#define TG_TEXT_MAX       4096 /* characters in one message */
#define TG_CALLBACK_MAX   64   /* bytes of callback_data */
#define TG_BUTTON_MAX     64   /* characters shown on a button (ours; Telegram cuts longer) */
#define TG_DEFAULT_BASE   "https://api.telegram.org"
#define TG_ALLOWED_UPDATES "[\"message\",\"edited_message\",\"callback_query\",\"my_chat_member\"]"

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

static int check_mode(const json_t *v, json_t **out, struct jfield_error *err)
{
	const char *m = json_string_value(v);

	(void)out;
	if (strcmp(m, "webhook") != 0 && strcmp(m, "polling") != 0) {
		jfield_error_set(err, "", "mode", "must be \"webhook\" or \"polling\"");
		return -1;
	}
	return 0;
}

/* The bot's @username without the @ (5 to 32 of A-Z a-z 0-9 _): the storefront's t.me links. */
static int check_bot_username(const json_t *v, json_t **out, struct jfield_error *err)
{
	const char *u = json_string_value(v);

	(void)out;
	if (!jfield_chars_ok(u, "_", 0)) {
		jfield_error_set(err, "", "bot_username",
		                 "must be the bot's username without @ (letters, digits, _)");
		return -1;
	}
	return 0;
}

static const struct channel_field tg_fields[] = {
	{"bot_token", CHANNEL_FIELD_REQUIRED | CHANNEL_FIELD_SECRET, 3, 256, check_bot_token, NULL},
	{"secret_token", CHANNEL_FIELD_REQUIRED | CHANNEL_FIELD_SECRET, 1, 256, check_secret_token,
	 NULL},
	{"mode", CHANNEL_FIELD_CONFIG, 7, 7, check_mode, "webhook"},
	{"bot_username", CHANNEL_FIELD_CONFIG, 5, 32, check_bot_username, NULL},
	{NULL, 0, 0, 0, NULL, NULL},
};

static int tg_polling(const json_t *config)
{
	const char *m = channel_config_str(config, "mode");

	return m && strcmp(m, "polling") == 0;
}

/* ---- inbound ---- */

static enum channel_auth tg_authenticate(const struct channel_http *in, const json_t *config)
{
	const char *got = in->header(in->req, "x-telegram-bot-api-secret-token");
	const char *want = channel_config_str(config, "secret_token");

	if (!got)
		return CHANNEL_AUTH_MISSING;
	return want && util_ct_streq(got, want) ? CHANNEL_AUTH_OK : CHANNEL_AUTH_WRONG;
}

/* An id (a JSON integer, or a string as for @channels) as heap text; NULL when absent. */
static char *id_text(const json_t *v)
{
	char buf[32];

	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return strdup(buf);
	}
	return json_is_string(v) && json_string_length(v) > 0 ? strdup(json_string_value(v)) : NULL;
}

/* An id Telegram may send: an integer, or a non-empty string (@channel). */
static int id_ok(const json_t *v)
{
	return json_is_integer(v) || (json_is_string(v) && json_string_length(v) > 0);
}

static char *str_dup(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* "First Last" of a user or contact; NULL when it has no first name. */
static char *full_name(const json_t *u)
{
	const char *first = channel_config_str(u, "first_name");
	const char *last = channel_config_str(u, "last_name");
	char buf[256];

	if (!first || !*first)
		return NULL;
	snprintf(buf, sizeof(buf), "%s%s%s", first, last && *last ? " " : "", last ? last : "");
	return strdup(buf);
}

/* A phone number as digits only (Telegram sends "+254..." or "254..."). */
static char *phone_digits(const char *s)
{
	char buf[32];
	size_t n = 0;

	for (; s && *s && n < sizeof(buf) - 1; s++)
		if (isdigit((unsigned char)*s))
			buf[n++] = *s;
	buf[n] = '\0';
	return n >= 6 ? strdup(buf) : NULL;
}

/* A bot command as the text the engine reads: "/start" greets, "/menu@shop_bot" is "menu". */
static char *command_text(const char *text)
{
	char word[64];
	size_t n = 0;

	for (text++; *text && *text != ' ' && *text != '@' && n < sizeof(word) - 1; text++)
		word[n++] = (char)tolower((unsigned char)*text);
	word[n] = '\0';
	if (n == 0 || strcmp(word, "start") == 0)
		return strdup("hi");
	return strdup(word);
}

/* A storefront's deep link, "/start p_<sku>" or "/start h_<hex of the sku>" (t.me/<bot>?start=
 * ...), as the postback "sku:<sku>" that shows the product at once; NULL for any other text. */
static char *start_payload(const char *text)
{
	char sku[65], *out;
	const char *p;
	size_t n;

	if (strncmp(text, "/start ", 7) != 0)
		return NULL;
	for (p = text + 7; *p == ' '; p++)
		;
	n = strcspn(p, " \r\n");
	if (n < 3 || n > 64 || p[1] != '_' || (p[0] != 'p' && p[0] != 'h'))
		return NULL;
	if (p[0] == 'p') {
		memcpy(sku, p + 2, n - 2);
		sku[n - 2] = '\0';
	} else {
		char hex[65];
		long got;

		memcpy(hex, p + 2, n - 2);
		hex[n - 2] = '\0';
		got = util_hex_decode(hex, (unsigned char *)sku, sizeof(sku) - 1);
		if (got <= 0)
			return NULL;
		sku[got] = '\0';
		if (strlen(sku) != (size_t)got)
			return NULL;
	}
	out = malloc(strlen(sku) + 5);
	if (out)
		sprintf(out, "sku:%s", sku);
	return out;
}

/* https://t.me/<bot>?start=<payload>: Telegram opens the bot and sends "/start <payload>"
 * (start_payload reads it back). The payload is "p_<sku>" when the SKU is of Telegram's
 * allowed characters (A-Z a-z 0-9 _ -), else "h_<hex of the SKU>"; at most 64 characters. */
static int tg_order_link(const json_t *config, const char *sku, const char *text, char *base,
                         size_t baselen, const char **param, char *value, size_t valuelen)
{
	const char *bot = channel_config_str(config, "bot_username");
	size_t n = strlen(sku);

	(void)text;
	if (!bot || strlen(bot) < 5 || strlen(bot) > 32 || !jfield_chars_ok(bot, "_", 0) ||
	    valuelen < 65 || n == 0)
		return -1;
	snprintf(base, baselen, "https://t.me/%s", bot);
	*param = "start";
	if (n + 2 <= 64 && jfield_chars_ok(sku, "_-", 0)) {
		snprintf(value, valuelen, "p_%s", sku);
	} else if (2 + 2 * n <= 64) {
		memcpy(value, "h_", 2);
		util_hex_encode((const unsigned char *)sku, n, value + 2);
		value[2 + 2 * n] = '\0';
	} else {
		return -1;
	}
	return 0;
}

/* The media a message carries: its type for the engine, or NULL for a text message. */
static const char *media_kind(const json_t *msg, const char **unsupported)
{
	static const char *const media[][2] = {
	    {"photo", "image"},     {"sticker", "sticker"},   {"voice", "audio"},
	    {"audio", "audio"},     {"video", "video"},       {"video_note", "video"},
	    {"animation", "video"}, {"document", "document"},
	};
	static const char *const other[] = {"poll", "dice", "game", "story", "invoice",
	                                    "successful_payment", NULL};
	size_t i;

	*unsupported = NULL;
	for (i = 0; i < sizeof(media) / sizeof(media[0]); i++)
		if (json_object_get(msg, media[i][0]))
			return media[i][1];
	for (i = 0; other[i]; i++)
		if (json_object_get(msg, other[i]))
			*unsupported = other[i];
	return NULL;
}

/* The body of a message (not a callback): text, place, contact, media. */
static void message_body(struct msg_inbound *m, const json_t *msg, const json_t *from)
{
	const json_t *loc = json_object_get(msg, "location"), *venue = json_object_get(msg, "venue");
	const json_t *contact = json_object_get(msg, "contact");
	const char *text = channel_config_str(msg, "text"), *unsupported;
	const char *media = media_kind(msg, &unsupported);

	if (venue && !loc)
		loc = json_object_get(venue, "location");
	if (json_is_object(loc)) {
		m->kind = MSG_KIND_LOCATION;
		m->latitude = json_number_value(json_object_get(loc, "latitude"));
		m->longitude = json_number_value(json_object_get(loc, "longitude"));
		m->location_name = str_dup(venue, "title");
		m->location_address = str_dup(venue, "address");
	} else if (json_is_object(contact)) {
		m->kind = MSG_KIND_CONTACT;
		m->contact_name = full_name(contact);
		m->contact_phone = phone_digits(channel_config_str(contact, "phone_number"));
		/* the shopper's own number, shared with the button Telegram offers */
		if (json_is_integer(json_object_get(contact, "user_id")) &&
		    json_integer_value(json_object_get(contact, "user_id")) != 0 &&
		    json_integer_value(json_object_get(contact, "user_id")) ==
		        json_integer_value(json_object_get(from, "id")) &&
		    m->contact_phone)
			m->phone = strdup(m->contact_phone);
	} else if (media) {
		m->kind = MSG_KIND_MEDIA;
		m->media_type = strdup(media);
		m->text = str_dup(msg, "caption");
	} else if (text && (m->payload = start_payload(text))) {
		m->kind = MSG_KIND_POSTBACK; /* a storefront's "Order on Telegram" */
	} else if (text && text[0] == '/') {
		m->kind = MSG_KIND_TEXT;
		m->text = command_text(text);
	} else if (text) {
		m->kind = MSG_KIND_TEXT;
		m->text = strdup(text);
	} else {
		m->kind = MSG_KIND_UNSUPPORTED;
		m->media_type = strdup(unsupported ? unsupported : "message");
	}
}

/* A new message batch item for chat and sender; NULL on OOM. */
static struct msg_inbound *item_new(struct channel_batch *b, const json_t *chat,
                                    const json_t *from, const char *message_id, json_int_t date)
{
	struct channel_message *cm;
	struct msg_inbound *m = msg_inbound_new();

	if (!m)
		return NULL;
	m->channel = MSG_CHANNEL_TELEGRAM;
	m->chat_id = id_text(json_object_get(chat, "id"));
	m->user_id = id_text(json_object_get(from, "id"));
	m->display_name = full_name(from);
	m->message_id = strdup(message_id);
	m->timestamp = (int64_t)date;
	cm = channel_batch_grow((void **)&b->messages, &b->nmessages, sizeof(*cm));
	if (!cm) {
		msg_inbound_free(m);
		return NULL;
	}
	cm->msg = m;
	return m;
}

/* A payload we could have sent: printable ASCII, 1 to 64 bytes. */
static int payload_ok(const char *p)
{
	size_t n = 0;

	for (; p && p[n]; n++)
		if ((unsigned char)p[n] < 0x21 || (unsigned char)p[n] > 0x7E)
			return 0;
	return n > 0 && n <= TG_CALLBACK_MAX;
}

static int parse_callback(struct channel_batch *b, const json_t *cq, const char *uid)
{
	const json_t *from = json_object_get(cq, "from"), *msg = json_object_get(cq, "message");
	const json_t *chat = json_object_get(msg, "chat");
	const char *cqid = channel_config_str(cq, "id"), *data = channel_config_str(cq, "data");
	char mid[160];
	struct msg_inbound *m;

	if (!cqid || !json_is_object(from) ||
	    !id_ok(json_object_get(json_is_object(chat) ? chat : from, "id")))
		return -1;
	snprintf(mid, sizeof(mid), "%s:%.64s:%" JSON_INTEGER_FORMAT, uid, cqid,
	         json_integer_value(json_object_get(msg, "message_id")));
	/* a press on an inline message has no chat: the presser's private chat answers it */
	m = item_new(b, json_is_object(chat) ? chat : from, from, mid,
	             json_integer_value(json_object_get(msg, "date")));
	if (!m)
		return -2;
	m->kind = MSG_KIND_POSTBACK;
	/* a press we cannot have offered still gets an answer: the engine says it is stale */
	m->payload = strdup(payload_ok(data) ? data : "tg:unknown");
	if (json_is_object(msg))
		m->reply_to = id_text(json_object_get(msg, "message_id"));
	return m->payload && m->chat_id ? 0 : -2;
}

static int parse_message(struct channel_batch *b, const json_t *msg, const char *uid)
{
	const json_t *from = json_object_get(msg, "from"), *chat = json_object_get(msg, "chat");
	const json_t *reply = json_object_get(msg, "reply_to_message");
	struct msg_inbound *m;

	if (!json_is_object(chat) || !id_ok(json_object_get(chat, "id")))
		return -1;
	m = item_new(b, chat, json_is_object(from) ? from : chat, uid,
	             json_integer_value(json_object_get(msg, "date")));
	if (!m)
		return -2;
	message_body(m, msg, from);
	if (json_is_object(reply))
		m->reply_to = id_text(json_object_get(reply, "message_id"));
	return m->chat_id ? 0 : -2;
}

static int parse_chat_event(struct channel_batch *b, const json_t *obj, const char *uid,
                            enum channel_chat_kind kind)
{
	const json_t *chat = json_object_get(obj, "chat");
	struct channel_chat_event *e;

	if (!json_is_object(chat) || !id_ok(json_object_get(chat, "id")))
		return -1;
	e = channel_batch_grow((void **)&b->chats, &b->nchats, sizeof(*e));
	if (!e)
		return -2;
	e->kind = kind;
	e->chat_id = id_text(json_object_get(chat, "id"));
	e->event_id = strdup(uid);
	if (kind == CHANNEL_CHAT_EDITED)
		e->payload = json_pack("{s:O?, s:s?}", "message_id",
		                       json_object_get(obj, "message_id"), "text",
		                       channel_config_str(obj, "text"));
	else
		e->payload = json_pack("{s:s?, s:s?}", "old_status",
		                       channel_config_str(json_object_get(obj, "old_chat_member"),
		                                          "status"),
		                       "new_status",
		                       channel_config_str(json_object_get(obj, "new_chat_member"),
		                                          "status"));
	return e->chat_id && e->event_id && e->payload ? 0 : -2;
}

/* The shopper's standing with the bot after a my_chat_member update. */
static int member_change(const json_t *mcm, enum channel_chat_kind *kind)
{
	const char *now = channel_config_str(json_object_get(mcm, "new_chat_member"), "status");

	if (!now)
		return -1;
	*kind = strcmp(now, "kicked") == 0 || strcmp(now, "left") == 0 ? CHANNEL_CHAT_BLOCKED
	                                                                : CHANNEL_CHAT_UNBLOCKED;
	return 0;
}

/* One Update into b. 0; -1 when it is not an Update (err says why); -2 out of memory. */
static int parse_update(struct channel_batch *b, const json_t *u, long long *update_id,
                        char *err, size_t errlen)
{
	const json_t *v = json_object_get(u, "update_id");
	enum channel_chat_kind kind;
	char uid[32];
	int rc;

	if (!json_is_object(u) || !json_is_integer(v)) {
		snprintf(err, errlen, "not a Telegram Update: no integer update_id");
		return -1;
	}
	*update_id = (long long)json_integer_value(v);
	snprintf(uid, sizeof(uid), "%lld", *update_id);
	if ((v = json_object_get(u, "message")))
		rc = parse_message(b, v, uid);
	else if ((v = json_object_get(u, "callback_query")))
		rc = parse_callback(b, v, uid);
	else if ((v = json_object_get(u, "edited_message")))
		rc = parse_chat_event(b, v, uid, CHANNEL_CHAT_EDITED);
	else if ((v = json_object_get(u, "my_chat_member")))
		rc = member_change(v, &kind) < 0 ? -1 : parse_chat_event(b, v, uid, kind);
	else {
		b->nignored++;
		return 0;
	}
	if (rc == -1)
		snprintf(err, errlen, "update %lld: a %s without the fields it needs", *update_id,
		         json_object_get(u, "message")          ? "message"
		         : json_object_get(u, "callback_query") ? "callback_query"
		                                                : "chat update");
	else if (rc == -2)
		snprintf(err, errlen, "out of memory");
	return rc;
}

static struct channel_batch *tg_parse(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *u = json_loadb(body, len, 0, &jerr);
	struct channel_batch *b = NULL;
	long long id;

	if (!u) {
		snprintf(err, errlen, "not JSON: %s", jerr.text);
		return NULL;
	}
	b = channel_batch_new();
	if (!b) {
		snprintf(err, errlen, "out of memory");
	} else if (parse_update(b, u, &id, err, errlen) < 0) {
		channel_batch_free(b);
		b = NULL;
	}
	json_decref(u);
	return b;
}

/* getUpdates' answer: {"ok": true, "result": [Update, ...]}. An update that is not one is
 * skipped (counted as ignored): one bad update must not stop the bot for ever. */
static struct channel_batch *tg_poll_parse(const char *body, size_t len, long long *next_offset,
                                           char *err, size_t errlen)
{
	json_t *root = json_loadb(body, len, 0, NULL), *res = json_object_get(root, "result");
	struct channel_batch *b = NULL;
	char uerr[128];
	long long id;
	size_t i;

	if (!json_is_true(json_object_get(root, "ok")) || !json_is_array(res)) {
		snprintf(err, errlen, "getUpdates failed: %s",
		         channel_config_str(root, "description") ? channel_config_str(root, "description")
		                                                 : "not a Bot API answer");
		json_decref(root);
		return NULL;
	}
	b = channel_batch_new();
	for (i = 0; b && i < json_array_size(res); i++) {
		const json_t *u = json_array_get(res, i);
		int rc = parse_update(b, u, &id, uerr, sizeof(uerr));

		if (rc == -2) {
			channel_batch_free(b);
			b = NULL;
			break;
		}
		if (rc < 0)
			b->nignored++;
		if (json_is_integer(json_object_get(u, "update_id")) && id + 1 > *next_offset)
			*next_offset = id + 1;
	}
	if (!b)
		snprintf(err, errlen, "out of memory");
	json_decref(root);
	return b;
}

/* ---- outbound ---- */

/* The state of one rendering. */
struct tg_out {
	const struct channel_target *t;
	const char *base, *token;
	struct channel_request *reqs;
	size_t n;
	char *err;
	size_t errlen;
};

/* A chat id as Telegram takes it: a number when it is one, else the string (@channel). */
static json_t *chat_json(const char *id)
{
	char *end;
	long long v;

	if (id && *id && (isdigit((unsigned char)*id) || *id == '-')) {
		errno = 0;
		v = strtoll(id, &end, 10);
		if (*end == '\0' && errno == 0)
			return json_integer((json_int_t)v);
	}
	return json_string(id ? id : "");
}

/* Appends a Bot API call (method, JSON body taken) to the requests. 0 or -1. */
static int out_call(struct tg_out *o, const char *method, json_t *body, int primary,
                    int best_effort)
{
	struct channel_request *r, *grown;
	char url[1024];

	if (!body)
		return -1;
	grown = realloc(o->reqs, (o->n + 1) * sizeof(*grown));
	if (!grown) {
		json_decref(body);
		return -1;
	}
	o->reqs = grown;
	r = &o->reqs[o->n];
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s/bot%s/%s", o->base, o->token, method);
	r->url = strdup(url);
	r->body = json_dumps(body, JSON_COMPACT);
	r->primary = primary;
	r->best_effort = best_effort;
	json_decref(body);
	o->n++;
	if (!r->url || !r->body || channel_request_add_header(r, "Content-Type: application/json") < 0)
		return -1;
	return 0;
}

/* One inline button; NULL when its payload cannot be callback_data. */
static json_t *button(const char *title, const char *payload)
{
	char shown[4 * TG_BUTTON_MAX + 8];
	size_t cut;

	if (!title || !*title || !payload_ok(payload))
		return NULL;
	cut = utf8_offset(title, TG_BUTTON_MAX);
	snprintf(shown, sizeof(shown), "%.*s%s", (int)cut, title, title[cut] ? "\xE2\x80\xA6" : "");
	return json_pack("{s:s, s:s}", "text", shown, "callback_data", payload);
}

/* The reply's buttons and list rows as an inline keyboard: short buttons side by side (at
 * most three), long ones and list rows one per row. NULL when there is nothing to press;
 * *bad set when a choice cannot be a button (the numbered text is sent instead). */
static json_t *keyboard(const json_t *reply, int *bad)
{
	const json_t *buttons = json_object_get(reply, "buttons");
	const json_t *sections = json_object_get(json_object_get(reply, "list"), "sections");
	json_t *rows = json_array(), *row = NULL, *b, *sec, *r;
	size_t i, j, k, nbut = json_array_size(buttons), longest = 0;

	*bad = 0;
	for (i = 0; i < nbut; i++) {
		const char *title = channel_config_str(json_array_get(buttons, i), "title");
		size_t l = title ? utf8_count(title) : 0;

		longest = l > longest ? l : longest;
	}
	json_array_foreach(buttons, i, b) {
		json_t *btn = button(channel_config_str(b, "title"), channel_config_str(b, "payload"));

		if (!btn) {
			*bad = 1;
			continue;
		}
		if (!row || nbut > 3 || longest > 16) {
			row = json_array();
			json_array_append_new(rows, row);
		}
		json_array_append_new(row, btn);
	}
	json_array_foreach(sections, j, sec) {
		json_array_foreach(json_object_get(sec, "rows"), k, r) {
			json_t *btn = button(channel_config_str(r, "title"),
			                     channel_config_str(r, "payload"));

			if (!btn) {
				*bad = 1;
				continue;
			}
			json_array_append_new(rows, json_pack("[o]", btn));
		}
	}
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		return NULL;
	}
	return json_pack("{s:o}", "inline_keyboard", rows);
}

/* The byte offset after the longest start of s that is at most units UTF-16 code units long
 * (Telegram counts a message's length in them: a code point past U+FFFF, most emoji, is
 * two). */
static size_t utf16_offset(const char *s, size_t units)
{
	size_t off = 0, used = 0, l;
	uint32_t cp;

	while (s[off]) {
		cp = utf8_decode(s + off, &l);
		if (used + (cp > 0xFFFF ? 2 : 1) > units)
			break;
		used += cp > 0xFFFF ? 2 : 1;
		off += l;
	}
	return off;
}

/* UTF-16 code units in s. */
static size_t utf16_count(const char *s)
{
	size_t n = 0, l, off = 0;

	while (s[off]) {
		n += utf8_decode(s + off, &l) > 0xFFFF ? 2 : 1;
		off += l;
	}
	return n;
}

/* The byte length of the next part of s: at most TG_TEXT_MAX characters as Telegram counts
 * them, cut after a line break or a space when there is one in the second half, never inside
 * a character. */
static size_t part_len(const char *s)
{
	size_t lim = utf16_offset(s, TG_TEXT_MAX), half = utf16_offset(s, TG_TEXT_MAX / 2), i;

	if (!s[lim])
		return lim;
	for (i = lim; i > half; i--)
		if (s[i - 1] == '\n')
			return i;
	for (i = lim; i > half; i--)
		if (s[i - 1] == ' ')
			return i;
	i = utf8_cut_back(s, lim);
	return i ? i : lim;
}

/* The pieces of the platform id of a postback: "<update>:<callback query>:<message>". */
static int press_of(const char *reply_to, char *cq, size_t cqlen, long long *message_id)
{
	const char *a = reply_to ? strchr(reply_to, ':') : NULL;
	const char *b2 = a ? strrchr(a + 1, ':') : NULL;

	if (!a || !b2 || b2 == a || (size_t)(b2 - a - 1) >= cqlen)
		return -1;
	snprintf(cq, cqlen, "%.*s", (int)(b2 - a - 1), a + 1);
	*message_id = strtoll(b2 + 1, NULL, 10);
	return 0;
}

/* The messages of a reply: text parts, the keyboard on the last; or, for a reply that
 * replaces the message pressed, one edit of it when it fits. */
static int render_messages(struct tg_out *o, const json_t *reply, long long pressed)
{
	json_t *kb = NULL;
	char *text = NULL, *p;
	int bad = 0, rc = -1;

	kb = keyboard(reply, &bad);
	if (bad) {
		json_decref(kb);
		kb = NULL;
		text = reply_text_render(reply); /* numbered, answered with a number */
	} else {
		text = reply_text_plain(reply);
	}
	if (!text)
		goto out;
	if (!*text) {
		free(text);
		text = strdup(kb ? "Please choose:" : "");
		if (!text || !*text) {
			rc = 0; /* nothing to say */
			goto out;
		}
	}
	if (pressed > 0 && json_is_true(json_object_get(reply, "replace")) &&
	    utf16_count(text) <= TG_TEXT_MAX) {
		rc = out_call(o, "editMessageText",
		              json_pack("{s:o, s:I, s:s, s:O*}", "chat_id", chat_json(o->t->recipient),
		                        "message_id", (json_int_t)pressed, "text", text,
		                        "reply_markup", kb),
		              1, 0);
		goto out;
	}
	for (p = text; *p;) {
		size_t n = part_len(p);
		char *part = strndup(p, n);
		int last = p[n] == '\0';

		if (!part)
			goto out;
		rc = out_call(o, "sendMessage",
		              json_pack("{s:o, s:s, s:O*}", "chat_id", chat_json(o->t->recipient),
		                        "text", part, "reply_markup", last ? kb : NULL),
		              o->n == 0 || last, 0);
		free(part);
		if (rc < 0)
			goto out;
		p += n;
	}
	rc = 0;
out:
	json_decref(kb);
	free(text);
	return rc;
}

static int tg_render(const struct channel_target *t, const json_t *reply,
                     struct channel_request **reqs, size_t *nreqs, char *err, size_t errlen)
{
	struct tg_out o = {t, NULL, NULL, NULL, 0, err, errlen};
	char cq[80];
	long long pressed = 0;
	size_t i;

	*reqs = NULL;
	*nreqs = 0;
	o.base = t->api_base && *t->api_base ? t->api_base : TG_DEFAULT_BASE;
	o.token = channel_config_str(t->config, "bot_token");
	if (!json_is_object(reply)) {
		snprintf(err, errlen, "the reply is not a JSON object");
		return -1;
	}
	if (!o.token || strpbrk(o.token, "/?# \r\n") || !t->recipient || !*t->recipient) {
		snprintf(err, errlen, "channel config has no usable bot_token or no chat");
		return -1;
	}
	/* a press is answered first, so the shopper's spinner stops at once */
	if (press_of(t->reply_to, cq, sizeof(cq), &pressed) == 0 &&
	    out_call(&o, "answerCallbackQuery", json_pack("{s:s}", "callback_query_id", cq), 0,
	             1) < 0)
		goto fail;
	if (render_messages(&o, reply, pressed) < 0)
		goto fail;
	for (i = 0; i < o.n && !o.reqs[i].primary; i++)
		;
	if (i == o.n && o.n > 0)
		o.reqs[o.n - 1].primary = 1;
	*reqs = o.reqs;
	*nreqs = o.n;
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "out of memory");
	channel_requests_free(o.reqs, o.n);
	return -1;
}

/* Whether a 403's description says the shopper stopped the bot. */
static int blocked_by_user(const char *d)
{
	return d && (strstr(d, "blocked by the user") || strstr(d, "user is deactivated") ||
	             strstr(d, "bot was kicked") || strstr(d, "bot can't initiate"));
}

static void tg_classify(long http_status, const char *body, size_t len,
                        struct channel_outcome *out)
{
	json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
	const json_t *result = json_object_get(root, "result");
	const char *desc = channel_config_str(root, "description");
	const json_t *params = json_object_get(root, "parameters");

	memset(out, 0, sizeof(*out));
	out->error_code = (long)json_integer_value(json_object_get(root, "error_code"));
	if (desc)
		snprintf(out->error, sizeof(out->error), "%s", desc);
	if (http_status == 200 && json_is_true(json_object_get(root, "ok"))) {
		out->verdict = CHANNEL_SENT;
		if (json_is_integer(json_object_get(result, "message_id")))
			snprintf(out->platform_message_id, sizeof(out->platform_message_id),
			         "%" JSON_INTEGER_FORMAT,
			         json_integer_value(json_object_get(result, "message_id")));
	} else if (http_status == 0 || http_status >= 500 || http_status == 409) {
		out->verdict = CHANNEL_RETRY;
	} else if (http_status == 429) {
		out->verdict = CHANNEL_RATE_LIMITED;
		out->retry_after = (int)json_integer_value(json_object_get(params, "retry_after"));
	} else if (http_status == 401 || http_status == 404) {
		out->verdict = CHANNEL_AUTH_INVALID; /* a revoked or wrong token */
	} else if (http_status == 403) {
		out->verdict = CHANNEL_PERMANENT;
		out->recipient_blocked = blocked_by_user(desc);
	} else {
		out->verdict = CHANNEL_PERMANENT; /* 400: chat not found, message too long, ... */
	}
	if (out->verdict != CHANNEL_SENT && !out->error[0])
		snprintf(out->error, sizeof(out->error), "Bot API answered HTTP %ld", http_status);
	json_decref(root);
}

/* The one request of a poll or a webhook change, through out_call. */
static int single_call(const struct channel_target *t, const char *method, json_t *body,
                       struct channel_request *out, char *err, size_t errlen)
{
	struct tg_out o = {t, NULL, NULL, NULL, 0, err, errlen};

	memset(out, 0, sizeof(*out));
	o.base = t->api_base && *t->api_base ? t->api_base : TG_DEFAULT_BASE;
	o.token = channel_config_str(t->config, "bot_token");
	if (!o.token || strpbrk(o.token, "/?# \r\n")) {
		json_decref(body);
		snprintf(err, errlen, "channel config has no usable bot_token");
		return -1;
	}
	if (out_call(&o, method, body, 1, 0) < 0) {
		channel_requests_free(o.reqs, o.n);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*out = o.reqs[0];
	free(o.reqs);
	return 0;
}

static int tg_poll_request(const struct channel_target *t, long long offset, int timeout_s,
                           struct channel_request *out, char *err, size_t errlen)
{
	json_t *allowed = json_loads(TG_ALLOWED_UPDATES, 0, NULL);

	return single_call(t, "getUpdates",
	                   json_pack("{s:I, s:i, s:i, s:o}", "offset", (json_int_t)offset,
	                             "timeout", timeout_s, "limit", 100, "allowed_updates",
	                             allowed),
	                   out, err, errlen);
}

static int tg_webhook_request(const struct channel_target *t, const char *url,
                              struct channel_request *out, char *err, size_t errlen)
{
	const char *secret = channel_config_str(t->config, "secret_token");

	if (!url)
		return single_call(t, "deleteWebhook", json_pack("{s:b}", "drop_pending_updates", 0),
		                   out, err, errlen);
	return single_call(t, "setWebhook",
	                   json_pack("{s:s, s:s?, s:o}", "url", url, "secret_token", secret,
	                             "allowed_updates", json_loads(TG_ALLOWED_UPDATES, 0, NULL)),
	                   out, err, errlen);
}

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
	.authenticate = tg_authenticate,
	.parse = tg_parse,
	.polling = tg_polling,
	.poll_request = tg_poll_request,
	.poll_parse = tg_poll_parse,
	.webhook_request = tg_webhook_request,
	.settings = {.api_base = "telegram_api_base",
		     .rate = "telegram_rate",
		     .recipient_rate = "telegram_chat_rate"},
	.recipient_burst = 3,
	.limit_prefix = "tg",
	.render = tg_render,
	.classify = tg_classify,
	.order_title = "Telegram",
	.order_link = tg_order_link,
	.sim = &telegram_sim_ops,
};
