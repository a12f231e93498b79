/*
 * channel.h: the one interface every channel adapter offers the gateway, both directions.
 *
 * For each channel type (WhatsApp, Telegram, the web chat, the console) an adapter says:
 *   - what a seller registers: its fields, which are secret, which are required, how each is
 *     checked, which routes webhooks to the channel (struct channel_field, config_finish);
 *   - how an inbound request is authenticated (a signature or a secret header) and answered
 *     when it is a verification handshake (Meta's GET);
 *   - how a request body becomes normalized messages (commerce/message.h), delivery statuses
 *     and channel events (struct channel_batch);
 *   - how a normalized reply is rendered into HTTP requests and the platform's answer
 *     classified; or, for a channel that delivers locally (the console, the web chat's
 *     sockets), how a reply is handed to the shopper (deliver_local);
 *   - the configuration keys of its API base, API version and rate limits.
 * Adapters do no I/O and know no gateway type: the gateway reads, stores and sends.
 * The registry (channel.c) is the one table of channel types.
 */
#ifndef CCGW_CHANNEL_H
#define CCGW_CHANNEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jfield.h"
#include "message.h"

#define CHANNEL_MAX_HEADERS 6

/* One outbound HTTP request; every string is heap-owned, released by channel_request_clear. */
struct channel_request {
	char *url;
	char *headers[CHANNEL_MAX_HEADERS]; /* "Name: value" lines */
	size_t nheaders;
	char *body; /* NUL-terminated JSON */
	/* true when a platform message id from this request's answer identifies the reply */
	int primary;
	/* true when a failure of this request must not fail the reply (WhatsApp mark-as-read):
	 * the dispatcher logs it and goes on */
	int best_effort;
};

/* What the dispatcher knows of the channel a row goes out on. Borrowed for the call. */
struct channel_target {
	const char *channel_id;
	const char *api_base;     /* the type's api_base setting (CCGW_<TYPE>_API_BASE) */
	const char *api_version;  /* the type's api_version setting, NULL when it has none */
	const json_t *config;     /* the channel's config with its secrets opened, as registered
				     through the admin API (channel_open in the gateway) */
	const char *recipient;    /* wa_id, Telegram chat id, web session */
	const char *reply_to;     /* platform id of the inbound message answered, may be NULL */
	/* Seconds since the shopper's last inbound message (conversations.last_inbound_at), or
	 * -1 when unknown (no conversation, seller notifications). WhatsApp only sends
	 * free-form messages within 24 hours of it. */
	long window_age;
	const char *event_type;   /* outbox.event_type: set for status updates and notifications
				     (e.g. "order.status_changed"), NULL for conversational replies */
	int mark_read;            /* also mark reply_to as read (the type's mark_read setting) */
};

/*
 * render's return value when the reply must not be sent at all and never will be (WhatsApp:
 * outside the 24-hour customer-service window with no template configured). The dispatcher
 * records the outbox row as 'undeliverable' with err as last_error, records an event, and
 * does not retry. Any other negative value is a rendering failure.
 */
#define CHANNEL_ERR_UNDELIVERABLE (-2)

enum channel_verdict {
	CHANNEL_SENT = 0,        /* accepted; platform_message_id may be set */
	CHANNEL_RETRY,           /* timeout, connection error, 5xx: back off and try again */
	CHANNEL_RATE_LIMITED,    /* pause this channel (or recipient) for retry_after seconds */
	CHANNEL_PERMANENT,       /* will never succeed (outside 24 h window, bot blocked, ...) */
	CHANNEL_AUTH_INVALID     /* the channel's credentials are bad: mark channel unhealthy */
};

struct channel_outcome {
	enum channel_verdict verdict;
	int retry_after;          /* seconds, for RETRY / RATE_LIMITED; 0 = use backoff */
	int recipient_scoped;     /* the rate limit is for this recipient only, not the channel */
	long error_code;          /* the platform's own code (WhatsApp error.code, Telegram error_code) */
	int recipient_blocked;    /* the shopper blocked the bot: stop sending to the chat */
	char error[256];          /* the platform's message, for outbox.last_error */
	char platform_message_id[160];
};

