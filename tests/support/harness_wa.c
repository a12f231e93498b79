/*
 * harness_wa.c: the WhatsApp part of the integration harness: shoppers' webhooks, signed and
 * posted to the real server, and the replies recorded by the mock Graph API (harness_wa.h).
 */
#include "harness_wa.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

json_t *hx_wa_register(const char *access_token, const char *verify_token)
{
	struct testhttp_resp r;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "whatsapp", "phone_number_id",
	                      hx.wa_pnid, "access_token", access_token, "app_secret",
	                      hx.wa_app_secret, "verify_token", verify_token);
	char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(o);
	assert_non_null(body);
	hx_api("POST", "/api/v1/channels", body, &r);
	free(body);
	if (r.status != 201)
		fail_msg("channel registration answered %ld: %s", r.status, r.body);
	o = hx_json(&r);
	snprintf(hx.channel_id, sizeof(hx.channel_id), "%s",
	         json_string_value(json_object_get(o, "id")));
	testhttp_resp_clear(&r);
	return o;
}

void hx_wa_next_wamid(char *out, size_t len)
{
	snprintf(out, len, "wamid.%s%d%08d", hx.wa_id_prefix ? hx.wa_id_prefix : "TEST",
	         (int)getpid(), ++hx.wa_seq);
}

char *hx_wa_envelope(json_t *value)
{
	json_t *root = json_pack("{s:s, s:[{s:s, s:[{s:o, s:s}]}]}", "object",
	                         "whatsapp_business_account", "entry", "id", "102290129340398",
	                         "changes", "value", value, "field", "messages");
	char *s = json_dumps(root, JSON_COMPACT);

	json_decref(root);
	return s;
}

json_t *hx_wa_value_for(const char *pnid, const char *wa_id, const char *name, json_t *message)
{
	return json_pack("{s:s, s:{s:s, s:s}, s:[{s:{s:s}, s:s}], s:[o]}", "messaging_product",
	                 "whatsapp", "metadata", "display_phone_number", "15550783881",
	                 "phone_number_id", pnid, "contacts", "profile", "name", name, "wa_id",
	                 wa_id, "messages", message);
}

json_t *hx_wa_msg_base(const char *wa_id, const char *wamid, const char *type)
{
	char ts[24];

	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	return json_pack("{s:s, s:s, s:s, s:s}", "from", wa_id, "id", wamid, "timestamp", ts,
	                 "type", type);
}

char *hx_wa_text_webhook(const char *wa_id, const char *wamid, const char *text)
{
	json_t *m = hx_wa_msg_base(wa_id, wamid, "text");

	json_object_set_new(m, "text", json_pack("{s:s}", "body", text));
	return hx_wa_envelope(hx_wa_value_for(hx.wa_pnid, wa_id, "Amina Njeri", m));
}

char *hx_wa_press_webhook(const char *wa_id, const char *wamid, int is_list, const char *id,
                          const char *title, const char *ctx_wamid)
{
	json_t *m = hx_wa_msg_base(wa_id, wamid, "interactive");
	const char *kind = is_list ? "list_reply" : "button_reply";

	json_object_set_new(
	    m, "interactive",
	    json_pack("{s:s, s:{s:s, s:s}}", "type", kind, kind, "id", id, "title", title));
	if (ctx_wamid)
		json_object_set_new(
		    m, "context", json_pack("{s:s, s:s}", "from", "15550783881", "id", ctx_wamid));
	return hx_wa_envelope(hx_wa_value_for(hx.wa_pnid, wa_id, "Amina Njeri", m));
}

void hx_wa_post_to(const char *chan, const char *body, size_t len, enum hx_wa_sig mode,
                   struct testhttp_resp *r)
{
	char url[256], sig[128], hex[65];
	const char *headers[3] = {"Content-Type: application/json", NULL, NULL};

	snprintf(url, sizeof(url), "%s/webhooks/whatsapp/%s", hx.srv.base_url, chan);
	if (mode != HX_WA_SIG_NONE) {
		const char *secret =
		    mode == HX_WA_SIG_OTHER_SECRET ? "not-the-app-secret" : hx.wa_app_secret;

		util_hmac_sha256_hex(secret, strlen(secret), body, len, hex);
		if (mode == HX_WA_SIG_WRONG)
			hex[10] = hex[10] == 'a' ? 'b' : 'a';
		snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
		headers[1] = sig;
	}
	testhttp_request("POST", url, headers, body, len, r);
}

long hx_wa_post(const char *body, struct testhttp_resp *r)
{
	hx_wa_post_to(hx.channel_id, body, strlen(body), HX_WA_SIG_GOOD, r);
	return r->status;
}

json_t *hx_wa_requests(void)
{
	return hx_mock_get(hx.mock_port);
}

