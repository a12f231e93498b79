/*
 * engine_questions.c: what shoppers ask about the shop (issue 16) and the delivery zones of
 * the checkout. A question (the reader's question intent, a built-in topic read by
 * shop_faq.c, or one of the seller's questions close to the text) is answered from the
 * settings and the seller's answers, and a checkout step in progress is asked again after
 * the answer, so the shopper keeps their place. In the checkout, the delivery address (or a
 * shared location) is matched to a zone (shop_zones.c): its fee, minimum order and delivery
 * time apply; when unsure the shopper picks from the zones, and an address in no zone is
 * told politely that the shop does not deliver there (with pick-up when the shop offers it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "money.h"
#include "shop_faq.h"
#include "shop_zones.h"

/* ---- zones ---- */

static const json_t *draft_zone(struct turn *t)
{
	const char *name = json_string_value(json_object_get(turn_checkout(t), "zone"));

	return name ? zone_by_name(t->shop.delivery_zones, name, NULL) : NULL;
}

static int draft_pickup(struct turn *t)
{
	return json_is_true(json_object_get(turn_checkout(t), "pickup"));
}

long engine_delivery_fee(struct turn *t)
{
	const json_t *z;

	if (draft_pickup(t))
		return 0;
	z = draft_zone(t);
	if (z)
		return (long)json_integer_value(json_object_get(z, "fee_minor"));
	return t->shop.delivery_fee_minor;
}

static const char *zone_str(const struct turn *t, const json_t *z, const char *key)
{
	char key_sw[48];
	const char *s;

	snprintf(key_sw, sizeof(key_sw), "%s_sw", key);
	s = t->sw ? json_string_value(json_object_get(z, key_sw)) : NULL;
	if (!s)
		s = json_string_value(json_object_get(z, key));
	return s;
}

/* "Mombasa: KES 600, 2-3 days" lines for every zone. */
static void zones_list(struct turn *t)
{
	size_t i;
	const json_t *z;
	char money[48];

	json_array_foreach(t->shop.delivery_zones, i, z)
	{
		const char *when = zone_str(t, z, "delivery_time");

		turn_money(t, json_integer_value(json_object_get(z, "fee_minor")), money,
		           sizeof(money));
		if (when)
			turn_linef(t, "- %s: %s, %s", "- %s: %s, %s",
			           json_string_value(json_object_get(z, "name")), money, when);
		else
			turn_linef(t, "- %s: %s", "- %s: %s",
			           json_string_value(json_object_get(z, "name")), money);
	}
}

static void pickup_line(struct turn *t)
{
	if (t->shop.pickup_address[0])
		turn_sayf(t, "You can also pick up your order at %s, free of charge.",
		          "Unaweza pia kuchukua oda yako %s, bila malipo.", t->shop.pickup_address);
}

/* The zone's fee, minimum order and delivery time, as lines. */
static void zone_details(struct turn *t, const json_t *z)
{
	char money[48];
	const char *when = zone_str(t, z, "delivery_time");
	const json_t *min = json_object_get(z, "min_order_minor");

	turn_money(t, json_integer_value(json_object_get(z, "fee_minor")), money, sizeof(money));
	turn_linef(t, "Delivery fee: %s", "Gharama ya kusafirisha: %s", money);
	if (when)
		turn_linef(t, "Delivery time: %s", "Muda wa kufika: %s", when);
	if (json_is_integer(min) && json_integer_value(min) > 0) {
		turn_money(t, json_integer_value(min), money, sizeof(money));
		turn_linef(t, "Minimum order: %s", "Oda ya chini: %s", money);
	}
}

/* "Sorry, we don't deliver to X" with the zones and pick-up. */
static void no_delivery(struct turn *t, const char *where)
{
	turn_sayf(t, "Sorry, we don't deliver to %s yet. We deliver to:",
	          "Samahani, bado hatusafirishi hadi %s. Tunasafirisha hadi:", where);
	zones_list(t);
	pickup_line(t);
}

