/*
 * engine_shop.c: the shopping actions of the state machine: greeting and menu, categories,
 * product pages and cards, search with typo tolerance and the lexicon's synonyms
 * (nlp_match_products_nlp), adding with a quantity, the cart with its edits, clearing and
 * starting over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce_util.h"
#include "engine_internal.h"
#include "money.h"
#include "pg.h"

#define MATCH_MIN   0.55 /* below this a catalog name is not a match */
#define MATCH_CLEAR 0.12 /* a best match this far ahead of the next one is "the one" */
#define MATCH_MAX   8

int act_menu(struct turn *t, const char *arg)
{
	if (!arg || strcmp(arg, "quiet") != 0)
		turn_say(t, "What would you like to do?", "Ungependa kufanya nini?");
	turn_row(t, TR(t, "Browse products", "Angalia bidhaa"),
	         TR(t, "Shop by category", "Nunua kwa aina"), "browse");
	turn_row(t, TR(t, "Search", "Tafuta"),
	         TR(t, "Find a product by name", "Tafuta bidhaa kwa jina"), "search");
	turn_row(t, TR(t, "My cart", "Kikapu changu"), NULL, "cart");
	turn_row(t, TR(t, "My orders", "Oda zangu"),
	         TR(t, "Status, cancel, problems", "Hali, kughairi, matatizo"), "orders");
	turn_row(t, TR(t, "Talk to a person", "Ongea na mtu"), NULL, "human");
	turn_list(t, TR(t, "Menu", "Menyu"), TR(t, "Main menu", "Menyu kuu"));
	turn_set_state(t, "menu");
	return 0;
}

int act_greet(struct turn *t, const char *arg)
{
	char hours[32];
	const char *name = t->m->display_name;
	int closed;

	(void)arg;
	if (t->shop.welcome_text[0])
		turn_say(t, t->shop.welcome_text, t->shop.welcome_text_sw);
	else if (name && *name)
		turn_sayf(t, "Hi %s! Welcome to %s.", "Habari %s! Karibu %s.", name, t->shop.name);
	else
		turn_sayf(t, "Hello! Welcome to %s.", "Habari! Karibu %s.", t->shop.name);
	closed = shop_settings_closed_now(t->conn, &t->shop, hours, sizeof(hours));
	if (closed < 0)
		return -1;
	if (closed && strcmp(hours, "closed") == 0)
		turn_say(
		    t,
		    "We're closed today. You can still shop and order here; we'll handle your "
		    "order as soon as we open.",
		    "Tumefunga leo. Bado unaweza kununua na kuagiza hapa; tutashughulikia oda yako "
		    "tukifungua.");
	else if (closed)
		turn_sayf(
		    t,
		    "We're closed right now (today's hours: %s). You can still shop and order "
		    "here; we'll handle your order as soon as we open.",
		    "Tumefunga kwa sasa (saa za leo: %s). Bado unaweza kununua na kuagiza hapa; "
		    "tutashughulikia oda yako tukifungua.",
		    hours);
	return act_menu(t, NULL);
}

int act_thanks(struct turn *t, const char *arg)
{
	(void)arg;
	turn_say(t, "You're welcome! Anything else I can help with?",
	         "Karibu! Kuna kingine naweza kukusaidia?");
	turn_menu_buttons(t);
	return 0;
}

int act_search_prompt(struct turn *t, const char *arg)
{
	(void)arg;
	turn_say(t, "What are you looking for? Type a product name, for example \"honey\".",
	         "Unatafuta nini? Andika jina la bidhaa, kwa mfano \"asali\".");
	turn_set_state(t, "search");
	return 0;
}

