/*
 * channel.c: the registry of platform adapters and the helpers for outbound requests that
 * every adapter shares.
 */
#include "channel.h"

#include <stdlib.h>
#include <string.h>

#include "whatsapp.h"

/* The adapters built in; each defines its ops table in its own file. Add a new platform here. */
static const struct channel_ops *const channel_all[] = {
	&whatsapp_channel_ops,
	NULL,
};

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
