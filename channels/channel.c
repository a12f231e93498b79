/*
 * channel.c: the registry of channel adapters (the one table of channel types) and the
 * helpers every adapter shares: outbound requests, inbound batches, field errors.
 */
#include "channel.h"

#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "telegram.h"
#include "webchat.h"
#include "whatsapp.h"

/* The adapters built in; each defines its ops table in its own file. Add a new type here. */
static const struct channel_ops *const channel_all[] = {
	&whatsapp_channel_ops,
	&telegram_channel_ops,
	&console_channel_ops,
	&webchat_channel_ops,
	NULL,
};

const struct channel_ops *channel_ops_find(const char *type)
{
	size_t i;

	if (!type)
		return NULL;
	for (i = 0; channel_all[i]; i++) {
		if (strcmp(channel_all[i]->type, type) == 0)
			return channel_all[i];
	}
	return NULL;
}

const struct channel_ops *channel_ops_at(size_t i)
{
	return i < sizeof(channel_all) / sizeof(channel_all[0]) ? channel_all[i] : NULL;
}

const char *channel_config_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- outbound requests ---- */

void channel_request_clear(struct channel_request *r)
{
	size_t i;

	if (!r)
		return;
	free(r->url);
	for (i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

void channel_requests_free(struct channel_request *reqs, size_t n)
{
	size_t i;

	if (!reqs)
		return;
	for (i = 0; i < n; i++)
		channel_request_clear(&reqs[i]);
	free(reqs);
}

int channel_request_add_header(struct channel_request *r, const char *line)
{
	char *copy;

	if (r->nheaders >= CHANNEL_MAX_HEADERS)
		return -1;
	copy = strdup(line);
	if (!copy)
		return -1;
	r->headers[r->nheaders++] = copy;
	return 0;
}

/* ---- inbound batches ---- */

struct channel_batch *channel_batch_new(void)
{
	return calloc(1, sizeof(struct channel_batch));
}

void channel_batch_free(struct channel_batch *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->nmessages; i++) {
		free(b->messages[i].route);
		msg_inbound_free(b->messages[i].msg);
	}
	for (i = 0; i < b->nstatuses; i++) {
		struct channel_status *st = &b->statuses[i];

		free(st->route);
		free(st->platform_message_id);
		free(st->name);
		free(st->recipient);
		free(st->error_title);
		free(st->error_details);
	}
	for (i = 0; i < b->nnotices; i++) {
		free(b->notices[i].route);
		free(b->notices[i].event);
		json_decref(b->notices[i].payload);
		free(b->notices[i].summary);
	}
	for (i = 0; i < b->nchats; i++) {
		free(b->chats[i].route);
		free(b->chats[i].chat_id);
		free(b->chats[i].event_id);
		json_decref(b->chats[i].payload);
	}
	free(b->messages);
	free(b->statuses);
	free(b->notices);
	free(b->chats);
	free(b);
}

const char *channel_status_kind_name(enum channel_status_kind k)
{
	switch (k) {
	case CHANNEL_STATUS_SENT:
		return "sent";
	case CHANNEL_STATUS_DELIVERED:
		return "delivered";
	case CHANNEL_STATUS_READ:
		return "read";
	case CHANNEL_STATUS_FAILED:
		return "failed";
	default:
		return "other";
	}
}

const char *channel_chat_kind_name(enum channel_chat_kind k)
{
	switch (k) {
	case CHANNEL_CHAT_EDITED:
		return "message_edited";
	case CHANNEL_CHAT_BLOCKED:
		return "bot_blocked";
	default:
		return "bot_unblocked";
	}
}

void *channel_batch_grow(void **arr, size_t *n, size_t size)
{
	char *grown = realloc(*arr, (*n + 1) * size);

	if (!grown)
		return NULL;
	*arr = grown;
	memset(grown + *n * size, 0, size);
	return grown + (*n)++ * size;
}