size_t hx_wa_count_to(const json_t *reqs, const char *wa_id, int messages_only)
{
	size_t i, n = 0;
	const json_t *q;

	json_array_foreach(reqs, i, q)
	{
		const json_t *b = json_object_get(q, "body");
		const char *to = json_string_value(json_object_get(b, "to"));

		if (to && strcmp(to, wa_id) == 0 && (!messages_only || json_object_get(q, "wamid")))
			n++;
	}
	return n;
}

json_t *hx_wa_wait_replies(const char *wa_id, size_t before)
{
	size_t last = before, n;
	int i, quiet = 0;
	json_t *reqs = NULL;

	for (i = 0; i < 300; i++) {
		json_decref(reqs);
		reqs = hx_wa_requests();
		n = hx_wa_count_to(reqs, wa_id, 1);
		if (n > before && n == last) {
			if (++quiet >= 8)
				return reqs;
		} else {
			quiet = 0;
		}
		last = n;
		usleep(50000);
	}
	json_decref(reqs);
	fail_msg("no reply to %s reached the mock Graph API (had %zu)", wa_id, before);
	return NULL;
}

static int choice_matches(const char *id, const char *prefix, int exact)
{
	return id && (exact ? strcmp(id, prefix) == 0 : strncmp(id, prefix, strlen(prefix)) == 0);
}

void hx_wa_find_choice(const json_t *reqs, const char *wa_id, size_t from, const char *prefix,
                       int exact, struct hx_wa_choice *c)
{
	size_t i, j, k, seen = 0;
	const json_t *q;

	memset(c, 0, sizeof(*c));
	json_array_foreach(reqs, i, q)
	{
		const json_t *b = json_object_get(q, "body");
		const json_t *inter = json_object_get(b, "interactive");
		const json_t *action = json_object_get(inter, "action");
		const char *to = json_string_value(json_object_get(b, "to"));
		const json_t *x, *sec;

		if (!to || strcmp(to, wa_id) != 0 || !json_object_get(q, "wamid"))
			continue;
		if (seen++ < from)
			continue;
		json_array_foreach(json_object_get(action, "buttons"), j, x)
		{
			const json_t *reply = json_object_get(x, "reply");
			const char *id = json_string_value(json_object_get(reply, "id"));

			if (choice_matches(id, prefix, exact)) {
				snprintf(c->id, sizeof(c->id), "%s", id);
				snprintf(c->title, sizeof(c->title), "%s",
				         json_string_value(json_object_get(reply, "title")));
				snprintf(c->ctx, sizeof(c->ctx), "%s",
				         json_string_value(json_object_get(q, "wamid")));
				c->found = 1;
			}
		}
		json_array_foreach(json_object_get(action, "sections"), j, sec)
		    json_array_foreach(json_object_get(sec, "rows"), k, x)
		{
			const char *id = json_string_value(json_object_get(x, "id"));

			if (choice_matches(id, prefix, exact) && !c->found) {
				snprintf(c->id, sizeof(c->id), "%s", id);
				snprintf(c->title, sizeof(c->title), "%s",
				         json_string_value(json_object_get(x, "title")));
				snprintf(c->ctx, sizeof(c->ctx), "%s",
				         json_string_value(json_object_get(q, "wamid")));
				c->is_list = 1;
				c->found = 1;
			}
		}
	}
}

char *hx_wa_texts_since(const json_t *reqs, const char *wa_id, size_t from)
{
	struct sbuf b;
	size_t i, seen = 0;
	const json_t *q;
	char *out;

	sbuf_init(&b);
	json_array_foreach(reqs, i, q)
	{
		const json_t *body = json_object_get(q, "body");
		const char *to = json_string_value(json_object_get(body, "to"));
		const char *t;

		if (!to || strcmp(to, wa_id) != 0 || !json_object_get(q, "wamid") || seen++ < from)
			continue;
		t = json_string_value(json_object_get(json_object_get(body, "text"), "body"));
		if (!t)
			t = json_string_value(json_object_get(
			    json_object_get(json_object_get(body, "interactive"), "body"), "text"));
		if (!t)
			t = json_string_value(
			    json_object_get(json_object_get(body, "image"), "caption"));
		if (t) {
			sbuf_puts(&b, t);
			sbuf_puts(&b, "\n");
		}
	}
	out = sbuf_take(&b);
	assert_non_null(out);
	return out;
}

json_t *hx_wa_say(const char *wa_id, char *body, size_t *before)
{
	struct testhttp_resp r;
	json_t *reqs = hx_wa_requests(), *ans;

	*before = hx_wa_count_to(reqs, wa_id, 1);
	json_decref(reqs);
	if (hx_wa_post(body, &r) != 200)
		fail_msg("webhook answered %ld: %s", r.status, r.body);
	ans = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(ans, "handled")), 1);
	json_decref(ans);
	testhttp_resp_clear(&r);
	free(body);
	return hx_wa_wait_replies(wa_id, *before);
}
