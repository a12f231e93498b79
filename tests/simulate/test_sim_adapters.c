/*
 * test_sim_adapters.c: every adapter's simulator side (channels/channel_sim.h) against the
 * adapter itself, linking only ccgw_channels. For each type that can be simulated over
 * webhooks: the request a shopper's step becomes passes the adapter's own authentication
 * (and fails it with one byte changed or the header left out) and parses into the message
 * the shopper meant; a reply the adapter renders (buttons, a list) reaches the fake platform
 * as the choices the shopper sees, and pressing one sends back the payload the engine gave.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <jansson.h>

#include "channel.h"
#include "channel_sim.h"

static const char *req_header(const void *req, const char *name)
{
	const struct channel_request *r = req;
	size_t i, n = strlen(name);

	for (i = 0; i < r->nheaders; i++)
		if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
			return r->headers[i] + n + 2;
	return NULL;
}

static int no_query(const void *req, const char *name, char *out, size_t outlen)
{
	(void)req;
	(void)name;
	(void)out;
	(void)outlen;
	return -1;
}

struct fixture {
	const struct channel_ops *ops;
	json_t *config; /* the registration body: its fields, secrets included */
	char shopper[48];
};

static void fixture_init(struct fixture *fx, const struct channel_ops *ops)
{
	static const char *const hex[3] = {"a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6",
	                                   "0f1e2d3c4b5a0f1e2d3c4b5a0f1e2d3c4b5a0f1e2d3c4b5a",
	                                   "99887766554433221100998877665544332211009988aabb"};

	fx->ops = ops;
	fx->config = ops->sim->registration(hex, "123456789012");
	assert_non_null(fx->config);
	assert_string_equal(json_string_value(json_object_get(fx->config, "type")), ops->type);
	/* the external id the adapter routes by, as the admin API would store it */
	if (ops->external_field && ops->external_config_key) {
		char ext[64];

		assert_int_equal(
		    ops->external_id(channel_config_str(fx->config, ops->external_field), ext,
		                     sizeof(ext)),
		    0);
		json_object_set_new(fx->config, ops->external_config_key, json_string(ext));
	}
	ops->sim->shopper_id("210987654321", fx->shopper, sizeof(fx->shopper));
	assert_true(strlen(fx->shopper) > 0);
}

/* The shopper's input through the adapter: authenticated, parsed, its one message. */
static struct channel_batch *through(struct fixture *fx, const struct channel_sim_input *in,
                                     long long seq)
{
	struct channel_sim_shopper sh = {fx->shopper, "Amina Otieno", seq};
	struct channel_request req;
	struct channel_http http;
	struct channel_batch *b;
	char err[256];
	char *copy;

	assert_int_equal(fx->ops->sim->inbound(fx->config, &sh, in, &req, err, sizeof(err)), 0);
	assert_non_null(req.body);
	http.body = req.body;
	http.body_len = strlen(req.body);
	http.req = &req;
	http.header = req_header;
	http.query = no_query;
	assert_int_equal(fx->ops->authenticate(&http, fx->config), CHANNEL_AUTH_OK);
	/* one byte changed: the signature (or the secret) no longer holds for WhatsApp; the
	 * header left out is missing for every type */
	copy = strdup(req.body);
	assert_non_null(copy);
	copy[strlen(copy) / 2] ^= 1;
	http.body = copy;
	if (fx->ops->auth_secret && strcmp(fx->ops->auth_header, "X-Hub-Signature-256") == 0)
		assert_int_equal(fx->ops->authenticate(&http, fx->config), CHANNEL_AUTH_WRONG);
	free(copy);
	http.body = req.body;
	{
		size_t n = req.nheaders;

		req.nheaders = 0;
		assert_int_equal(fx->ops->authenticate(&http, fx->config), CHANNEL_AUTH_MISSING);
		req.nheaders = n;
	}
	b = fx->ops->parse(req.body, strlen(req.body), err, sizeof(err));
	if (!b)
		fail_msg("%s: %s", fx->ops->type, err);
	assert_int_equal(b->nmessages, 1);
	assert_string_equal(b->messages[0].msg->chat_id, fx->shopper);
	channel_request_clear(&req);
	return b;
}