int act_categories(struct turn *t, const char *arg)
{
	PGresult *res;
	json_t *cats;
	char payload[24], desc[48], count[24];
	int i;

	(void)arg;
	res = pg_exec(t->conn,
	              "SELECT category, count(*) FROM products WHERE tenant_id = $1 AND active"
	              " AND deleted_at IS NULL GROUP BY category ORDER BY category LIMIT 20",
	              1, &t->tenant);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		turn_say(t, "Sorry, the shop has no products to show yet.",
		         "Samahani, duka bado halina bidhaa za kuonyesha.");
		turn_set_state(t, "menu");
		return 0;
	}
	cats = json_array();
	turn_say(t,
	         "Here are our categories. Pick one:", "Hizi ni aina za bidhaa zetu. Chagua moja:");
	for (i = 0; i < PQntuples(res); i++) {
		snprintf(payload, sizeof(payload), "cat:%d", i);
		snprintf(count, sizeof(count), "%s", PQgetvalue(res, i, 1));
		snprintf(desc, sizeof(desc), TR(t, "%s products", "bidhaa %s"), count);
		turn_row(t, PQgetvalue(res, i, 0), desc, payload);
		json_array_append_new(cats, json_string(PQgetvalue(res, i, 0)));
	}
	json_object_set_new(t->ctx, "cats", cats);
	turn_list(t, TR(t, "Categories", "Aina"), TR(t, "Categories", "Aina"));
	turn_set_state(t, "categories");
	PQclear(res);
	return 0;
}

/* A list row's description: the price in the product's own currency, and its stock. */
static void stock_text(struct turn *t, long long price, const char *currency, long stock, char *out,
                       size_t len)
{
	char money[48];

	money_format(price, currency, money, sizeof(money));
	if (stock <= 0)
		snprintf(out, len, "%s, %s", money, TR(t, "out of stock", "imeisha"));
	else
		snprintf(out, len, "%s", money);
}

static int show_page(struct turn *t, const char *category, long offset)
{
	char off[24], payload[64], desc[96];
	PGresult *res;
	int i, n;

	snprintf(off, sizeof(off), "%ld", offset);
	res = pg_exec(t->conn,
	              "SELECT id, name, price_minor, stock, currency FROM products"
	              " WHERE tenant_id = $1"
	              " AND active AND deleted_at IS NULL AND category = $2 ORDER BY name, id"
	              " LIMIT 9 OFFSET $3::int",
	              3, (const char *const[]){t->tenant, category, off});
	if (!res)
		return -1;
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		turn_say(t, "There are no more products here.", "Hakuna bidhaa zaidi hapa.");
		return act_categories(t, NULL);
	}
	if (offset == 0)
		turn_sayf(t, "%s: pick a product to see more.", "%s: chagua bidhaa kuona zaidi.",
		          category);
	else
		turn_sayf(t, "More from %s:", "Zaidi kutoka %s:", category);
	for (i = 0; i < n && i < ENGINE_PAGE_SIZE; i++) {
		snprintf(payload, sizeof(payload), "prod:%s", PQgetvalue(res, i, 0));
		stock_text(t, atoll(PQgetvalue(res, i, 2)), PQgetvalue(res, i, 4),
		           atol(PQgetvalue(res, i, 3)), desc, sizeof(desc));
		turn_row(t, PQgetvalue(res, i, 1), desc, payload);
	}
	if (n > ENGINE_PAGE_SIZE) {
		snprintf(payload, sizeof(payload), "more:%ld", offset + ENGINE_PAGE_SIZE);
		turn_row(t, TR(t, "More products", "Bidhaa zaidi"), NULL, payload);
	}
	turn_row(t, TR(t, "All categories", "Aina zote"), NULL, "browse");
	turn_list(t, TR(t, "Products", "Bidhaa"), category);
	turn_ctx_set_str(t, "category", category);
	turn_ctx_set_int(t, "offset", offset);
	turn_set_state(t, "products");
	PQclear(res);
	return 0;
}

int act_category(struct turn *t, const char *arg)
{
	const json_t *cats = json_object_get(t->ctx, "cats");
	long i;

	if (!cm_parse_uint(arg, 3, &i) || !json_is_string(json_array_get(cats, (size_t)i))) {
		turn_say(t, "Sorry, that category isn't available any more.",
		         "Samahani, aina hiyo haipatikani tena.");
		return act_categories(t, NULL);
	}
	return show_page(t, json_string_value(json_array_get(cats, (size_t)i)), 0);
}

int act_more(struct turn *t, const char *arg)
{
	const char *cat = turn_ctx_str(t, "category");
	long off;

	if (!cat || !cm_parse_uint(arg, 4, &off))
		return act_categories(t, NULL);
	return show_page(t, cat, off);
}

