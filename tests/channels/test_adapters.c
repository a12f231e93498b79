/*
 * test_adapters.c: the adapter table and the adapter interface as the gateway uses it: every
 * type found by its name, the registration fields a seller sends checked in the words the
 * admin API answers with, a WhatsApp webhook authenticated by its signature and parsed into
 * the batch the inbound flow runs, Meta's verification handshake, and the console's local
 * delivery.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "channel.h"
#include "console.h"
#include "telegram.h"
#include "util.h"
#include "whatsapp.h"

/* ---- a request as the gateway shows it to an adapter ---- */

struct fake_req {
	const char *sig;   /* x-hub-signature-256, or NULL */
	const char *query; /* "a=1&b=2" */
};

static const char *fake_header(const void *req, const char *name)
{
	const struct fake_req *r = req;

	return strcmp(name, "x-hub-signature-256") == 0 ? r->sig : NULL;
}

static int fake_query(const void *req, const char *name, char *out, size_t outlen)
{
	const struct fake_req *r = req;
	size_t n = strlen(name);
	const char *p = r->query;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			snprintf(out, outlen, "%.*s", (int)(len - n - 1), p + n + 1);
			return 0;
		}
		p = end ? end + 1 : NULL;
	}
	return -1;
}

static char *read_file(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", ADAPTER_TEST_DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* ---- the table ---- */

static void test_table_finds_every_type(void **state)
{
	const struct channel_ops *ops;
	size_t i, j;

	(void)state;
	assert_ptr_equal(channel_ops_find("whatsapp"), &whatsapp_channel_ops);
	assert_ptr_equal(channel_ops_find("telegram"), &telegram_channel_ops);
	assert_ptr_equal(channel_ops_find("console"), &console_channel_ops);
	assert_null(channel_ops_find("sms"));
	assert_null(channel_ops_find(NULL));
	for (i = 0; (ops = channel_ops_at(i)); i++) {
		const struct channel_field *f;

		assert_ptr_equal(channel_ops_find(ops->type), ops); /* names are unique */
		/* a type that sends over HTTP renders and classifies; a local one delivers */
		if (ops->render)
			assert_non_null(ops->classify);
		else if (ops->deliver_local)
			assert_null(ops->classify);
		/* the routing field is one of its fields, and a registrable type says how to
		 * turn it into the external id */
		if (ops->external_field) {
			assert_non_null(ops->external_id);
			for (f = ops->fields; f && f->name; f++)
				if (strcmp(f->name, ops->external_field) == 0)
					break;
			assert_non_null(f->name);
		}
		/* the secret that authenticates requests is a secret field */
		if (ops->auth_secret) {
			for (f = ops->fields; f && f->name; f++)
				if (strcmp(f->name, ops->auth_secret) == 0)
					break;
			assert_non_null(f->name);
			assert_true(f->flags & CHANNEL_FIELD_SECRET);
		}
		for (f = ops->fields; f && f->name; f++)
			for (j = 0; ops->fields[j].name && &ops->fields[j] != f; j++)
				assert_string_not_equal(ops->fields[j].name, f->name);
	}
	assert_true(i >= 3);
}

/* ---- registration fields ---- */

static const struct channel_field *field(const struct channel_ops *ops, const char *name)
{
	const struct channel_field *f;

	for (f = ops->fields; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	fail_msg("%s has no field %s", ops->type, name);
	return NULL;
}

static int check_string(const struct channel_ops *ops, const char *name, const char *value,
                        struct jfield_error *err)
{
	json_t *v = json_string(value), *out = NULL;
	int rc = field(ops, name)->check(v, &out, err);

	json_decref(out);
	json_decref(v);
	return rc;
}

static void test_whatsapp_fields(void **state)
{
	struct jfield_error err;
	json_t *tpl, *out = NULL;
	char ext[64];

	(void)state;
	assert_true(field(&whatsapp_channel_ops, "access_token")->flags & CHANNEL_FIELD_SECRET);
	assert_true(field(&whatsapp_channel_ops, "app_secret")->flags & CHANNEL_FIELD_REQUIRED);
	assert_false(field(&whatsapp_channel_ops, "phone_number_id")->flags & CHANNEL_FIELD_SECRET);
	assert_int_equal(check_string(&whatsapp_channel_ops, "phone_number_id", "106540352242922",
	                              &err), 0);
	assert_int_equal(check_string(&whatsapp_channel_ops, "phone_number_id", "10654x", &err), -1);
	assert_string_equal(err.field, "phone_number_id");
	assert_string_equal(err.message, "must be the numeric Phone number ID from the Meta app");
	assert_int_equal(check_string(&whatsapp_channel_ops, "access_token", "EAAG abc", &err), -1);
	assert_string_equal(err.message, "must not contain spaces");
	assert_int_equal(whatsapp_channel_ops.external_id("106540352242922", ext, sizeof(ext)), 0);
	assert_string_equal(ext, "106540352242922");

	/* a template: checked, copied with only the keys WhatsApp takes */
	tpl = json_pack("{s:s, s:s, s:b}", "name", "order_update", "language", "en_US",
	                "body_param", 0);
	assert_int_equal(field(&whatsapp_channel_ops, "status_template")->check(tpl, &out, &err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "language")), "en_US");
	assert_true(json_is_false(json_object_get(out, "body_param")));
	json_decref(out);
	json_object_set_new(tpl, "language", json_string("english"));
	assert_int_equal(field(&whatsapp_channel_ops, "status_template")->check(tpl, &out, &err),
	                 -1);
	assert_string_equal(err.field, "status_template.language");
	json_object_set_new(tpl, "language", json_string("en"));
	json_object_set_new(tpl, "colour", json_string("red"));
	assert_int_equal(field(&whatsapp_channel_ops, "notify_template")->check(tpl, &out, &err),
	                 -1);
	assert_string_equal(err.field, "notify_template.colour");
	assert_string_equal(err.message, "is not a known field");
	json_decref(tpl);
}

static void test_telegram_fields(void **state)
{
	struct jfield_error err;
	char ext[64];
	json_t *body;

	(void)state;
	assert_int_equal(check_string(&telegram_channel_ops, "bot_token",
	                              "123456789:AAH-abc_DEF", &err), 0);
	assert_int_equal(telegram_channel_ops.external_id("123456789:AAH-abc_DEF", ext, sizeof(ext)),
	                 0);
	assert_string_equal(ext, "123456789"); /* the bot id routes the channel */
	assert_int_equal(check_string(&telegram_channel_ops, "bot_token", "abc:def", &err), -1);
	assert_string_equal(err.message, "must be a token from @BotFather (<bot id>:<secret>)");
	assert_int_equal(check_string(&telegram_channel_ops, "bot_token", "123456789:", &err), -1);
	assert_int_equal(check_string(&telegram_channel_ops, "secret_token", "s3cr3t-_x", &err), 0);
	assert_int_equal(check_string(&telegram_channel_ops, "secret_token", "no spaces", &err), -1);

	/* a notification target's chat: a number (negative for groups) or @channel */
	body = json_pack("{s:I}", "chat_id", (json_int_t)-1001234567890LL);
	assert_int_equal(telegram_channel_ops.notify_read(body, ext, sizeof(ext), &err), 0);
	assert_string_equal(ext, "-1001234567890");
	json_object_set_new(body, "chat_id", json_string("@honey_orders"));
	assert_int_equal(telegram_channel_ops.notify_read(body, ext, sizeof(ext), &err), 0);
	assert_string_equal(ext, "@honey_orders");
	json_object_set_new(body, "chat_id", json_string("honey orders"));
	assert_int_equal(telegram_channel_ops.notify_read(body, ext, sizeof(ext), &err), -1);
	json_decref(body);

	/* WhatsApp's recipient is a phone number, kept as digits */
	body = json_pack("{s:s}", "to", "+254 712-345-678");
	assert_true(whatsapp_channel_ops.notify_phone);
	assert_int_equal(whatsapp_channel_ops.notify_read(body, ext, sizeof(ext), &err), 0);
	assert_string_equal(ext, "254712345678");
	json_decref(body);
}

/* ---- inbound ---- */

static void test_whatsapp_authenticate(void **state)
{
	size_t len;
	char *body = read_file("whatsapp/text.json", &len);
	char hex[65], header[80], upper[80];
	json_t *cfg = json_pack("{s:s}", "app_secret", "shh-app-secret");
	struct fake_req fr = {NULL, ""};
	struct channel_http in = {body, len, &fr, fake_header, fake_query};
	size_t i;

	(void)state;
	util_hmac_sha256_hex("shh-app-secret", 14, body, len, hex);
	snprintf(header, sizeof(header), "sha256=%s", hex);
	assert_int_equal(whatsapp_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_MISSING);
	fr.sig = header;
	assert_int_equal(whatsapp_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_OK);
	/* Meta's hex is lower case; an upper-case copy is the same signature */
	snprintf(upper, sizeof(upper), "sha256=");
	for (i = 0; hex[i]; i++)
		upper[7 + i] = (char)(hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 32 : hex[i]);
	upper[7 + i] = '\0';
	fr.sig = upper;
	assert_int_equal(whatsapp_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_OK);
	/* one byte more in the body, another secret, a bare hex: refused */
	in.body_len = len - 1;
	fr.sig = header;
	assert_int_equal(whatsapp_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_WRONG);
	in.body_len = len;
	json_object_set_new(cfg, "app_secret", json_string("another"));
	assert_int_equal(whatsapp_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_WRONG);
	fr.sig = hex;
	assert_int_equal(whatsapp_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_WRONG);
	json_decref(cfg);
	free(body);
}

static void test_whatsapp_verify(void **state)
{
	json_t *cfg = json_pack("{s:s}", "verify_token", "tok-123");
	struct fake_req fr = {NULL,
	                      "hub.mode=subscribe&hub.verify_token=tok-123&hub.challenge=1158201444"};
	struct channel_http in = {"", 0, &fr, fake_header, fake_query};
	char out[256], err[128];

	(void)state;
	assert_int_equal(whatsapp_channel_ops.verify(&in, cfg, out, sizeof(out), err, sizeof(err)),
	                 0);
	assert_string_equal(out, "1158201444");
	/* no channel loaded: the form is right but no token can match */
	assert_int_equal(whatsapp_channel_ops.verify(&in, NULL, out, sizeof(out), err, sizeof(err)),
	                 -2);
	fr.query = "hub.mode=subscribe&hub.verify_token=tok-124&hub.challenge=1";
	assert_int_equal(whatsapp_channel_ops.verify(&in, cfg, out, sizeof(out), err, sizeof(err)),
	                 -2);
	assert_string_equal(err, "the verify token does not match");
	fr.query = "hub.mode=unsubscribe&hub.verify_token=tok-123&hub.challenge=1";
	assert_int_equal(whatsapp_channel_ops.verify(&in, cfg, out, sizeof(out), err, sizeof(err)),
	                 -1);
	fr.query = "hub.mode=subscribe&hub.verify_token=tok-123";
	assert_int_equal(whatsapp_channel_ops.verify(&in, cfg, out, sizeof(out), err, sizeof(err)),
	                 -1);
	json_decref(cfg);
}

static void test_whatsapp_parse_batch(void **state)
{
	size_t len;
	char *body = read_file("whatsapp/text.json", &len), err[256];
	struct channel_batch *b = whatsapp_channel_ops.parse(body, len, err, sizeof(err));

	(void)state;
	assert_non_null(b);
	assert_int_equal(b->nmessages, 1);
	assert_string_equal(b->messages[0].route, "106540352242922");
	assert_int_equal(b->messages[0].msg->channel, MSG_CHANNEL_WHATSAPP);
	assert_int_equal(b->messages[0].msg->kind, MSG_KIND_TEXT);
	assert_non_null(b->messages[0].msg->message_id);
	assert_int_equal(b->nstatuses, 0);
	channel_batch_free(b);
	free(body);

	body = read_file("whatsapp/statuses.json", &len);
	b = whatsapp_channel_ops.parse(body, len, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(b->nmessages, 0);
	assert_int_equal(b->nstatuses, 3);
	assert_int_equal(b->statuses[0].kind, CHANNEL_STATUS_SENT);
	assert_int_equal(b->statuses[1].kind, CHANNEL_STATUS_DELIVERED);
	assert_int_equal(b->statuses[2].kind, CHANNEL_STATUS_READ);
	assert_string_equal(channel_status_kind_name(b->statuses[2].kind), "read");
	assert_string_equal(b->statuses[0].recipient, "254712345678");
	assert_string_equal(b->statuses[0].route, "106540352242922");
	channel_batch_free(b);
	free(body);

	body = read_file("whatsapp/account_errors.json", &len);
	b = whatsapp_channel_ops.parse(body, len, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(b->nnotices, 1);
	assert_string_equal(b->notices[0].event, "account_error");
	assert_int_equal(json_integer_value(json_object_get(b->notices[0].payload, "code")), 131042);
	assert_non_null(strstr(b->notices[0].summary, "131042"));
	channel_batch_free(b);
	free(body);

	/* not a Cloud API payload: no batch, a reason */
	b = whatsapp_channel_ops.parse("{\"object\":\"page\"}", 17, err, sizeof(err));
	assert_null(b);
	assert_true(err[0] != '\0');
}

/* ---- local delivery ---- */

struct sink_buf {
	char text[2048];
	int refuse;
};

static int sink_write(void *user, const char *text, size_t len)
{
	struct sink_buf *s = user;

	if (s->refuse)
		return -1;
	snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text), "%.*s", (int)len,
	         text);
	return 0;
}

static void test_console_delivers_numbered_text(void **state)
{
	struct sink_buf buf = {"", 0};
	struct channel_sink sink = {&buf, sink_write};
	json_t *reply = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "text", "Pick one",
	                          "buttons", "title", "Honey", "payload", "p:1", "title", "Mugs",
	                          "payload", "p:2");
	char err[128];

	(void)state;
	assert_null(console_channel_ops.render); /* it delivers locally */
	assert_int_equal(console_channel_ops.deliver_local(&sink, reply, err, sizeof(err)), 0);
	assert_non_null(strstr(buf.text, "Pick one"));
	assert_non_null(strstr(buf.text, "1. Honey"));
	assert_non_null(strstr(buf.text, "2. Mugs"));
	buf.refuse = 1;
	assert_int_equal(console_channel_ops.deliver_local(&sink, reply, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	json_decref(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_finds_every_type),
	    cmocka_unit_test(test_whatsapp_fields),
	    cmocka_unit_test(test_telegram_fields),
	    cmocka_unit_test(test_whatsapp_authenticate),
	    cmocka_unit_test(test_whatsapp_verify),
	    cmocka_unit_test(test_whatsapp_parse_batch),
	    cmocka_unit_test(test_console_delivers_numbered_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
