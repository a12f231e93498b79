/*
 * webchat.c: the web chat adapter. Inbound, one frame {"type": "text", "text": ...} or
 * {"type": "postback", "payload": ...}, with the client's "client_msg_id", becomes one message;
 * the gateway fills in the session's chat and makes the platform id "<chat>:<client_msg_id>",
 * so de-duplication is per session. Outbound, a reply becomes
 * {"type": "message", "text", "buttons", "list"}: the page shows buttons and list rows as
 * choices, so nothing is cut; a card is written into the text.
 */
#include "webchat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel_sim.h"
#include "reply_text.h"
#include "util.h"

#define WEBCHAT_TEXT_MAX 4096 /* characters the engine reads of one message */

static int client_id_ok(const char *s)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if ((unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7E)
			return 0;
	return n > 0 && n <= WEBCHAT_CLIENT_ID_MAX;
}

static struct channel_batch *wc_parse(const char *body, size_t len, char *err, size_t errlen)
{
	json_t *f = json_loadb(body, len, 0, NULL);
	const char *type = channel_config_str(f, "type"), *id = channel_config_str(f, "client_msg_id");
	struct channel_batch *b = NULL;
	struct channel_message *cm;
	struct msg_inbound *m = NULL;

	if (!json_is_object(f) || !type) {
		snprintf(err, errlen, "a frame is a JSON object with a \"type\"");
		goto out;
	}
	if (strcmp(type, "text") != 0 && strcmp(type, "postback") != 0) {
		snprintf(err, errlen, "unknown frame type \"%.32s\"", type);
		goto out;
	}
	if (!client_id_ok(id)) {
		snprintf(err, errlen, "client_msg_id: 1 to 64 printable ASCII characters");
		goto out;
	}
	m = msg_inbound_new();
	b = channel_batch_new();
	if (!m || !b)
		goto oom;
	m->channel = MSG_CHANNEL_WEBCHAT;
	m->message_id = strdup(id);
	if (strcmp(type, "text") == 0) {
		const char *t = channel_config_str(f, "text");

		if (!t || !*t) {
			snprintf(err, errlen, "text: must be a non-empty string");
			goto fail;
		}
		m->kind = MSG_KIND_TEXT;
		m->text = strndup(t, WEBCHAT_TEXT_MAX * 4);
	} else {
		const char *p = channel_config_str(f, "payload");

		if (!p || !*p || strlen(p) > MSG_PAYLOAD_MAX) {
			snprintf(err, errlen, "payload: 1 to %d characters", MSG_PAYLOAD_MAX);
			goto fail;
		}
		m->kind = MSG_KIND_POSTBACK;
		m->payload = strdup(p);
	}
	if (!m->message_id || (!m->text && !m->payload))
		goto oom;
	cm = channel_batch_grow((void **)&b->messages, &b->nmessages, sizeof(*cm));
	if (!cm)
		goto oom;
	cm->msg = m;
	m = NULL;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	channel_batch_free(b);
	b = NULL;
out:
	msg_inbound_free(m);
	json_decref(f);
	return b;
}

/* The frame for a reply: the card folded into the text, buttons and list as they are. */
static json_t *reply_frame(const json_t *reply)
{
	char *t = reply_text_plain(reply);
	json_t *frame = json_pack("{s:s, s:s, s:O*, s:O*, s:s*}", "type", "message", "text",
	                          t ? t : "", "buttons", json_object_get(reply, "buttons"), "list",
	                          json_object_get(reply, "list"), "lang",
	                          channel_config_str(reply, "lang"));

	free(t);
	return frame;
}

static int wc_deliver(const struct channel_sink *sink, const json_t *reply, char *err,
                      size_t errlen)
{
	json_t *frame = reply_frame(reply);
	char *text = frame ? json_dumps(frame, JSON_COMPACT) : NULL;
	int rc = -1;

	if (!text)
		snprintf(err, errlen, "the reply cannot be written as a frame");
	else if ((rc = sink->write(sink->user, text, strlen(text))) < 0)
		snprintf(err, errlen, "the shopper's socket is closed");
	free(text);
	json_decref(frame);
	return rc;
}

/* a simulated shopper speaks the gateway's socket, as the page does */
static const struct channel_sim_ops wc_sim_ops = {.socket = 1};

const struct channel_ops webchat_channel_ops = {
	.type = "webchat",
	.parse = wc_parse,
	.deliver_local = wc_deliver,
	.sim = &wc_sim_ops,
};