static int show_product(struct turn *t, const struct engine_product *p)
{
	char money[48], stock[24], payload[64], title[24];
	long q;

	money_format(p->price_minor, p->currency, money, sizeof(money));
	snprintf(stock, sizeof(stock), "%ld", p->stock);
	turn_say(t, p->name, p->name);
	if (p->description[0])
		turn_line_args(t, p->description, p->description, NULL, 0);
	turn_linef(t, "Price: %s", "Bei: %s", money);
	/* a card only for a picture: the text above already says the rest */
	if (p->image_url[0])
		turn_card(t, p->name, p->description, p->price_minor, p->currency, p->image_url);
	if (turn_event(t, "product_viewed",
	               json_pack("{s:s, s:s, s:s}", "product_id", p->id, "sku", p->sku, "name",
	                         p->name)) < 0)
		return -1;
	turn_ctx_set_str(t, "product", p->id);
	if (strcmp(p->currency, t->shop.currency) != 0) {
		/* its price cannot be added to totals in the shop's currency */
		turn_sayf(t,
		          "Sorry, it is priced in %s and this shop takes orders in %s, so it "
		          "can't be ordered here.",
		          "Samahani, bei yake iko kwa %s na duka hili linapokea oda kwa %s, kwa "
		          "hivyo haiwezi kuagizwa hapa.",
		          p->currency, t->shop.currency);
		turn_menu_buttons(t);
		turn_set_state(t, "menu");
		return 0;
	}
	if (p->stock <= 0) {
		turn_linef(t, "Sorry, it's out of stock right now.", "Samahani, imeisha kwa sasa.",
		           NULL);
		turn_menu_buttons(t);
		turn_set_state(t, "menu");
		return 0;
	}
	turn_linef(t, "In stock: %s", "Zilizopo: %s", stock);
	turn_say(t, "How many would you like? Pick one below or type a number.",
	         "Ungependa ngapi? Chagua hapa chini au andika nambari.");
	for (q = 1; q <= 3 && q <= p->stock; q++) {
		snprintf(payload, sizeof(payload), "add:%s:%ld", p->id, q);
		snprintf(title, sizeof(title), TR(t, "Add %ld", "Ongeza %ld"), q);
		turn_button(t, title, payload);
	}
	turn_set_state(t, "product");
	return 0;
}

static int product_gone(struct turn *t)
{
	turn_say(t, "Sorry, that product is no longer available.",
	         "Samahani, bidhaa hiyo haipatikani tena.");
	turn_menu_buttons(t);
	turn_set_state(t, "menu");
	return 0;
}

int act_product(struct turn *t, const char *arg)
{
	struct engine_product p;
	int rc = engine_product_load(t, arg, &p);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return product_gone(t);
	return show_product(t, &p);
}

/* "sku:<SKU>": a storefront link (the web chat's ?product=, Telegram's start payload) puts
 * that product in front of the shopper at once. */
int act_product_sku(struct turn *t, const char *arg)
{
	PGresult *res;
	char id[MSG_UUID_LEN] = "";

	if (!arg || !*arg || strlen(arg) > 64)
		return product_gone(t);
	res = pg_exec(t->conn,
	              "SELECT id FROM products WHERE tenant_id = $1 AND sku = $2 AND active"
	              " AND deleted_at IS NULL",
	              2, (const char *const[]){t->tenant, arg});
	if (!res)
		return -1;
	if (PQntuples(res) == 1)
		snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return id[0] ? act_product(t, id) : product_gone(t);
}

/* The text a storefront's "Order on WhatsApp" link fills in names the product as
 * "(SKU: <sku>)": 1 (*rc the action's result) when the text carries one, else 0. */
int text_sku_link(struct turn *t, int *rc)
{
	const char *p = strcasestr(t->text, "(SKU:");
	char sku[65];
	size_t n;

	if (!p)
		return 0;
	for (p += 5; *p == ' '; p++)
		;
	n = strcspn(p, ")");
	if (p[n] != ')' || n == 0 || n >= sizeof(sku))
		return 0;
	memcpy(sku, p, n);
	sku[n] = '\0';
	cm_trim(sku);
	*rc = act_product_sku(t, sku);
	return 1;
}

