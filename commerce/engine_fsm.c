/*
 * engine_fsm.c: the conversation state machine in three tables, read top to bottom:
 *   states[]   - every state, what a typed message is expected to be there (the NLP hint)
 *                and the handler for free text in that state (NULL: the intent table);
 *   payloads[] - every choice (button or list row) the engine offers, by payload prefix, and
 *                the action it runs; where it may be pressed from (offered now, or earlier);
 *   intents[]  - what a typed message does when its state has no special reading of it.
 * Rules that hold in every state come first in engine_fsm_run: handoff silence, the 24-hour
 * checkout restart, media, "menu" / "cancel" / "start over", numbered answers, two
 * misunderstandings in a row. docs/ENGINE.md has the same tables for people.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce_util.h"
#include "conversation.h"
#include "engine_internal.h"
#include "notify.h"
#include "pg.h"

enum state_flags {
	ST_FLOW = 1,     /* a step the shopper can "cancel" out of, back to the menu */
	ST_CHECKOUT = 2, /* a checkout step: left for a day, the checkout starts over */
};

struct state_def {
	const char *name;
	enum nlp_expect expect;
	int (*on_text)(struct turn *t); /* 1 handled, 0 use the intent table, <0 error */
	int flags;
};

/* clang-format off */
static const struct state_def states[] = {
	/* name           expect               on_text               flags */
	{ "start",        NLP_EXPECT_NONE,     NULL,                 0 },
	{ "menu",         NLP_EXPECT_CHOICE,   NULL,                 0 },
	{ "categories",   NLP_EXPECT_CHOICE,   NULL,                 0 },
	{ "products",     NLP_EXPECT_CHOICE,   NULL,                 0 },
	{ "product",      NLP_EXPECT_QUANTITY, st_product_text,      0 },
	{ "search",       NLP_EXPECT_NONE,     st_search_text,       ST_FLOW },
	{ "pick",         NLP_EXPECT_CHOICE,   NULL,                 0 },
	{ "cart",         NLP_EXPECT_CHOICE,   NULL,                 0 },
	{ "cart_edit",    NLP_EXPECT_CHOICE,   NULL,                 0 },
	{ "cart_line",    NLP_EXPECT_QUANTITY, st_cart_line_text,    ST_FLOW },
	{ "ck_name",      NLP_EXPECT_NAME,     st_ck_name_text,      ST_FLOW | ST_CHECKOUT },
	{ "ck_address",   NLP_EXPECT_ADDRESS,  st_ck_address_text,   ST_FLOW | ST_CHECKOUT },
	{ "ck_phone",     NLP_EXPECT_PHONE,    st_ck_phone_text,     ST_FLOW | ST_CHECKOUT },
	{ "ck_zone",      NLP_EXPECT_CHOICE,   st_ck_zone_text,      ST_FLOW | ST_CHECKOUT },
	{ "ck_payment",   NLP_EXPECT_PAYMENT,  st_ck_payment_text,   ST_FLOW | ST_CHECKOUT },
	{ "ck_confirm",   NLP_EXPECT_YES_NO,   st_ck_confirm_text,   ST_FLOW | ST_CHECKOUT },
	{ "orders",       NLP_EXPECT_CHOICE,   NULL,                 0 },
	{ "order",        NLP_EXPECT_CHOICE,   NULL,                 0 },
	{ "order_cancel", NLP_EXPECT_YES_NO,   st_order_cancel_text, ST_FLOW },
	{ "complaint",    NLP_EXPECT_NONE,     st_complaint_text,    ST_FLOW },
	{ "handoff",      NLP_EXPECT_NONE,     NULL,                 0 },
};
/* clang-format on */

enum payload_scope {
	PL_OFFERED, /* only while it is among the choices offered last */
	PL_RECENT,  /* also from an earlier message of this conversation */
	PL_ALWAYS,  /* harmless anywhere: menus */
	PL_SELLER,  /* a seller's button under a notification: the chat must be a target */
};

struct payload_def {
	const char *key; /* exact payload, or a prefix ending in ':' */
	engine_action_fn action;
	enum payload_scope scope;
};

static int act_did_you_mean(struct turn *t, const char *arg);

