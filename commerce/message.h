/*
 * message.h: the one normalized inbound message every channel adapter produces and the
 * conversation engine consumes, and the JSON shape of a normalized reply (what the engine
 * writes into outbox.payload and every adapter renders within its platform's limits).
 * Nothing here knows a platform's JSON.
 */
#ifndef CCGW_MESSAGE_H
#define CCGW_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#define MSG_UUID_LEN 37 /* 36 characters and the NUL */

enum msg_channel {
	MSG_CHANNEL_WHATSAPP = 0,
	MSG_CHANNEL_TELEGRAM,
	MSG_CHANNEL_WEBCHAT,
	MSG_CHANNEL_CONSOLE
};

enum msg_kind {
	MSG_KIND_TEXT = 0,
	MSG_KIND_POSTBACK,      /* a button or list choice: payload holds the short key we sent */
	MSG_KIND_LOCATION,      /* latitude/longitude, optional name and address */
	MSG_KIND_CONTACT,       /* a shared contact card: contact_name, contact_phone */
	MSG_KIND_CATALOG_ORDER, /* a whole cart: lines[] of SKU and quantity */
	MSG_KIND_MEDIA,         /* image, audio, video, document, sticker: media_type says which */
	MSG_KIND_REACTION,      /* an emoji reaction to an earlier message: text holds the emoji */
	MSG_KIND_UNSUPPORTED    /* anything else; media_type holds the platform's type name */
};

struct msg_catalog_line {
	char *sku;          /* the platform's product_retailer_id; matched to products.sku */
	long quantity;
	long price_minor;   /* as the platform reported it; informational only */
	char currency[4];
};

/*
 * One inbound message. Every pointer is owned by the struct and released by msg_inbound_free;
 * unset strings are NULL. tenant_id and channel_id are filled by the gateway from the channel
 * row before the message reaches the engine.
 */
struct msg_inbound {
	char tenant_id[MSG_UUID_LEN];
	enum msg_channel channel;
	char channel_id[MSG_UUID_LEN];
	char *chat_id;      /* where replies go: wa_id, Telegram chat id, web session id */
	char *user_id;      /* who wrote: wa_id, Telegram user id, web session id */
	char *display_name; /* the platform profile name, when given */
	char *phone;        /* E.164 digits when the platform gives it (WhatsApp: wa_id) */
	char *message_id;   /* the platform's id: wamid, update_id, client_msg_id */
	int64_t timestamp;  /* seconds since the epoch, as the platform stamped it */
	enum msg_kind kind;
	char *text;         /* TEXT, REACTION; caption of MEDIA when any */
	char *payload;      /* POSTBACK */
	double latitude, longitude;               /* LOCATION */
	char *location_name, *location_address;   /* LOCATION, optional */
	char *contact_name, *contact_phone;       /* CONTACT */
	struct msg_catalog_line *lines;           /* CATALOG_ORDER */
	size_t nlines;
	char *media_type;   /* MEDIA / UNSUPPORTED: "image", "audio", "sticker", ... */
	char *reply_to;     /* the platform id of the message this one answers or reacts to */
};

/* Allocates a zeroed message; NULL when out of memory. */
struct msg_inbound *msg_inbound_new(void) __attribute__((warn_unused_result));
/* Frees the message and everything it owns; accepts NULL. */
void msg_inbound_free(struct msg_inbound *m);

const char *msg_channel_name(enum msg_channel c); /* "whatsapp", "telegram", "webchat", "console" */
/* Returns 0 and sets *out for a known name, -1 otherwise. */
int msg_channel_parse(const char *name, enum msg_channel *out) __attribute__((warn_unused_result));
const char *msg_kind_name(enum msg_kind k);

/*
 * A normalized reply is a JSON object (jansson json_t in code, jsonb in outbox.payload):
 *
 *   {"text": "...",                                         required, may be ""
 *    "buttons": [{"title": "...", "payload": "..."}],       optional, quick choices
 *    "list": {"button": "...",                              optional, a menu of rows
 *             "sections": [{"title": "...",
 *                           "rows": [{"title": "...", "description": "...", "payload": "..."}]}]},
 *    "card": {"title": "...", "subtitle": "...", "image_url": "...",   optional, one product
 *             "price_minor": N, "currency": "KES"},
 *    "lang": "en" | "sw",                                   optional, the language of the
 *                                                           text (for an adapter's own hints)
 *    "replace": true,                                       optional: the reply takes the place
 *                                                           of the message whose button was
 *                                                           pressed, where the platform can
 *                                                           edit messages (Telegram); others
 *                                                           send it as a new message
 *    "ref": {"conversation_id": "..."}}                     optional, not shown: what a seller
 *                                                           notification is about (a reply
 *                                                           quoting it reaches that shopper)
 *
 * Payloads are short keys (at most 64 bytes, ASCII) such as "cat:3f2a..." or "add:<uuid>:1",
 * never state. The engine does not care how many buttons a platform allows: each adapter
 * renders within its limits (WhatsApp 3 buttons of 20 characters, lists of 10 rows; Telegram
 * callback data of 64 bytes) and falls back to a numbered text list that the shopper can answer
 * with a number. A numbered fallback is understood by the engine because every choice the
 * engine offers is remembered on the conversation (conversations.offered) in order.
 */
#define MSG_PAYLOAD_MAX 64

#endif