/* "add:<uuid>:<n>" */
int act_add(struct turn *t, const char *arg)
{
	struct engine_product p;
	char id[MSG_UUID_LEN];
	long q;
	int rc;

	if (!arg || strlen(arg) < 38 || arg[36] != ':' || !cm_parse_uint(arg + 37, 3, &q))
		return product_gone(t);
	memcpy(id, arg, 36);
	id[36] = '\0';
	rc = engine_product_load(t, id, &p);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return product_gone(t);
	return engine_cart_add(t, &p, q);
}

int act_cart(struct turn *t, const char *arg)
{
	char cart_id[MSG_UUID_LEN], money[48];
	PGresult *lines = NULL;
	long long subtotal;
	int rc;

	rc = engine_cart_id(t, 0, cart_id);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		lines = engine_cart_lines(t, cart_id);
		if (!lines)
			return -1;
	}
	turn_set_state(t, "cart");
	if (!lines || PQntuples(lines) == 0) {
		PQclear(lines);
		turn_say(t, "Your cart is empty.", "Kikapu chako hakina kitu.");
		turn_button(t, TR(t, "Browse products", "Angalia bidhaa"), "browse");
		turn_button(t, TR(t, "Search", "Tafuta"), "search");
		turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
		return 0;
	}
	turn_say(t, "Your cart:", "Kikapu chako:");
	subtotal = engine_cart_describe(t, lines);
	turn_money(t, subtotal, money, sizeof(money));
	turn_linef(t, "Subtotal: %s", "Jumla ndogo: %s", money);
	PQclear(lines);
	turn_button(t, TR(t, "Checkout", "Lipia"), "ck");
	turn_button(t, TR(t, "Keep shopping", "Endelea kununua"), "browse");
	turn_button(t, TR(t, "Edit cart", "Badilisha kikapu"), "cart:edit");
	(void)arg;
	return 0;
}

int act_cart_edit(struct turn *t, const char *arg)
{
	char cart_id[MSG_UUID_LEN], payload[64], desc[48];
	PGresult *lines;
	int rc, i;

	(void)arg;
	rc = engine_cart_id(t, 0, cart_id);
	if (rc <= 0)
		return rc < 0 ? -1 : act_cart(t, NULL);
	lines = engine_cart_lines(t, cart_id);
	if (!lines)
		return -1;
	if (PQntuples(lines) == 0) {
		PQclear(lines);
		return act_cart(t, NULL);
	}
	turn_say(t, "Which item would you like to change?", "Ungependa kubadilisha bidhaa gani?");
	for (i = 0; i < PQntuples(lines); i++) {
		snprintf(payload, sizeof(payload), "line:%s", PQgetvalue(lines, i, 0));
		snprintf(desc, sizeof(desc), TR(t, "Quantity: %s", "Idadi: %s"),
		         PQgetvalue(lines, i, 2));
		turn_row(t, PQgetvalue(lines, i, 1), desc, payload);
	}
	PQclear(lines);
	turn_row(t, TR(t, "Empty the cart", "Ondoa vyote"), NULL, "clear");
	turn_row(t, TR(t, "Back to cart", "Rudi kwenye kikapu"), NULL, "cart");
	turn_list(t, TR(t, "Items", "Bidhaa"), TR(t, "Your cart", "Kikapu chako"));
	turn_set_state(t, "cart_edit");
	return 0;
}

int act_cart_line(struct turn *t, const char *arg)
{
	char cart_id[MSG_UUID_LEN], qty[24];
	struct engine_product p;
	long q;
	int rc;

	rc = engine_product_load(t, arg, &p);
	if (rc < 0)
		return -1;
	if (rc == 0 || (rc = engine_cart_id(t, 0, cart_id)) <= 0)
		return rc < 0 ? -1 : act_cart(t, NULL);
	q = engine_cart_quantity(t, cart_id, p.id);
	if (q < 0)
		return -1;
	if (q == 0)
		return act_cart(t, NULL);
	snprintf(qty, sizeof(qty), "%ld", q);
	turn_sayf(t,
	          "You have %s x %s. Type the new quantity, 0 to remove it, or \"cart\" to go "
	          "back.",
	          "Una %s x %s. Andika idadi mpya, 0 kuiondoa, au \"kikapu\" kurudi.", qty, p.name);
	turn_ctx_set_str(t, "product", p.id);
	turn_set_state(t, "cart_line");
	return 0;
}