/* clang-format off */
static const struct payload_def payloads[] = {
	/* payload               action                scope */
	{ "menu",                act_menu,             PL_ALWAYS },
	{ "browse",              act_categories,       PL_ALWAYS },
	{ "search",              act_search_prompt,    PL_ALWAYS },
	{ "cart",                act_cart,             PL_ALWAYS },
	{ "orders",              act_orders,           PL_ALWAYS },
	{ "human",               act_human,            PL_ALWAYS },
	{ "cat:",                act_category,         PL_RECENT },  /* cat:<index> */
	{ "more:",               act_more,             PL_OFFERED }, /* more:<offset> */
	{ "prod:",               act_product,          PL_RECENT },  /* prod:<uuid> */
	{ "sku:",                act_product_sku,      PL_ALWAYS },  /* sku:<SKU>: storefront */
	{ "add:",                act_add,              PL_RECENT },  /* add:<uuid>:<n> */
	{ "cart:edit",           act_cart_edit,        PL_OFFERED },
	{ "line:",               act_cart_line,        PL_OFFERED }, /* line:<uuid> */
	{ "rm:",                 act_remove,           PL_OFFERED }, /* rm:<uuid> */
	{ "clear",               act_clear,            PL_OFFERED },
	{ "ck",                  act_checkout,         PL_RECENT },
	{ "name:use",            act_name_use,         PL_OFFERED },
	{ "addr:saved",          act_address_saved,    PL_OFFERED },
	{ "phone:use",           act_phone_use,        PL_OFFERED },
	{ "pay:",                act_pay,              PL_OFFERED }, /* pay:<code> */
	{ "ck:yes",              act_ck_yes,           PL_OFFERED },
	{ "ck:no",               act_ck_no,            PL_OFFERED },
	{ "zone:",               act_zone,             PL_OFFERED }, /* zone:<index>|none */
	{ "pickup",              act_pickup,           PL_OFFERED },
	{ "os:",                 act_order_show,       PL_RECENT },  /* os:<order number> */
	{ "cx:",                 act_order_cancel,     PL_RECENT },  /* cx:<order number> */
	{ "cmp:",                act_complaint_about,  PL_OFFERED }, /* cmp:<number>|none */
	{ "yes",                 act_yes,              PL_OFFERED },
	{ "no",                  act_no,               PL_OFFERED },
	{ "dym:",                act_did_you_mean,     PL_OFFERED }, /* dym:<intent name> */
	{ NOTIFY_PAYLOAD_ORDER,  act_seller_order,     PL_SELLER },  /* ord:<action>:<uuid>[:<v>] */
	{ NOTIFY_PAYLOAD_RELEASE, act_seller_release,  PL_SELLER },  /* hr:<conversation uuid> */
	{ NOTIFY_PAYLOAD_PAYMENT, act_seller_payment,  PL_SELLER },  /* pm:<paid|rejected>:<uuid>:<v> */
};
/* clang-format on */

static int text_unknown(struct turn *t);
static int text_yes_no_idle(struct turn *t);
static int text_browse(struct turn *t);
static int text_search_intent(struct turn *t);

static int intent_greet(struct turn *t)
{
	return act_greet(t, NULL);
}
static int intent_menu(struct turn *t)
{
	return act_menu(t, NULL);
}
static int intent_cart(struct turn *t)
{
	return act_cart(t, NULL);
}
static int intent_clear(struct turn *t)
{
	return act_clear(t, NULL);
}
static int intent_checkout(struct turn *t)
{
	return act_checkout(t, NULL);
}
static int intent_human(struct turn *t)
{
	return act_human(t, NULL);
}
static int intent_thanks(struct turn *t)
{
	return act_thanks(t, NULL);
}
/* A question or "I have paid" reached through the intent table (a "did you mean" button):
 * answered as in run_text. */
static int intent_question(struct turn *t)
{
	engine_question_read(t);
	if (t->q_faq < 0 && !t->q_topic[0])
		snprintf(t->q_topic, sizeof(t->q_topic), "other");
	return engine_question_answer(t);
}
static int intent_paid(struct turn *t)
{
	return engine_payment_text(t) < 0 ? -1 : 0;
}

