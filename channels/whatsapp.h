/*
 * whatsapp.h: the WhatsApp Cloud API adapter. Parses a webhook POST body (the bytes Meta sent,
 * after the gateway checked X-Hub-Signature-256) into normalized inbound messages, delivery
 * statuses and account-level errors, each tagged with the business phone_number_id it came
 * for; and offers whatsapp_channel_ops (render + classify) to the dispatcher. No I/O here.
 */
#ifndef CCGW_WHATSAPP_H
#define CCGW_WHATSAPP_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "message.h"

#define WA_WUR __attribute__((warn_unused_result))

#define WA_TEXT_MAX          4096 /* characters in one text message body */
#define WA_BUTTONS_MAX       3    /* reply buttons in one interactive message */
#define WA_BUTTON_TITLE_MAX  20
#define WA_BUTTON_BODY_MAX   1024 /* body of an interactive message */
#define WA_LIST_ROWS_MAX     10   /* rows over all sections */
#define WA_LIST_SECTIONS_MAX 10
#define WA_LIST_BUTTON_MAX   20
#define WA_ROW_TITLE_MAX     24
#define WA_ROW_DESC_MAX      72
#define WA_SECTION_TITLE_MAX 24
#define WA_CAPTION_MAX       1024
#define WA_WINDOW_SECONDS    86400L /* the customer-service window after a shopper's message */

/* One inbound message and the business number it was sent to. */
struct wa_message {
	char *phone_number_id;   /* value.metadata.phone_number_id; routes to a channel */
	struct msg_inbound *msg; /* tenant_id / channel_id still empty: the gateway fills them */
};

enum wa_status_kind {
	WA_STATUS_SENT = 0,
	WA_STATUS_DELIVERED,
	WA_STATUS_READ,
	WA_STATUS_FAILED,
	WA_STATUS_OTHER /* a status name this adapter does not know; status_name says which */
};

/* A delivery status of a message we sent. */
struct wa_status {
	char *phone_number_id;
	char *wamid; /* the id the send call answered with (outbox.platform_message_id) */
	enum wa_status_kind status;
	char *status_name;  /* as Meta wrote it: "sent", "delivered", ... */
	char *recipient_id; /* the shopper's wa_id */
	int64_t timestamp;
	long error_code;     /* errors[0].code for "failed", else 0 */
	char *error_title;   /* errors[0].title (or message), NULL when none */
	char *error_details; /* errors[0].error_data.details, NULL when none */
};

/* An error Meta reports for the account or number, not for one message (value.errors). */
struct wa_account_error {
	char *phone_number_id; /* NULL when the change had no metadata */
	long code;
	char *title;
	char *details;
};

/* Everything one webhook POST carried, in payload order. */
struct wa_batch {
	struct wa_message *messages;
	size_t nmessages;
	struct wa_status *statuses;
	size_t nstatuses;
	struct wa_account_error *errors;
	size_t nerrors;
	size_t nignored; /* changes of fields other than "messages" (template updates, ...) */
};

/*
 * Parses a Cloud API webhook body (len bytes, need not be NUL-terminated). Returns a batch the
 * caller frees with wa_batch_free, or NULL with a message a person can act on in err when the
 * body is not JSON or not a Cloud API payload (object is not "whatsapp_business_account", no
 * entry array, a message without from/id/type, ...). Unknown message types are not errors:
 * they come back as MSG_KIND_UNSUPPORTED with media_type set to Meta's type name.
 */
struct wa_batch *wa_webhook_parse(const char *body, size_t len, char *err, size_t errlen) WA_WUR;
void wa_batch_free(struct wa_batch *b);

const char *wa_status_kind_name(enum wa_status_kind k); /* "sent", "delivered", ... */

/* A heap copy of s on one line (line breaks and tabs become spaces, no surrounding spaces),
 * at most max characters (code points), ending in an ellipsis when cut; never cut inside a
 * UTF-8 sequence, before a combining mark or after a zero-width joiner. NULL on OOM. */
char *wa_text_shorten(const char *s, size_t max) WA_WUR;

/* Renders a reply into Graph API requests and classifies the answers (whatsapp_render.c). */
int whatsapp_render(const struct channel_target *t, const json_t *reply,
		    struct channel_request **reqs, size_t *nreqs, char *err, size_t errlen);
void whatsapp_classify(long http_status, const char *body, size_t len,
		       struct channel_outcome *out);

/* The whole adapter (whatsapp_adapter.c), registered as "whatsapp" in channel.c. */
extern const struct channel_ops whatsapp_channel_ops;
/* whatsapp_sim.c: the Cloud API for `ccgw simulate` */
extern const struct channel_sim_ops whatsapp_sim_ops;

#endif