static int remove_product(struct turn *t, const struct engine_product *p)
{
	char cart_id[MSG_UUID_LEN];
	long q;
	int rc = engine_cart_id(t, 0, cart_id);

	if (rc < 0)
		return -1;
	q = rc == 1 ? engine_cart_quantity(t, cart_id, p->id) : 0;
	if (q < 0)
		return -1;
	if (q == 0) {
		turn_sayf(t, "%s is not in your cart.", "%s haiko kwenye kikapu chako.", p->name);
		return act_cart(t, NULL);
	}
	if (engine_cart_set(t, cart_id, p, 0, q) < 0)
		return -1;
	turn_sayf(t, "Removed %s from your cart.", "Nimeondoa %s kwenye kikapu chako.", p->name);
	return act_cart(t, NULL);
}

int act_remove(struct turn *t, const char *arg)
{
	struct engine_product p;
	int rc = engine_product_load(t, arg, &p);

	if (rc < 0)
		return -1;
	if (rc == 0) {
		/* a product deleted meanwhile still leaves its line: remove it by id */
		if (!util_uuid_valid(arg))
			return act_cart(t, NULL);
		snprintf(p.id, sizeof(p.id), "%s", arg);
		snprintf(p.name, sizeof(p.name), "%s", TR(t, "That item", "Bidhaa hiyo"));
	}
	return remove_product(t, &p);
}

static int clear_cart(struct turn *t, int *had)
{
	char cart_id[MSG_UUID_LEN];
	PGresult *res;
	int rc = engine_cart_id(t, 0, cart_id);

	*had = 0;
	if (rc <= 0)
		return rc;
	res = pg_exec(t->conn,
	              "DELETE FROM cart_items WHERE tenant_id = $1 AND cart_id = $2"
	              " RETURNING product_id, quantity",
	              2, (const char *const[]){t->tenant, cart_id});
	if (!res)
		return -1;
	*had = PQntuples(res);
	PQclear(res);
	if (*had == 0)
		return 0;
	return turn_event(t, "cart_item_removed",
	                  json_pack("{s:b, s:i}", "cleared", 1, "lines", *had));
}

int act_clear(struct turn *t, const char *arg)
{
	int had;

	(void)arg;
	if (clear_cart(t, &had) < 0)
		return -1;
	turn_say(t, "Your cart is now empty.", "Kikapu chako sasa hakina kitu.");
	turn_button(t, TR(t, "Browse products", "Angalia bidhaa"), "browse");
	turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
	turn_set_state(t, "cart");
	return 0;
}

int act_start_over(struct turn *t, const char *arg)
{
	int had;
	json_t *recent = json_incref(json_object_get(t->ctx, "recent"));

	(void)arg;
	if (clear_cart(t, &had) < 0) {
		json_decref(recent);
		return -1;
	}
	json_object_clear(t->ctx);
	if (recent)
		json_object_set_new(t->ctx, "recent", recent);
	turn_say(t, "OK, let's start over. Your cart is empty.",
	         "Sawa, tuanze upya. Kikapu chako hakina kitu.");
	return act_menu(t, "quiet");
}

/* When phrase names a category ("honey", "kitchen"), shows it and sets *found. */
static int category_match(struct turn *t, const char *phrase, int *found)
{
	struct nlp_match m[1];
	const char *names[32];
	PGresult *res;
	json_t *cats;
	int i, n, rc = 0;

	res = pg_exec(t->conn,
	              "SELECT DISTINCT category FROM products WHERE tenant_id = $1 AND active"
	              " AND deleted_at IS NULL ORDER BY category LIMIT 20",
	              1, &t->tenant);
	if (!res)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		names[i] = PQgetvalue(res, i, 0);
	if (n > 0 && nlp_match_products_nlp(t->e->nlp, phrase, names, (size_t)n, 0.85, m, 1) == 1) {
		*found = 1;
		cats = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(cats, json_string(names[i]));
		json_object_set_new(t->ctx, "cats", cats);
		rc = turn_event(t, "search_performed",
		                json_pack("{s:s, s:s, s:i}", "query", phrase, "category",
		                          names[m[0].index], "results", 1));
		if (rc == 0)
			rc = show_page(t, names[m[0].index], 0);
	}
	PQclear(res);
	return rc;
}

