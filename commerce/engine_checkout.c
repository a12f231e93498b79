/*
 * engine_checkout.c: checkout. Fills what is missing in the draft ctx.ck (name, delivery
 * address, phone number, payment method), shows a summary with subtotal, tax, delivery fee
 * and total, and at the shopper's confirmation checks that nothing changed since (lines still
 * available, prices, total within bounds) before engine_place.c places the order.
 * Also the WhatsApp catalog order, and shared locations and contacts.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce_util.h"
#include "engine_internal.h"
#include "money.h"
#include "pg.h"

static const char *ck_str(struct turn *t, const char *key)
{
	return json_string_value(json_object_get(turn_checkout(t), key));
}

static void ck_set(struct turn *t, const char *key, const char *value)
{
	json_object_set_new(turn_checkout(t), key, json_string(value));
}

/* The customer's saved name, phone and default address. */
struct known {
	char name[101];
	char phone[33];
	char address[501];
	int has_address;
};

static int known_load(struct turn *t, struct known *k)
{
	PGresult *res;

	memset(k, 0, sizeof(*k));
	res = pg_exec(t->conn,
	              "SELECT COALESCE(c.name, ''), COALESCE(c.phone, ''),"
	              " (SELECT a.address_text FROM address_book a WHERE a.tenant_id = c.tenant_id"
	              "  AND a.customer_id = c.id ORDER BY a.is_default DESC, a.updated_at DESC"
	              "  LIMIT 1)"
	              " FROM customers c WHERE c.tenant_id = $1 AND c.id = $2",
	              2, (const char *const[]){t->tenant, t->customer_id});
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		snprintf(k->name, sizeof(k->name), "%s", PQgetvalue(res, 0, 0));
		snprintf(k->phone, sizeof(k->phone), "%s", PQgetvalue(res, 0, 1));
		if (!PQgetisnull(res, 0, 2)) {
			snprintf(k->address, sizeof(k->address), "%s", PQgetvalue(res, 0, 2));
			k->has_address = 1;
		}
	}
	PQclear(res);
	if (!k->name[0] && t->m->display_name)
		snprintf(k->name, sizeof(k->name), "%s", t->m->display_name);
	if (t->m->phone && *t->m->phone)
		snprintf(k->phone, sizeof(k->phone), "%s%s", t->m->phone[0] == '+' ? "" : "+",
		         t->m->phone);
	return 0;
}

/* The open cart's lines, or NULL (and a reply) when there is nothing to check out. */
static PGresult *checkout_lines(struct turn *t, char *cart_id, int *err)
{
	PGresult *lines;
	int rc;

	*err = 0;
	rc = engine_cart_id(t, 0, cart_id);
	if (rc < 0) {
		*err = 1;
		return NULL;
	}
	lines = rc == 1 ? engine_cart_lines(t, cart_id) : NULL;
	if (rc == 1 && !lines) {
		*err = 1;
		return NULL;
	}
	if (!lines || PQntuples(lines) == 0) {
		PQclear(lines);
		turn_say(t, "Your cart is empty, so there is nothing to check out yet.",
		         "Kikapu chako hakina kitu, kwa hivyo hakuna cha kulipia bado.");
		turn_button(t, TR(t, "Browse products", "Angalia bidhaa"), "browse");
		turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
		turn_ctx_del(t, "ck");
		turn_set_state(t, "cart");
		return NULL;
	}
	return lines;
}

int act_checkout(struct turn *t, const char *arg)
{
	char cart_id[MSG_UUID_LEN];
	PGresult *lines;
	int err;

	(void)arg;
	lines = checkout_lines(t, cart_id, &err);
	if (!lines)
		return err ? -1 : 0;
	json_object_set_new(t->ctx, "ck", json_object());
	if (turn_event(t, "checkout_started",
	               json_pack("{s:s, s:i}", "cart_id", cart_id, "lines", PQntuples(lines))) <
	    0) {
		PQclear(lines);
		return -1;
	}
	PQclear(lines);
	return engine_checkout_next(t);
}

/* A tax rate in basis points as shown to people: "16" or "7.50". */
static void bp_text(long bp, char *out, size_t len)
{
	if (bp % 100)
		snprintf(out, len, "%ld.%02ld", bp / 100, bp % 100);
	else
		snprintf(out, len, "%ld", bp / 100);
}

