/*
 * wa_parse_test.c: unit tests of wa_webhook_parse over the Cloud API payload files in
 * tests/data/whatsapp/: every message type, two shoppers in one POST, statuses (including a
 * failed one with 131047), account errors, and bodies that are not Cloud API webhooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chantest.h"
#include "whatsapp.h"

#define PNID    "106540352242922"
#define SHOPPER "254712345678"

static struct wa_batch *parse_file(const char *name)
{
	char err[256];
	size_t len;
	char *body = chantest_read(WA_TEST_DATA, name, &len);
	struct wa_batch *b = wa_webhook_parse(body, len, err, sizeof(err));

	if (!b)
		fail_msg("%s: %s", name, err);
	free(body);
	return b;
}

/* The one message of a single-message payload file, checked for the common fields. */
static struct wa_batch *one_message(const char *name, enum msg_kind kind)
{
	struct wa_batch *b = parse_file(name);
	const struct msg_inbound *m;

	assert_int_equal(b->nmessages, 1);
	assert_int_equal(b->nstatuses, 0);
	assert_string_equal(b->messages[0].phone_number_id, PNID);
	m = b->messages[0].msg;
	assert_int_equal(m->channel, MSG_CHANNEL_WHATSAPP);
	if (m->kind != kind)
		fail_msg("%s: kind %s, expected %s", name, msg_kind_name(m->kind),
		         msg_kind_name(kind));
	assert_string_equal(m->user_id, SHOPPER);
	assert_string_equal(m->chat_id, SHOPPER);
	assert_string_equal(m->phone, SHOPPER);
	assert_string_equal(m->display_name, "Amina Njeri");
	assert_non_null(m->message_id);
	assert_true(strncmp(m->message_id, "wamid.", 6) == 0);
	assert_int_equal(m->timestamp, 1718600000);
	assert_string_equal(m->tenant_id, "");
	return b;
}

static void test_text(void **state)
{
	struct wa_batch *b = one_message("text.json", MSG_KIND_TEXT);

	(void)state;
	assert_string_equal(b->messages[0].msg->text, "hi");
	assert_null(b->messages[0].msg->reply_to);
	wa_batch_free(b);
}

static void test_button_reply(void **state)
{
	struct wa_batch *b = one_message("interactive_button_reply.json", MSG_KIND_POSTBACK);
	const struct msg_inbound *m = b->messages[0].msg;

	(void)state;
	assert_string_equal(m->payload, "checkout");
	assert_string_equal(m->text, "Checkout");
	assert_non_null(m->reply_to); /* context.id: the message whose button was pressed */
	wa_batch_free(b);
}

static void test_list_reply(void **state)
{
	struct wa_batch *b = one_message("interactive_list_reply.json", MSG_KIND_POSTBACK);

	(void)state;
	assert_string_equal(b->messages[0].msg->payload, "cat:phones");
	assert_string_equal(b->messages[0].msg->text, "Phones");
	wa_batch_free(b);
}

static void test_template_button(void **state)
{
	struct wa_batch *b = one_message("button.json", MSG_KIND_POSTBACK);

	(void)state;
	assert_string_equal(b->messages[0].msg->payload, "track:1042");
	assert_string_equal(b->messages[0].msg->text, "Track my order");
	wa_batch_free(b);
}

static void test_location(void **state)
{
	struct wa_batch *b = one_message("location.json", MSG_KIND_LOCATION);
	const struct msg_inbound *m = b->messages[0].msg;

	(void)state;
	assert_true(m->latitude < -1.29 && m->latitude > -1.30);
	assert_true(m->longitude > 36.82 && m->longitude < 36.83);
	assert_string_equal(m->location_name, "Kenyatta Avenue");
	assert_string_equal(m->location_address, "Kenyatta Ave, Nairobi");
	wa_batch_free(b);
}

static void test_contacts(void **state)
{
	struct wa_batch *b = one_message("contacts.json", MSG_KIND_CONTACT);

	(void)state;
	assert_string_equal(b->messages[0].msg->contact_name, "Brian Otieno");
	assert_string_equal(b->messages[0].msg->contact_phone, "+254 722 000 111");
	wa_batch_free(b);
}

