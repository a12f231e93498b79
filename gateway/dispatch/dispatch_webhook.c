/*
 * dispatch_webhook.c: a seller's webhook target as one request: the outbox payload serialized
 * once (compact), signed with HMAC-SHA256 under the target's secret over exactly those bytes,
 * and the answer classified by HTTP status (2xx sent, 408/425/429/5xx/no answer retried,
 * other 4xx permanent, 3xx permanent since redirects are not followed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch_internal.h"
#include "util.h"

int dispatch_webhook_render(const char *url, const char *secret, const json_t *payload,
                            struct channel_request **reqs, size_t *nreqs, char *err, size_t errlen)
{
	struct channel_request *r = NULL;
	const char *event_id, *event;
	char sig[65], line[200];
	int rc = -1;

	*reqs = NULL;
	*nreqs = 0;
	if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
		snprintf(err, errlen, "webhook target has no http(s) url");
		return -1;
	}
	if (!secret || !*secret) {
		snprintf(err, errlen, "webhook target has no secret to sign with");
		return -1;
	}
	if (!json_is_object(payload)) {
		snprintf(err, errlen, "webhook payload is not a JSON object");
		return -1;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		goto oom;
	r->primary = 1;
	r->url = strdup(url);
	r->body = json_dumps(payload, JSON_COMPACT);
	if (!r->url || !r->body)
		goto oom;
	util_hmac_sha256_hex(secret, strlen(secret), r->body, strlen(r->body), sig);
	event_id = json_string_value(json_object_get(payload, "event_id"));
	event = json_string_value(json_object_get(payload, "event"));
	if (channel_request_add_header(r, "Content-Type: application/json") < 0)
		goto oom;
	snprintf(line, sizeof(line), "X-CCGW-Signature: sha256=%s", sig);
	if (channel_request_add_header(r, line) < 0)
		goto oom;
	if (event_id) {
		snprintf(line, sizeof(line), "X-CCGW-Event-Id: %.120s", event_id);
		if (strpbrk(line, "\r\n") == NULL && channel_request_add_header(r, line) < 0)
			goto oom;
	}
	if (event) {
		snprintf(line, sizeof(line), "X-CCGW-Event: %.120s", event);
		if (strpbrk(line, "\r\n") == NULL && channel_request_add_header(r, line) < 0)
			goto oom;
	}
	*reqs = r;
	*nreqs = 1;
	r = NULL;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (r)
		channel_requests_free(r, 1);
	return rc;
}

void dispatch_webhook_classify(long http_status, const char *body, size_t len,
                               struct channel_outcome *out)
{
	(void)body;
	(void)len;
	memset(out, 0, sizeof(*out));
	out->error_code = http_status;
	if (http_status >= 200 && http_status < 300) {
		out->verdict = CHANNEL_SENT;
		return;
	}
	if (http_status == 0) {
		out->verdict = CHANNEL_RETRY;
		snprintf(out->error, sizeof(out->error), "no answer from the webhook receiver");
	} else if (http_status == 429) {
		out->verdict = CHANNEL_RATE_LIMITED;
		out->recipient_scoped = 1; /* the receiver, not every target */
		snprintf(out->error, sizeof(out->error), "webhook receiver answered HTTP 429");
	} else if (http_status >= 500 || http_status == 408 || http_status == 425) {
		out->verdict = CHANNEL_RETRY;
		snprintf(out->error, sizeof(out->error), "webhook receiver answered HTTP %ld",
		         http_status);
	} else {
		out->verdict = CHANNEL_PERMANENT;
		snprintf(out->error, sizeof(out->error), "webhook receiver answered HTTP %ld%s",
		         http_status,
		         http_status == 410                        ? " (gone: target deactivated)"
		         : http_status >= 300 && http_status < 400 ? " (redirects are not followed)"
		                                                   : "");
	}
}