/* ---- registration (the admin API's channel fields) ---- */

#define CHANNEL_FIELD_REQUIRED 1u /* at registration; a PATCH may leave any field out */
#define CHANNEL_FIELD_SECRET   2u /* sealed into channels.secrets, never answered or logged */
#define CHANNEL_FIELD_CONFIG   4u /* stored in channels.config under its name and answered */
#define CHANNEL_FIELD_OBJECT   8u /* a JSON object, or null to remove it (else a string) */

struct channel_field {
	const char *name;
	unsigned flags;       /* CHANNEL_FIELD_* */
	size_t min, max;      /* characters, for string fields */
	/*
	 * Further checks of a given value (a string within min..max, or an object). Returns 0,
	 * or -1 with err set. *out, for an object field, is the checked copy to store (NULL
	 * to store v as given). NULL: no further check.
	 */
	int (*check)(const json_t *v, json_t **out, struct jfield_error *err);
	/* A config field's value when a registration leaves it out (stored and answered), or
	 * NULL for none. */
	const char *def;
};

/* ---- inbound ---- */

/* A view of one inbound HTTP request, so that adapters need no gateway type. */
struct channel_http {
	const char *body; /* the raw bytes, NUL-terminated */
	size_t body_len;
	const void *req;  /* the gateway's request, for the two lookups below */
	/* a header by its lower-case name, NULL when absent */
	const char *(*header)(const void *req, const char *name);
	/* a URL-decoded query parameter into out: 0 when present, -1 otherwise */
	int (*query)(const void *req, const char *name, char *out, size_t outlen);
};

enum channel_auth {
	CHANNEL_AUTH_OK = 0,
	CHANNEL_AUTH_MISSING,  /* no signature or secret header: 401 */
	CHANNEL_AUTH_WRONG     /* present and wrong: 401 */
};

/* One inbound message and the routing id of the channel it is for (WhatsApp: the business
 * phone_number_id; NULL: the channel of the webhook URL). */
struct channel_message {
	char *route;
	struct msg_inbound *msg; /* tenant_id and channel_id are filled by the gateway */
};

enum channel_status_kind {
	CHANNEL_STATUS_SENT = 0,
	CHANNEL_STATUS_DELIVERED,
	CHANNEL_STATUS_READ,
	CHANNEL_STATUS_FAILED,
	CHANNEL_STATUS_OTHER /* one the adapter does not know; name says which */
};

/* A delivery status of a message we sent. */
struct channel_status {
	char *route;
	char *platform_message_id; /* what the send answered (outbox.platform_message_id) */
	enum channel_status_kind kind;
	char *name;          /* the platform's word: "sent", "delivered", ... */
	char *recipient;     /* the shopper's platform id, NULL when not given */
	int64_t timestamp;
	long error_code;     /* FAILED: the platform's code, else 0 */
	char *error_title;   /* NULL when none */
	char *error_details; /* NULL when none */
};

/* Something the platform reports about the channel itself (WhatsApp: an account error). The
 * gateway logs summary as an error and stores a channel_events row <type>_<event>. */
struct channel_notice {
	char *route;
	char *event;         /* e.g. "account_error" */
	json_t *payload;     /* owned */
	char *summary;       /* one line for the operator's log */
};

enum channel_chat_kind {
	CHANNEL_CHAT_EDITED = 0, /* the shopper edited a message: recorded, nothing answered */
	CHANNEL_CHAT_BLOCKED,    /* the shopper blocked the bot: stop sending to the chat */
	CHANNEL_CHAT_UNBLOCKED   /* the shopper allowed the bot again */
};

/* Something that happened in a chat that is not a message for the engine. De-duplicated by
 * event_id as messages are. */
struct channel_chat_event {
	char *route;
	char *chat_id;
	char *event_id;   /* the platform's id of the update */
	enum channel_chat_kind kind;
	json_t *payload;  /* owned; what the conversation event records */
};