/*
 * The quote: what the summary showed, kept in ctx.ck.quote so the confirmation can tell
 * whether anything the shopper agreed to has changed since: the currency, every available
 * line's product, quantity and unit price, the tax rate and amount, the delivery fee.
 */
static json_t *quote_new(struct turn *t, const PGresult *lines, long long subtotal,
                         long long tax)
{
	json_t *q, *arr;
	long fee = engine_delivery_fee(t);
	int i;

	arr = json_array();
	q = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "currency", t->shop.currency,
	              "subtotal", (json_int_t)subtotal, "tax_bp", (json_int_t)t->shop.tax_bp, "tax",
	              (json_int_t)tax, "fee", (json_int_t)fee, "total",
	              (json_int_t)(subtotal + tax + fee), "lines", arr);
	if (!q)
		return NULL;
	for (i = 0; i < PQntuples(lines); i++) {
		if (PQgetvalue(lines, i, 6)[0] != 't')
			continue;
		if (json_array_append_new(
		        arr, json_pack("{s:s, s:I, s:I}", "id", PQgetvalue(lines, i, 0), "q",
		                       (json_int_t)atoll(PQgetvalue(lines, i, 2)), "price",
		                       (json_int_t)atoll(PQgetvalue(lines, i, 3)))) < 0) {
			json_decref(q);
			return NULL;
		}
	}
	return q;
}

static json_int_t jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/*
 * Compares the cart and the shop's settings now with the quote the shopper confirmed.
 * Returns the number of differences (1 when there is no quote at all); with say, names each
 * one as a line of the reply (a changed price, the tax rate, the delivery fee, a cart that
 * changed). lines are the cart's lines, all available (drop_unavailable ran before).
 */
static int quote_diff(struct turn *t, const json_t *quote, const PGresult *lines, int say)
{
	const json_t *ql = json_object_get(quote, "lines"), *l;
	const char *cur = json_string_value(json_object_get(quote, "currency"));
	char was[48], now[48], b1[24], b2[24];
	long long subtotal = 0, tax;
	int i, n = 0, cart_changed = 0, found;
	size_t j;

	if (!json_is_object(quote) || !json_is_array(ql) || !cur)
		return 1;
	if (strcmp(cur, t->shop.currency) != 0)
		n++;
	for (i = 0; i < PQntuples(lines); i++) {
		const char *id = PQgetvalue(lines, i, 0);
		long long q = atoll(PQgetvalue(lines, i, 2)),
		          price = atoll(PQgetvalue(lines, i, 3));

		subtotal = engine_money_add(subtotal, engine_money_line(q, price));
		found = 0;
		json_array_foreach(ql, j, l)
		{
			const char *qid = json_string_value(json_object_get(l, "id"));

			if (!qid || strcmp(qid, id) != 0)
				continue;
			found = 1;
			if (jint(l, "q") != q) {
				cart_changed = 1;
			} else if (jint(l, "price") != price) {
				n++;
				money_format(jint(l, "price"), cur, was, sizeof(was));
				turn_money(t, price, now, sizeof(now));
				if (say)
					turn_linef(t, "- %s: now %s each (was %s)",
					           "- %s: sasa %s kila moja (ilikuwa %s)",
					           PQgetvalue(lines, i, 1), now, was);
			}
			break;
		}
		if (!found)
			cart_changed = 1;
	}
	if ((size_t)PQntuples(lines) != json_array_size(ql))
		cart_changed = 1;
	if (cart_changed) {
		n++;
		if (say)
			turn_line_args(t, "- The items in your cart changed.",
			               "- Bidhaa kwenye kikapu chako zimebadilika.", NULL, 0);
	}
	if (jint(quote, "tax_bp") != t->shop.tax_bp) {
		n++;
		bp_text(t->shop.tax_bp, b1, sizeof(b1));
		bp_text((long)jint(quote, "tax_bp"), b2, sizeof(b2));
		if (say)
			turn_linef(t, "- Tax: now %s%% (was %s%%)",
			           "- Kodi: sasa %s%% (ilikuwa %s%%)", b1, b2);
	}
	if (jint(quote, "fee") != engine_delivery_fee(t)) {
		n++;
		money_format(jint(quote, "fee"), cur, was, sizeof(was));
		turn_money(t, engine_delivery_fee(t), now, sizeof(now));
		if (say)
			turn_linef(t, "- Delivery fee: now %s (was %s)",
			           "- Gharama ya kusafirisha: sasa %s (ilikuwa %s)", now, was);
	}
	/* whatever else moved the total (rounding rules, a currency): still a change */
	tax = subtotal > ENGINE_MONEY_MAX ? 0 : shop_settings_tax(&t->shop, subtotal);
	if (n == 0 && jint(quote, "total") != subtotal + tax + engine_delivery_fee(t))
		n++;
	return n;
}