static void test_order(void **state)
{
	struct wa_batch *b = one_message("order.json", MSG_KIND_CATALOG_ORDER);
	const struct msg_inbound *m = b->messages[0].msg;

	(void)state;
	assert_int_equal(m->nlines, 2);
	assert_string_equal(m->lines[0].sku, "TSHIRT-BLK-M");
	assert_int_equal(m->lines[0].quantity, 2);
	assert_int_equal(m->lines[0].price_minor, 120000);
	assert_string_equal(m->lines[0].currency, "KES");
	assert_string_equal(m->lines[1].sku, "MUG-001");
	assert_int_equal(m->lines[1].quantity, 1);
	assert_int_equal(m->lines[1].price_minor, 45050);
	assert_string_equal(m->text, "Please deliver tomorrow");
	wa_batch_free(b);
}

static void test_media(void **state)
{
	static const struct {
		const char *file, *type, *caption;
	} cases[] = {
	    {"image.json", "image", "Do you have this in red?"},
	    {"audio.json", "audio", NULL},
	    {"video.json", "video", "unboxing"},
	    {"document.json", "document", "my receipt"},
	    {"sticker.json", "sticker", NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wa_batch *b = one_message(cases[i].file, MSG_KIND_MEDIA);
		const struct msg_inbound *m = b->messages[0].msg;

		assert_string_equal(m->media_type, cases[i].type);
		if (cases[i].caption)
			assert_string_equal(m->text, cases[i].caption);
		else
			assert_null(m->text);
		wa_batch_free(b);
	}
}

static void test_reaction(void **state)
{
	struct wa_batch *b = one_message("reaction.json", MSG_KIND_REACTION);

	(void)state;
	assert_string_equal(b->messages[0].msg->text, "\xF0\x9F\x91\x8D");
	assert_non_null(b->messages[0].msg->reply_to);
	assert_true(strncmp(b->messages[0].msg->reply_to, "wamid.", 6) == 0);
	wa_batch_free(b);
}

static void test_unsupported(void **state)
{
	struct wa_batch *b = one_message("unsupported.json", MSG_KIND_UNSUPPORTED);

	(void)state;
	assert_string_equal(b->messages[0].msg->media_type, "unsupported");
	wa_batch_free(b);
	b = one_message("unknown_type.json", MSG_KIND_UNSUPPORTED);
	assert_string_equal(b->messages[0].msg->media_type, "hologram");
	wa_batch_free(b);
}

static void test_two_shoppers(void **state)
{
	struct wa_batch *b = parse_file("two_shoppers.json");

	(void)state;
	assert_int_equal(b->nmessages, 2);
	assert_string_equal(b->messages[0].msg->user_id, "254712345678");
	assert_string_equal(b->messages[0].msg->display_name, "Amina Njeri");
	assert_string_equal(b->messages[0].msg->text, "hi");
	assert_string_equal(b->messages[1].msg->user_id, "254798765432");
	assert_string_equal(b->messages[1].msg->chat_id, "254798765432");
	assert_string_equal(b->messages[1].msg->display_name, "Kevin Mwangi");
	assert_string_equal(b->messages[1].msg->text, "habari, nataka simu");
	assert_string_not_equal(b->messages[0].msg->message_id, b->messages[1].msg->message_id);
	wa_batch_free(b);
}

static void test_statuses(void **state)
{
	struct wa_batch *b = parse_file("statuses.json");

	(void)state;
	assert_int_equal(b->nmessages, 0);
	assert_int_equal(b->nstatuses, 3);
	assert_int_equal(b->statuses[0].status, WA_STATUS_SENT);
	assert_int_equal(b->statuses[1].status, WA_STATUS_DELIVERED);
	assert_int_equal(b->statuses[2].status, WA_STATUS_READ);
	assert_string_equal(b->statuses[2].wamid, b->statuses[0].wamid);
	assert_string_equal(b->statuses[0].recipient_id, SHOPPER);
	assert_string_equal(b->statuses[0].phone_number_id, PNID);
	assert_int_equal(b->statuses[1].timestamp, 1718600102);
	assert_int_equal(b->statuses[0].error_code, 0);
	assert_null(b->statuses[0].error_title);
	wa_batch_free(b);
}

static void test_status_failed(void **state)
{
	struct wa_batch *b = parse_file("status_failed_131047.json");

	(void)state;
	assert_int_equal(b->nstatuses, 1);
	assert_int_equal(b->statuses[0].status, WA_STATUS_FAILED);
	assert_string_equal(b->statuses[0].status_name, "failed");
	assert_int_equal(b->statuses[0].error_code, 131047);
	assert_string_equal(b->statuses[0].error_title, "Re-engagement message");
	assert_non_null(strstr(b->statuses[0].error_details, "24 hours"));
	wa_batch_free(b);
}

static void test_account_errors(void **state)
{
	struct wa_batch *b = parse_file("account_errors.json");

	(void)state;
	assert_int_equal(b->nmessages + b->nstatuses, 0);
	assert_int_equal(b->nerrors, 1);
	assert_int_equal(b->errors[0].code, 131042);
	assert_string_equal(b->errors[0].phone_number_id, PNID);
	assert_string_equal(b->errors[0].title, "Business eligibility payment issue");
	wa_batch_free(b);
}

static void test_other_field_ignored(void **state)
{
	struct wa_batch *b = parse_file("template_status_update.json");

	(void)state;
	assert_int_equal(b->nmessages + b->nstatuses + b->nerrors, 0);
	assert_int_equal(b->nignored, 1);
	wa_batch_free(b);
}

/* Bodies that are not Cloud API webhooks fail with a message naming the problem. */
static void test_not_cloud_api(void **state)
{
	static const struct {
		const char *file_or_body;
		int is_file;
		const char *expect;
	} cases[] = {
	    {"not_cloud_api.json", 1, "whatsapp_business_account"},
	    {"missing_entry.json", 1, "entry"},
	    {"message_without_id.json", 1, "messages[0] has no \"id\""},
	    {"{\"object\": \"page\", \"entry\": []}", 0, "whatsapp_business_account"},
	    {"[1, 2, 3]", 0, "not a JSON object"},
	    {"{\"object\": \"whatsapp_business_account\", \"entry\": [7]}", 0, "entry[0]"},
	    {"{\"object\": \"whatsapp_business_account\", \"entry\": [{\"changes\": 3}]}", 0,
	     "changes"},
	    {"{\"object\": \"whatsapp_business_account\", \"entry\": [{\"changes\": "
	     "[{\"field\": \"messages\", \"value\": {\"messages\": [{\"from\": \"1\", "
	     "\"id\": \"w\", \"type\": \"text\"}]}}]}]}",
	     0, "phone_number_id"},
	    {"not json at all", 0, "not JSON"},
	    {"", 0, "not JSON"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "untouched";
		size_t len;
		char *body = cases[i].is_file
		                 ? chantest_read(WA_TEST_DATA, cases[i].file_or_body, &len)
		                 : strdup(cases[i].file_or_body);
		struct wa_batch *b;

		if (!cases[i].is_file)
			len = strlen(body);
		b = wa_webhook_parse(body, len, err, sizeof(err));
		if (b)
			fail_msg("case %zu parsed but should not", i);
		if (!strstr(err, cases[i].expect))
			fail_msg("case %zu: error \"%s\" does not mention \"%s\"", i, err,
			         cases[i].expect);
		free(body);
	}
}

/* The body need not be NUL-terminated: only len bytes are read. */
static void test_length_bounded(void **state)
{
	size_t len;
	char *body = chantest_read(WA_TEST_DATA, "text.json", &len);
	char *copy = malloc(len + 16);
	char err[128];
	struct wa_batch *b;

	(void)state;
	memcpy(copy, body, len);
	memcpy(copy + len, "garbage!garbage!", 16);
	b = wa_webhook_parse(copy, len, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(b->nmessages, 1);
	wa_batch_free(b);
	free(copy);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_button_reply),
	    cmocka_unit_test(test_list_reply),
	    cmocka_unit_test(test_template_button),
	    cmocka_unit_test(test_location),
	    cmocka_unit_test(test_contacts),
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_media),
	    cmocka_unit_test(test_reaction),
	    cmocka_unit_test(test_unsupported),
	    cmocka_unit_test(test_two_shoppers),
	    cmocka_unit_test(test_statuses),
	    cmocka_unit_test(test_status_failed),
	    cmocka_unit_test(test_account_errors),
	    cmocka_unit_test(test_other_field_ignored),
	    cmocka_unit_test(test_not_cloud_api),
	    cmocka_unit_test(test_length_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
