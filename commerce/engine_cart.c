/*
 * engine_cart.c: products and the open cart of a conversation for the engine: loading a
 * product a payload names (only active, not deleted, of this tenant: RLS and the query),
 * the open cart, its lines and totals, and changing a line with its event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "pg.h"

int engine_product_load(struct turn *t, const char *id, struct engine_product *p)
{
	PGresult *res;

	memset(p, 0, sizeof(*p));
	if (!id || !util_uuid_valid(id))
		return 0;
	res = pg_exec(
	    t->conn,
	    "SELECT id, sku, name, description, category, currency, COALESCE(image_url, ''),"
	    " price_minor, stock FROM products"
	    " WHERE tenant_id = $1 AND id = $2 AND active AND deleted_at IS NULL",
	    2, (const char *const[]){t->tenant, id});
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	snprintf(p->id, sizeof(p->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(p->sku, sizeof(p->sku), "%s", PQgetvalue(res, 0, 1));
	snprintf(p->name, sizeof(p->name), "%s", PQgetvalue(res, 0, 2));
	snprintf(p->description, sizeof(p->description), "%s", PQgetvalue(res, 0, 3));
	snprintf(p->category, sizeof(p->category), "%s", PQgetvalue(res, 0, 4));
	snprintf(p->currency, sizeof(p->currency), "%s", PQgetvalue(res, 0, 5));
	snprintf(p->image_url, sizeof(p->image_url), "%s", PQgetvalue(res, 0, 6));
	p->price_minor = atoll(PQgetvalue(res, 0, 7));
	p->stock = atol(PQgetvalue(res, 0, 8));
	PQclear(res);
	return 1;
}

/* The open cart's id and, when product_id is not NULL, that product's quantity in it (0 when
 * none) into *quantity: one statement, which opens the cart first when create is set (the
 * conversation row is locked by the turn, so no other transaction opens it meanwhile). */