/* reply rendered by the adapter for the shopper, then shown by the fake platform: the
 * shopper's replies (an array of what outbound made). */
static json_t *rendered(struct fixture *fx, const json_t *reply)
{
	struct channel_target t;
	struct channel_request *reqs = NULL;
	char err[256], base[64], recipient[128];
	json_t *seen = json_array();
	size_t n = 0, i;

	memset(&t, 0, sizeof(t));
	snprintf(base, sizeof(base), "http://127.0.0.1:9/%s", fx->ops->type);
	t.channel_id = "00000000-0000-0000-0000-000000000001";
	t.api_base = base;
	t.api_version = "v21.0";
	t.config = fx->config;
	t.recipient = fx->shopper;
	t.window_age = 10;
	assert_int_equal(fx->ops->render(&t, reply, &reqs, &n, err, sizeof(err)), 0);
	assert_true(n >= 1);
	for (i = 0; i < n; i++) {
		json_t *body = json_loads(reqs[i].body ? reqs[i].body : "", 0, NULL), *shown = NULL;
		char *answer = NULL;
		int status = 0;

		assert_int_equal(strncmp(reqs[i].url, base, strlen(base)), 0);
		assert_int_equal(fx->ops->sim->outbound(reqs[i].url + strlen(base), body,
		                                        1000 + (long long)i, &status, &answer,
		                                        recipient, sizeof(recipient), &shown),
		                 0);
		assert_int_equal(status, 200);
		assert_non_null(answer);
		/* the platform's answer is what the adapter takes as sent */
		{
			struct channel_outcome o;

			memset(&o, 0, sizeof(o));
			fx->ops->classify(status, answer, strlen(answer), &o);
			assert_int_equal(o.verdict, CHANNEL_SENT);
		}
		if (shown) {
			assert_string_equal(recipient, fx->shopper);
			json_array_append_new(seen, shown);
		}
		free(answer);
		json_decref(body);
	}
	channel_requests_free(reqs, n);
	return seen;
}

static const json_t *choice_titled(const json_t *seen, const char *title)
{
	const json_t *r, *c;
	size_t i, j;

	json_array_foreach(seen, i, r) json_array_foreach(
	    json_object_get(r, "choices"), j,
	    c) if (strstr(json_string_value(json_object_get(c, "title")), title)) return c;
	return NULL;
}

