/*
 * test_engine_guards.c: what a careful shop guards against, through the real engine and
 * PostgreSQL: a price, tax or delivery fee that changes between the checkout summary and the
 * shopper's "yes" (the order waits for a second yes at the new prices), products priced in
 * another currency than the shop's (never mixed into a cart), and the findings of a review
 * of the engine (long messages during a handoff, long names, catalog orders).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine_fixture.h"

static struct efx F;

static int group_setup(void **state)
{
	(void)state;
	efx_setup(&F, "engine_guards");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	efx_teardown(&F);
	return 0;
}

static long orders_of(const char *chat)
{
	char *conv = efx_conv_of(&F, chat);
	long n = efx_qlong(&F, "SELECT count(*) FROM order_channel_meta WHERE conversation_id = $1",
	                   1, (const char *const[]){conv});

	free(conv);
	return n;
}

/* Greeting to the summary for chat, with qty of Acacia Honey (KES 850) in the cart. */
static void honey_to_confirm(const char *chat, const char *qty)
{
	char add[64];

	snprintf(add, sizeof(add), "add %s acacia honey", qty);
	efx_step(&F, chat, "hi", "Welcome to Test Shop");
	efx_step(&F, chat, add, "to your cart");
	efx_step(&F, chat, "checkout", "name");
	efx_step(&F, chat, "Jane Wanjiku", "delivery address");
	efx_step(&F, chat, "Moi Avenue, Nairobi", "phone number");
	efx_step(&F, chat, "0712 345 678", "payment method");
	efx_step(&F, chat, "1", "Shall I place the order?"); /* Cash on delivery */
}

static const char settings_default[] =
    "UPDATE tenants SET settings = settings || '{\"tax_bp\": 1600, \"delivery_fee_minor\":"
    " 20000}'::jsonb WHERE id = app_tenant_id()";

/* The price changes after the summary: no order, the change named, a second yes places it
 * at the new price. */
static void test_price_changed_before_yes(void **state)
{
	const char *chat = "price-1";
	struct esent s;
	char *v;

	(void)state;
	honey_to_confirm(chat, "2");
	efx_exec(&F, "UPDATE products SET price_minor = 90000 WHERE id = $1", 1,
	         (const char *const[]){F.honey});
	efx_text(&F, chat, "yes", &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.res.order_number, 0);
	assert_contains(s.text, "haven't placed the order");
	assert_contains(s.text, "Acacia Honey 500g: now KES 900 each (was KES 850)");
	assert_contains(s.text, "Total: KES 2,288"); /* 1,800 + 16% 288 + 200 */
	assert_contains(s.text, "Shall I place the order?");
	assert_contains(s.last_reply, "\"ck:yes\"");
	esent_clear(&s);
	assert_int_equal(orders_of(chat), 0);

	/* the shopper agrees to the new summary */
	efx_text(&F, chat, "yes", &s);
	assert_true(s.res.order_number > 0);
	assert_contains(s.text, "KES 2,288");
	v = efx_q(&F, NULL,
	          "SELECT concat_ws('|', i.unit_price_minor, o.total_minor) FROM orders o"
	          " JOIN order_items i ON i.order_id = o.id WHERE o.id = $1",
	          1, (const char *const[]){s.res.order_id});
	assert_string_equal(v, "90000|228800");
	free(v);
	esent_clear(&s);
	efx_exec(&F, "UPDATE products SET price_minor = 85000 WHERE id = $1", 1,
	         (const char *const[]){F.honey});
}

/* The delivery fee and the tax rate change after the summary; an unchanged summary is
 * placed at the first yes. */
