/*
 * test_nlp_unit.c: unit tests of nlp/: normalization (NFKC, case, accents, full-width
 * digits, repeated letters), quantities and their bounds, context from the expectation,
 * typo, plural and split-word handling, product matching with and without the lexicon's
 * synonyms, lexicon loading errors, hostile input (invalid UTF-8, NUL bytes, 1 MiB, emoji
 * only, spaces only) and parsing from several threads at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nlp.h"
#include "nlp_model_internal.h"
#include "nlp_text_internal.h"

static struct nlp *g_nlp;

static int setup(void **state)
{
	char err[256];
	(void)state;
	g_nlp = nlp_new(NULL, err, sizeof(err));
	if (!g_nlp)
		fprintf(stderr, "nlp_new: %s\n", err);
	return g_nlp ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	nlp_free(g_nlp);
	return 0;
}

static struct nlp_reading parse_ex(const char *text, enum nlp_expect ex)
{
	struct nlp_reading r;
	nlp_parse(g_nlp, text, strlen(text), NULL, ex, &r);
	return r;
}

static struct nlp_reading parse(const char *text)
{
	return parse_ex(text, NLP_EXPECT_NONE);
}

static void test_normalize(void **state)
{
	char out[128];
	(void)state;
	nlp_normalize("  Café  CRÈME ", 16, out, sizeof(out));
	assert_string_equal(out, "cafe creme");
	nlp_normalize("ＡＤＤ ２ mugs", strlen("ＡＤＤ ２ mugs"), out, sizeof(out));
	assert_string_equal(out, "add 2 mugs");
	nlp_normalize("pleeeease", 9, out, sizeof(out));
	assert_string_equal(out, "pleease");
	nlp_normalize("don\xe2\x80\x99t", 7, out, sizeof(out)); /* curly apostrophe */
	assert_string_equal(out, "dont");
	/* output is always terminated and never cut inside a character */
	assert_int_equal(nlp_normalize("éàéàé", strlen("éàéàé"), out, 4), 3);
	assert_string_equal(out, "eae");
	nlp_normalize("👍🏽", strlen("👍🏽"), out, sizeof(out));
	assert_string_equal(out, "👍");
}

static void test_intents_basic(void **state)
{
	(void)state;
	assert_int_equal(parse("chekout").intent, NLP_INTENT_CHECKOUT);
	assert_int_equal(parse("cartt").intent, NLP_INTENT_VIEW_CART);
	assert_int_equal(parse("remvoe the mug").intent, NLP_INTENT_REMOVE_FROM_CART);
	assert_int_equal(parse("cancle").intent, NLP_INTENT_CANCEL_ORDER);
	assert_int_equal(parse("👍").intent, NLP_INTENT_CONFIRM);
	assert_int_equal(parse("✅").intent, NLP_INTENT_CONFIRM);
	assert_int_equal(parse("👎").intent, NLP_INTENT_DENY);
	assert_int_equal(parse("❌").intent, NLP_INTENT_DENY);
	assert_int_equal(parse("🛒").intent, NLP_INTENT_VIEW_CART);
	assert_int_equal(parse("oda yangu iko wapi").intent, NLP_INTENT_ORDER_STATUS);
	assert_string_equal(parse("oda yangu iko wapi").lang, "sw");
	assert_int_equal(parse("nataka kuongea na mtu").intent, NLP_INTENT_HUMAN);
	assert_int_equal(parse("menu").intent, NLP_INTENT_HELP);
	/* short words are not stretched into keywords */
	assert_int_equal(parse("nice mugs").intent, NLP_INTENT_SEARCH);
	assert_int_equal(parse("cat").intent, NLP_INTENT_SEARCH);
}

static void test_search_and_entities(void **state)
{
	struct nlp_reading r;
	(void)state;
	r = parse("do u have red mugs");
	assert_int_equal(r.intent, NLP_INTENT_SEARCH);
	assert_string_equal(r.product, "red mugs");
	assert_int_equal(r.quantity_state, NLP_QTY_NONE);
	assert_string_equal(r.lang, "en");
	assert_true(r.confidence > 0.5 && r.confidence <= 1.0);

	r = parse("nataka mugs mbili");
	assert_int_equal(r.intent, NLP_INTENT_ADD_TO_CART);
	assert_int_equal(r.quantity_state, NLP_QTY_OK);
	assert_int_equal(r.quantity, 2);
	assert_string_equal(r.product, "mugs");
	assert_string_equal(r.lang, "sw");

	r = parse("my order 1042 arrived broken");
	assert_int_equal(r.intent, NLP_INTENT_COMPLAINT);
	assert_int_equal(r.order_number, 1042);
	assert_int_equal(r.quantity_state, NLP_QTY_NONE);

	r = parse("status 1042");
	assert_int_equal(r.intent, NLP_INTENT_ORDER_STATUS);
	assert_int_equal(r.order_number, 1042);

	r = parse("checkout, pay with m-pesa");
	assert_int_equal(r.intent, NLP_INTENT_CHECKOUT);
	assert_string_equal(r.payment, "mpesa");

	r = parse("my number is +254 712 345678");
	assert_string_equal(r.phone, "+254712345678");
	r = parse("0712345678");
	assert_string_equal(r.phone, "0712345678");
	assert_int_equal(r.quantity_state, NLP_QTY_NONE);

	r = parse("ndiyo");
	assert_int_equal(r.yes_no, NLP_YN_YES);
	r = parse("hapana");
	assert_int_equal(r.yes_no, NLP_YN_NO);
}

static void check_qty(const char *text, int state_, long q)
{
	struct nlp_reading r = parse(text);
	if ((int)r.quantity_state != state_ || (state_ != NLP_QTY_NONE && r.quantity != q))
		fail_msg("'%s': quantity state %d value %ld, expected %d %ld", text,
			 r.quantity_state, r.quantity, state_, q);
}