/* Asks which zone the address is in: the likeliest ones first, then the others. */
static void ask_zone(struct turn *t, const char *address, const struct zone_match *m)
{
	int i, n = 0, shown[ZONE_CANDIDATES_MAX];
	size_t j;
	char payload[32], money[48];

	turn_sayf(t, "Which of our delivery areas is \"%s\" in? Please pick one.",
	          "Anwani \"%s\" iko katika eneo gani kati ya haya? Tafadhali chagua moja.",
	          address);
	for (i = 0; i < m->ncandidates && n < 9; i++)
		shown[n++] = m->candidates[i];
	for (j = 0; j < json_array_size(t->shop.delivery_zones) && n < 9; j++) {
		int seen = 0;

		for (i = 0; i < n; i++)
			seen |= shown[i] == (int)j;
		if (!seen)
			shown[n++] = (int)j;
	}
	for (i = 0; i < n; i++) {
		const json_t *z = json_array_get(t->shop.delivery_zones, (size_t)shown[i]);

		snprintf(payload, sizeof(payload), "zone:%d", shown[i]);
		turn_money(t, json_integer_value(json_object_get(z, "fee_minor")), money,
		           sizeof(money));
		turn_row(t, json_string_value(json_object_get(z, "name")), money, payload);
	}
	turn_row(t, TR(t, "None of these", "Hakuna kati ya haya"), NULL, "zone:none");
	turn_list(t, TR(t, "Delivery areas", "Maeneo"), TR(t, "Delivery areas", "Maeneo"));
	turn_set_state(t, "ck_zone");
}

static void set_zone(struct turn *t, const json_t *z)
{
	json_t *addr = json_object_get(turn_checkout(t), "address");
	const char *name = json_string_value(json_object_get(z, "name"));

	json_object_set_new(turn_checkout(t), "zone", json_string(name));
	if (json_is_object(addr))
		json_object_set_new(addr, "zone", json_string(name));
}

/* The address is not in any zone: forget it and ask for another (or pick-up). */
static int refuse_address(struct turn *t, const char *address_borrowed)
{
	char address[520]; /* a copy: the draft's address it may point into goes below */

	snprintf(address, sizeof(address), "%s", address_borrowed);
	no_delivery(t, address);
	json_object_del(turn_checkout(t), "address");
	json_object_del(turn_checkout(t), "zone");
	turn_say(t, "Please type another delivery address.",
	         "Tafadhali andika anwani nyingine ya kusafirisha.");
	if (t->shop.pickup_address[0])
		turn_button(t, TR(t, "Pick up instead", "Nitachukua mwenyewe"), "pickup");
	turn_button(t, TR(t, "Cancel", "Ghairi"), "ck:no");
	turn_set_state(t, "ck_address");
	return turn_event(t, "delivery_refused", json_pack("{s:s}", "address", address));
}

/* 1 when every zone has coordinates: a point outside all of them is in none. */
static int zones_all_located(const json_t *zones)
{
	size_t i;
	const json_t *z;

	json_array_foreach(zones, i, z)
	{
		if (!json_is_number(json_object_get(z, "latitude")))
			return 0;
	}
	return 1;
}

int engine_zone_step(struct turn *t)
{
	const json_t *addr = json_object_get(turn_checkout(t), "address");
	const json_t *lat = json_object_get(addr, "latitude"),
	             *lon = json_object_get(addr, "longitude");
	const char *text = json_string_value(json_object_get(addr, "text"));
	struct zone_match m;

	if (!t->shop.delivery_zones || draft_pickup(t))
		return 0;
	if (draft_zone(t))
		return 0;
	json_object_del(turn_checkout(t), "zone");
	if (!json_is_number(lat) || !json_is_number(lon) ||
	    zone_match_point(t->shop.delivery_zones, json_number_value(lat), json_number_value(lon),
	                     &m) < 0 ||
	    m.result == ZONE_NONE) {
		/* no zone with coordinates holds the point: the place's name and address may
		 * still name a zone the seller gave no coordinates */
		int pin = json_is_number(lat) && json_is_number(lon);

		zone_match_text(t->shop.delivery_zones, text, &m);
		/* a pin whose name says nothing cannot be refused while some zone has no
		 * coordinates to measure it by: ask */
		if (m.result == ZONE_NONE && pin && !zones_all_located(t->shop.delivery_zones))
			m.result = ZONE_UNSURE;
	}
	switch (m.result) {
	case ZONE_MATCHED:
		set_zone(t, json_array_get(t->shop.delivery_zones, (size_t)m.index));
		return 0;
	case ZONE_UNSURE:
		ask_zone(t, text ? text : "", &m);
		return 1;
	case ZONE_NONE:
	default:
		return refuse_address(t, text ? text : "") < 0 ? -1 : 1;
	}
}