static const struct {
	enum nlp_intent intent;
	int (*run)(struct turn *t);
	/* clang-format off */
} intents[] = {
	/* intent                        run */
	{ NLP_INTENT_GREET,              intent_greet },
	{ NLP_INTENT_HELP,               intent_menu },
	{ NLP_INTENT_BROWSE,             text_browse },
	{ NLP_INTENT_SEARCH,             text_search_intent },
	{ NLP_INTENT_ADD_TO_CART,        text_add },
	{ NLP_INTENT_REMOVE_FROM_CART,   text_remove },
	{ NLP_INTENT_VIEW_CART,          intent_cart },
	{ NLP_INTENT_CLEAR_CART,         intent_clear },
	{ NLP_INTENT_CHECKOUT,           intent_checkout },
	{ NLP_INTENT_CONFIRM,            text_yes_no_idle },
	{ NLP_INTENT_DENY,               text_yes_no_idle },
	{ NLP_INTENT_ORDER_STATUS,       text_order_status },
	{ NLP_INTENT_CANCEL_ORDER,       text_cancel_order },
	{ NLP_INTENT_HUMAN,              intent_human },
	{ NLP_INTENT_COMPLAINT,          text_complaint },
	{ NLP_INTENT_THANKS,             intent_thanks },
	{ NLP_INTENT_QUESTION,           intent_question },
	{ NLP_INTENT_PAID,               intent_paid },
	{ NLP_INTENT_UNKNOWN,            text_unknown },
};
/* clang-format on */

static const struct state_def *state_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(states[i].name, name) == 0)
			return &states[i];
	return &states[1]; /* an unknown stored state reads as the menu */
}

enum nlp_expect engine_state_expect(const char *state)
{
	return state_find(state)->expect;
}

static int json_array_has(const json_t *arr, const char *s)
{
	size_t i;
	const json_t *v;

	json_array_foreach(arr, i, v) if (json_is_string(v) &&
	                                  strcmp(json_string_value(v), s) == 0) return 1;
	return 0;
}

static int payload_ascii(const char *p)
{
	size_t n = 0;

	for (; p[n]; n++)
		if ((unsigned char)p[n] < 0x21 || (unsigned char)p[n] > 0x7E)
			return 0;
	return n > 0 && n <= MSG_PAYLOAD_MAX;
}

/* Is this chat one of the seller's notification targets on this channel? */
static int chat_is_seller(struct turn *t)
{
	const char *params[2] = {t->m->channel_id, t->m->chat_id};
	PGresult *res =
	    pg_exec(t->conn,
	            "SELECT 1 FROM notification_targets WHERE active AND channel_id = $1"
	            " AND (chat_id = $2 OR to_number = $2) LIMIT 1",
	            2, params);
	int yes;

	if (!res)
		return -1;
	yes = PQntuples(res) > 0;
	PQclear(res);
	return yes;
}

static int stale_choice(struct turn *t)
{
	t->keep_offered = 1;
	turn_say(t,
	         "Sorry, that choice isn't available any more. Please pick one of the options "
	         "below, or type \"menu\".",
	         "Samahani, chaguo hilo halipatikani tena. Tafadhali chagua mojawapo ya chaguo "
	         "hapa chini, au andika \"menyu\".");
	return turn_event(t, "intent_detected",
	                  json_pack("{s:s, s:s}", "intent", "invalid_choice", "payload",
	                            t->m->payload ? t->m->payload : ""));
}

/* Runs the action of a payload the shopper pressed (or picked by number). */
static int run_payload(struct turn *t, const char *payload, int picked_by_number)
{
	const struct payload_def *d = NULL;
	size_t i, klen;
	int seller;

	if (!payload || !payload_ascii(payload))
		return stale_choice(t);
	for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]) && !d; i++) {
		klen = strlen(payloads[i].key);
		if (payloads[i].key[klen - 1] == ':' ? strncmp(payload, payloads[i].key, klen) == 0
		                                     : strcmp(payload, payloads[i].key) == 0)
			d = &payloads[i];
	}
	if (!d)
		return stale_choice(t);
	switch (d->scope) {
	case PL_ALWAYS:
		break;
	case PL_SELLER:
		seller = chat_is_seller(t);
		if (seller < 0)
			return -1;
		if (!seller)
			return stale_choice(t);
		break;
	case PL_RECENT:
		if (!picked_by_number && !json_array_has(t->offered, payload) &&
		    !json_array_has(json_object_get(t->ctx, "recent"), payload))
			return stale_choice(t);
		break;
	case PL_OFFERED:
		if (!picked_by_number && !json_array_has(t->offered, payload))
			return stale_choice(t);
		break;
	}
	klen = strlen(d->key);
	return d->action(t, d->key[klen - 1] == ':' ? payload + klen : NULL);
}

