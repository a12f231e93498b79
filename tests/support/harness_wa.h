/*
 * harness_wa.h: the WhatsApp part of the integration harness (harness.h): Cloud API webhooks
 * from a shopper (text, a pressed button or list row), signed with the channel's app secret
 * and posted to the real server, and the replies the server sent to the mock Graph API
 * (tests/mock/graph_mock.py): waiting for them, their texts and the choices they offered.
 * hx.wa_pnid and hx.wa_app_secret name the channel; hx.channel_id is where webhooks go.
 */
#ifndef CCGW_HARNESS_WA_H
#define CCGW_HARNESS_WA_H

#include "harness.h"

/* Registers the WhatsApp channel hx.wa_pnid / hx.wa_app_secret with access_token and
 * verify_token (fails unless 201), sets hx.channel_id and returns the answer (decref). */
json_t *hx_wa_register(const char *access_token, const char *verify_token);

/* A message id no other webhook of this process used: "wamid.<prefix><pid><seq>" with prefix
 * hx.wa_id_prefix ("TEST" when NULL). */
void hx_wa_next_wamid(char *out, size_t len);

/* The Cloud API envelope around one value object (reference taken); heap string. */
char *hx_wa_envelope(json_t *value);
/* The value object of a message from wa_id (profile name) to phone number id pnid
 * (reference to message taken). */
json_t *hx_wa_value_for(const char *pnid, const char *wa_id, const char *name, json_t *message);
/* A message object of type with its sender, id and the time now (new reference). */
json_t *hx_wa_msg_base(const char *wa_id, const char *wamid, const char *type);
/* A text from wa_id to hx.wa_pnid (heap webhook body). */
char *hx_wa_text_webhook(const char *wa_id, const char *wamid, const char *text);
/* A press of a reply button (or list row, is_list) the shopper saw in message ctx_wamid
 * (NULL: no context) (heap webhook body). */
char *hx_wa_press_webhook(const char *wa_id, const char *wamid, int is_list, const char *id,
                          const char *title, const char *ctx_wamid);

enum hx_wa_sig { HX_WA_SIG_GOOD, HX_WA_SIG_NONE, HX_WA_SIG_WRONG, HX_WA_SIG_OTHER_SECRET };

/* Posts body to /webhooks/whatsapp/{chan}, signed as mode says. */
void hx_wa_post_to(const char *chan, const char *body, size_t len, enum hx_wa_sig mode,
                   struct testhttp_resp *r);
/* Posts body, well signed, to hx.channel_id; returns the status. */
long hx_wa_post(const char *body, struct testhttp_resp *r);

/* The mock Graph API's requests (caller decrefs). */
json_t *hx_wa_requests(void);
/* How many of reqs went to wa_id (messages_only: only messages, which have a wamid). */
size_t hx_wa_count_to(const json_t *reqs, const char *wa_id, int messages_only);
/* Waits until the mock got more than `before` messages for wa_id and no new one came for
 * 400 ms; returns the requests (caller decrefs). Fails after 15 s. */
json_t *hx_wa_wait_replies(const char *wa_id, size_t before);

/* A choice in one of the messages sent to wa_id after index `from`. */
struct hx_wa_choice {
	char id[128], title[64], ctx[128];
	int is_list;
	int found;
};

/* The last button whose id starts with (exact: is) prefix in the messages to wa_id after
 * index from, else the first such list row. */
void hx_wa_find_choice(const json_t *reqs, const char *wa_id, size_t from, const char *prefix,
                       int exact, struct hx_wa_choice *c);
/* The text of the messages sent to wa_id after index `from`, joined (heap). */
char *hx_wa_texts_since(const json_t *reqs, const char *wa_id, size_t from);
/* Sends body (a webhook from wa_id, taken), expects 200 with handled 1, and waits for the
 * bot's answer: returns the requests, *before the messages wa_id had before. */
json_t *hx_wa_say(const char *wa_id, char *body, size_t *before);

#endif