static int in_checkout(const struct turn *t)
{
	return strncmp(t->state, "ck_", 3) == 0;
}

int act_zone(struct turn *t, const char *arg)
{
	const json_t *z;
	const char *text = json_string_value(
	    json_object_get(json_object_get(turn_checkout(t), "address"), "text"));
	char *end = NULL;
	long i;

	if (!in_checkout(t) || !json_is_object(json_object_get(turn_checkout(t), "address"))) {
		turn_say(t, "That checkout step is already finished.",
		         "Hatua hiyo ya malipo imekwisha.");
		turn_menu_buttons(t);
		return 0;
	}
	if (strcmp(arg, "none") == 0)
		return refuse_address(t, text ? text : "");
	i = strtol(arg, &end, 10);
	z = end && !*end && i >= 0 ? json_array_get(t->shop.delivery_zones, (size_t)i) : NULL;
	if (!z) {
		json_object_del(turn_checkout(t), "zone");
		return engine_checkout_next(t);
	}
	set_zone(t, z);
	return engine_checkout_next(t);
}

int act_pickup(struct turn *t, const char *arg)
{
	char text[360];

	(void)arg;
	if (!in_checkout(t) || !t->shop.pickup_address[0]) {
		turn_say(t, "Sorry, that choice isn't available any more.",
		         "Samahani, chaguo hilo halipatikani tena.");
		turn_menu_buttons(t);
		return 0;
	}
	snprintf(text, sizeof(text), "%s: %s", TR(t, "Pick-up", "Kuchukua"),
	         t->shop.pickup_address);
	json_object_set_new(turn_checkout(t), "pickup", json_true());
	json_object_del(turn_checkout(t), "zone");
	json_object_set_new(turn_checkout(t), "address",
	                    json_pack("{s:s, s:b}", "text", text, "pickup", 1));
	return engine_checkout_next(t);
}

int st_ck_zone_text(struct turn *t)
{
	struct zone_match m;

	switch (t->rd.intent) {
	case NLP_INTENT_VIEW_CART:
	case NLP_INTENT_ORDER_STATUS:
	case NLP_INTENT_COMPLAINT:
		return 0;
	default:
		break;
	}
	zone_match_text(t->shop.delivery_zones, t->text, &m);
	if (m.result == ZONE_MATCHED) {
		set_zone(t, json_array_get(t->shop.delivery_zones, (size_t)m.index));
		return engine_checkout_next(t) < 0 ? -1 : 1;
	}
	t->keep_offered = 1;
	turn_say(t, "Please pick your area from the list, or choose \"None of these\".",
	         "Tafadhali chagua eneo lako kwenye orodha, au chagua \"Hakuna kati ya haya\".");
	return 1;
}

/* In the summary: the area and its time, or pick-up. 1 (and the reply) when the zone's
 * minimum order is not reached: the order cannot be delivered there yet. */