/* The handler of an intent in intents[], or NULL when the engine has none. */
static int (*intent_handler(enum nlp_intent in))(struct turn *)
{
	size_t i;

	for (i = 0; i < sizeof(intents) / sizeof(intents[0]); i++)
		if (intents[i].intent == in && in != NLP_INTENT_UNKNOWN)
			return intents[i].run;
	return NULL;
}

/* A "did you mean" button's title for an intent (at most 20 characters: WhatsApp's limit). */
static const char *dym_title(const struct turn *t, enum nlp_intent in)
{
	switch (in) {
	case NLP_INTENT_GREET: return TR(t, "Say hello", "Salamu");
	case NLP_INTENT_HELP: return TR(t, "Help", "Msaada");
	case NLP_INTENT_BROWSE: return TR(t, "Browse products", "Angalia bidhaa");
	case NLP_INTENT_SEARCH: return TR(t, "Search products", "Tafuta bidhaa");
	case NLP_INTENT_ADD_TO_CART: return TR(t, "Add to cart", "Weka kwa kikapu");
	case NLP_INTENT_REMOVE_FROM_CART: return TR(t, "Remove from cart", "Toa kwa kikapu");
	case NLP_INTENT_VIEW_CART: return TR(t, "See my cart", "Ona kikapu");
	case NLP_INTENT_CLEAR_CART: return TR(t, "Empty my cart", "Futa kikapu");
	case NLP_INTENT_CHECKOUT: return TR(t, "Check out", "Lipa sasa");
	case NLP_INTENT_CONFIRM: return TR(t, "Yes", "Ndiyo");
	case NLP_INTENT_DENY: return TR(t, "No", "Hapana");
	case NLP_INTENT_ORDER_STATUS: return TR(t, "My orders", "Oda zangu");
	case NLP_INTENT_CANCEL_ORDER: return TR(t, "Cancel an order", "Ghairi oda");
	case NLP_INTENT_HUMAN: return TR(t, "Talk to a person", "Ongea na mtu");
	case NLP_INTENT_COMPLAINT: return TR(t, "Report a problem", "Ripoti tatizo");
	case NLP_INTENT_THANKS: return TR(t, "Just saying thanks", "Nasema asante tu");
	case NLP_INTENT_QUESTION: return TR(t, "Ask about the shop", "Uliza kuhusu duka");
	case NLP_INTENT_PAID: return TR(t, "I have paid", "Nimelipa");
	default: return NULL;
	}
}

/* An unsure reading with likely intents: "Did you mean ...?" with each as a button (payload
 * dym:<intent>) instead of "Sorry, I didn't understand"; the text is kept in ctx.dym_text
 * for the button to act on. 1 when asked, 0 when there is nothing to offer. */
static int ask_did_you_mean(struct turn *t)
{
	char payload[MSG_PAYLOAD_MAX];
	int n = 0;

	for (size_t k = 0; k < NLP_ALTS; k++) {
		enum nlp_intent in = t->rd.alt[k];
		if (!intent_handler(in) || !dym_title(t, in))
			continue;
		if (n == 0)
			turn_say(t, "Sorry, I'm not sure what you meant. Did you mean:",
			         "Samahani, sina uhakika ulimaanisha nini. Ulimaanisha:");
		snprintf(payload, sizeof(payload), "dym:%s", nlp_intent_name(in));
		turn_button(t, dym_title(t, in), payload);
		n++;
	}
	if (n == 0)
		return 0;
	turn_ctx_set_str(t, "dym_text", t->text);
	t->confused = 1;
	return 1;
}

/* A "did you mean" button: the text that was not clear is read again and handled as the
 * intent the shopper picked. */
static int act_did_you_mean(struct turn *t, const char *arg)
{
	const char *kept = turn_ctx_str(t, "dym_text"), *was = t->text;
	int (*run)(struct turn *) = NULL;
	enum nlp_intent in = NLP_INTENT_UNKNOWN;
	char *text = NULL;
	int rc;

	for (int k = 1; k < NLP_INTENT_COUNT && !run; k++)
		if (strcmp(arg, nlp_intent_name((enum nlp_intent)k)) == 0 &&
		    intent_handler((enum nlp_intent)k)) {
			in = (enum nlp_intent)k;
			run = intent_handler(in);
		}
	if (!run || !kept)
		return stale_choice(t);
	text = strdup(kept);
	if (!text)
		return -1;
	turn_ctx_del(t, "dym_text");
	nlp_parse(t->e->nlp, text, strlen(text), t->lang, NLP_EXPECT_NONE, &t->rd);
	t->rd.intent = in;
	memset(t->rd.alt, 0, sizeof(t->rd.alt));
	if ((in == NLP_INTENT_SEARCH || in == NLP_INTENT_ADD_TO_CART ||
	     in == NLP_INTENT_REMOVE_FROM_CART) && !t->rd.product[0])
		snprintf(t->rd.product, sizeof(t->rd.product), "%s", text);
	t->text = text;
	t->parsed = 1;
	t->misunderstandings = 0; /* the shopper picked a reading: understood now */
	rc = turn_event(t, "intent_detected",
	                json_pack("{s:s, s:s, s:s}", "intent", nlp_intent_name(in), "via",
	                          "did_you_mean", "state", t->state));
	if (rc >= 0)
		rc = run(t);
	t->text = was;
	free(text);
	return rc;
}