static void test_fee_and_tax_changed_before_yes(void **state)
{
	const char *chat = "fee-1";
	struct esent s;
	char *conv;

	(void)state;
	honey_to_confirm(chat, "1");
	efx_exec(&F,
	         "UPDATE tenants SET settings = settings || '{\"tax_bp\": 800,"
	         " \"delivery_fee_minor\": 25000}'::jsonb WHERE id = app_tenant_id()",
	         0, NULL);
	efx_text(&F, chat, "yes", &s);
	assert_int_equal(s.res.order_number, 0);
	assert_contains(s.text, "Delivery fee: now KES 250 (was KES 200)");
	assert_contains(s.text, "Tax: now 8% (was 16%)");
	assert_not_contains(s.text, "Acacia Honey 500g: now");
	assert_contains(s.text, "Total: KES 1,168"); /* 850 + 8% 68 + 250 */
	esent_clear(&s);
	assert_int_equal(orders_of(chat), 0);
	conv = efx_conv_of(&F, chat);
	assert_int_equal(efx_qlong(&F,
	                           "SELECT count(*) FROM conversation_events WHERE"
	                           " conversation_id = $1 AND event_type = 'checkout_repriced'",
	                           1, (const char *const[]){conv}),
	                 1);
	free(conv);
	efx_text(&F, chat, "yes", &s);
	assert_true(s.res.order_number > 0);
	assert_int_equal(efx_qlong(&F, "SELECT total_minor FROM orders WHERE id = $1", 1,
	                           (const char *const[]){s.res.order_id}),
	                 116800);
	esent_clear(&s);
	efx_exec(&F, settings_default, 0, NULL);

	/* nothing changed: the first yes places the order */
	honey_to_confirm("fee-2", "1");
	efx_text(&F, "fee-2", "yes", &s);
	assert_true(s.res.order_number > 0);
	assert_contains(s.text, "KES 1,186"); /* 850 + 136 + 200 */
	esent_clear(&s);
}

static long cart_lines(const char *chat)
{
	char *conv = efx_conv_of(&F, chat);
	long n = efx_qlong(&F,
	                   "SELECT count(*) FROM carts c JOIN cart_items i ON i.cart_id = c.id"
	                   " WHERE c.conversation_id = $1 AND c.status = 'open'",
	                   1, (const char *const[]){conv});

	free(conv);
	return n;
}

/* A product priced in USD in a KES shop: shown at its own price, never put in the cart, by
 * any way of adding; a cart line whose product changed currency is not charged. */
static void test_foreign_currency_product(void **state)
{
	const char *chat = "usd-1";
	struct msg_inbound *m;
	struct esent s;
	char *tin, payload[80];

	(void)state;
	tin = efx_q(&F, NULL,
	            "INSERT INTO products (tenant_id, sku, name, category, price_minor, currency,"
	            " stock) VALUES (app_tenant_id(), 'TIN-1', 'Dollar Spice Tin', 'Imports', 1500,"
	            " 'USD', 30) RETURNING id",
	            0, NULL);
	efx_step(&F, chat, "hi", NULL);
	/* the list and the card show its own price, and the card offers no "Add" */
	efx_tap(&F, chat, "browse", "Imports");
	efx_text(&F, chat, "3", &s); /* Beauty, Honey, Imports, Kitchen */
	assert_contains(s.last_reply, "USD 15");
	esent_clear(&s);
	efx_text(&F, chat, "1", &s);
	assert_contains(s.text, "Price: USD 15");
	assert_contains(s.text, "priced in USD and this shop takes orders in KES");
	assert_not_contains(s.last_reply, "\"add:");
	esent_clear(&s);
	/* typed, or tapped from an earlier message */
	efx_text(&F, chat, "add 2 dollar spice tin", &s);
	assert_contains(s.text, "Sorry, Dollar Spice Tin is priced in USD, and this shop takes "
	                        "orders in KES, so I can't add it to your cart.");
	esent_clear(&s);
	snprintf(payload, sizeof(payload), "add:%s:1", tin);
	efx_exec(&F,
	         "UPDATE conversations SET offered = jsonb_build_array($1::text)"
	         " WHERE external_chat_id = $2",
	         2, (const char *const[]){payload, chat});
	efx_tap(&F, chat, payload, "priced in USD");
	assert_int_equal(cart_lines(chat), 0);

	/* a WhatsApp catalog order takes the other lines only */
	m = msg_inbound_new();
	m->chat_id = strdup(chat);
	m->user_id = strdup(chat);
	m->kind = MSG_KIND_CATALOG_ORDER;
	m->nlines = 2;
	m->lines = calloc(2, sizeof(*m->lines));
	m->lines[0].sku = strdup("TIN-1");
	m->lines[0].quantity = 1;
	m->lines[1].sku = strdup("MUG-1");
	m->lines[1].quantity = 1;
	efx_send_msg(&F, NULL, m, &s);
	assert_int_equal(s.rc, 0);
	assert_contains(s.text, "Dollar Spice Tin is priced in USD");
	assert_contains(s.text, "What name should we put on the order?");
	esent_clear(&s);
	assert_int_equal(cart_lines(chat), 1);

	/* the mug in the cart is re-priced in USD by the seller: not counted, not charged */
	efx_exec(&F, "UPDATE products SET currency = 'USD' WHERE id = $1", 1,
	         (const char *const[]){F.mug});
	efx_step(&F, chat, "Jane", "delivery address");
	efx_step(&F, chat, "Moi Avenue, Nairobi", "phone number");
	efx_step(&F, chat, "0712 345 678", "payment method");
	efx_text(&F, chat, "1", &s);
	assert_contains(s.text, "1 x Enamel Chai Mug: priced in USD, can't be ordered here");
	assert_contains(s.text, "Subtotal: KES 0");
	esent_clear(&s);
	efx_text(&F, chat, "yes", &s);
	assert_int_equal(s.res.order_number, 0);
	assert_contains(s.text, "Enamel Chai Mug is now priced in USD");
	esent_clear(&s);
	assert_int_equal(cart_lines(chat), 0);
	assert_int_equal(orders_of(chat), 0);
	efx_exec(&F, "UPDATE products SET currency = 'KES' WHERE id = $1", 1,
	         (const char *const[]){F.mug});
	efx_exec(&F, "UPDATE products SET deleted_at = now() WHERE id = $1", 1,
	         (const char *const[]){tin});
	free(tin);
}