/* Catalog names for matching: res columns id, name, price_minor, stock, category, currency. */
static PGresult *catalog_load(struct turn *t, const char ***names)
{
	PGresult *res = pg_exec(t->conn,
	                        "SELECT id, name, price_minor, stock, category, currency"
	                        " FROM products"
	                        " WHERE tenant_id = $1 AND active AND deleted_at IS NULL"
	                        " ORDER BY name, id LIMIT 1000",
	                        1, &t->tenant);
	int i;

	*names = NULL;
	if (!res)
		return NULL;
	*names = calloc((size_t)PQntuples(res) + 1, sizeof(char *));
	if (!*names) {
		PQclear(res);
		return NULL;
	}
	for (i = 0; i < PQntuples(res); i++)
		(*names)[i] = PQgetvalue(res, i, 1);
	return res;
}

/* Matches phrase against the catalog: 0 none, 1 one clear product (index in *one), n>1 a
 * choice (indexes in m). */
static size_t catalog_match(const struct nlp *nlp, const char *phrase, const char *const *names,
                            size_t n, struct nlp_match *m, size_t *one)
{
	size_t k = nlp_match_products_nlp(nlp, phrase, names, n, MATCH_MIN, m, MATCH_MAX);

	if (k == 0)
		return 0;
	if (k == 1 || m[0].score - m[1].score >= MATCH_CLEAR) {
		*one = m[0].index;
		return 1;
	}
	/* keep only the ones close to the best */
	while (k > 1 && m[0].score - m[k - 1].score >= MATCH_CLEAR)
		k--;
	return k;
}

int text_search(struct turn *t, const char *phrase, int quiet_when_none, int *found)
{
	struct nlp_match m[MATCH_MAX];
	const char **names = NULL;
	PGresult *res = NULL;
	size_t k, one = 0, i;
	char payload[64], desc[96];
	int rc = -1;

	*found = 0;
	if (!phrase || !*phrase)
		return quiet_when_none ? 0 : act_search_prompt(t, NULL);
	/* a category name shows the category */
	rc = category_match(t, phrase, found);
	if (rc < 0 || *found)
		return rc;
	rc = -1;
	res = catalog_load(t, &names);
	if (!res)
		return -1;
	k = catalog_match(t->e->nlp, phrase, names, (size_t)PQntuples(res), m, &one);
	if (turn_event(t, "search_performed",
	               json_pack("{s:s, s:i}", "query", phrase, "results", (int)k)) < 0)
		goto out;
	if (k == 0) {
		rc = 0;
		if (quiet_when_none)
			goto out;
		*found = 0;
		t->confused = 1; /* counts towards "two misunderstandings in a row" */
		turn_sayf(t, "Sorry, I couldn't find \"%s\".", "Samahani, sikupata \"%s\".",
		          phrase);
		rc = act_categories(t, NULL);
		goto out;
	}
	*found = 1;
	if (k == 1) {
		rc = act_product(t, PQgetvalue(res, (int)one, 0));
		goto out;
	}
	turn_sayf(t, "I found a few matches for \"%s\". Which one did you mean?",
	          "Nimepata bidhaa kadhaa za \"%s\". Ulimaanisha ipi?", phrase);
	for (i = 0; i < k; i++) {
		int r = (int)m[i].index;

		snprintf(payload, sizeof(payload), "prod:%s", PQgetvalue(res, r, 0));
		stock_text(t, atoll(PQgetvalue(res, r, 2)), PQgetvalue(res, r, 5),
		           atol(PQgetvalue(res, r, 3)), desc, sizeof(desc));
		turn_row(t, PQgetvalue(res, r, 1), desc, payload);
	}
	turn_list(t, TR(t, "Products", "Bidhaa"), TR(t, "Matches", "Zinazofanana"));
	turn_set_state(t, "pick");
	rc = 0;
out:
	free(names);
	PQclear(res);
	return rc;
}