static int text_unknown(struct turn *t)
{
	int found = 0;

	if (ask_did_you_mean(t))
		return 0;

	if (text_search(t, t->rd.product[0] ? t->rd.product : t->text, 1, &found) < 0)
		return -1;
	if (found)
		return 0;
	t->confused = 1;
	turn_say(
	    t,
	    "Sorry, I didn't understand that. You can browse our products, search by "
	    "typing a product name, or see your cart.",
	    "Samahani, sijaelewa. Unaweza kuangalia bidhaa zetu, kutafuta kwa kuandika jina la "
	    "bidhaa, au kuona kikapu chako.");
	turn_menu_buttons(t);
	return 0;
}

static int text_yes_no_idle(struct turn *t)
{
	turn_say(t, "OK! What would you like to do next?", "Sawa! Ungependa kufanya nini sasa?");
	turn_menu_buttons(t);
	return 0;
}

static int text_browse(struct turn *t)
{
	int found = 0;

	if (t->rd.product[0]) {
		if (text_search(t, t->rd.product, 1, &found) < 0)
			return -1;
		if (found)
			return 0;
	}
	return act_categories(t, NULL);
}

static int text_search_intent(struct turn *t)
{
	int found = 0;

	if (!t->rd.product[0])
		return act_search_prompt(t, NULL);
	return text_search(t, t->rd.product, 0, &found);
}

/* "cancel" inside a step: leave the step, keep the cart. */
static int cancel_flow(struct turn *t)
{
	turn_ctx_del(t, "ck");
	turn_say(t, "OK, cancelled. Your cart is still saved.",
	         "Sawa, nimeghairi. Kikapu chako bado kimehifadhiwa.");
	return act_menu(t, "quiet");
}

static int reading_event(struct turn *t)
{
	json_t *p =
	    json_pack("{s:s, s:f, s:s, s:s}", "intent", nlp_intent_name(t->rd.intent), "confidence",
	              t->rd.confidence, "lang", t->rd.lang, "state", t->state);

	if (!p)
		return -1;
	if (t->rd.quantity_state != NLP_QTY_NONE)
		json_object_set_new(p, "quantity", json_integer(t->rd.quantity));
	if (t->rd.product[0])
		json_object_set_new(p, "product", json_string(t->rd.product));
	if (t->rd.order_number)
		json_object_set_new(p, "order_number", json_integer(t->rd.order_number));
	if (t->q_faq >= 0 || t->q_topic[0]) {
		/* a question about the shop: what the reader said, and which question it is */
		const json_t *f = json_array_get(t->shop.faqs, (size_t)(t->q_faq >= 0 ? t->q_faq : 0));
		json_t *ent = json_object();

		json_object_set_new(p, "read_as", json_string(nlp_intent_name(t->rd.intent)));
		json_object_set_new(p, "intent", json_string("question"));
		if (t->q_faq >= 0 && f)
			json_object_set_new(ent, "faq",
			                    json_pack("{s:O, s:O}", "id", json_object_get(f, "id"),
			                              "question", json_object_get(f, "question")));
		else
			json_object_set_new(ent, "topic", json_string(t->q_topic));
		if (t->q_place[0])
			json_object_set_new(ent, "place", json_string(t->q_place));
		json_object_set_new(p, "entities", ent);
	}
	if (t->rd.alt[0] != NLP_INTENT_UNKNOWN) { /* unsure: the "did you mean" choices */
		json_t *alts = json_array();
		for (size_t k = 0; alts && k < NLP_ALTS; k++)
			if (t->rd.alt[k] != NLP_INTENT_UNKNOWN)
				json_array_append_new(alts, json_string(nlp_intent_name(t->rd.alt[k])));
		json_object_set_new(p, "alternatives", alts);
	}
	return turn_event(t, "intent_detected", p);
}

