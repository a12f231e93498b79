/*
 * tg_fuzz.c: libFuzzer target for the Telegram adapter. Every input goes through the adapter's
 * parse (the bytes a webhook would POST) and poll_parse (a getUpdates answer) into normalized
 * batches, through the classifier as a Bot API answer, and, when it is a JSON object, through
 * the renderer as a normalized reply answering a button press. Built and run by
 * fuzz/run-tg.sh under AddressSanitizer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telegram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the gateway's inbound flow reads of a batch is there. */
static void check_batch(const struct channel_batch *b)
{
	size_t i;

	for (i = 0; i < b->nmessages; i++)
		if (!b->messages[i].msg || !b->messages[i].msg->message_id ||
		    !b->messages[i].msg->chat_id)
			abort();
	for (i = 0; i < b->nchats; i++)
		if (!b->chats[i].chat_id || !b->chats[i].event_id || !b->chats[i].payload)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 429, 403};
	char err[256];
	struct channel_batch *b;
	struct channel_outcome out;
	json_t *reply, *cfg;
	struct channel_request *reqs = NULL;
	size_t nreqs = 0, i;
	long long next = 0;

	/* a webhook's Update */
	err[0] = '\0';
	b = telegram_channel_ops.parse((const char *)data, size, err, sizeof(err));
	if (b) {
		check_batch(b);
		channel_batch_free(b);
	} else if (!err[0]) {
		abort(); /* a failure always says why */
	}

	/* a getUpdates answer */
	err[0] = '\0';
	b = telegram_channel_ops.poll_parse((const char *)data, size, &next, err, sizeof(err));
	if (b) {
		check_batch(b);
		channel_batch_free(b);
	} else if (!err[0]) {
		abort();
	}

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		telegram_channel_ops.classify(statuses[i], (const char *)data, size, &out);

	reply = json_loadb((const char *)data, size, 0, NULL);
	if (json_is_object(reply)) {
		cfg = json_pack("{s:s, s:s}", "bot_token", "123:abc", "secret_token", "s");
		struct channel_target t = {
		    .api_base = "http://127.0.0.1:9",
		    .config = cfg,
		    .recipient = "5123456789",
		    .reply_to = "1:cq:5",
		    .window_age = -1,
		};
		err[0] = '\0';
		if (telegram_channel_ops.render(&t, reply, &reqs, &nreqs, err, sizeof(err)) == 0) {
			for (i = 0; i < nreqs; i++)
				if (!reqs[i].body || !reqs[i].url)
					abort();
			channel_requests_free(reqs, nreqs);
		} else if (!err[0]) {
			abort();
		}
		json_decref(cfg);
	}
	json_decref(reply);
	return 0;
}