/* 1 (and the reply) when the order's total would pass ENGINE_MONEY_MAX: not placed here. */
static int too_large(struct turn *t, const PGresult *lines)
{
	long long subtotal = engine_cart_subtotal(lines);

	if (subtotal <= ENGINE_MONEY_MAX &&
	    engine_money_add(subtotal + shop_settings_tax(&t->shop, subtotal),
	                     engine_delivery_fee(t)) <= ENGINE_MONEY_MAX)
		return 0;
	json_object_del(turn_checkout(t), "quote");
	turn_say(t,
	         "Sorry, this order is too large for me to place here. Please take something out "
	         "of your cart, or talk to a person.",
	         "Samahani, oda hii ni kubwa mno kwangu kuiweka hapa. Tafadhali ondoa kitu kwenye "
	         "kikapu chako, au ongea na mtu.");
	turn_button(t, TR(t, "Edit cart", "Badilisha kikapu"), "cart:edit");
	turn_button(t, TR(t, "Talk to a person", "Ongea na mtu"), "human");
	turn_set_state(t, "cart");
	return 1;
}

static int summary(struct turn *t)
{
	char cart_id[MSG_UUID_LEN], money[48], bp[24];
	const struct shop_payment *pay = shop_settings_payment(&t->shop, ck_str(t, "payment"));
	const json_t *addr = json_object_get(turn_checkout(t), "address");
	PGresult *lines;
	long long subtotal, tax;
	json_t *quote;
	int err;

	lines = checkout_lines(t, cart_id, &err);
	if (!lines)
		return err ? -1 : 0;
	if (too_large(t, lines)) {
		PQclear(lines);
		return 0;
	}
	if (engine_zone_summary(t, engine_cart_subtotal(lines), 0)) {
		PQclear(lines); /* below the zone's minimum order: said so */
		return 0;
	}
	turn_say(t, "Please confirm your order:", "Tafadhali thibitisha oda yako:");
	subtotal = engine_cart_describe(t, lines);
	tax = shop_settings_tax(&t->shop, subtotal);
	quote = quote_new(t, lines, subtotal, tax);
	PQclear(lines);
	if (!quote || json_object_set_new(turn_checkout(t), "quote", quote) < 0)
		return -1;
	turn_money(t, subtotal, money, sizeof(money));
	turn_sayf(t, "Subtotal: %s", "Jumla ndogo: %s", money);
	if (t->shop.tax_bp > 0) {
		bp_text(t->shop.tax_bp, bp, sizeof(bp));
		turn_money(t, tax, money, sizeof(money));
		turn_linef(t, "Tax (%s%%): %s", "Kodi (%s%%): %s", bp, money);
	}
	turn_money(t, engine_delivery_fee(t), money, sizeof(money));
	turn_linef(t, "Delivery fee: %s", "Gharama ya kusafirisha: %s", money);
	turn_money(t, subtotal + tax + engine_delivery_fee(t), money, sizeof(money));
	turn_linef(t, "Total: %s", "Jumla: %s", money);
	turn_sayf(t, "Name: %s", "Jina: %s", ck_str(t, "name"));
	turn_linef(t, "Delivery address: %s", "Anwani ya kusafirisha: %s",
	           json_string_value(json_object_get(addr, "text")));
	(void)engine_zone_summary(t, subtotal, 1); /* the area and its delivery time */
	turn_linef(t, "Phone number: %s", "Nambari ya simu: %s", ck_str(t, "phone"));
	turn_linef(t, "Payment method: %s", "Njia ya malipo: %s",
	           pay ? shop_payment_label(pay, t->sw) : "");
	turn_say(t, "Shall I place the order?", "Niweke oda?");
	turn_button(t, TR(t, "Confirm order", "Thibitisha oda"), "ck:yes");
	turn_button(t, TR(t, "Cancel", "Ghairi"), "ck:no");
	turn_set_state(t, "ck_confirm");
	return 0;
}