static void round_trip(const struct channel_ops *ops)
{
	struct fixture fx;
	struct channel_sim_input in;
	struct channel_batch *b;
	json_t *reply, *seen;
	const json_t *c;

	fixture_init(&fx, ops);
	/* text */
	memset(&in, 0, sizeof(in));
	in.act = CHANNEL_SIM_TEXT;
	in.text = "nataka asali mbili";
	b = through(&fx, &in, 1);
	assert_int_equal(b->messages[0].msg->kind, MSG_KIND_TEXT);
	assert_string_equal(b->messages[0].msg->text, "nataka asali mbili");
	channel_batch_free(b);
	/* buttons: shown, pressed, the payload back */
	reply =
	    json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "text", "How many?", "buttons", "title",
	              "Add 1", "payload", "add:x:1", "title", "Add 2", "payload", "add:x:2");
	seen = rendered(&fx, reply);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(seen, 0), "text")),
	                       "How many?"));
	c = choice_titled(seen, "Add 2");
	assert_non_null(c);
	memset(&in, 0, sizeof(in));
	in.act = CHANNEL_SIM_PRESS;
	in.choice = c;
	b = through(&fx, &in, 2);
	assert_int_equal(b->messages[0].msg->kind, MSG_KIND_POSTBACK);
	assert_string_equal(b->messages[0].msg->payload, "add:x:2");
	channel_batch_free(b);
	json_decref(seen);
	json_decref(reply);
	/* a list of six rows */
	reply =
	    json_pack("{s:s, s:{s:s, s:[{s:s, s:[{s:s,s:s,s:s}, {s:s,s:s,s:s}, {s:s,s:s,s:s}, "
	              "{s:s,s:s,s:s}, {s:s,s:s,s:s}, {s:s,s:s,s:s}]}]}}",
	              "text", "Honey: pick a product", "list", "button", "Products", "sections",
	              "title", "Honey", "rows", "title", "Raw Honey 250g", "description", "KES 450",
	              "payload", "p:1", "title", "Acacia Honey 1kg", "description", "KES 1,600",
	              "payload", "p:2", "title", "Acacia Honey 500g", "description", "KES 850",
	              "payload", "p:3", "title", "Honeycomb", "description", "KES 700", "payload",
	              "p:4", "title", "Wild Forest Honey", "description", "KES 950", "payload",
	              "p:5", "title", "Ginger Honey", "description", "KES 650", "payload", "p:6");
	assert_non_null(reply);
	seen = rendered(&fx, reply);
	c = choice_titled(seen, "Acacia Honey 500g");
	assert_non_null(c);
	memset(&in, 0, sizeof(in));
	in.act = CHANNEL_SIM_PRESS;
	in.choice = c;
	b = through(&fx, &in, 3);
	assert_int_equal(b->messages[0].msg->kind, MSG_KIND_POSTBACK);
	assert_string_equal(b->messages[0].msg->payload, "p:3");
	channel_batch_free(b);
	json_decref(seen);
	json_decref(reply);
	/* a place and a contact card */
	memset(&in, 0, sizeof(in));
	in.act = CHANNEL_SIM_LOCATION;
	in.lat = -1.2921;
	in.lon = 36.8219;
	b = through(&fx, &in, 4);
	assert_int_equal(b->messages[0].msg->kind, MSG_KIND_LOCATION);
	assert_true(b->messages[0].msg->latitude < -1.29 && b->messages[0].msg->latitude > -1.30);
	assert_true(b->messages[0].msg->longitude > 36.82 && b->messages[0].msg->longitude < 36.83);
	channel_batch_free(b);
	memset(&in, 0, sizeof(in));
	in.act = CHANNEL_SIM_CONTACT;
	in.text = "+254712000999";
	b = through(&fx, &in, 5);
	assert_int_equal(b->messages[0].msg->kind, MSG_KIND_CONTACT);
	assert_non_null(strstr(b->messages[0].msg->contact_phone, "254712000999"));
	channel_batch_free(b);
	json_decref(fx.config);
}

static void test_round_trips(void **state)
{
	const struct channel_ops *ops;
	size_t i, n = 0;

	(void)state;
	for (i = 0; (ops = channel_ops_at(i)); i++) {
		if (!ops->sim || ops->sim->socket)
			continue;
		round_trip(ops);
		n++;
	}
	assert_int_equal(n, 2); /* WhatsApp and Telegram */
}

/* A request the fake platform does not know is answered as the platform answers one. */
static void test_unknown_paths(void **state)
{
	const struct channel_ops *ops;
	char recipient[64];
	size_t i;

	(void)state;
	for (i = 0; (ops = channel_ops_at(i)); i++) {
		json_t *shown = NULL;
		char *answer = NULL;
		int status = 0;

		if (!ops->sim || ops->sim->socket)
			continue;
		assert_int_equal(ops->sim->outbound("/nothing", NULL, 1, &status, &answer,
		                                    recipient, sizeof(recipient), &shown),
		                 0);
		assert_int_equal(status, 404);
		assert_null(shown);
		free(answer);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trips),
	    cmocka_unit_test(test_unknown_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