static int run_text(struct turn *t)
{
	const struct state_def *st = state_find(t->state);
	char trimmed[24];
	long n = 0;
	size_t i, noffered = json_array_size(t->offered);
	int rc;

	if (!*t->text || strspn(t->text, " \t\r\n") == strlen(t->text)) {
		t->keep_offered = 1;
		turn_say(t, "Please type a message, or \"menu\" to see what I can do.",
		         "Tafadhali andika ujumbe, au \"menyu\" kuona ninachoweza kufanya.");
		return 0;
	}
	if (text_sku_link(t, &rc)) /* a storefront's prefilled "... (SKU: X)" */
		return rc;
	nlp_parse(t->e->nlp, t->text, strlen(t->text), t->lang, st->expect, &t->rd);
	t->parsed = 1;
	/* follow the shopper's language, except where the text is a name, an address or a
	 * phone number, or a word both languages share ("menu") */
	if (st->expect != NLP_EXPECT_NAME && st->expect != NLP_EXPECT_ADDRESS &&
	    st->expect != NLP_EXPECT_PHONE && (t->rd.lang[0] == 'e' || t->rd.lang[0] == 's') &&
	    t->rd.intent != NLP_INTENT_HELP &&
	    (t->rd.intent != NLP_INTENT_UNKNOWN || strlen(t->text) > 3)) {
		snprintf(t->lang, sizeof(t->lang), "%s", t->rd.lang);
		t->sw = strcmp(t->lang, "sw") == 0;
	}
	engine_question_read(t);
	if (reading_event(t) < 0)
		return -1;
	/* an M-Pesa confirmation or code for an order awaiting payment, in any state */
	rc = engine_payment_text(t);
	if (rc != 0)
		return rc < 0 ? rc : 0;

	/* a number picks one of the choices offered last (quantities are read as such) */
	snprintf(trimmed, sizeof(trimmed), "%.15s", t->text);
	cm_trim(trimmed);
	if (t->rd.choice > 0)
		n = t->rd.choice;
	else if (strlen(t->text) < sizeof(trimmed) && cm_parse_uint(trimmed, 3, &n) == 0)
		n = 0;
	if (n > 0 && st->expect != NLP_EXPECT_QUANTITY && noffered > 0) {
		if ((size_t)n <= noffered)
			return run_payload(t, json_string_value(json_array_get(t->offered, n - 1)),
			                   1);
		if (st->expect == NLP_EXPECT_CHOICE) {
			char max[24];

			snprintf(max, sizeof(max), "%zu", noffered);
			t->keep_offered = 1;
			turn_sayf(t, "Please choose a number from 1 to %s.",
			          "Tafadhali chagua nambari kutoka 1 hadi %s.", max);
			return 0;
		}
	}

	/* what works in every state */
	switch (t->rd.intent) {
	case NLP_INTENT_HELP:
		return act_menu(t, NULL);
	case NLP_INTENT_HUMAN:
		return act_human(t, NULL);
	case NLP_INTENT_CLEAR_CART: /* "start over", "anza upya" */
		return act_start_over(t, NULL);
	case NLP_INTENT_CANCEL_ORDER:
		if (!t->rd.order_number && (st->flags & ST_FLOW) &&
		    strcmp(t->state, "order_cancel") != 0)
			return cancel_flow(t);
		break;
	default:
		break;
	}
	/* a question about the shop is answered in any state; a checkout step is asked again */
	if (t->q_faq >= 0 || t->q_topic[0])
		return engine_question_answer(t);
	if (st->on_text) {
		rc = st->on_text(t);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	for (i = 0; i < sizeof(intents) / sizeof(intents[0]); i++)
		if (intents[i].intent == t->rd.intent)
			return intents[i].run(t);
	return text_unknown(t);
}

static int media_reply(struct turn *t)
{
	t->keep_offered = 1;
	turn_say(t, "Sorry, I can only read text for now. Please type your message.",
	         "Samahani, kwa sasa ninaweza kusoma maandishi tu. Tafadhali andika ujumbe wako.");
	return 0;
}

/* What a shopper types to have the bot back during a handoff (besides "menu", "help" and
 * their Swahili, which the reader takes as the help intent). Compared case-insensitively
 * with the whole trimmed message. */
static const char *const back_to_bot[] = {
	"bot", "the bot", "back to bot", "back to the bot", "bot please", "chatbot",
	"roboti", "rudi kwa bot", "rudi kwa roboti", "nataka bot", "bot tafadhali", "/start",
};

static int handoff_asks_for_bot(struct turn *t)
{
	char text[40];
	size_t i;

	if (t->m->kind == MSG_KIND_POSTBACK)
		return t->m->payload && strcmp(t->m->payload, "menu") == 0;
	if (t->m->kind != MSG_KIND_TEXT || strlen(t->text) >= sizeof(text))
		return 0;
	snprintf(text, sizeof(text), "%s", t->text);
	cm_trim(text);
	for (i = 0; text[i]; i++)
		if (text[i] >= 'A' && text[i] <= 'Z')
			text[i] = (char)(text[i] + 32);
	for (i = 0; i < sizeof(back_to_bot) / sizeof(back_to_bot[0]); i++)
		if (strcmp(text, back_to_bot[i]) == 0)
			return 1;
	nlp_parse(t->e->nlp, t->text, strlen(t->text), t->lang, NLP_EXPECT_NONE, &t->rd);
	return t->rd.intent == NLP_INTENT_HELP;
}

/* A message during a handoff. The bot stays silent while a person has the chat, and takes it
 * back when the shopper asks for the bot ("menu", "bot", "menyu", "roboti"), when nobody
 * from the shop has written within the shop's handoff_timeout_minutes, or after a day of
 * silence. Returns 0 (silent, or answered here), 1 (released: the message is handled as in
 * the menu), -1 on error. */
static int handoff_way_back(struct turn *t)
{
	const char *reason = NULL;
	long timeout = t->shop.handoff_timeout_minutes * 60;

	if (handoff_asks_for_bot(t))
		reason = "shopper";
	else if (t->idle_seconds >= ENGINE_IDLE_RESET)
		reason = "idle";
	else if (timeout > 0 && !t->agent_replied && t->handoff_seconds >= timeout)
		reason = "no_reply";
	if (!reason && t->m->kind == MSG_KIND_POSTBACK) {
		/* a press is always answered (a platform may show it waiting until it is) */
		turn_sayf(t, "A person from %s will answer you here shortly.",
		          "Mtu wa %s atakujibu hapa hivi karibuni.", t->shop.name);
		return 0;
	}
	if (!reason)
		return 0; /* a person is handling this chat: record, stay silent */
	if (turn_event(t, "handoff_released", json_pack("{s:s}", "reason", reason)) < 0)
		return -1;
	turn_set_state(t, "menu");
	snprintf(t->state, sizeof(t->state), "menu");
	if (strcmp(reason, "shopper") == 0) {
		turn_say(t, "You're back with the shop assistant. I'm here to help you shop.",
		         "Umerudi kwa msaidizi wa duka. Niko hapa kukusaidia kununua.");
		return act_menu(t, NULL) < 0 ? -1 : 0;
	}
	if (strcmp(reason, "no_reply") == 0) {
		/* the message was meant for a person: do not read it as an order */
		turn_say(t,
		         "Sorry, nobody from the shop has answered yet. I'm the shop assistant and "
		         "can help you meanwhile, or you can keep waiting for a person.",
		         "Samahani, hakuna mtu wa duka aliyejibu bado. Mimi ni msaidizi wa duka na "
		         "ninaweza kukusaidia kwa sasa, au unaweza kuendelea kumsubiri mtu.");
		turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
		turn_button(t, TR(t, "Wait for a person", "Nisubiri mtu"), "human");
		return 0;
	}
	return 1;
}

/*
 * A seller answering a handoff where the notification reached them: a text that replies to
 * (quotes) the "asked to talk to a person" message goes to that shopper as the seller's own
 * words, until the seller presses Release. 1 when relayed, 0 when it is not such a reply.
 */
static int seller_relay(struct turn *t)
{
	const char *params[3] = {t->m->channel_id, t->m->chat_id, t->m->reply_to};
	char conv[37];
	PGresult *res;
	int rc;

	if (t->m->kind != MSG_KIND_TEXT || !t->m->reply_to || !t->m->text || !*t->m->text ||
	    chat_is_seller(t) != 1)
		return 0;
	res = pg_exec(t->conn,
	              "SELECT payload->'ref'->>'conversation_id' FROM outbox"
	              " WHERE tenant_id = app_tenant_id() AND kind = 'notification'"
	              " AND channel_id = $1 AND recipient = $2 AND platform_message_id = $3"
	              " AND payload->'ref' ? 'conversation_id' LIMIT 1",
	              3, params);
	if (!res)
		return -1;
	if (PQntuples(res) != 1 || !util_uuid_valid(PQgetvalue(res, 0, 0))) {
		PQclear(res);
		return 0;
	}
	snprintf(conv, sizeof(conv), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	rc = conversation_agent_message(t->conn, conv, t->m->text);
	if (rc == CONV_ERR_DB)
		return -1;
	if (rc == 0)
		turn_say(t, "Sent to the customer. Press Release when you are done.",
		         "Imetumwa kwa mteja. Bonyeza Achilia ukimaliza.");
	else
		turn_say(t, "That conversation is no longer there.", "Mazungumzo hayo hayapo tena.");
	return 1;
}

/* The seller's Release button under a handoff: the bot takes the conversation back. */
int act_seller_release(struct turn *t, const char *arg)
{
	int rc;

	if (!util_uuid_valid(arg))
		return 0;
	rc = conversation_release(t->conn, arg);
	if (rc == CONV_ERR_DB)
		return -1;
	t->replace = 1;
	if (rc == 0)
		turn_say(t, "Released: the shop bot answers this customer again.",
		         "Imeachiliwa: roboti ya duka inamjibu mteja huyu tena.");
	else
		turn_say(t, "That conversation is no longer there.", "Mazungumzo hayo hayapo tena.");
	return 0;
}

int engine_fsm_run(struct turn *t)
{
	const struct state_def *st = state_find(t->state);
	int rc = seller_relay(t);

	if (rc != 0)
		return rc < 0 ? -1 : 0;

	if (strcmp(t->state, "handoff") == 0) {
		rc = handoff_way_back(t);
		if (rc <= 0)
			return rc; /* silent (a person has it), answered, or an error */
		st = state_find(t->state);
	}
	if ((st->flags & ST_CHECKOUT) && t->idle_seconds > ENGINE_IDLE_RESET) {
		turn_ctx_del(t, "ck");
		turn_say(t,
		         "Welcome back! Your checkout waited for more than a day, so let's start "
		         "it again. Your cart is still saved.",
		         "Karibu tena! Malipo yako yalisubiri zaidi ya siku moja, kwa hivyo tuanze "
		         "upya. Kikapu chako bado kimehifadhiwa.");
		turn_button(t, TR(t, "Checkout", "Lipia"), "ck");
		turn_button(t, TR(t, "My cart", "Kikapu changu"), "cart");
		turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
		turn_set_state(t, "cart");
		return 0;
	}
	switch (t->m->kind) {
	case MSG_KIND_TEXT:
		rc = run_text(t);
		break;
	case MSG_KIND_POSTBACK:
		if (turn_event(t, "intent_detected",
		               json_pack("{s:s, s:s, s:s}", "intent", "postback", "payload",
		                         t->m->payload ? t->m->payload : "", "state", t->state)) <
		    0)
			return -1;
		rc = run_payload(t, t->m->payload, 0);
		break;
	case MSG_KIND_LOCATION:
		rc = engine_location(t);
		break;
	case MSG_KIND_CONTACT:
		rc = engine_contact(t);
		break;
	case MSG_KIND_CATALOG_ORDER:
		rc = engine_catalog_order(t);
		break;
	case MSG_KIND_REACTION:
		t->keep_offered = 1;
		return 0; /* recorded as an event; no answer needed */
	case MSG_KIND_MEDIA:
	case MSG_KIND_UNSUPPORTED:
	default:
		rc = media_reply(t);
		break;
	}
	if (rc < 0)
		return rc;
	if (!t->confused) {
		t->misunderstandings = 0;
		return 0;
	}
	if (++t->misunderstandings >= 2) {
		t->misunderstandings = 0;
		json_decref(t->buttons);
		json_decref(t->rows);
		t->buttons = t->rows = NULL;
		turn_say(t,
		         "I'm having trouble understanding. Would you like the menu, or to talk to "
		         "a person?",
		         "Ninapata shida kuelewa. Ungependa menyu, au kuongea na mtu?");
		turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
		turn_button(t, TR(t, "Talk to a person", "Ongea na mtu"), "human");
	}
	return 0;
}