int engine_checkout_next(struct turn *t)
{
	struct known k;
	char title[64];
	int i;

	if (known_load(t, &k) < 0)
		return -1;
	if (!ck_str(t, "name")) {
		turn_say(t, "Let's check out. What name should we put on the order?",
		         "Tulipie. Tuweke jina gani kwenye oda?");
		if (k.name[0]) {
			snprintf(title, sizeof(title), TR(t, "Use %s", "Tumia %s"), k.name);
			turn_button(t, title, "name:use");
			json_object_set_new(t->ctx, "suggest_name", json_string(k.name));
		}
		turn_set_state(t, "ck_name");
		return 0;
	}
	if (!json_is_object(json_object_get(turn_checkout(t), "address"))) {
		turn_say(t, "What is your delivery address? Type it, or share your location.",
		         "Tafadhali andika anwani yako ya kusafirisha, au tuma mahali ulipo "
		         "(location).");
		if (k.has_address) {
			turn_sayf(t, "Your saved address: %s", "Anwani uliyohifadhi: %s",
			          k.address);
			turn_button(t, TR(t, "Use saved address", "Tumia anwani hiyo"),
			            "addr:saved");
		}
		if (t->shop.pickup_address[0])
			turn_button(t, TR(t, "Pick up at the shop", "Nitachukua dukani"), "pickup");
		turn_set_state(t, "ck_address");
		return 0;
	}
	i = engine_zone_step(t); /* with delivery zones: the address's zone, or ask */
	if (i != 0)
		return i < 0 ? -1 : 0;
	if (!ck_str(t, "phone")) {
		turn_say(t, "What phone number can the rider call when delivering?",
		         "Tafadhali andika nambari ya simu ambayo msafirishaji atapiga.");
		if (k.phone[0]) {
			snprintf(title, sizeof(title), TR(t, "Use %s", "Tumia %s"), k.phone);
			turn_button(t, title, "phone:use");
			json_object_set_new(t->ctx, "suggest_phone", json_string(k.phone));
		}
		turn_set_state(t, "ck_phone");
		return 0;
	}
	if (!ck_str(t, "payment")) {
		char payload[48];

		turn_say(t, "How would you like to pay? Choose a payment method:",
		         "Ungependa kulipa vipi? Chagua njia ya malipo:");
		for (i = 0; i < t->shop.npayments; i++) {
			snprintf(payload, sizeof(payload), "pay:%s", t->shop.payments[i].code);
			turn_button(t, shop_payment_label(&t->shop.payments[i], t->sw), payload);
		}
		turn_set_state(t, "ck_payment");
		return 0;
	}
	return summary(t);
}

static int not_in_checkout(struct turn *t)
{
	if (strncmp(t->state, "ck_", 3) == 0)
		return 0;
	turn_say(t, "That checkout step is already finished.", "Hatua hiyo ya malipo imekwisha.");
	turn_menu_buttons(t);
	return 1;
}

int act_name_use(struct turn *t, const char *arg)
{
	const char *s = turn_ctx_str(t, "suggest_name");

	(void)arg;
	if (not_in_checkout(t))
		return 0;
	if (s && *s)
		ck_set(t, "name", s);
	return engine_checkout_next(t);
}

int act_address_saved(struct turn *t, const char *arg)
{
	struct known k;

	(void)arg;
	if (not_in_checkout(t))
		return 0;
	if (known_load(t, &k) < 0)
		return -1;
	if (k.has_address)
		json_object_set_new(turn_checkout(t), "address",
		                    json_pack("{s:s, s:b}", "text", k.address, "saved", 1));
	return engine_checkout_next(t);
}

int act_phone_use(struct turn *t, const char *arg)
{
	const char *s = turn_ctx_str(t, "suggest_phone");

	(void)arg;
	if (not_in_checkout(t))
		return 0;
	if (s && *s)
		ck_set(t, "phone", s);
	return engine_checkout_next(t);
}

