/*
 * console.c: the console adapter. Nothing to register and nothing inbound over HTTP: the
 * console reads lines from its terminal and hands each to the engine as a text message. Its
 * replies are delivered locally, as numbered plain text, to the sink the console set.
 */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply_text.h"

static int console_deliver(const struct channel_sink *sink, const json_t *reply, char *err,
			   size_t errlen)
{
	char *text = reply_text_render(reply);
	size_t len;
	int rc;

	if (!text) {
		snprintf(err, errlen, "the reply cannot be shown as text");
		return -1;
	}
	len = strlen(text);
	rc = sink->write(sink->user, text, len);
	free(text);
	if (rc < 0)
		snprintf(err, errlen, "the console did not take the reply");
	return rc;
}

const struct channel_ops console_channel_ops = {
	.type = "console",
	.deliver_local = console_deliver,
};