int engine_zone_summary(struct turn *t, long long subtotal, int line)
{
	const json_t *z = draft_zone(t), *min;
	const char *when;
	char money[48], sub[48];

	if (draft_pickup(t) || !z)
		return 0;
	min = json_object_get(z, "min_order_minor");
	if (!line && json_is_integer(min) && subtotal < json_integer_value(min)) {
		turn_money(t, json_integer_value(min), money, sizeof(money));
		turn_money(t, subtotal, sub, sizeof(sub));
		turn_sayf(t,
		          "The minimum order for delivery to %s is %s, and your items come to %s. "
		          "Please add something more to your cart.",
		          "Oda ya chini ya kusafirisha hadi %s ni %s, na bidhaa zako ni %s. "
		          "Tafadhali ongeza kitu kingine kwenye kikapu.",
		          json_string_value(json_object_get(z, "name")), money, sub);
		turn_button(t, TR(t, "Keep shopping", "Endelea kununua"), "browse");
		if (t->shop.pickup_address[0])
			turn_button(t, TR(t, "Pick up instead", "Nitachukua mwenyewe"), "pickup");
		turn_button(t, TR(t, "My cart", "Kikapu changu"), "cart");
		turn_set_state(t, "ck_address");
		return 1;
	}
	if (!line)
		return 0;
	when = zone_str(t, z, "delivery_time");
	if (when)
		turn_linef(t, "Delivery area: %s (%s)", "Eneo la kusafirisha: %s (%s)",
		           json_string_value(json_object_get(z, "name")), when);
	else
		turn_linef(t, "Delivery area: %s", "Eneo la kusafirisha: %s",
		           json_string_value(json_object_get(z, "name")));
	return 0;
}

/* ---- questions ---- */

void engine_question_read(struct turn *t)
{
	enum nlp_expect ex = engine_state_expect(t->state);
	int strict = 0;
	double score = 0;
	const char *topic;

	t->q_faq = -1;
	t->q_topic[0] = t->q_place[0] = '\0';
	switch (t->rd.intent) {
	case NLP_INTENT_QUESTION:
		if (t->rd.topic[0] && strcmp(t->rd.topic, "other") != 0) {
			snprintf(t->q_topic, sizeof(t->q_topic), "%s", t->rd.topic);
			snprintf(t->q_place, sizeof(t->q_place), "%s", t->rd.place);
		}
		t->q_faq = faq_best(t->shop.faqs, t->text, &score);
		if (t->q_faq >= 0) {
			t->q_topic[0] = '\0';
		} else if (!t->q_topic[0]) {
			/* the reader's "other": perhaps one of the built-in topics after all */
			topic = faq_topic(t->text, 0, t->q_place, sizeof(t->q_place));
			snprintf(t->q_topic, sizeof(t->q_topic), "%s", topic ? topic : "other");
		}
		return;
	case NLP_INTENT_UNKNOWN:
	case NLP_INTENT_SEARCH:
	case NLP_INTENT_BROWSE:
	case NLP_INTENT_COMPLAINT:
	case NLP_INTENT_PAID:
		break;
	case NLP_INTENT_ORDER_STATUS:
		if (t->rd.order_number)
			return;
		break;
	case NLP_INTENT_CHECKOUT: /* "how can I pay?" reads as checkout: only as a question */
	case NLP_INTENT_HELP:
		strict = 1;
		break;
	default:
		return; /* a command the reader is sure of: "add 2 honey", "show my cart" */
	}
	/* where a plain answer is expected (a name, an address, a number), only a text that
	 * reads as a question is one */
	if (ex == NLP_EXPECT_NAME || ex == NLP_EXPECT_ADDRESS || ex == NLP_EXPECT_PHONE ||
	    ex == NLP_EXPECT_QUANTITY || ex == NLP_EXPECT_YES_NO || ex == NLP_EXPECT_PAYMENT)
		strict = 1;
	if (t->rd.choice > 0 ||
	    (t->rd.payment[0] && ex == NLP_EXPECT_PAYMENT && !strchr(t->text, '?')))
		return;
	t->q_faq = faq_best(t->shop.faqs, t->text, &score);
	if (t->q_faq >= 0)
		return;
	topic = faq_topic(t->text, strict, t->q_place, sizeof(t->q_place));
	if (topic)
		snprintf(t->q_topic, sizeof(t->q_topic), "%s", topic);
}