static void test_quantities(void **state)
{
	(void)state;
	check_qty("add 2 mugs", NLP_QTY_OK, 2);
	check_qty("x3 honey pls", NLP_QTY_OK, 3);
	check_qty("honey x3", NLP_QTY_OK, 3);
	check_qty("3x honey", NLP_QTY_OK, 3);
	check_qty("add 2pcs soap", NLP_QTY_OK, 2);
	check_qty("add two mugs", NLP_QTY_OK, 2);
	check_qty("add a pair of sandals", NLP_QTY_OK, 2);
	check_qty("a dozen mugs", NLP_QTY_OK, 12);
	check_qty("two dozen soaps", NLP_QTY_OK, 24);
	check_qty("add twenty five mugs", NLP_QTY_OK, 25);
	check_qty("nataka dress kumi na mbili", NLP_QTY_OK, 12);
	check_qty("ongeza sabuni tatu", NLP_QTY_OK, 3);
	check_qty("add ３ honey", NLP_QTY_OK, 3);
	check_qty("add 999 mugs", NLP_QTY_OK, 999);
	check_qty("add 0 mugs", NLP_QTY_INVALID, 0);
	check_qty("add -2 mugs", NLP_QTY_INVALID, -2);
	check_qty("add 1000 mugs", NLP_QTY_INVALID, 1000);
	check_qty("add 99999999999999999999999 mugs", NLP_QTY_INVALID, 1000000000000L);
	check_qty("add the blue one", NLP_QTY_NONE, 0);
	check_qty("add honey 500g", NLP_QTY_NONE, 0);
	check_qty("add 2 honey 500g", NLP_QTY_OK, 2);
}

static void test_expectations(void **state)
{
	struct nlp_reading r;
	(void)state;
	r = parse_ex("2", NLP_EXPECT_QUANTITY);
	assert_int_equal(r.quantity_state, NLP_QTY_OK);
	assert_int_equal(r.quantity, 2);
	r = parse_ex("mbili", NLP_EXPECT_QUANTITY);
	assert_int_equal(r.quantity, 2);
	r = parse_ex("one", NLP_EXPECT_QUANTITY);
	assert_int_equal(r.quantity, 1);
	r = parse_ex("1500", NLP_EXPECT_QUANTITY);
	assert_int_equal(r.quantity_state, NLP_QTY_INVALID);
	assert_int_equal(r.order_number, 0);

	r = parse_ex("ok", NLP_EXPECT_YES_NO);
	assert_int_equal(r.intent, NLP_INTENT_CONFIRM);
	r = parse_ex("sawa", NLP_EXPECT_YES_NO);
	assert_int_equal(r.intent, NLP_INTENT_CONFIRM);
	assert_int_equal(r.yes_no, NLP_YN_YES);

	r = parse_ex("mpesa", NLP_EXPECT_PAYMENT);
	assert_string_equal(r.payment, "mpesa");
	r = parse_ex("cash", NLP_EXPECT_PAYMENT);
	assert_string_equal(r.payment, "cash_on_delivery");

	r = parse_ex("2", NLP_EXPECT_CHOICE);
	assert_int_equal(r.choice, 2);
	assert_int_equal(r.quantity_state, NLP_QTY_NONE);
	r = parse_ex("the second one", NLP_EXPECT_CHOICE);
	assert_int_equal(r.choice, 2);
	r = parse_ex("ya tatu", NLP_EXPECT_CHOICE);
	assert_int_equal(r.choice, 3);

	/* an answer worded as a request is still the answer; another request is not */
	r = parse_ex("make it six", NLP_EXPECT_QUANTITY);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_int_equal(r.quantity, 6);
	r = parse_ex("nataka tano", NLP_EXPECT_QUANTITY);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_int_equal(r.quantity, 5);
	r = parse_ex("tatu zinatosha", NLP_EXPECT_QUANTITY);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_int_equal(r.quantity, 3);
	r = parse_ex("number 3", NLP_EXPECT_CHOICE);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_int_equal(r.choice, 3);
	assert_int_equal(r.order_number, 0);
	r = parse_ex("nipe ile ya tatu", NLP_EXPECT_CHOICE);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_int_equal(r.choice, 3);
	r = parse_ex("nitalipa na mpesa", NLP_EXPECT_PAYMENT);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_string_equal(r.payment, "mpesa");
	r = parse_ex("cash when you bring it", NLP_EXPECT_PAYMENT);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_string_equal(r.payment, "cash_on_delivery");
	assert_int_equal(parse_ex("do you take mpesa", NLP_EXPECT_PAYMENT).intent,
			 NLP_INTENT_QUESTION);
	assert_int_equal(parse_ex("cancel my order", NLP_EXPECT_CHOICE).intent,
			 NLP_INTENT_CANCEL_ORDER);
	assert_int_equal(parse_ex("talk to a person", NLP_EXPECT_QUANTITY).intent,
			 NLP_INTENT_HUMAN);

	r = parse_ex("John Kamau", NLP_EXPECT_NAME);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	r = parse_ex("Hope", NLP_EXPECT_NAME);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	r = parse_ex("house 12, total petrol station", NLP_EXPECT_ADDRESS);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_int_equal(r.quantity_state, NLP_QTY_NONE);
	r = parse_ex("menu", NLP_EXPECT_ADDRESS);
	assert_int_equal(r.intent, NLP_INTENT_HELP);
	r = parse_ex("cancel", NLP_EXPECT_NAME);
	assert_int_equal(r.intent, NLP_INTENT_CANCEL_ORDER);
	r = parse_ex("0722 000 111", NLP_EXPECT_PHONE);
	assert_string_equal(r.phone, "0722000111");
}

