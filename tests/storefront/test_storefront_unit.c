/*
 * test_storefront_unit.c: the storefront's pure parts, without a database: the WCAG contrast
 * ratio the theme check uses (against the figures WCAG's own examples give), the adapters'
 * order links (wa.me with the prefilled text, t.me with a start payload of Telegram's allowed
 * characters), and the round trip of every start payload through the Telegram adapter's
 * parser back to the SKU the engine looks up; magic bytes of the image types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "channel.h"
#include "image.h"
#include "message.h"
#include "storefront.h"
#include "telegram.h"
#include "whatsapp.h"

static void test_contrast(void **state)
{
	(void)state;
	assert_true(storefront_contrast("#000000", "#ffffff") > 20.99);
	assert_true(storefront_contrast("#ffffff", "#000000") > 20.99);
	assert_true(storefront_contrast("#123456", "#123456") < 1.001);
	/* #767676 on white is the lightest grey that passes AA (4.54), #777777 fails (4.48) */
	assert_true(storefront_contrast("#767676", "#ffffff") >= STOREFRONT_MIN_CONTRAST);
	assert_true(storefront_contrast("#777777", "#ffffff") < STOREFRONT_MIN_CONTRAST);
	assert_true(storefront_contrast("#0a7d4f", "#ffffff") >= STOREFRONT_MIN_CONTRAST);
	assert_true(storefront_contrast("red", "#ffffff") == 0);
	assert_true(storefront_contrast("#ffffff", "#fffff") == 0);
	assert_true(storefront_color_valid("#A0b1C2"));
	assert_false(storefront_color_valid("#a0b1c"));
	assert_false(storefront_color_valid("a0b1c2f"));
	assert_false(storefront_color_valid(NULL));
}

/* The SKU the Telegram adapter reads from "/start <payload>", or NULL for no deep link. */
static char *tg_start_sku(const char *payload)
{
	char text[128];
	json_t *u;
	char *body, err[128], *out = NULL;
	struct channel_batch *b;

	snprintf(text, sizeof(text), "/start %s", payload);
	u = json_pack("{s:i, s:{s:i, s:i, s:{s:i, s:s}, s:{s:i, s:b, s:s}, s:s}}", "update_id", 7,
	              "message", "message_id", 3, "date", 1765000000, "chat", "id", 42, "type",
	              "private", "from", "id", 42, "is_bot", 0, "first_name", "A", "text", text);
	body = json_dumps(u, JSON_COMPACT);
	json_decref(u);
	b = telegram_channel_ops.parse(body, strlen(body), err, sizeof(err));
	free(body);
	assert_non_null(b);
	assert_int_equal(b->nmessages, 1);
	if (b->messages[0].msg->kind == MSG_KIND_POSTBACK) {
		const char *p = b->messages[0].msg->payload;

		assert_true(strncmp(p, "sku:", 4) == 0);
		out = strdup(p + 4);
	}
	channel_batch_free(b);
	return out;
}

static void test_order_links(void **state)
{
	static const char *const skus[] = {"HN-ACA-500", "a_b-C", "KIKOI BLUE/L",
	                                   "ÇAY-500", "1234567890123456789012345678901", NULL};
	json_t *wa = json_pack("{s:s}", "display_phone_number", "254712345678");
	json_t *tg = json_pack("{s:s}", "bot_username", "asali_bot");
	json_t *none = json_object();
	char base[256], value[256], *sku;
	const char *param;
	size_t i;

	(void)state;
	assert_string_equal(whatsapp_channel_ops.order_title, "WhatsApp");
	assert_int_equal(whatsapp_channel_ops.order_link(wa, "S-1", "Hello (SKU: S-1)", base,
	                                                 sizeof(base), &param, value,
	                                                 sizeof(value)),
	                 0);
	assert_string_equal(base, "https://wa.me/254712345678");
	assert_string_equal(param, "text");
	assert_string_equal(value, "Hello (SKU: S-1)");
	/* no public number, no link */
	assert_int_equal(whatsapp_channel_ops.order_link(none, "S-1", "x", base, sizeof(base),
	                                                 &param, value, sizeof(value)),
	                 -1);
	assert_int_equal(telegram_channel_ops.order_link(none, "S-1", "x", base, sizeof(base),
	                                                 &param, value, sizeof(value)),
	                 -1);
	for (i = 0; skus[i]; i++) {
		assert_int_equal(telegram_channel_ops.order_link(tg, skus[i], "x", base, sizeof(base),
		                                                 &param, value, sizeof(value)),
		                 0);
		assert_string_equal(base, "https://t.me/asali_bot");
		assert_string_equal(param, "start");
		/* Telegram takes 1 to 64 of A-Z a-z 0-9 _ - */
		assert_true(strlen(value) >= 1 && strlen(value) <= 64);
		assert_int_equal(strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                               "0123456789_-"),
		                 strlen(value));
		/* and the adapter reads it back as the SKU */
		sku = tg_start_sku(value);
		assert_non_null(sku);
		assert_string_equal(sku, skus[i]);
		free(sku);
	}
	/* a SKU whose hex cannot fit 64 characters gets no link */
	assert_int_equal(telegram_channel_ops.order_link(tg, "12345678901234567890/12345678901234",
	                                                 "x", base, sizeof(base), &param, value,
	                                                 sizeof(value)),
	                 -1);
	/* a plain /start still greets; other payloads are not deep links */
	assert_null(tg_start_sku(""));
	assert_null(tg_start_sku("hello"));
	assert_null(tg_start_sku("h_zz"));
	json_decref(wa);
	json_decref(tg);
	json_decref(none);
}

static void test_magic_bytes(void **state)
{
	(void)state;
	assert_int_equal(image_sniff("\xff\xd8\xff\xe0", 4), IMAGE_JPEG);
	assert_int_equal(image_sniff("\x89PNG\r\n\x1a\n", 8), IMAGE_PNG);
	assert_int_equal(image_sniff("RIFF\x10\0\0\0WEBPVP8 ", 16), IMAGE_WEBP);
	assert_int_equal(image_sniff("RIFF\x10\0\0\0WAVEfmt ", 16), IMAGE_NONE);
	assert_int_equal(image_sniff("GIF89a", 6), IMAGE_NONE);
	assert_int_equal(image_sniff("<svg", 4), IMAGE_NONE);
	assert_int_equal(image_sniff("\xff\xd8", 2), IMAGE_NONE);
	assert_string_equal(image_mime(IMAGE_WEBP), "image/webp");
	assert_null(image_mime(IMAGE_NONE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_contrast),
	    cmocka_unit_test(test_order_links),
	    cmocka_unit_test(test_magic_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