static int bad_quantity(struct turn *t)
{
	t->keep_offered = 1;
	turn_say(t, "Please choose a quantity between 1 and 999.",
	         "Tafadhali chagua idadi kati ya 1 na 999.");
	return 1;
}

/* On a product card: "2", "add 2", "nataka mbili" add the product shown. */
int st_product_text(struct turn *t)
{
	struct engine_product p;
	int rc;

	if (t->rd.product[0] ||
	    (t->rd.intent != NLP_INTENT_UNKNOWN && t->rd.intent != NLP_INTENT_ADD_TO_CART &&
	     t->rd.intent != NLP_INTENT_CONFIRM))
		return 0;
	if (t->rd.quantity_state == NLP_QTY_INVALID)
		return bad_quantity(t);
	if (t->rd.quantity_state == NLP_QTY_NONE && t->rd.intent == NLP_INTENT_UNKNOWN)
		return 0;
	rc = engine_product_load(t, turn_ctx_str(t, "product"), &p);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return product_gone(t) < 0 ? -1 : 1;
	rc = engine_cart_add(t, &p, t->rd.quantity_state == NLP_QTY_OK ? t->rd.quantity : 1);
	return rc < 0 ? -1 : 1;
}

/* Changing one cart line: a number sets it, 0 removes it. */
int st_cart_line_text(struct turn *t)
{
	struct engine_product p;
	char cart_id[MSG_UUID_LEN], max[24];
	long q, previous;
	int rc;

	if (t->rd.product[0] || t->rd.quantity_state == NLP_QTY_NONE)
		return 0;
	if (t->rd.quantity_state == NLP_QTY_INVALID && t->rd.quantity != 0)
		return bad_quantity(t);
	q = t->rd.quantity_state == NLP_QTY_OK ? t->rd.quantity : 0;
	rc = engine_product_load(t, turn_ctx_str(t, "product"), &p);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return act_remove(t, turn_ctx_str(t, "product")) < 0 ? -1 : 1;
	rc = engine_cart_id(t, 0, cart_id);
	if (rc <= 0)
		return rc < 0 ? -1 : (act_cart(t, NULL) < 0 ? -1 : 1);
	previous = engine_cart_quantity(t, cart_id, p.id);
	if (previous < 0)
		return -1;
	if (q > p.stock) {
		snprintf(max, sizeof(max), "%ld", p.stock);
		t->keep_offered = 1;
		turn_sayf(t, "Sorry, we only have %s of %s in stock.",
		          "Samahani, tuna %s tu za %s.", max, p.name);
		return 1;
	}
	if (q == 0)
		return remove_product(t, &p) < 0 ? -1 : 1;
	if (q != previous && engine_cart_set(t, cart_id, &p, q, previous) < 0)
		return -1;
	turn_say(t, "Done.", "Tayari.");
	return act_cart(t, NULL) < 0 ? -1 : 1;
}

/* After "Search": the text is what to look for. */
int st_search_text(struct turn *t)
{
	int found;

	switch (t->rd.intent) {
	case NLP_INTENT_UNKNOWN:
	case NLP_INTENT_SEARCH:
	case NLP_INTENT_BROWSE:
		break;
	default:
		return 0;
	}
	if (text_search(t, t->rd.product[0] ? t->rd.product : t->text, 0, &found) < 0)
		return -1;
	return 1;
}