static void test_product_match(void **state)
{
	const char *const catalog[] = { "Red Ceramic Mug", "Blue Ceramic Mug", "Organic Honey 500g",
					"Black T-Shirt", "Kikoi Beach Wrap", "Leather Sandals",
					"Arabica Coffee Beans 250g", "Aloe Vera Soap" };
	size_t n = sizeof(catalog) / sizeof(catalog[0]);
	struct nlp_match m[4];
	size_t k;
	(void)state;

	k = nlp_match_products("red mugg", catalog, n, 0.5, m, 4);
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 0);
	assert_true(k == 1 || m[1].score < m[0].score);

	k = nlp_match_products("honey", catalog, n, 0.5, m, 4);
	assert_int_equal(k, 1);
	assert_int_equal(m[0].index, 2);

	k = nlp_match_products("mugs", catalog, n, 0.5, m, 4);
	assert_int_equal(k, 2); /* two close candidates: the engine asks "did you mean" */
	assert_true(m[0].score - m[1].score < 0.05);

	k = nlp_match_products("tshirts", catalog, n, 0.5, m, 4);
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 3);
	k = nlp_match_products("sandles", catalog, n, 0.5, m, 4);
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 5);
	k = nlp_match_products("cofee", catalog, n, 0.5, m, 4);
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 6);

	assert_int_equal(nlp_match_products("bicycle", catalog, n, 0.5, m, 4), 0);
	assert_int_equal(nlp_match_products("", catalog, n, 0.0, m, 4), 0);
	/* max bounds what is written */
	assert_int_equal(nlp_match_products("ceramic mug", catalog, n, 0.1, m, 1), 1);
}

/* What the reader does to words it does not know: plurals, typos, split words, sizes. */
static void test_word_forms(void **state)
{
	struct nlp_reading r;
	(void)state;

	r = parse("my orders");
	assert_int_equal(r.intent, NLP_INTENT_ORDER_STATUS);
	r = parse("show my orders");
	assert_int_equal(r.intent, NLP_INTENT_ORDER_STATUS);
	r = parse("refunds"); /* suffix rule: "refund" */
	assert_int_equal(r.intent, NLP_INTENT_COMPLAINT);
	r = parse("zimeharibika"); /* prefix rule: "imeharibika" */
	assert_int_equal(r.intent, NLP_INTENT_COMPLAINT);
	assert_string_equal(r.lang, "sw");
	r = parse("lipia");
	assert_int_equal(r.intent, NLP_INTENT_CHECKOUT);

	/* four letters: a swap or a dropped letter, never a changed one */
	assert_int_equal(parse("hepl").intent, NLP_INTENT_HELP);
	assert_int_equal(parse("crat").intent, NLP_INTENT_VIEW_CART);
	r = parse("card");
	assert_int_equal(r.intent, NLP_INTENT_SEARCH);
	assert_string_equal(r.product, "card");
	r = parse("rest"); /* a real word, listed: not "reset" */
	assert_int_not_equal(r.intent, NLP_INTENT_CLEAR_CART);
	assert_int_equal(parse("hellow").intent, NLP_INTENT_GREET);

	/* split words */
	assert_int_equal(parse("chek out").intent, NLP_INTENT_CHECKOUT);
	assert_int_equal(parse("can cel my order").intent, NLP_INTENT_CANCEL_ORDER);
	r = parse("red mug");
	assert_string_equal(r.product, "red mug");

	/* a size is no quantity */
	r = parse("leather sandals size 42");
	assert_int_equal(r.intent, NLP_INTENT_SEARCH);
	assert_int_equal(r.quantity_state, NLP_QTY_NONE);
	assert_string_equal(r.product, "leather sandals size");
	r = parse("2 tshirts size 40");
	assert_int_equal(r.intent, NLP_INTENT_ADD_TO_CART);
	assert_int_equal(r.quantity, 2);
	r = parse("shoes size 42 x3");
	assert_int_equal(r.quantity, 3);

	/* Swahili numbers agree with the noun */
	r = parse("ongeza vikombe viwili");
	assert_int_equal(r.intent, NLP_INTENT_ADD_TO_CART);
	assert_int_equal(r.quantity, 2);
	assert_string_equal(r.product, "vikombe");
	r = parse("add zero honey");
	assert_int_equal(r.quantity_state, NLP_QTY_INVALID);
	assert_int_equal(r.quantity, 0);
}

/* The conversation language: "menu" is English; a product word alone tells only when the
 * engine gives no hint, so "asali" does not flip an English conversation. */
static void test_language(void **state)
{
	struct nlp_reading r;
	(void)state;

	r = parse("menu");
	assert_int_equal(r.intent, NLP_INTENT_HELP);
	assert_string_equal(r.lang, "en");
	assert_string_equal(parse("menyu").lang, "sw");
	r = parse("nataka asali mbili");
	assert_int_equal(r.intent, NLP_INTENT_ADD_TO_CART);
	assert_int_equal(r.quantity, 2);
	assert_string_equal(r.product, "asali");
	assert_string_equal(r.lang, "sw");
	assert_string_equal(parse("asali").lang, "sw");
	nlp_parse(g_nlp, "asali", 5, "en", NLP_EXPECT_NONE, &r);
	assert_string_equal(r.lang, "en");
	assert_string_equal(r.product, "asali");
	nlp_parse(g_nlp, "do you have asali", 17, NULL, NLP_EXPECT_NONE, &r);
	assert_string_equal(r.lang, "en");
}

