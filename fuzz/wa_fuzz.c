/*
 * wa_fuzz.c: libFuzzer target for the WhatsApp adapter. Every input goes through the webhook
 * parser (the bytes Meta would POST) and the adapter's parse into a normalized batch, through
 * the classifier as a Graph API answer, and, when
 * it is a JSON object, through the renderer as a normalized reply. Built and run by
 * fuzz/run-wa.sh under AddressSanitizer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "whatsapp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct wa_batch *b;
	struct channel_batch *cb;
	struct channel_outcome out;
	json_t *reply, *cfg;
	struct channel_request *reqs = NULL;
	size_t nreqs = 0, i;

	b = wa_webhook_parse((const char *)data, size, err, sizeof(err));
	if (b) {
		/* touch what the gateway reads */
		for (i = 0; i < b->nmessages; i++)
			if (!b->messages[i].msg || !b->messages[i].msg->message_id ||
			    !b->messages[i].phone_number_id)
				abort();
		for (i = 0; i < b->nstatuses; i++)
			if (!b->statuses[i].wamid)
				abort();
		wa_batch_free(b);
	} else if (!err[0]) {
		abort(); /* a failure always says why */
	}

	/* the adapter's parse, the batch the gateway's inbound flow reads */
	cb = whatsapp_channel_ops.parse((const char *)data, size, err, sizeof(err));
	if (cb) {
		for (i = 0; i < cb->nmessages; i++)
			if (!cb->messages[i].msg || !cb->messages[i].msg->message_id ||
			    !cb->messages[i].route)
				abort();
		for (i = 0; i < cb->nstatuses; i++)
			if (!cb->statuses[i].platform_message_id)
				abort();
		for (i = 0; i < cb->nnotices; i++)
			if (!cb->notices[i].event || !cb->notices[i].payload || !cb->notices[i].summary)
				abort();
		channel_batch_free(cb);
	}

	whatsapp_channel_ops.classify(400, (const char *)data, size, &out);
	whatsapp_channel_ops.classify(200, (const char *)data, size, &out);

	reply = json_loadb((const char *)data, size, 0, NULL);
	if (json_is_object(reply)) {
		cfg = json_pack("{s:s, s:s, s:{s:s, s:s}}", "phone_number_id", "106540352242922",
		                "access_token", "EAAG", "status_template", "name", "order_update",
		                "language", "en");
		struct channel_target t = {
		    .api_base = "http://127.0.0.1:9",
		    .api_version = "v21.0",
		    .config = cfg,
		    .recipient = "254712345678",
		    .reply_to = "wamid.X",
		    .mark_read = 1,
		    .window_age = size % 2 ? 60 : 90000,
		    .event_type = size % 3 ? NULL : "x",
		};
		if (whatsapp_channel_ops.render(&t, reply, &reqs, &nreqs, err, sizeof(err)) == 0) {
			for (i = 0; i < nreqs; i++)
				if (!reqs[i].body || !reqs[i].url)
					abort();
			channel_requests_free(reqs, nreqs);
		}
		json_decref(cfg);
	}
	json_decref(reply);
	return 0;
}
