/*
 * message.c: construction, release and names for the normalized inbound message.
 */
#include "message.h"

#include <stdlib.h>
#include <string.h>

struct msg_inbound *msg_inbound_new(void)
{
	return calloc(1, sizeof(struct msg_inbound));
}

void msg_inbound_free(struct msg_inbound *m)
{
	size_t i;

	if (!m)
		return;
	free(m->chat_id);
	free(m->user_id);
	free(m->display_name);
	free(m->phone);
	free(m->message_id);
	free(m->text);
	free(m->payload);
	free(m->location_name);
	free(m->location_address);
	free(m->contact_name);
	free(m->contact_phone);
	for (i = 0; i < m->nlines; i++)
		free(m->lines[i].sku);
	free(m->lines);
	free(m->media_type);
	free(m->reply_to);
	free(m);
}

static const char *const channel_names[] = {
	[MSG_CHANNEL_WHATSAPP] = "whatsapp",
	[MSG_CHANNEL_TELEGRAM] = "telegram",
	[MSG_CHANNEL_WEBCHAT] = "webchat",
	[MSG_CHANNEL_CONSOLE] = "console",
};

const char *msg_channel_name(enum msg_channel c)
{
	if ((size_t)c >= sizeof(channel_names) / sizeof(channel_names[0]))
		return "unknown";
	return channel_names[c];
}

int msg_channel_parse(const char *name, enum msg_channel *out)
{
	size_t i;

	if (!name)
		return -1;
	for (i = 0; i < sizeof(channel_names) / sizeof(channel_names[0]); i++) {
		if (strcmp(name, channel_names[i]) == 0) {
			*out = (enum msg_channel)i;
			return 0;
		}
	}
	return -1;
}

static const char *const kind_names[] = {
	[MSG_KIND_TEXT] = "text",
	[MSG_KIND_POSTBACK] = "postback",
	[MSG_KIND_LOCATION] = "location",
	[MSG_KIND_CONTACT] = "contact",
	[MSG_KIND_CATALOG_ORDER] = "catalog_order",
	[MSG_KIND_MEDIA] = "media",
	[MSG_KIND_REACTION] = "reaction",
	[MSG_KIND_UNSUPPORTED] = "unsupported",
};

const char *msg_kind_name(enum msg_kind k)
{
	if ((size_t)k >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[k];
}