/* During a handoff a person reads the chat from its events: a long text is kept whole and
 * gets no bot reply; a shared place and a catalog order keep what a person needs. */
static void test_handoff_keeps_everything(void **state)
{
	const char *chat = "ho-1";
	struct msg_inbound *m;
	struct esent s;
	char *conv, *v, *text;

	(void)state;
	efx_step(&F, chat, "hi", NULL);
	efx_tap(&F, chat, "human", "asked a person");
	conv = efx_conv_of(&F, chat);
	text = malloc(3001);
	assert_non_null(text);
	memset(text, 'x', 3000);
	memcpy(text + 2990, "END-OF-IT.", 10);
	text[3000] = '\0';
	efx_text(&F, chat, text, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.nreplies, 0); /* the bot stays silent */
	esent_clear(&s);
	v = efx_q(&F, NULL,
	          "SELECT concat_ws('|', length(payload->>'text'), payload->>'too_long',"
	          " right(payload->>'text', 10)) FROM conversation_events"
	          " WHERE conversation_id = $1 AND event_type = 'message_received'"
	          " ORDER BY created_at DESC, id DESC LIMIT 1",
	          1, (const char *const[]){conv});
	assert_string_equal(v, "3000|true|END-OF-IT.");
	free(v);
	free(text);

	m = msg_inbound_new();
	m->chat_id = strdup(chat);
	m->user_id = strdup(chat);
	m->kind = MSG_KIND_CATALOG_ORDER;
	m->nlines = 2;
	m->lines = calloc(2, sizeof(*m->lines));
	m->lines[0].sku = strdup("MUG-1");
	m->lines[0].quantity = 3;
	m->lines[1].sku = strdup("HNY-500");
	m->lines[1].quantity = 1;
	efx_send_msg(&F, NULL, m, &s);
	assert_int_equal(s.nreplies, 0);
	esent_clear(&s);
	v = efx_q(
	    &F, NULL,
	    "SELECT payload->'items'::text FROM conversation_events WHERE conversation_id = $1"
	    " AND event_type = 'message_received' ORDER BY created_at DESC, id DESC LIMIT 1",
	    1, (const char *const[]){conv});
	assert_string_equal(v, "[{\"sku\": \"MUG-1\", \"quantity\": 3},"
	                       " {\"sku\": \"HNY-500\", \"quantity\": 1}]");
	free(v);

	m = msg_inbound_new();
	m->chat_id = strdup(chat);
	m->user_id = strdup(chat);
	m->kind = MSG_KIND_LOCATION;
	m->latitude = -1.28;
	m->longitude = 36.82;
	m->location_name = strdup("Sarit Centre");
	m->location_address = strdup("Karuna Road, Westlands");
	efx_send_msg(&F, NULL, m, &s);
	assert_int_equal(s.nreplies, 0);
	esent_clear(&s);
	v = efx_q(&F, NULL,
	          "SELECT concat_ws('|', payload->>'location_name', payload->>'location_address')"
	          " FROM conversation_events WHERE conversation_id = $1"
	          " AND event_type = 'message_received' ORDER BY created_at DESC, id DESC LIMIT 1",
	          1, (const char *const[]){conv});
	assert_string_equal(v, "Sarit Centre|Karuna Road, Westlands");
	free(v);

	/* outside a handoff a long text still gets "too long" */
	efx_exec(&F, "UPDATE conversations SET state = 'menu', handoff = false WHERE id = $1", 1,
	         (const char *const[]){conv});
	text = calloc(1, 2100);
	assert_non_null(text);
	memset(text, 'y', 2099);
	efx_text(&F, chat, text, &s);
	assert_contains(s.text, "too long");
	esent_clear(&s);
	free(text);
	free(conv);
}