/* Everything one inbound request carried, in the order the platform sent it. */
struct channel_batch {
	struct channel_message *messages;
	size_t nmessages;
	struct channel_status *statuses;
	size_t nstatuses;
	struct channel_notice *notices;
	size_t nnotices;
	struct channel_chat_event *chats;
	size_t nchats;
	size_t nignored; /* items of kinds the adapter does not handle (answered, not stored) */
};

/* Appends an empty item to one of a batch's arrays (*arr of *n items); NULL on OOM. */
void *channel_batch_grow(void **arr, size_t *n, size_t size);
const char *channel_chat_kind_name(enum channel_chat_kind k); /* "message_edited", ... */

struct channel_batch *channel_batch_new(void) __attribute__((warn_unused_result));
void channel_batch_free(struct channel_batch *b);
const char *channel_status_kind_name(enum channel_status_kind k); /* "sent", ... "other" */

/* ---- the adapter ---- */

struct channel_sim_ops;

/* Where delivered-locally replies go: set by the process that holds the shopper's end (the
 * console's terminal, the web chat's socket). */
struct channel_sink {
	void *user;
	/* writes len bytes of text for the shopper; 0 or -1 when they cannot take it now */
	int (*write)(void *user, const char *text, size_t len);
};

/* The configuration keys (config/ccgw.example.ini) holding a type's operator settings. */
struct channel_setting_keys {
	const char *api_base;       /* NULL: no remote API */
	const char *api_version;
	const char *rate;           /* messages/s per channel, for all processes together */
	const char *recipient_rate; /* messages/s per recipient */
	const char *mark_read;      /* 1: mark the answered message read */
};

struct channel_ops {
	const char *type; /* "whatsapp", "telegram", "webchat", "console" */

	/* Registration. fields: NULL-terminated by name; the body may hold these besides
	 * type, name and status. */
	const struct channel_field *fields;
	/* The field whose value routes inbound requests to the channel (channels.external_id,
	 * unique among active channels of the type), NULL when none; external_shown: 1 when
	 * answers show it under its own name as well as external_id. */
	const char *external_field;
	int external_shown;
	const char *external_noun; /* "number", "bot": in "this number is already registered" */
	/* The external id from the registration field's value (WhatsApp: the number id as is;
	 * Telegram: the bot id before the token's colon), into out. 0, or -1 when it has none. */
	int (*external_id)(const char *value, char *out, size_t outlen);
	/* The config key storing the external id (registered: {"phone_number_id": ...}),
	 * NULL to store none. */
	const char *external_config_key;
	/* 1: its webhooks are served at /webhooks/<type>/<channel id> (answers show the URL) */
	int webhook;
	/* How a seller's notification target (CONTRACT: notification targets) names the
	 * recipient on this channel: the body field ("to", "chat_id"), whether it is a phone
	 * number (kept as notification_targets.to_number) or a chat id (chat_id), and its reader:
	 * the recipient into out, 0, or -1 with err. NULL: no notifications on this type. */
	const char *notify_field;
	int notify_phone;
	int (*notify_read)(const json_t *body, char *out, size_t outlen, struct jfield_error *err);

	/* Inbound. The secret (a secret field name) that authenticates requests: channels of
	 * one type with the same value are of one app, whose signature vouches for each other's
	 * routes. */
	const char *auth_secret;
	/* The header that carries the signature or secret, for the 401 answer and the log. */
	const char *auth_header;
	/* Checks a request with the channel's opened config (secrets included). */
	enum channel_auth (*authenticate)(const struct channel_http *in, const json_t *config);
	/*
	 * A verification handshake on GET, NULL when the platform has none. Returns 0 with the
	 * text/plain answer in out (Meta: the challenge), -1 when the request is not one
	 * (err says what was expected), -2 when the channel's token does not match.
	 */
	int (*verify)(const struct channel_http *in, const json_t *config, char *out, size_t outlen,
		      char *err, size_t errlen);
	/* Parses a request body into a batch (channel_batch_free), or NULL with a reason in err
	 * when the body is not the platform's payload (400). */
	struct channel_batch *(*parse)(const char *body, size_t len, char *err, size_t errlen);