static int answer_delivery(struct turn *t, int fee_only)
{
	struct zone_match m;
	const json_t *z;
	char money[48];

	if (!t->shop.delivery_zones) {
		turn_money(t, t->shop.delivery_fee_minor, money, sizeof(money));
		turn_sayf(t, "Yes, we deliver. The delivery fee is %s.",
		          "Ndiyo, tunasafirisha. Gharama ya kusafirisha ni %s.", money);
		pickup_line(t);
		return 0;
	}
	zone_match_text(t->shop.delivery_zones, t->q_place[0] ? t->q_place : t->text, &m);
	if (m.result == ZONE_MATCHED) {
		z = json_array_get(t->shop.delivery_zones, (size_t)m.index);
		if (fee_only)
			turn_sayf(t, "Delivery to %s:", "Kusafirisha hadi %s:",
			          json_string_value(json_object_get(z, "name")));
		else
			turn_sayf(t, "Yes, we deliver to %s.", "Ndiyo, tunasafirisha hadi %s.",
			          json_string_value(json_object_get(z, "name")));
		zone_details(t, z);
		return 0;
	}
	if (m.result == ZONE_UNSURE) {
		z = json_array_get(t->shop.delivery_zones, (size_t)m.candidates[0]);
		turn_sayf(t, "Did you mean %s?", "Ulimaanisha %s?",
		          json_string_value(json_object_get(z, "name")));
		zone_details(t, z);
		turn_say(t, "We deliver to:", "Tunasafirisha hadi:");
		zones_list(t);
		return 0;
	}
	if (t->q_place[0]) {
		no_delivery(t, t->q_place);
		return 0;
	}
	turn_say(t,
	         fee_only ? TR(t, "Our delivery fees:", "Gharama zetu za kusafirisha:")
	                  : TR(t, "We deliver to:", "Tunasafirisha hadi:"),
	         fee_only ? "Gharama zetu za kusafirisha:" : "Tunasafirisha hadi:");
	zones_list(t);
	pickup_line(t);
	return 0;
}

static int answer_delivery_time(struct turn *t)
{
	size_t i;
	const json_t *z;
	int any = 0;
	struct zone_match m;

	if (t->shop.delivery_zones) {
		zone_match_text(t->shop.delivery_zones, t->text, &m);
		if (m.result == ZONE_MATCHED &&
		    zone_str(t, json_array_get(t->shop.delivery_zones, (size_t)m.index),
		             "delivery_time")) {
			z = json_array_get(t->shop.delivery_zones, (size_t)m.index);
			turn_sayf(t, "Delivery to %s takes %s.", "Kusafirisha hadi %s huchukua %s.",
			          json_string_value(json_object_get(z, "name")),
			          zone_str(t, z, "delivery_time"));
			return 0;
		}
		json_array_foreach(t->shop.delivery_zones, i, z)
		{
			const char *when = zone_str(t, z, "delivery_time");

			if (!when)
				continue;
			if (!any++)
				turn_say(t, "How long delivery takes:", "Muda wa kusafirisha:");
			turn_linef(t, "- %s: %s", "- %s: %s",
			           json_string_value(json_object_get(z, "name")), when);
		}
	}
	if (!any)
		turn_say(t,
		         "We deliver as soon as we can, and we'll message you here when your order "
		         "is on its way.",
		         "Tunasafirisha haraka iwezekanavyo, na tutakutumia ujumbe hapa oda yako "
		         "ikiwa njiani.");
	return 0;
}

static int answer_hours(struct turn *t)
{
	static const char *const days[][3] = {
	    {"mon", "Monday", "Jumatatu"},    {"tue", "Tuesday", "Jumanne"},
	    {"wed", "Wednesday", "Jumatano"}, {"thu", "Thursday", "Alhamisi"},
	    {"fri", "Friday", "Ijumaa"},      {"sat", "Saturday", "Jumamosi"},
	    {"sun", "Sunday", "Jumapili"},
	};
	char hours[32];
	size_t i;
	int closed;

	if (!t->shop.business_hours) {
		turn_say(t, "You can shop and order here at any time.",
		         "Unaweza kununua na kuagiza hapa wakati wowote.");
		return 0;
	}
	turn_say(t, "Our opening hours:", "Saa zetu za kazi:");
	for (i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		const char *h =
		    json_string_value(json_object_get(t->shop.business_hours, days[i][0]));

		if (!h || strcmp(h, "closed") == 0)
			turn_linef(t, "- %s: closed", "- %s: tumefunga",
			           t->sw ? days[i][2] : days[i][1]);
		else
			turn_linef(t, "- %s: %s", "- %s: %s", t->sw ? days[i][2] : days[i][1], h);
	}
	closed = shop_settings_closed_now(t->conn, &t->shop, hours, sizeof(hours));
	if (closed < 0)
		return -1;
	if (closed)
		turn_say(t,
		         "We're closed right now, but you can still order here; we'll handle it as "
		         "soon as we open.",
		         "Tumefunga kwa sasa, lakini bado unaweza kuagiza hapa; tutaishughulikia "
		         "tukifungua.");
	else
		turn_say(t, "We're open now.", "Tuko wazi sasa.");
	return 0;
}