static void test_product_synonyms(void **state)
{
	const char *const catalog[] = { "Acacia Honey 500g",	   "Kenya AA Coffee Beans 250g",
					"Kericho Gold Tea 100 bags", "Maasai Beaded Mug",
					"Nairobi T-Shirt Black M",   "Nairobi T-Shirt White L",
					"Kikoi Striped Red",	   "Leather Sandals",
					"Coconut Oil Soap",	   "Aloe Vera Soap" };
	static const char *const phrases[] = { "red mugg", "honey",  "kikoi in red", "asali ya 1kg",
					       "tshirts",  "sandles", "mugs",	       "bicycle" };
	size_t n = sizeof(catalog) / sizeof(catalog[0]);
	struct nlp_match m[4], o[4];
	size_t k, ko;
	(void)state;

	/* the plain matcher does not know Swahili */
	assert_int_equal(nlp_match_products("asali", catalog, n, 0.5, m, 4), 0);
	k = nlp_match_products_nlp(g_nlp, "asali", catalog, n, 0.5, m, 4);
	assert_int_equal(k, 1);
	assert_int_equal(m[0].index, 0);
	k = nlp_match_products_nlp(g_nlp, "kahawa", catalog, n, 0.5, m, 4);
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 1);
	k = nlp_match_products_nlp(g_nlp, "majani ya chai", catalog, n, 0.5, m, 4);
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 2);
	k = nlp_match_products_nlp(g_nlp, "vikombe", catalog, n, 0.5, m, 4); /* vi- -> ki- */
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 3);
	k = nlp_match_products_nlp(g_nlp, "shati nyeusi", catalog, n, 0.5, m, 4);
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 4);
	assert_true(k == 1 || m[0].score - m[1].score > 0.1);
	k = nlp_match_products_nlp(g_nlp, "mashati", catalog, n, 0.5, m, 4); /* ma- */
	assert_int_equal(k, 2);
	k = nlp_match_products_nlp(g_nlp, "vikoi", catalog, n, 0.5, m, 4);
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 6);
	k = nlp_match_products_nlp(g_nlp, "viatu", catalog, n, 0.5, m, 4);
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 7);
	k = nlp_match_products_nlp(g_nlp, "mafuta ya nazi", catalog, n, 0.5, m, 4);
	assert_true(k >= 1);
	assert_int_equal(m[0].index, 8);
	k = nlp_match_products_nlp(g_nlp, "sabuni", catalog, n, 0.5, m, 4);
	assert_int_equal(k, 2);

	/* NULL is the plain matcher; the lexicon never lowers a score */
	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++) {
		ko = nlp_match_products(phrases[i], catalog, n, 0.0, o, 4);
		assert_int_equal(nlp_match_products_nlp(NULL, phrases[i], catalog, n, 0.0, m, 4),
				 ko);
		for (size_t j = 0; j < ko; j++) {
			assert_int_equal(m[j].index, o[j].index);
			assert_true(m[j].score == o[j].score);
		}
		for (size_t c = 0; c < n; c++) {
			const char *one[1] = { catalog[c] };
			double a = 0.0, b = 0.0;
			if (nlp_match_products(phrases[i], one, 1, 0.0, o, 1))
				a = o[0].score;
			if (nlp_match_products_nlp(g_nlp, phrases[i], one, 1, 0.0, m, 1))
				b = m[0].score;
			assert_true(b >= a);
		}
	}
	assert_int_equal(nlp_match_products_nlp(g_nlp, "bicycle", catalog, n, 0.5, m, 4), 0);
	assert_int_equal(nlp_match_products_nlp(g_nlp, NULL, catalog, n, 0.0, m, 4), 0);
}

static void assert_sane(const struct nlp_reading *r)
{
	assert_true(r->intent >= NLP_INTENT_UNKNOWN && r->intent < NLP_INTENT_COUNT);
	assert_true(r->confidence >= 0.0 && r->confidence <= 1.0);
	assert_true(memchr(r->product, '\0', sizeof(r->product)) != NULL);
	assert_true(memchr(r->phone, '\0', sizeof(r->phone)) != NULL);
	assert_true(!strcmp(r->lang, "en") || !strcmp(r->lang, "sw"));
}