	/*
	 * Long polling, for platforms that offer it (NULL otherwise). polling: 1 when the
	 * channel's config asks for it. poll_request: the request that fetches the updates from
	 * offset on, waiting up to timeout_s seconds. poll_parse: its answer as a batch (NULL with
	 * err when it is not one), *next_offset the offset that confirms them.
	 */
	int (*polling)(const json_t *config);
	int (*poll_request)(const struct channel_target *t, long long offset, int timeout_s,
			    struct channel_request *out, char *err, size_t errlen);
	struct channel_batch *(*poll_parse)(const char *body, size_t len, long long *next_offset,
					    char *err, size_t errlen);
	/*
	 * The request that points the platform's webhook at url (NULL url: removes it, for
	 * polling), or NULL when the platform is set up by hand (WhatsApp: in Meta's app
	 * dashboard). Returns 0 or -1 with err.
	 */
	int (*webhook_request)(const struct channel_target *t, const char *url,
			       struct channel_request *out, char *err, size_t errlen);

	/* Outbound. */
	struct channel_setting_keys settings;
	/* 1: render needs target.window_age (WhatsApp: free-form messages only within 24 hours
	 * of the shopper's last one) */
	int window_age;
	double recipient_burst; /* messages a recipient may get at once */
	const char *limit_prefix; /* rate-limit keys: "<prefix>:<channel>[:<recipient>]" */
	/* Hands a reply to the shopper's end when the channel delivers locally (NULL for
	 * platforms the dispatcher sends to). 0, or -1 with err when the sink refused it. */
	int (*deliver_local)(const struct channel_sink *sink, const json_t *reply, char *err,
			     size_t errlen);
	/*
	 * Renders reply (a normalized reply object) for target into *reqs (a heap array of *nreqs
	 * requests, sent in order; the caller frees with channel_requests_free). Returns 0, or a
	 * negative value with a message in err when the reply cannot be rendered at all.
	 */
	int (*render)(const struct channel_target *target, const json_t *reply,
		      struct channel_request **reqs, size_t *nreqs, char *err, size_t errlen);
	/* Classifies one answer: http_status 0 means the request never got an answer (timeout,
	 * connection refused). body may be NULL. */
	void (*classify)(long http_status, const char *body, size_t len,
			 struct channel_outcome *out);

	/*
	 * The storefront's "Order on <order_title>" button (docs/STOREFRONT.md), NULL when the
	 * platform has no deep link: from the channel's stored config, the link that opens a
	 * chat with the shop about product sku is base + "?" + *param + "=" + the percent-encoded
	 * value (text: the shopper's prefilled words, which name "(SKU: <sku>)"). 0, or -1 when
	 * this channel cannot have one (no public number or username configured, or the sku does
	 * not fit the platform's payload).
	 */
	const char *order_title;
	int (*order_link)(const json_t *config, const char *sku, const char *text, char *base,
			  size_t baselen, const char **param, char *value, size_t valuelen);
	/* `ccgw simulate`'s side of the platform (channel_sim.h), NULL when it cannot be
	 * simulated. */
	const struct channel_sim_ops *sim;
};

/* The string value of key in obj, or NULL. */
const char *channel_config_str(const json_t *obj, const char *key);

void channel_request_clear(struct channel_request *r);
void channel_requests_free(struct channel_request *reqs, size_t n);
/* Appends a header line to r; returns 0 or -1 when full or out of memory. */
int channel_request_add_header(struct channel_request *r, const char *line)
	__attribute__((warn_unused_result));

/* The adapter for a channel type, or NULL when none is built in. */
const struct channel_ops *channel_ops_find(const char *type);
/* The adapters built in, in registry order: i from 0 until NULL. */
const struct channel_ops *channel_ops_at(size_t i);

#endif