static int answer_payment(struct turn *t)
{
	int i;

	turn_say(t, "You can pay with:", "Unaweza kulipa kwa:");
	for (i = 0; i < t->shop.npayments; i++) {
		const struct shop_payment *p = &t->shop.payments[i];
		const char *instr = shop_payment_instructions(p, t->sw);

		if (instr[0])
			turn_linef(t, "- %s: %s", "- %s: %s", shop_payment_label(p, t->sw), instr);
		else
			turn_linef(t, "- %s", "- %s", shop_payment_label(p, t->sw));
	}
	if (shop_settings_payment(&t->shop, "mpesa"))
		turn_say(
		    t,
		    "After paying by M-Pesa, paste the confirmation message here and I'll pass "
		    "it to the shop.",
		    "Ukishalipa kwa M-Pesa, bandika ujumbe wa uthibitisho hapa nami "
		    "nitaupeleka kwa duka.");
	return 0;
}

static int answer_returns(struct turn *t)
{
	if (t->shop.returns_text[0]) {
		turn_sayf(t, "%s", "%s", t->sw ? t->shop.returns_text_sw : t->shop.returns_text);
		return 0;
	}
	turn_say(t,
	         "For returns and exchanges, please talk to a person from the shop: they will "
	         "help you.",
	         "Kwa kurudisha au kubadilisha bidhaa, tafadhali ongea na mtu wa duka: "
	         "atakusaidia.");
	return 0;
}

int engine_question_answer(struct turn *t)
{
	const json_t *f = t->q_faq >= 0 ? json_array_get(t->shop.faqs, (size_t)t->q_faq) : NULL;
	int rc = 0;

	/* answered in the question's language, also in a step that keeps the conversation's
	 * (an address can be written in either) */
	if (strcmp(t->rd.lang, "en") == 0 || strcmp(t->rd.lang, "sw") == 0) {
		snprintf(t->lang, sizeof(t->lang), "%s", t->rd.lang);
		t->sw = t->rd.lang[0] == 's';
	}

	if (f) {
		const char *sw = json_string_value(json_object_get(f, "answer_sw"));
		const char *en = json_string_value(json_object_get(f, "answer"));

		turn_sayf(t, "%s", "%s", t->sw && sw ? sw : en);
	} else if (strcmp(t->q_topic, FAQ_TOPIC_DELIVERY) == 0) {
		rc = answer_delivery(t, 0);
	} else if (strcmp(t->q_topic, FAQ_TOPIC_DELIVERY_FEE) == 0) {
		rc = answer_delivery(t, 1);
	} else if (strcmp(t->q_topic, FAQ_TOPIC_DELIVERY_TIME) == 0) {
		rc = answer_delivery_time(t);
	} else if (strcmp(t->q_topic, FAQ_TOPIC_HOURS) == 0) {
		rc = answer_hours(t);
	} else if (strcmp(t->q_topic, FAQ_TOPIC_PAYMENT) == 0) {
		rc = answer_payment(t);
	} else if (strcmp(t->q_topic, FAQ_TOPIC_RETURNS) == 0) {
		rc = answer_returns(t);
	} else {
		turn_say(t, "I don't have an answer to that. A person from the shop can help you.",
		         "Sina jibu la hilo. Mtu wa duka anaweza kukusaidia.");
		turn_button(t, TR(t, "Talk to a person", "Ongea na mtu"), "human");
		turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
		return 0;
	}
	if (rc < 0)
		return rc;
	/* the shopper keeps their place: the pending checkout step is asked again */
	if (in_checkout(t))
		return engine_checkout_next(t);
	turn_menu_buttons(t);
	return 0;
}