static int cart_id_quantity(struct turn *t, int create, const char *product_id, char *cart_id,
                            long *quantity)
{
	const char *params[4] = {t->tenant, t->conv_id, t->customer_id, product_id};
	PGresult *res;
	int found;

	if (create)
		res = pg_exec(t->conn,
		              "WITH ins AS (INSERT INTO carts (tenant_id, conversation_id, customer_id)"
		              "  VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id),"
		              " c AS (SELECT id FROM ins UNION ALL SELECT id FROM carts"
		              "  WHERE tenant_id = $1 AND conversation_id = $2 AND status = 'open'"
		              "  LIMIT 1)"
		              " SELECT c.id, COALESCE((SELECT i.quantity FROM cart_items i"
		              "  WHERE i.tenant_id = $1 AND i.cart_id = c.id"
		              "  AND i.product_id = $4::uuid), 0) FROM c",
		              4, params);
	else
		res = pg_exec(t->conn,
		              "SELECT c.id, COALESCE((SELECT i.quantity FROM cart_items i"
		              "  WHERE i.tenant_id = $1 AND i.cart_id = c.id"
		              "  AND i.product_id = $3::uuid), 0)"
		              " FROM carts c WHERE c.tenant_id = $1 AND c.conversation_id = $2"
		              " AND c.status = 'open'",
		              3, (const char *const[]){t->tenant, t->conv_id, product_id});
	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found) {
		snprintf(cart_id, MSG_UUID_LEN, "%s", PQgetvalue(res, 0, 0));
		if (quantity)
			*quantity = atol(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return found;
}

int engine_cart_id(struct turn *t, int create, char *cart_id)
{
	return cart_id_quantity(t, create, NULL, cart_id, NULL);
}

PGresult *engine_cart_lines(struct turn *t, const char *cart_id)
{
	/* a product priced in another currency than the shop's is not counted with the rest */
	return pg_exec(t->conn,
	               "SELECT p.id, p.name, i.quantity, p.price_minor, p.stock, p.sku,"
	               " (p.active AND p.deleted_at IS NULL AND p.currency = $3), p.currency"
	               " FROM cart_items i JOIN products p ON p.tenant_id = i.tenant_id"
	               "  AND p.id = i.product_id"
	               " WHERE i.tenant_id = $1 AND i.cart_id = $2 ORDER BY i.created_at, p.name",
	               3, (const char *const[]){t->tenant, cart_id, t->shop.currency});
}

int engine_product_foreign(struct turn *t, const struct engine_product *p)
{
	if (strcmp(p->currency, t->shop.currency) == 0)
		return 0;
	turn_sayf(t,
	          "Sorry, %s is priced in %s, and this shop takes orders in %s, so I can't add it "
	          "to your cart.",
	          "Samahani, bei ya %s iko kwa %s, na duka hili linapokea oda kwa %s, kwa hivyo "
	          "siwezi kuiongeza kwenye kikapu chako.",
	          p->name, p->currency, t->shop.currency);
	return 1;
}

long long engine_money_line(long long quantity, long long price)
{
	if (quantity <= 0 || price <= 0)
		return 0;
	if (price > ENGINE_MONEY_MAX / quantity)
		return ENGINE_MONEY_MAX + 1;
	return quantity * price;
}

long long engine_money_add(long long a, long long b)
{
	return a > ENGINE_MONEY_MAX - b ? ENGINE_MONEY_MAX + 1 : a + b;
}

long long engine_cart_describe(struct turn *t, const PGresult *lines)
{
	long long subtotal = 0, line;
	char money[48], qty[24];
	int i;

	for (i = 0; i < PQntuples(lines); i++) {
		long q = atol(PQgetvalue(lines, i, 2));

		line = engine_money_line(q, atoll(PQgetvalue(lines, i, 3)));
		turn_money(t, line, money, sizeof(money));
		snprintf(qty, sizeof(qty), "%ld", q);
		if (PQgetvalue(lines, i, 6)[0] == 't')
			subtotal = engine_money_add(subtotal, line);
		if (PQgetvalue(lines, i, 6)[0] != 't' &&
		    strcmp(PQgetvalue(lines, i, 7), t->shop.currency) != 0)
			turn_linef(t, "%s x %s: priced in %s, can't be ordered here",
			           "%s x %s: bei yake iko kwa %s, haiwezi kuagizwa hapa", qty,
			           PQgetvalue(lines, i, 1), PQgetvalue(lines, i, 7));
		else if (PQgetvalue(lines, i, 6)[0] != 't')
			turn_linef(t, "%s x %s: no longer available", "%s x %s: haipatikani tena",
			           qty, PQgetvalue(lines, i, 1));
		else
			turn_linef(t, "%s x %s: %s", "%s x %s: %s", qty, PQgetvalue(lines, i, 1),
			           money);
	}
	return subtotal;
}

long long engine_cart_subtotal(const PGresult *lines)
{
	long long subtotal = 0;
	int i;

	for (i = 0; i < PQntuples(lines); i++)
		if (PQgetvalue(lines, i, 6)[0] == 't')
			subtotal = engine_money_add(
			    subtotal, engine_money_line(atoll(PQgetvalue(lines, i, 2)),
			                                atoll(PQgetvalue(lines, i, 3))));
	return subtotal;
}

long engine_cart_quantity(struct turn *t, const char *cart_id, const char *product_id)
{
	PGresult *res =
	    pg_exec(t->conn,
	            "SELECT quantity FROM cart_items WHERE tenant_id = $1 AND cart_id = $2"
	            " AND product_id = $3",
	            3, (const char *const[]){t->tenant, cart_id, product_id});
	long q = 0;

	if (!res)
		return -1;
	if (PQntuples(res) == 1)
		q = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return q;
}

int engine_cart_set(struct turn *t, const char *cart_id, const struct engine_product *p,
                    long quantity, long previous)
{
	char q[24];
	const char *params[4] = {t->tenant, cart_id, p->id, q};
	json_t *ev;

	/* the line and the cart's updated_at in one statement */
	snprintf(q, sizeof(q), "%ld", quantity);
	if (quantity <= 0) {
		if (pg_cmd(t->conn,
		           "WITH c AS (UPDATE carts SET updated_at = now()"
		           "  WHERE tenant_id = $1 AND id = $2)"
		           " DELETE FROM cart_items WHERE tenant_id = $1 AND cart_id = $2"
		           " AND product_id = $3",
		           3, params) < 0)
			return -1;
	} else if (pg_cmd(
	               t->conn,
	               "WITH c AS (UPDATE carts SET updated_at = now()"
	               "  WHERE tenant_id = $1 AND id = $2)"
	               " INSERT INTO cart_items (tenant_id, cart_id, product_id, quantity)"
	               " VALUES ($1, $2, $3, $4::int) ON CONFLICT (tenant_id, cart_id, product_id)"
	               " DO UPDATE SET quantity = EXCLUDED.quantity",
	               4, params) < 0) {
		return -1;
	}
	ev =
	    json_pack("{s:s, s:s, s:s, s:I, s:I}", "product_id", p->id, "sku", p->sku, "name",
	              p->name, "quantity",
	              (json_int_t)(quantity > previous ? quantity - previous : previous - quantity),
	              "cart_quantity", (json_int_t)(quantity > 0 ? quantity : 0));
	return turn_event(t, quantity > previous ? "cart_item_added" : "cart_item_removed", ev);
}

int engine_cart_add(struct turn *t, const struct engine_product *p, long quantity)
{
	char cart_id[MSG_UUID_LEN], qs[24], have[24], max[24];
	long previous;
	int rc;

	if (quantity < 1 || quantity > NLP_QTY_MAX) {
		t->keep_offered = 1;
		turn_say(t, "Please choose a quantity between 1 and 999.",
		         "Tafadhali chagua idadi kati ya 1 na 999.");
		return 0;
	}
	if (engine_product_foreign(t, p)) {
		turn_menu_buttons(t);
		return 0;
	}
	if (p->stock <= 0) {
		turn_sayf(t, "Sorry, %s is out of stock right now.",
		          "Samahani, %s imeisha kwa sasa.", p->name);
		turn_menu_buttons(t);
		return 0;
	}
	rc = cart_id_quantity(t, 1, p->id, cart_id, &previous);
	if (rc <= 0)
		return -1;
	snprintf(have, sizeof(have), "%ld", previous);
	snprintf(max, sizeof(max), "%ld", p->stock);
	if (previous + quantity > p->stock || previous + quantity > NLP_QTY_MAX) {
		t->keep_offered = 1;
		if (previous > 0)
			turn_sayf(
			    t,
			    "Sorry, we only have %s of %s in stock, and %s are already in your "
			    "cart.",
			    "Samahani, tuna %s tu za %s, na %s tayari ziko kwenye kikapu chako.",
			    max, p->name, have);
		else
			turn_sayf(t, "Sorry, we only have %s of %s in stock.",
			          "Samahani, tuna %s tu za %s.", max, p->name);
		return 0;
	}
	if (engine_cart_set(t, cart_id, p, previous + quantity, previous) < 0)
		return -1;
	snprintf(qs, sizeof(qs), "%ld", quantity);
	turn_sayf(t, "Added %s x %s to your cart.", "Nimeongeza %s x %s kwenye kikapu chako.", qs,
	          p->name);
	return act_cart(t, "added");
}