static void test_bad_input(void **state)
{
	struct nlp_reading r;
	static const char invalid[] = "\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc"
				      "add\xc0\xaf 2 mugs\xed\xa0\x80";
	static const char with_nul[] = "add 2\0 mugs";
	size_t big = 1u << 20;
	char *buf;
	(void)state;

	nlp_parse(g_nlp, invalid, sizeof(invalid) - 1, NULL, NLP_EXPECT_NONE, &r);
	assert_sane(&r);
	assert_int_equal(r.intent, NLP_INTENT_ADD_TO_CART);
	nlp_parse(g_nlp, with_nul, sizeof(with_nul) - 1, NULL, NLP_EXPECT_NONE, &r);
	assert_sane(&r);
	assert_int_equal(r.quantity, 2);
	nlp_parse(g_nlp, NULL, 10, NULL, NLP_EXPECT_NONE, &r);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	nlp_parse(g_nlp, "", 0, "sw", NLP_EXPECT_NONE, &r);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_string_equal(r.lang, "sw");
	nlp_parse(NULL, "hi", 2, NULL, NLP_EXPECT_NONE, &r);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	nlp_parse(g_nlp, "hi", 2, NULL, NLP_EXPECT_NONE, NULL);

	r = parse("          ");
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	r = parse("😂😂😂🤔🤔");
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_string_equal(r.product, "");

	/* 1 MiB in exact-size heap buffers, so AddressSanitizer sees any read past the end */
	buf = malloc(big);
	assert_non_null(buf);
	memset(buf, 'a', big);
	nlp_parse(g_nlp, buf, big, NULL, NLP_EXPECT_NONE, &r);
	assert_sane(&r);
	for (size_t i = 0; i < big; i++)
		buf[i] = "add 2 mugs \xf0\x9f\x91\x8d \xe2\x80\x99"[i % 17];
	nlp_parse(g_nlp, buf, big, NULL, NLP_EXPECT_NONE, &r);
	assert_sane(&r);
	for (size_t i = 0; i < big; i++)
		buf[i] = (char)(i * 2654435761u >> 13);
	nlp_parse(g_nlp, buf, big, NULL, NLP_EXPECT_ADDRESS, &r);
	assert_sane(&r);
	memset(buf, ' ', big);
	nlp_parse(g_nlp, buf, big, NULL, NLP_EXPECT_NONE, &r);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	memset(buf, '9', big);
	nlp_parse(g_nlp, buf, big, NULL, NLP_EXPECT_QUANTITY, &r);
	assert_int_equal(r.quantity_state, NLP_QTY_INVALID);
	free(buf);

	/* a lone lead byte at the very end of the buffer */
	buf = malloc(3);
	assert_non_null(buf);
	memcpy(buf, "k\xf0\x9f", 3);
	nlp_parse(g_nlp, buf, 3, NULL, NLP_EXPECT_NONE, &r);
	assert_sane(&r);
	free(buf);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_lexicon_errors(void **state)
{
	char dir[] = "/tmp/nlp_lex_XXXXXX", path[256], err[256];
	struct nlp *n;
	struct nlp_reading r;
	(void)state;

	assert_non_null(mkdtemp(dir));
	n = nlp_new(dir, err, sizeof(err));
	assert_null(n);
	assert_non_null(strstr(err, "no *.tsv"));

	snprintf(path, sizeof(path), "%s/fr.tsv", dir);
	write_file(path, "# French\nbonjour\tintent\tgreet\nmerci\tintent\tthanks\t1.5\n"
			 "oui\tyes\nun\tnum\t1\n");
	n = nlp_new(dir, err, sizeof(err));
	assert_non_null(n);
	nlp_parse(n, "Bonjour", 7, NULL, NLP_EXPECT_NONE, &r);
	assert_int_equal(r.intent, NLP_INTENT_GREET);
	assert_string_equal(r.lang, "fr");
	nlp_free(n);

	write_file(path, "bonjour\tintent\tsalute\n");
	assert_null(nlp_new(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "fr.tsv:1: unknown intent"));
	write_file(path, "livraison\ttopic\tshipping\n");
	assert_null(nlp_new(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "fr.tsv:1: topic must be"));
	write_file(path, "bonjour\tgreeting\n");
	assert_null(nlp_new(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown kind"));
	write_file(path, "le\tstop\tclause\n");
	assert_null(nlp_new(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "takes no value"));
	write_file(path, "deux\tnum\tdeux\n");
	assert_null(nlp_new(dir, err, sizeof(err)));
	write_file(path, "miel\tsyn\n");
	assert_null(nlp_new(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "fr.tsv:1: a synonym needs"));
	write_file(path, "le\tword\tx\n");
	assert_null(nlp_new(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "takes no value"));
	write_file(path, "# rules\nvi\tprefix\tki-\n");
	assert_null(nlp_new(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "fr.tsv:2: a prefix rule is"));
	write_file(path, "-S\tsuffix\t-\n");
	assert_null(nlp_new(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "a suffix rule is"));

	/* synonyms and word-form rules are data too */
	write_file(path, "commande\tintent\torder_status\n-s\tsuffix\t-\nmiel\tsyn\thoney\n");
	n = nlp_new(dir, err, sizeof(err));
	assert_non_null(n);
	nlp_parse(n, "commandes", 9, NULL, NLP_EXPECT_NONE, &r);
	assert_int_equal(r.intent, NLP_INTENT_ORDER_STATUS);
	{
		const char *names[] = { "Red Mug", "Organic Honey 500g" };
		struct nlp_match m[2];
		assert_int_equal(nlp_match_products_nlp(n, "miel", names, 2, 0.5, m, 2), 1);
		assert_int_equal(m[0].index, 1);
	}
	nlp_free(n);
	unlink(path);

	snprintf(path, sizeof(path), "%s/french.tsv", dir);
	write_file(path, "oui\tyes\n");
	assert_null(nlp_new(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "two-letter"));
	unlink(path);
	rmdir(dir);
}

static void *thread_main(void *arg)
{
	static const char *const lines[] = { "do u have red mugs", "nataka mugs mbili",
					     "chekout", "status 1042", "x3 honey pls" };
	long bad = 0;
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		struct nlp_reading r;
		const char *t = lines[i % 5];
		nlp_parse(g_nlp, t, strlen(t), NULL, NLP_EXPECT_NONE, &r);
		if ((i % 5 == 1 && r.quantity != 2) || (i % 5 == 3 && r.order_number != 1042))
			bad++;
	}
	return (void *)bad;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *bad;
		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_null(bad);
	}
}

/* Shop questions read as "question" with their topic (and place for delivery); "I have paid"
 * and a pasted M-Pesa confirmation read as "paid" with the transaction code. */
static void test_questions_and_paid(void **state)
{
	static const struct {
		const char *text, *topic, *place, *lang;
	} q[] = {
		{ "do you deliver to Mombasa?", "delivery", "mombasa", "en" },
		{ "delivery fee?", "delivery_fee", "", "en" },
		{ "how much is delivery to Kisumu", "delivery_fee", "kisumu", "en" },
		{ "how long does delivery take?", "delivery_time", "", "en" },
		{ "are you open on sunday", "hours", "", "en" },
		{ "saturday hours", "hours", "", "en" },
		{ "mnafungua saa ngapi", "hours", "", "sw" },
		{ "do you take mpesa", "payment", "", "en" },
		{ "mnakubali mpesa", "payment", "", "sw" },
		{ "how do I pay", "payment", "", "en" },
		{ "can I return", "returns", "", "en" },
		{ "naweza kurudisha", "returns", "", "sw" },
		{ "mnaleta hadi Nakuru", "delivery", "nakuru", "sw" },
		{ "where are you located", "other", "", "en" },
	};
	struct nlp_reading r;
	(void)state;

	for (size_t k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
		r = parse(q[k].text);
		if (r.intent != NLP_INTENT_QUESTION || strcmp(r.topic, q[k].topic) != 0 ||
		    strcmp(r.place, q[k].place) != 0 || strcmp(r.lang, q[k].lang) != 0)
			fail_msg("'%s': got %s topic '%s' place '%s' lang %s", q[k].text,
				 nlp_intent_name(r.intent), r.topic, r.place, r.lang);
		assert_true(r.confidence >= 0.5);
		assert_string_equal(r.product, ""); /* the place is no product */
	}
	/* a refund demand stays a complaint; "when is delivery" asks about an order */
	assert_int_equal(parse("i want a refund").intent, NLP_INTENT_COMPLAINT);
	assert_int_equal(parse("when is delivery").intent, NLP_INTENT_ORDER_STATUS);
	assert_int_equal(parse("lipa na mpesa").intent, NLP_INTENT_CHECKOUT);
	assert_int_equal(parse("how much is the honey").intent, NLP_INTENT_SEARCH);
	r = parse("who are you"); /* a question about nothing the shop answers */
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_string_equal(r.topic, "");
	/* the topic is only for questions */
	assert_string_equal(parse("add 2 mugs").topic, "");

	r = parse("what is in my cart");
	assert_int_equal(r.intent, NLP_INTENT_VIEW_CART);

	r = parse("nimelipa na mpesa");
	assert_int_equal(r.intent, NLP_INTENT_PAID);
	assert_string_equal(r.payment, "mpesa");
	assert_string_equal(r.product, "");
	assert_string_equal(r.lang, "sw");
	assert_int_equal(parse("I have paid").intent, NLP_INTENT_PAID);
	assert_int_equal(parse("nimetuma pesa").intent, NLP_INTENT_PAID);
	assert_string_equal(parse("I have paid").payment_ref, "");

	r = parse("QGH7XK2M1P Confirmed. Ksh1,250.00 sent to DEMO SHOP for account 1042 on "
		  "6/12/26 at 1:15 PM New M-PESA balance is Ksh3,400.00.");
	assert_int_equal(r.intent, NLP_INTENT_PAID);
	assert_string_equal(r.payment_ref, "QGH7XK2M1P");
	assert_true(r.confidence >= 0.9);
	assert_int_equal(r.quantity_state, NLP_QTY_NONE);
	assert_int_equal(r.order_number, 0);
	r = parse("my code is qfr4tt9zq2"); /* typed in lower case */
	assert_int_equal(r.intent, NLP_INTENT_PAID);
	assert_string_equal(r.payment_ref, "QFR4TT9ZQ2");
	/* ten letters without a digit, or ten digits, are no code */
	assert_string_equal(parse("strawberry jam").payment_ref, "");
	assert_string_equal(parse("0712345678").payment_ref, "");
	assert_string_equal(parse("QGH7XK2M1PX").payment_ref, "");
	/* with a name expected, the code is kept although the text is the answer */
	r = parse_ex("QGH7XK2M1P", NLP_EXPECT_NAME);
	assert_string_equal(r.payment_ref, "QGH7XK2M1P");
}

/* The statistical classifier behind the rules: calibrated probabilities; it reads what the
 * rules cannot (with a lexicon that knows almost nothing, the compiled-in model still reads
 * "where is my order"); an unsure reading offers the two likeliest intents. */
static void test_classifier(void **state)
{
	char dir[] = "/tmp/nlp_clf_XXXXXX", path[256], err[256], norm[256];
	struct nlp_token toks[NLP_TOKENS_MAX];
	double p[NLP_INTENT_COUNT], sum = 0.0;
	struct nlp_reading r;
	struct nlp *n;
	size_t nt;
	(void)state;

	nt = nlp_text_tokenize(norm, nlp_normalize("show my cart", 12, norm, sizeof(norm)), toks,
			       NLP_TOKENS_MAX);
	assert_true(nlp_classify(toks, nt, p) > 0);
	for (int c = 0; c < NLP_INTENT_COUNT; c++) {
		assert_true(p[c] >= 0.0 && p[c] <= 1.0);
		sum += p[c];
		if (c != NLP_INTENT_VIEW_CART)
			assert_true(p[c] < p[NLP_INTENT_VIEW_CART]);
	}
	assert_true(sum > 0.999999 && sum < 1.000001);
	assert_int_equal(nlp_classify(toks, 0, p), 0); /* nothing to go on */

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/xx.tsv", dir);
	write_file(path, "habari\tintent\tgreet\n");
	n = nlp_new(dir, err, sizeof(err));
	assert_non_null(n);
	nlp_parse(n, "where is my order", 17, NULL, NLP_EXPECT_NONE, &r);
	assert_int_equal(r.intent, NLP_INTENT_ORDER_STATUS);
	assert_true(r.confidence >= 0.7);
	nlp_parse(n, "show my cart", 12, NULL, NLP_EXPECT_NONE, &r);
	assert_int_equal(r.intent, NLP_INTENT_VIEW_CART);
	nlp_free(n);
	unlink(path);
	rmdir(dir);

	/* unsure: unknown, with two different likely intents, the likelier first */
	r = parse("im interested in the soap");
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_int_equal(r.alt[0], NLP_INTENT_SEARCH);
	assert_true(r.alt[1] != NLP_INTENT_UNKNOWN && r.alt[1] != r.alt[0]);
	assert_true(r.alt_confidence[0] >= r.alt_confidence[1] && r.alt_confidence[1] > 0.0);
	assert_true(r.alt_confidence[0] <= 1.0);
	assert_true(strstr(r.product, "soap") != NULL); /* kept for the search it offers */
	/* unclear for a reason: two requests the rules weigh alike are offered both, unless
	 * the model is very sure (0.9) of one */
	static const char *const tie[] = { "i have an issue, please help",
					   "nina shida, sielewi" };
	for (size_t k = 0; k < sizeof(tie) / sizeof(tie[0]); k++) {
		r = parse(tie[k]);
		assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
		assert_true((r.alt[0] == NLP_INTENT_HELP && r.alt[1] == NLP_INTENT_COMPLAINT) ||
			    (r.alt[0] == NLP_INTENT_COMPLAINT && r.alt[1] == NLP_INTENT_HELP));
	}
	/* a product intent with no product is no rival: "can i get" help, "get me" an agent */
	assert_int_equal(parse("can i get some help here").intent, NLP_INTENT_HELP);
	assert_int_equal(parse("get me an agent").intent, NLP_INTENT_HUMAN);
	/* a product named in a sentence the reader cannot read: look at it, or buy it? */
	r = parse("tell me about the honey");
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_int_equal(r.alt[0], NLP_INTENT_SEARCH);
	assert_int_equal(r.alt[1], NLP_INTENT_ADD_TO_CART);
	assert_string_equal(r.product, "honey");
	/* sure readings offer nothing */
	static const char *const sure[] = { "add 2 mugs", "hi", "red mugs", "show my cart",
					    "nimelipa", "do you deliver to Mombasa?" };
	for (size_t k = 0; k < sizeof(sure) / sizeof(sure[0]); k++) {
		r = parse(sure[k]);
		assert_int_equal(r.alt[0], NLP_INTENT_UNKNOWN);
		assert_int_equal(r.alt[1], NLP_INTENT_UNKNOWN);
	}
	/* a name, an address or a phone number is the answer, never a guess */
	r = parse_ex("im interested in the soap", NLP_EXPECT_ADDRESS);
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_int_equal(r.alt[0], NLP_INTENT_UNKNOWN);
	/* "lol" is not understood, and there is nothing to offer */
	r = parse("lol");
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_true(r.confidence < 0.5);
}

/* The sixth round's combination: the classifier, trained on the corpus and train2.tsv,
 * overrules keyword readings it is sure of, and reads sentences the lexicon lacks; the rules
 * keep what they know for sure. */
static void test_classifier_trusted(void **state)
{
	struct nlp_reading r;

	(void)state;
	/* a sentence the lexicon lacks, read by the model: a complaint, not a search */
	r = parse("kikombe kina ufa");
	assert_int_equal(r.intent, NLP_INTENT_COMPLAINT);
	assert_string_equal(r.product, "");
	/* emptying the cart over a "product" the model is very sure is none ... */
	assert_int_equal(parse("ondoa kila item").intent, NLP_INTENT_CLEAR_CART);
	/* ... while a product named stays a removal */
	r = parse("futa shea butter kwa cart");
	assert_int_equal(r.intent, NLP_INTENT_REMOVE_FROM_CART);
	assert_string_equal(r.product, "shea butter");
	/* two actions: the adding comes first, whatever the model thinks of "checkout" */
	r = parse("add 2 honey and checkout");
	assert_int_equal(r.intent, NLP_INTENT_ADD_TO_CART);
	assert_int_equal(r.quantity, 2);
	assert_string_equal(r.product, "honey");
	/* an insult is a complaint, never a request for a person */
	assert_int_equal(parse("stupid bot").intent, NLP_INTENT_COMPLAINT);
	/* one word the model knows only by its pieces stays the rules' reading */
	r = parse("card");
	assert_int_equal(r.intent, NLP_INTENT_SEARCH);
	assert_string_equal(r.product, "card");
	/* a payment told as done in Swahili; "no problem" as a yes */
	assert_int_equal(parse("nimemaliza kulipa").intent, NLP_INTENT_PAID);
	assert_int_equal(parse_ex("haina shida", NLP_EXPECT_YES_NO).intent, NLP_INTENT_CONFIRM);
	assert_int_equal(parse_ex("hakuna haja", NLP_EXPECT_YES_NO).intent, NLP_INTENT_DENY);
}

/* Small talk (stop words flagged "chat") reads as unknown with nothing to offer, not as a
 * search or a confirmation; a greeting, thanks or action word in it still counts, and a
 * yes asked for is still a yes. Sheng verb prefixes on English verbs are stripped. */
static void test_smalltalk_and_sheng(void **state)
{
	static const char *const chat[] = { "lolz", "brb", "uhm", "ok cool", "hmm ok",
		"okay then", "sijui bado", "nitakuambia baadaye", "sawa nitarudi baadaye",
		"blah blah blah ok bye", "😂😂" };
	struct nlp_reading r;

	(void)state;
	for (size_t k = 0; k < sizeof(chat) / sizeof(chat[0]); k++) {
		r = parse(chat[k]);
		assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
		assert_int_equal(r.alt[0], NLP_INTENT_UNKNOWN);
		assert_string_equal(r.product, "");
	}
	assert_int_equal(parse("lol thanks").intent, NLP_INTENT_THANKS);
	r = parse("haha ok add 2 mugs");
	assert_int_equal(r.intent, NLP_INTENT_ADD_TO_CART);
	assert_int_equal(r.quantity, 2);
	assert_int_equal(parse_ex("ok cool", NLP_EXPECT_YES_NO).intent, NLP_INTENT_CONFIRM);
	assert_int_equal(parse("nice mugs").intent, NLP_INTENT_SEARCH);
	/* ku-, nime-, nita- + an English verb */
	r = parse("nataka kucancel oda 2290");
	assert_int_equal(r.intent, NLP_INTENT_CANCEL_ORDER);
	assert_int_equal(r.order_number, 2290);
	assert_int_equal(parse("nimecancel order yangu").intent, NLP_INTENT_CANCEL_ORDER);
	assert_int_equal(parse("nitacheckout sasa").intent, NLP_INTENT_CHECKOUT);
	/* not wanting an order (no product named) is cancelling it; a product stays a removal */
	assert_int_equal(parse("sitaki tena hiyo oda").intent, NLP_INTENT_CANCEL_ORDER);
	assert_int_equal(parse("remove my order").intent, NLP_INTENT_CANCEL_ORDER);
	assert_int_equal(parse("remove the mug").intent, NLP_INTENT_REMOVE_FROM_CART);
	/* asking about returns for a problem is a question; the problem alone a complaint */
	r = parse("can i return shoes that dont fit");
	assert_int_equal(r.intent, NLP_INTENT_QUESTION);
	assert_string_equal(r.topic, "returns");
	assert_int_equal(parse("the shoes dont fit").intent, NLP_INTENT_COMPLAINT);
}

/* Greetings and thanks around a request step aside; Pidgin touches; durations are no
 * quantity; problems stated as facts (issue 16 part 5, third round). */
static void test_polite_and_pidgin(void **state)
{
	struct nlp_reading r;

	(void)state;
	r = parse("hello good morning, please i want to ask if you deliver to kisumu, thanks");
	assert_int_equal(r.intent, NLP_INTENT_QUESTION);
	assert_string_equal(r.topic, "delivery");
	assert_string_equal(r.place, "kisumu");
	r = parse("good morning, i would like 2 mugs please");
	assert_int_equal(r.intent, NLP_INTENT_ADD_TO_CART);
	assert_int_equal(r.quantity, 2);
	assert_int_equal(parse("hello good morning").intent, NLP_INTENT_GREET);
	assert_int_equal(parse("asante kwa msaada").intent, NLP_INTENT_THANKS);
	r = parse("abeg add 2 shea butter");
	assert_int_equal(r.intent, NLP_INTENT_ADD_TO_CART);
	assert_string_equal(r.product, "shea butter");
	assert_int_equal(parse("i don pay").intent, NLP_INTENT_PAID);
	r = parse("its been two weeks and nothing");
	assert_int_equal(r.intent, NLP_INTENT_COMPLAINT);
	assert_int_equal(r.quantity_state, NLP_QTY_NONE);
	assert_int_equal(parse("mmenitumia rangi tofauti").intent, NLP_INTENT_COMPLAINT);
	assert_int_equal(parse("delivery guy never showed up").intent, NLP_INTENT_COMPLAINT);
	r = parse("send me your price list");
	assert_int_equal(r.intent, NLP_INTENT_BROWSE);
	assert_string_equal(r.product, "");
	/* a number next to money or a duration is neither a quantity nor an order number */
	r = parse("sent ksh 3200 just now");
	assert_int_equal(r.intent, NLP_INTENT_PAID);
	assert_int_equal(r.order_number, 0);
	r = parse("i have waited for 2 weeks");
	assert_int_equal(r.intent, NLP_INTENT_COMPLAINT);
	assert_int_equal(r.quantity_state, NLP_QTY_NONE);
	r = parse("add 2 mugs");
	assert_int_equal(r.quantity, 2);
	assert_int_equal(parse("status of order 1042").order_number, 1042);
	/* a topic word one typo away is corrected too */
	r = parse("how much is delivry to thika");
	assert_int_equal(r.intent, NLP_INTENT_QUESTION);
	assert_string_equal(r.topic, "delivery_fee");
	assert_string_equal(r.place, "thika");
	assert_int_equal(parse("i hav payed").intent, NLP_INTENT_PAID);
	/* "ok" before a request steps aside too, unless a yes or no is expected */
	assert_int_equal(parse("alright i'm ready to buy").intent, NLP_INTENT_CHECKOUT);
	assert_int_equal(parse_ex("alright", NLP_EXPECT_YES_NO).intent, NLP_INTENT_CONFIRM);
	/* not wanting: a removal with a product, a plain no without one */
	r = parse("i don't want coffee");
	assert_int_equal(r.intent, NLP_INTENT_REMOVE_FROM_CART);
	assert_string_equal(r.product, "coffee");
	assert_int_equal(parse("sitaki").intent, NLP_INTENT_DENY);
	/* a question about no shop topic that names a product asks for it */
	r = parse("naomba kujua kama mna kikoi");
	assert_int_equal(r.intent, NLP_INTENT_SEARCH);
	assert_string_equal(r.product, "kikoi");
	/* a Sheng prefix written apart is stripped as one written together ("kucancel") */
	r = parse("nataka ku-cancel order");
	assert_int_equal(r.intent, NLP_INTENT_CANCEL_ORDER);
	/* small talk about the weather */
	r = parse("it's raining here");
	assert_int_equal(r.intent, NLP_INTENT_UNKNOWN);
	assert_int_equal(r.alt[0], NLP_INTENT_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),     cmocka_unit_test(test_intents_basic),
		cmocka_unit_test(test_search_and_entities), cmocka_unit_test(test_quantities),
		cmocka_unit_test(test_expectations),  cmocka_unit_test(test_product_match),
		cmocka_unit_test(test_word_forms),    cmocka_unit_test(test_smalltalk_and_sheng),    cmocka_unit_test(test_language),
		cmocka_unit_test(test_product_synonyms),
		cmocka_unit_test(test_bad_input),     cmocka_unit_test(test_lexicon_errors),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_questions_and_paid),
		cmocka_unit_test(test_classifier),
		cmocka_unit_test(test_classifier_trusted),
		cmocka_unit_test(test_polite_and_pidgin),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