/* A name or an address cut at its length limit is cut between characters, so it is taken
 * (a cut inside a character was refused silently and asked again, for ever). */
static void test_long_name_and_address(void **state)
{
	const char *chat = "long-1";
	char name[128], addr[600], *v, *conv;
	struct esent s;

	(void)state;
	efx_step(&F, chat, "add 1 acacia honey", "to your cart");
	efx_step(&F, chat, "checkout", "name");
	memset(name, 'a', 99);
	snprintf(name + 99, sizeof(name) - 99, "\xC3\xA9 Kamau"); /* é straddles byte 100 */
	efx_text(&F, chat, name, &s);
	assert_contains(s.text, "What is your delivery address?");
	esent_clear(&s);
	memset(addr, 'b', 499);
	snprintf(addr + 499, sizeof(addr) - 499, "\xC3\xA9 Road");
	efx_text(&F, chat, addr, &s);
	assert_contains(s.text, "What phone number");
	esent_clear(&s);
	conv = efx_conv_of(&F, chat);
	v = efx_q(&F, NULL,
	          "SELECT concat_ws('|', length(context->'ck'->>'name'),"
	          " length(context->'ck'->'address'->>'text')) FROM conversations WHERE id = $1",
	          1, (const char *const[]){conv});
	assert_string_equal(v, "99|499");
	free(v);
	free(conv);
	efx_step(&F, chat, "cancel", "cancelled");
}

/* A catalog order names what it could not take: a product on two lines beyond its stock,
 * lines past the hundredth. */
static void test_catalog_order_limits(void **state)
{
	const char *chat = "cat-lim";
	struct msg_inbound *m;
	struct esent s;
	size_t i;

	(void)state;
	m = msg_inbound_new();
	m->chat_id = strdup(chat);
	m->user_id = strdup(chat);
	m->kind = MSG_KIND_CATALOG_ORDER;
	m->nlines = 2;
	m->lines = calloc(2, sizeof(*m->lines));
	m->lines[0].sku = strdup("HNY-1K"); /* Forest Honey 1kg: 1 in stock */
	m->lines[0].quantity = 1;
	m->lines[1].sku = strdup("HNY-1K");
	m->lines[1].quantity = 1;
	efx_send_msg(&F, NULL, m, &s);
	assert_contains(s.text, "Sorry, we only have 1 of Forest Honey 1kg in stock.");
	assert_contains(s.text, "What name should we put on the order?");
	esent_clear(&s);
	efx_step(&F, chat, "cancel", "cancelled");

	m = msg_inbound_new();
	m->chat_id = strdup(chat);
	m->user_id = strdup(chat);
	m->kind = MSG_KIND_CATALOG_ORDER;
	m->nlines = 101;
	m->lines = calloc(101, sizeof(*m->lines));
	for (i = 0; i < 101; i++) {
		m->lines[i].sku = strdup(i == 100 ? "HNY-500" : "MUG-1");
		m->lines[i].quantity = 1;
	}
	efx_send_msg(&F, NULL, m, &s);
	assert_contains(s.text, "I read only the first 100.");
	esent_clear(&s);
	assert_int_equal(cart_lines(chat), 1); /* the mugs; the honey on line 101 was not read */
	efx_step(&F, chat, "cancel", "cancelled");
	efx_exec(&F,
	         "DELETE FROM cart_items WHERE cart_id IN (SELECT c.id FROM carts c JOIN"
	         " conversations v ON v.id = c.conversation_id WHERE v.external_chat_id = $1)",
	         1, (const char *const[]){chat});
}