int act_pay(struct turn *t, const char *arg)
{
	const struct shop_payment *p = shop_settings_payment(&t->shop, arg);

	if (not_in_checkout(t))
		return 0;
	if (!p) {
		turn_say(t, "Sorry, that payment method isn't available.",
		         "Samahani, njia hiyo ya malipo haipatikani.");
		json_object_del(turn_checkout(t), "payment");
		return engine_checkout_next(t);
	}
	ck_set(t, "payment", p->code);
	return engine_checkout_next(t);
}

static int has_letter(const char *s)
{
	for (; *s; s++)
		if (isalpha((unsigned char)*s) || (unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

static int text_cmd(const struct turn *t)
{
	switch (t->rd.intent) {
	case NLP_INTENT_VIEW_CART:
	case NLP_INTENT_ORDER_STATUS:
	case NLP_INTENT_COMPLAINT:
		return 1;
	default:
		return 0;
	}
}

int st_ck_name_text(struct turn *t)
{
	char *name;
	const char *s = turn_ctx_str(t, "suggest_name");
	int rc;

	if (text_cmd(t))
		return 0;
	if (t->rd.intent == NLP_INTENT_CONFIRM && s && *s) {
		ck_set(t, "name", s);
		return engine_checkout_next(t) < 0 ? -1 : 1;
	}
	/* cut at a character boundary: a cut inside one would not be stored (asked forever) */
	name = cm_utf8_clean(t->text, strlen(t->text), 100);
	if (!name)
		return -1;
	cm_trim(name);
	if (t->rd.intent == NLP_INTENT_DENY || t->rd.intent == NLP_INTENT_GREET ||
	    t->rd.intent == NLP_INTENT_THANKS || strlen(name) < 2 || !has_letter(name)) {
		free(name);
		t->keep_offered = 1;
		turn_say(t, "Please type the name to put on the order.",
		         "Tafadhali andika jina la kuweka kwenye oda.");
		return 1;
	}
	ck_set(t, "name", name);
	free(name);
	rc = engine_checkout_next(t);
	return rc < 0 ? -1 : 1;
}

int st_ck_address_text(struct turn *t)
{
	char *addr;
	int short_addr;

	if (text_cmd(t))
		return 0;
	if (t->rd.intent == NLP_INTENT_CONFIRM && turn_offered_has(t, "addr:saved"))
		return act_address_saved(t, NULL) < 0 ? -1 : 1;
	addr = cm_utf8_clean(t->text, strlen(t->text), 500); /* at a character boundary */
	if (!addr)
		return -1;
	cm_trim(addr);
	short_addr = strlen(addr) < 4 || !has_letter(addr);
	if (!short_addr)
		json_object_set_new(turn_checkout(t), "address", json_pack("{s:s}", "text", addr));
	free(addr);
	if (short_addr) {
		t->keep_offered = 1;
		turn_say(
		    t,
		    "Please type your delivery address (street, building, area), or share your "
		    "location.",
		    "Tafadhali andika anwani yako ya kusafirisha (barabara, jengo, mtaa), au tuma "
		    "mahali ulipo.");
		return 1;
	}
	return engine_checkout_next(t) < 0 ? -1 : 1;
}

/* Keeps digits and one leading '+'; 1 when 9 to 15 digits remain. */
static int phone_clean(const char *in, char *out, size_t len)
{
	size_t j = 0, digits = 0;

	for (; *in && j + 1 < len; in++) {
		if (*in == '+' && j == 0)
			out[j++] = '+';
		else if (*in >= '0' && *in <= '9')
			out[j++] = *in, digits++;
		else if (*in != ' ' && *in != '-' && *in != '(' && *in != ')' && *in != '.')
			return 0;
	}
	out[j] = '\0';
	return digits >= 9 && digits <= 15;
}

int st_ck_phone_text(struct turn *t)
{
	char phone[40];
	const char *s = turn_ctx_str(t, "suggest_phone");

	if (text_cmd(t))
		return 0;
	if (t->rd.intent == NLP_INTENT_CONFIRM && s && *s) {
		ck_set(t, "phone", s);
		return engine_checkout_next(t) < 0 ? -1 : 1;
	}
	if (!phone_clean(t->rd.phone[0] ? t->rd.phone : t->text, phone, sizeof(phone))) {
		t->keep_offered = 1;
		turn_say(
		    t, "That doesn't look like a phone number. Please type it like 0712 345 678.",
		    "Hiyo haionekani kama nambari ya simu. Tafadhali iandike hivi: 0712 345 678.");
		return 1;
	}
	ck_set(t, "phone", phone);
	return engine_checkout_next(t) < 0 ? -1 : 1;
}

int st_ck_payment_text(struct turn *t)
{
	const char *labels[SHOP_MAX_PAYMENT];
	struct nlp_match m[1];
	int i;

	if (text_cmd(t))
		return 0;
	if (t->rd.payment[0] && shop_settings_payment(&t->shop, t->rd.payment))
		return act_pay(t, t->rd.payment) < 0 ? -1 : 1;
	for (i = 0; i < t->shop.npayments; i++)
		labels[i] = shop_payment_label(&t->shop.payments[i], t->sw);
	if (nlp_match_products(t->text, labels, (size_t)t->shop.npayments, 0.6, m, 1) == 1)
		return act_pay(t, t->shop.payments[m[0].index].code) < 0 ? -1 : 1;
	turn_say(t, "Please choose one of the payment methods below.",
	         "Tafadhali chagua mojawapo ya njia za malipo hapa chini.");
	for (i = 0; i < t->shop.npayments; i++) {
		char payload[48];

		snprintf(payload, sizeof(payload), "pay:%s", t->shop.payments[i].code);
		turn_button(t, shop_payment_label(&t->shop.payments[i], t->sw), payload);
	}
	return 1;
}

int st_ck_confirm_text(struct turn *t)
{
	if (t->rd.yes_no == NLP_YN_YES || t->rd.intent == NLP_INTENT_CONFIRM)
		return act_ck_yes(t, NULL) < 0 ? -1 : 1;
	if (t->rd.yes_no == NLP_YN_NO || t->rd.intent == NLP_INTENT_DENY)
		return act_ck_no(t, NULL) < 0 ? -1 : 1;
	if (text_cmd(t) || t->rd.intent != NLP_INTENT_UNKNOWN)
		return 0;
	t->keep_offered = 1;
	turn_say(t, "Shall I place the order? Please answer yes or no.",
	         "Niweke oda? Tafadhali jibu ndiyo au hapana.");
	return 1;
}

int act_ck_no(struct turn *t, const char *arg)
{
	(void)arg;
	turn_ctx_del(t, "ck");
	turn_say(t, "OK, I won't place the order. Your cart is still saved.",
	         "Sawa, sitaweka oda. Kikapu chako bado kimehifadhiwa.");
	turn_button(t, TR(t, "My cart", "Kikapu changu"), "cart");
	turn_button(t, TR(t, "Keep shopping", "Endelea kununua"), "browse");
	turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
	turn_set_state(t, "cart");
	return 0;
}

/* The lines that can no longer be bought, removed from the cart with a note. */
static int drop_unavailable(struct turn *t, const char *cart_id, PGresult *lines, int *dropped)
{
	int i;

	*dropped = 0;
	for (i = 0; i < PQntuples(lines); i++) {
		if (PQgetvalue(lines, i, 6)[0] == 't')
			continue;
		if (pg_cmd(t->conn,
		           "DELETE FROM cart_items WHERE tenant_id = $1 AND cart_id = $2"
		           " AND product_id = $3",
		           3,
		           (const char *const[]){t->tenant, cart_id, PQgetvalue(lines, i, 0)}) < 0)
			return -1;
		if (strcmp(PQgetvalue(lines, i, 7), t->shop.currency) != 0)
			turn_sayf(
			    t,
			    "Sorry, %s is now priced in %s, and this shop takes orders in %s, so "
			    "I removed it from your cart.",
			    "Samahani, bei ya %s sasa iko kwa %s, na duka hili linapokea oda kwa "
			    "%s, kwa hivyo nimeiondoa kwenye kikapu chako.",
			    PQgetvalue(lines, i, 1), PQgetvalue(lines, i, 7), t->shop.currency);
		else
			turn_sayf(
			    t, "Sorry, %s is no longer available, so I removed it from your cart.",
			    "Samahani, %s haipatikani tena, kwa hivyo nimeiondoa kwenye kikapu "
			    "chako.",
			    PQgetvalue(lines, i, 1));
		(*dropped)++;
	}
	return 0;
}

int act_ck_yes(struct turn *t, const char *arg)
{
	char cart_id[MSG_UUID_LEN];
	PGresult *lines;
	const json_t *quote;
	int err, dropped, rc, changes;

	(void)arg;
	if (strcmp(t->state, "ck_confirm") != 0 || !ck_str(t, "name") || !ck_str(t, "phone") ||
	    !ck_str(t, "payment") || !json_object_get(turn_checkout(t), "address"))
		return engine_checkout_next(t);
	/* the seller took the chosen payment method away since the summary: ask again rather
	 * than place the order with another one */
	if (!shop_settings_payment(&t->shop, ck_str(t, "payment"))) {
		turn_say(
		    t,
		    "Sorry, the payment method you chose isn't available any more, so I haven't "
		    "placed the order yet.",
		    "Samahani, njia ya malipo uliyochagua haipatikani tena, kwa hivyo bado "
		    "sijaweka oda.");
		json_object_del(turn_checkout(t), "payment");
		return engine_checkout_next(t);
	}
	/* the seller changed the delivery areas since: match the address again */
	rc = engine_zone_step(t);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	lines = checkout_lines(t, cart_id, &err);
	if (!lines)
		return err ? -1 : 0;
	if (drop_unavailable(t, cart_id, lines, &dropped) < 0) {
		PQclear(lines);
		return -1;
	}
	if (dropped) {
		PQclear(lines);
		return act_cart(t, NULL);
	}
	if (too_large(t, lines)) {
		PQclear(lines);
		return 0;
	}
	/* the shopper said yes to the summary's prices: if any changed since, ask again */
	quote = json_object_get(turn_checkout(t), "quote");
	changes = quote_diff(t, quote, lines, 0);
	if (changes > 0) {
		if (json_is_object(quote)) {
			turn_say(
			    t,
			    "I haven't placed the order yet: something changed since the summary "
			    "you saw.",
			    "Bado sijaweka oda: kuna kilichobadilika tangu uone muhtasari.");
			(void)quote_diff(t, quote, lines, 1);
		}
		PQclear(lines);
		if (turn_event(t, "checkout_repriced",
		               json_pack("{s:s, s:i}", "cart_id", cart_id, "changes", changes)) < 0)
			return -1;
		return summary(t);
	}
	rc = engine_order_place(t, cart_id, lines);
	PQclear(lines);
	return rc;
}

/* A WhatsApp cart sent from the catalog: it becomes the cart, then checkout. */
int engine_catalog_order(struct turn *t)
{
	char cart_id[MSG_UUID_LEN];
	size_t i;
	int added = 0;

	if (engine_cart_id(t, 1, cart_id) <= 0)
		return -1;
	if (pg_cmd(t->conn, "DELETE FROM cart_items WHERE tenant_id = $1 AND cart_id = $2", 2,
	           (const char *const[]){t->tenant, cart_id}) < 0)
		return -1;
	for (i = 0; i < t->m->nlines && i < ENGINE_LINES_MAX; i++) {
		const struct msg_catalog_line *l = &t->m->lines[i];
		struct engine_product p;
		char *sku = l->sku ? cm_utf8_clean(l->sku, strlen(l->sku), 64) : NULL;
		PGresult *res;
		long q = l->quantity;
		int rc;

		if (!sku)
			continue;
		res = pg_exec(t->conn,
		              "SELECT id FROM products WHERE tenant_id = $1 AND sku = $2 AND active"
		              " AND deleted_at IS NULL",
		              2, (const char *const[]){t->tenant, sku});
		if (!res) {
			free(sku);
			return -1;
		}
		rc = PQntuples(res) == 1 ? engine_product_load(t, PQgetvalue(res, 0, 0), &p) : 0;
		PQclear(res);
		if (rc < 0) {
			free(sku);
			return -1;
		}
		if (rc == 0) {
			turn_sayf(t, "Sorry, %s is not available.", "Samahani, %s haipatikani.",
			          sku);
		} else if (engine_product_foreign(t, &p)) {
			/* named; the rest of the order goes on */
		} else if (q < 1 || q > NLP_QTY_MAX) {
			turn_sayf(t, "Sorry, I can't take that quantity of %s.",
			          "Samahani, siwezi kupokea idadi hiyo ya %s.", p.name);
		} else if (p.stock < q) {
			char s[24];

			snprintf(s, sizeof(s), "%ld", p.stock);
			turn_sayf(t, "Sorry, we only have %s of %s in stock.",
			          "Samahani, tuna %s tu za %s.", s, p.name);
		} else {
			/* the same product on two lines: together they must fit too */
			long prev = engine_cart_quantity(t, cart_id, p.id);
			char s[24];

			if (prev < 0 || (prev + q <= p.stock && prev + q <= NLP_QTY_MAX &&
			                 engine_cart_set(t, cart_id, &p, prev + q, prev) < 0)) {
				free(sku);
				return -1;
			}
			snprintf(s, sizeof(s), "%ld", p.stock);
			if (prev + q > NLP_QTY_MAX)
				turn_sayf(t, "Sorry, I can't take that quantity of %s.",
				          "Samahani, siwezi kupokea idadi hiyo ya %s.", p.name);
			else if (prev + q > p.stock)
				turn_sayf(t, "Sorry, we only have %s of %s in stock.",
				          "Samahani, tuna %s tu za %s.", s, p.name);
			else
				added++;
		}
		free(sku);
	}
	if (t->m->nlines > ENGINE_LINES_MAX) {
		char max[24];

		snprintf(max, sizeof(max), "%d", ENGINE_LINES_MAX);
		turn_sayf(
		    t,
		    "Your order has more lines than I can take at once: I read only the first "
		    "%s.",
		    "Oda yako ina mistari mingi kuliko ninavyoweza kupokea kwa mara moja: "
		    "nimesoma %s ya kwanza tu.",
		    max);
	}
	if (!added) {
		turn_say(t, "None of those products could be added to your cart.",
		         "Hakuna bidhaa kati ya hizo iliyoweza kuongezwa kwenye kikapu chako.");
		turn_menu_buttons(t);
		turn_set_state(t, "menu");
		return 0;
	}
	turn_say(t, "Thanks! I've put your selection in your cart.",
	         "Asante! Nimeweka ulichochagua kwenye kikapu chako.");
	return act_checkout(t, NULL);
}

int engine_location(struct turn *t)
{
	char text[720], *cut;
	const struct msg_inbound *m = t->m;

	if (strcmp(t->state, "ck_address") != 0) {
		t->keep_offered = 1;
		turn_say(t,
		         "Thanks for the location! I'll ask for your delivery address when you "
		         "check out.",
		         "Asante kwa mahali ulipo! Nitakuuliza anwani ya kusafirisha ukilipia.");
		return 0;
	}
	if (m->location_address && *m->location_address)
		snprintf(text, sizeof(text), "%s%s%s", m->location_name ? m->location_name : "",
		         m->location_name && *m->location_name ? ", " : "", m->location_address);
	else if (m->location_name && *m->location_name)
		snprintf(text, sizeof(text), "%s", m->location_name);
	else
		snprintf(text, sizeof(text), "%s (%.5f, %.5f)",
		         TR(t, "Shared location", "Mahali palipotumwa"), m->latitude, m->longitude);
	/* name (200) and address (500) may not fit an address line: cut between characters */
	cut = cm_utf8_clean(text, strlen(text), 500);
	if (!cut)
		return -1;
	json_object_set_new(turn_checkout(t), "address",
	                    json_pack("{s:s, s:f, s:f}", "text", cut, "latitude", m->latitude,
	                              "longitude", m->longitude));
	free(cut);
	return engine_checkout_next(t);
}

int engine_contact(struct turn *t)
{
	char phone[40];

	if (strcmp(t->state, "ck_phone") == 0 && t->m->contact_phone &&
	    phone_clean(t->m->contact_phone, phone, sizeof(phone))) {
		ck_set(t, "phone", phone);
		return engine_checkout_next(t);
	}
	t->keep_offered = 1;
	turn_say(t, "Thanks for the contact!", "Asante kwa mawasiliano!");
	return 0;
}