/* "add 2 honey", "nataka asali mbili" */
int text_add(struct turn *t)
{
	struct nlp_match m[MATCH_MAX];
	struct engine_product p;
	const char **names = NULL;
	PGresult *res;
	size_t k, one = 0, i;
	long q = 1;
	char payload[64], title[128], qs[24];
	int rc = -1;

	if (t->rd.quantity_state == NLP_QTY_INVALID)
		return bad_quantity(t) > 0 ? 0 : -1;
	if (t->rd.quantity_state == NLP_QTY_OK)
		q = t->rd.quantity;
	if (!t->rd.product[0]) {
		const char *cur = turn_ctx_str(t, "product");

		if (cur && (strcmp(t->state, "product") == 0 || strcmp(t->state, "cart") == 0)) {
			rc = engine_product_load(t, cur, &p);
			if (rc < 0)
				return -1;
			if (rc == 1)
				return engine_cart_add(t, &p, q);
		}
		turn_say(t, "What would you like to add? Type a product name.",
		         "Ungependa kuongeza nini? Andika jina la bidhaa.");
		turn_set_state(t, "search");
		return 0;
	}
	res = catalog_load(t, &names);
	if (!res)
		return -1;
	k = catalog_match(t->e->nlp, t->rd.product, names, (size_t)PQntuples(res), m, &one);
	if (turn_event(t, "search_performed",
	               json_pack("{s:s, s:i}", "query", t->rd.product, "results", (int)k)) < 0)
		goto out;
	if (k == 0) {
		turn_sayf(t, "Sorry, I couldn't find \"%s\".", "Samahani, sikupata \"%s\".",
		          t->rd.product);
		rc = act_categories(t, NULL);
		goto out;
	}
	if (k == 1) {
		rc = engine_product_load(t, PQgetvalue(res, (int)one, 0), &p);
		if (rc == 1)
			rc = engine_cart_add(t, &p, q);
		goto out;
	}
	snprintf(qs, sizeof(qs), "%ld", q);
	turn_sayf(t, "Which one would you like to add (%s)?", "Ungependa kuongeza ipi (%s)?", qs);
	for (i = 0; i < k; i++) {
		int r = (int)m[i].index;
		char desc[96];

		snprintf(payload, sizeof(payload), "add:%s:%ld", PQgetvalue(res, r, 0), q);
		snprintf(title, sizeof(title), "%s", PQgetvalue(res, r, 1));
		stock_text(t, atoll(PQgetvalue(res, r, 2)), PQgetvalue(res, r, 5),
		           atol(PQgetvalue(res, r, 3)), desc, sizeof(desc));
		turn_row(t, title, desc, payload);
	}
	turn_list(t, TR(t, "Products", "Bidhaa"), TR(t, "Matches", "Zinazofanana"));
	turn_set_state(t, "pick");
	rc = 0;
out:
	free(names);
	PQclear(res);
	return rc;
}

/* "remove the honey", "ondoa asali" */
int text_remove(struct turn *t)
{
	char cart_id[MSG_UUID_LEN];
	struct nlp_match m[1];
	struct engine_product p;
	const char *names[256];
	PGresult *lines;
	int rc, i, n;

	if (!t->rd.product[0]) {
		const char *cur = turn_ctx_str(t, "product");

		if (cur && strcmp(t->state, "cart_line") == 0)
			return act_remove(t, cur);
		return act_cart_edit(t, NULL);
	}
	rc = engine_cart_id(t, 0, cart_id);
	if (rc <= 0)
		return rc < 0 ? -1 : act_cart(t, NULL);
	lines = engine_cart_lines(t, cart_id);
	if (!lines)
		return -1;
	n = PQntuples(lines) < 256 ? PQntuples(lines) : 256;
	for (i = 0; i < n; i++)
		names[i] = PQgetvalue(lines, i, 1);
	if (n == 0 ||
	    nlp_match_products_nlp(t->e->nlp, t->rd.product, names, (size_t)n, MATCH_MIN, m, 1) == 0) {
		PQclear(lines);
		turn_sayf(t, "I couldn't find \"%s\" in your cart.",
		          "Sikupata \"%s\" kwenye kikapu chako.", t->rd.product);
		return act_cart(t, NULL);
	}
	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "%s", PQgetvalue(lines, (int)m[0].index, 0));
	snprintf(p.name, sizeof(p.name), "%s", PQgetvalue(lines, (int)m[0].index, 1));
	snprintf(p.sku, sizeof(p.sku), "%s", PQgetvalue(lines, (int)m[0].index, 5));
	PQclear(lines);
	return remove_product(t, &p);
}