/* Prices near the admin API's limit (10^15 minor units) do not overflow the totals: an
 * order too large for the chat is refused politely, nothing is written. */
static void test_huge_prices(void **state)
{
	const char *chat = "huge-1";
	struct esent s;
	char *id;

	(void)state;
	id = efx_q(&F, NULL,
	           "INSERT INTO products (tenant_id, sku, name, category, price_minor, currency,"
	           " stock) VALUES (app_tenant_id(), 'GOLD-1', 'Solid Gold Throne', 'Honey',"
	           " 1000000000000000, 'KES', 1000) RETURNING id",
	           0, NULL);
	efx_step(&F, chat, "add 9 solid gold throne", "to your cart");
	efx_step(&F, chat, "checkout", "name");
	efx_step(&F, chat, "Jane", "delivery address");
	efx_step(&F, chat, "Moi Avenue, Nairobi", "phone number");
	efx_text(&F, chat, "0712 345 678", &s);
	assert_contains(s.text, "payment method");
	esent_clear(&s);
	efx_text(&F, chat, "1", &s);
	assert_int_equal(s.rc, 0);
	assert_contains(s.text, "this order is too large for me to place here");
	assert_not_contains(s.text, "Shall I place the order?");
	assert_contains(s.last_reply, "\"human\"");
	esent_clear(&s);
	efx_text(&F, chat, "yes", &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.res.order_number, 0);
	esent_clear(&s);
	assert_int_equal(orders_of(chat), 0);
	efx_exec(&F, "UPDATE products SET deleted_at = now() WHERE id = $1", 1,
	         (const char *const[]){id});
	free(id);
}

/* The payment method the shopper chose is withdrawn before the yes: asked again, not placed
 * with another method. */
static void test_payment_method_withdrawn(void **state)
{
	const char *chat = "pay-1";
	struct esent s;

	(void)state;
	honey_to_confirm(chat, "1"); /* cash on delivery */
	efx_exec(&F,
	         "UPDATE tenants SET settings = settings || '{\"payment_methods\": [\"mpesa\"]}'"
	         " WHERE id = app_tenant_id()",
	         0, NULL);
	efx_text(&F, chat, "yes", &s);
	assert_int_equal(s.res.order_number, 0);
	assert_contains(s.text, "the payment method you chose isn't available any more");
	assert_contains(s.text, "How would you like to pay?");
	assert_contains(s.last_reply, "\"pay:mpesa\"");
	esent_clear(&s);
	assert_int_equal(orders_of(chat), 0);
	efx_step(&F, chat, "1", "Shall I place the order?");
	efx_text(&F, chat, "yes", &s);
	assert_true(s.res.order_number > 0);
	assert_int_equal(efx_qlong(&F,
	                           "SELECT count(*) FROM orders WHERE id = $1"
	                           " AND payment_method = 'mpesa'",
	                           1, (const char *const[]){s.res.order_id}),
	                 1);
	esent_clear(&s);
	efx_exec(&F,
	         "UPDATE tenants SET settings = settings || '{\"payment_methods\": ["
	         "{\"code\": \"cash_on_delivery\", \"label\": \"Cash on delivery\"},"
	         " {\"code\": \"mpesa\", \"label\": \"M-Pesa\"}]}' WHERE id = app_tenant_id()",
	         0, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_price_changed_before_yes),
	    cmocka_unit_test(test_fee_and_tax_changed_before_yes),
	    cmocka_unit_test(test_foreign_currency_product),
	    cmocka_unit_test(test_handoff_keeps_everything),
	    cmocka_unit_test(test_long_name_and_address),
	    cmocka_unit_test(test_catalog_order_limits),
	    cmocka_unit_test(test_huge_prices),
	    cmocka_unit_test(test_payment_method_withdrawn),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
