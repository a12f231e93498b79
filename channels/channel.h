/*
 * channel.h: the one small interface every platform adapter offers the dispatcher. An adapter
 * renders one normalized reply (see commerce/message.h) into one or more HTTP requests and
 * classifies the platform's answer to each as sent, retry (after N seconds), rate-limited,
 * permanent failure or invalid credentials. Adapters do no I/O: the dispatcher sends.
 * Channels that deliver locally (the web chat's WebSocket) set deliver_local instead of render.
 */
#ifndef CCGW_CHANNEL_H
#define CCGW_CHANNEL_H

#include <jansson.h>
#include <stddef.h>

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
	const char *api_base;     /* CCGW_WHATSAPP_API_BASE / CCGW_TELEGRAM_API_BASE */
	const char *api_version;  /* WhatsApp only, e.g. "v21.0" */
	const json_t *config;     /* the channel's decrypted config: phone_number_id, access_token,
				     bot_token, ... as registered through the admin API */
	const char *recipient;    /* wa_id, Telegram chat id, web session */
	const char *reply_to;     /* platform id of the inbound message answered, may be NULL */
	/* Seconds since the shopper's last inbound message (conversations.last_inbound_at), or
	 * -1 when unknown (no conversation, seller notifications). WhatsApp only sends
	 * free-form messages within 24 hours of it. */
	long window_age;
	const char *event_type;   /* outbox.event_type: set for status updates and notifications
				     (e.g. "order.status_changed"), NULL for conversational replies */
	int mark_read;            /* WhatsApp: also mark reply_to as read (CCGW_WHATSAPP_MARK_READ) */
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
	char error[256];          /* the platform's message, for outbox.last_error */
	char platform_message_id[160];
};

struct channel_ops {
	const char *type; /* "whatsapp", "telegram", "webchat" */
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
};

void channel_request_clear(struct channel_request *r);
void channel_requests_free(struct channel_request *reqs, size_t n);
/* Appends a header line to r; returns 0 or -1 when full or out of memory. */
int channel_request_add_header(struct channel_request *r, const char *line)
	__attribute__((warn_unused_result));

/* The adapter for a channel type, or NULL when none is built in. */
const struct channel_ops *channel_ops_find(const char *type);

#endif
