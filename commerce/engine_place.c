/*
 * engine_place.c: placing the order at the shopper's confirmation (act_ck_yes): the guarded
 * stock decrement (a sold-out line undoes the others and keeps the cart), the order number,
 * the order row with its price snapshot and items, the channel metadata, the converted cart
 * and the customer's details, the order_placed event, the seller's notification and the
 * reply. Usually in the turn's writing statement, last (engine_order_write: the shop's hot
 * rows held only from there to the COMMIT); else, when that cannot be, step by step under the
 * savepoint place_order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conversation.h"
#include "engine_internal.h"
#include "kyc.h"
#include "notify.h"
#include "order_json.h"
#include "pg.h"
#include "trust.h"

/* The order being placed: the checkout draft ctx.ck, the amounts, and what the database
 * gives it. */
struct order_draft {
	const json_t *ck;               /* ctx.ck, borrowed */
	const struct shop_payment *pay; /* the chosen method; NULL: cash on delivery */
	long long subtotal, tax, total;
	long fee;              /* the zone's, 0 for pick-up, else the shop's */
	char *address_js;      /* ck.address as compact JSON, owned */
	char number[24];       /* the order number, once drawn */
	char id[MSG_UUID_LEN]; /* the order's id, once its row is in */
};

static const char *draft_str(const struct order_draft *d, const char *key)
{
	return json_string_value(json_object_get(d->ck, key));
}

static const char *draft_payment_code(const struct order_draft *d)
{
	return d->pay ? d->pay->code : "cash_on_delivery";
}

/* Takes the stock of every line; on a shortfall names the product in short (heap). */
static int order_stock_take(struct turn *t, PGresult *lines, char **short_name, long *left)
{
	int i, n = PQntuples(lines);
	int *order = calloc((size_t)n + 1, sizeof(int));
	int a, b, tmp;

	*short_name = NULL;
	if (!order)
		return -1;
	/* lock product rows in one global order (by id) so two checkouts cannot deadlock */
	for (i = 0; i < n; i++)
		order[i] = i;
	for (a = 1; a < n; a++)
		for (b = a; b > 0 && strcmp(PQgetvalue(lines, order[b - 1], 0),
		                            PQgetvalue(lines, order[b], 0)) > 0;
		     b--)
			tmp = order[b], order[b] = order[b - 1], order[b - 1] = tmp;
	for (i = 0; i < n; i++) {
		int r = order[i];
		PGresult *res =
		    pg_exec(t->conn,
		            "UPDATE products SET stock = stock - $3::int WHERE tenant_id = $1"
		            " AND id = $2 AND stock >= $3::int AND active"
		            " AND deleted_at IS NULL RETURNING stock",
		            3,
		            (const char *const[]){t->tenant, PQgetvalue(lines, r, 0),
		                                  PQgetvalue(lines, r, 2)});

		if (!res) {
			free(order);
			return -1;
		}
		if (PQntuples(res) == 0) {
			PQclear(res);
			*short_name = strdup(PQgetvalue(lines, r, 1));
			res = pg_exec(t->conn,
			              "SELECT stock FROM products WHERE tenant_id = $1 AND id = $2",
			              2, (const char *const[]){t->tenant, PQgetvalue(lines, r, 0)});
			*left = res && PQntuples(res) == 1 ? atol(PQgetvalue(res, 0, 0)) : 0;
			PQclear(res);
			free(order);
			return *short_name ? 1 : -1;
		}
		PQclear(res);
	}
	free(order);
	return 0;
}

/* Reserves the stock of every line: 0 taken; 1 a line ran short, so everything went back to
 * the savepoint, the cart is kept and the shopper told (state "cart"); -1 error. */
static int order_stock_reserve(struct turn *t, PGresult *lines)
{
	char *short_name = NULL, l[24];
	long left = 0;
	int rc = order_stock_take(t, lines, &short_name, &left);

	if (rc != 1)
		goto out;
	rc = -1;
	if (pg_cmd(t->conn, "ROLLBACK TO SAVEPOINT place_order", 0, NULL) < 0)
		goto out;
	snprintf(l, sizeof(l), "%ld", left);
	if (left <= 0)
		turn_sayf(t,
		          "Sorry, %s just sold out, so I couldn't place the order. Your cart "
		          "is kept: please remove it or choose something else.",
		          "Samahani, %s imeisha sasa hivi, kwa hivyo sikuweza kuweka oda. Kikapu "
		          "chako kimehifadhiwa: tafadhali iondoe au chagua kitu kingine.",
		          short_name);
	else
		turn_sayf(t,
		          "Sorry, only %s of %s are left now, so I couldn't place the order. "
		          "Your cart is kept: please change the quantity.",
		          "Samahani, zimebaki %s tu za %s, kwa hivyo sikuweza kuweka oda. Kikapu "
		          "chako kimehifadhiwa: tafadhali badilisha idadi.",
		          l, short_name);
	turn_button(t, TR(t, "Edit cart", "Badilisha kikapu"), "cart:edit");
	turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
	turn_set_state(t, "cart");
	rc = 1;
out:
	free(short_name);
	return rc;
}

/* The amounts (the cart's lines; the checkout confirmed they fit) and the address as JSON. */
static int order_draft_price(struct turn *t, const PGresult *lines, struct order_draft *d)
{
	d->subtotal = engine_cart_subtotal(lines); /* <= ENGINE_MONEY_MAX: act_ck_yes checked */
	d->tax = shop_settings_tax(&t->shop, d->subtotal);
	d->fee = engine_delivery_fee(t);
	d->total = d->subtotal + d->tax + d->fee;
	d->address_js = json_dumps(json_object_get(d->ck, "address"), JSON_COMPACT);
	return d->address_js ? 0 : -1;
}

/* The order's rows in one statement: the tenant's next order number drawn (into d->number),
 * the orders row with its amounts, currency, payment method and the shopper's name, phone and
 * address (its id into d->id), one order_items row per cart line with the product's sku, name
 * and price as they are, and where the order came from (order_channel_meta: channel, chat,
 * user, message, conversation, so status updates reach the shopper on the same channel).
 * The counter's row is made with the tenant (tenant.c), so its UPDATE alone draws the number;
 * only a tenant without one (made before the counter existed) inserts it first. Not inserting
 * first every time matters: an INSERT ... ON CONFLICT waits for the transaction that holds the
 * row, and the UPDATE after it then queued for the row a second time.
 *
 * The counter's row is one every order of the shop queues for until its transaction commits
 * (numbers are gap-free), so it is drawn here, after everything that does not need the number,
 * and in the same round trip as the rows that do: its holder is one round trip nearer its
 * COMMIT than when each row was a statement of its own (docs/PERFORMANCE.md, "Tail latency"). */
static int order_rows_insert(struct turn *t, struct order_draft *d, const PGresult *lines)
{
	static const char sql[] =
	    "WITH n AS (UPDATE order_counters SET next_value = next_value + 1"
	    "   WHERE tenant_id = $1 RETURNING next_value - 1 AS v),"
	    " o AS (INSERT INTO orders (tenant_id, order_number, customer_id, payment_method,"
	    "   subtotal_minor, tax_minor, delivery_fee_minor, total_minor, currency,"
	    "   customer_name, customer_phone, delivery_address, payment_status)"
	    "   SELECT $1, n.v, $2, $3, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8, $9,"
	    "   $10, $11::jsonb, $12 FROM n RETURNING id, order_number),"
	    " i AS (INSERT INTO order_items (tenant_id, order_id, product_id, sku, name, quantity,"
	    "   unit_price_minor, subtotal_minor)"
	    "   SELECT $1, o.id, l.product_id, l.sku, l.name, l.quantity, l.unit_price_minor,"
	    "   l.subtotal_minor FROM o, jsonb_to_recordset($13::jsonb) AS l(product_id uuid,"
	    "   sku text, name text, quantity int, unit_price_minor bigint, subtotal_minor bigint)),"
	    " m AS (INSERT INTO order_channel_meta (tenant_id, order_id, channel, channel_id,"
	    "   external_chat_id, external_user_id, external_message_id, conversation_id)"
	    "   SELECT $1, o.id, $14, $15, $16, $17, $18, $19 FROM o)"
	    " SELECT id, order_number FROM o";
	char sub_s[24], tax_s[24], fee_s[24], tot_s[24];
	json_t *items = json_array();
	char *items_js = NULL;
	PGresult *res = NULL;
	int i, rc = -1;

	for (i = 0; items && i < PQntuples(lines); i++)
		if (json_array_append_new(
		        items,
		        json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "product_id",
		                  PQgetvalue(lines, i, 0), "sku", PQgetvalue(lines, i, 5), "name",
		                  PQgetvalue(lines, i, 1), "quantity",
		                  (json_int_t)atoll(PQgetvalue(lines, i, 2)), "unit_price_minor",
		                  (json_int_t)atoll(PQgetvalue(lines, i, 3)), "subtotal_minor",
		                  (json_int_t)engine_money_line(atoll(PQgetvalue(lines, i, 2)),
		                                                atoll(PQgetvalue(lines, i, 3))))) < 0)
			goto out;
	items_js = items ? json_dumps(items, JSON_COMPACT) : NULL;
	if (!items_js)
		goto out;
	snprintf(sub_s, sizeof(sub_s), "%lld", d->subtotal);
	snprintf(tax_s, sizeof(tax_s), "%lld", d->tax);
	snprintf(fee_s, sizeof(fee_s), "%ld", d->fee);
	snprintf(tot_s, sizeof(tot_s), "%lld", d->total);
	{
		const char *const params[19] = {
		    t->tenant, t->customer_id, draft_payment_code(d), sub_s, tax_s, fee_s, tot_s,
		    t->shop.currency, draft_str(d, "name"), draft_str(d, "phone"), d->address_js,
		    /* an M-Pesa order waits for the shopper's transaction code */
		    strcmp(draft_payment_code(d), "mpesa") == 0 ? "awaiting" : NULL, items_js,
		    msg_channel_name(t->m->channel), t->m->channel_id, t->m->chat_id, t->m->user_id,
		    t->m->message_id, t->conv_id};

		res = pg_exec(t->conn, sql, 19, params);
		if (res && PQntuples(res) == 0) { /* no counter row: a tenant older than it */
			PQclear(res);
			res = NULL;
			if (pg_cmd(t->conn,
			           "INSERT INTO order_counters (tenant_id) VALUES ($1)"
			           " ON CONFLICT DO NOTHING",
			           1, &t->tenant) < 0)
				goto out;
			res = pg_exec(t->conn, sql, 19, params);
		}
	}
	if (!res || PQntuples(res) != 1)
		goto out;
	snprintf(d->id, sizeof(d->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(d->number, sizeof(d->number), "%s", PQgetvalue(res, 0, 1));
	rc = 0;
out:
	PQclear(res);
	free(items_js);
	json_decref(items);
	return rc;
}

/* Saves the delivery address as the customer's default (once per distinct text). */
static int address_remember(struct turn *t, const json_t *addr)
{
	const char *text = json_string_value(json_object_get(addr, "text"));
	const json_t *lat = json_object_get(addr, "latitude"),
	             *lon = json_object_get(addr, "longitude");
	char la[32] = "", lo[32] = "";
	const char *params[5] = {t->tenant, t->customer_id, text, NULL, NULL};

	if (!text || json_is_true(json_object_get(addr, "saved")) ||
	    json_is_true(json_object_get(addr, "pickup")))
		return 0;
	if (json_is_number(lat) && json_is_number(lon)) {
		snprintf(la, sizeof(la), "%.7f", json_number_value(lat));
		snprintf(lo, sizeof(lo), "%.7f", json_number_value(lon));
		params[3] = la;
		params[4] = lo;
	}
	if (pg_cmd(t->conn,
	           "UPDATE address_book SET is_default = false WHERE tenant_id = $1"
	           " AND customer_id = $2 AND is_default",
	           2, params) < 0)
		return -1;
	return pg_cmd(t->conn,
	              "INSERT INTO address_book (tenant_id, customer_id, address_text, latitude,"
	              " longitude, is_default) VALUES ($1, $2, $3, $4::float8, $5::float8, true)",
	              5, params);
}

/* The cart becomes the order; the customer keeps the name, phone, language and address
 * given, for the next checkout. */
static int order_cart_close(struct turn *t, const struct order_draft *d, const char *cart_id)
{
	if (pg_cmd(t->conn,
	           "UPDATE carts SET status = 'converted' WHERE tenant_id = $1 AND id = $2", 2,
	           (const char *const[]){t->tenant, cart_id}) < 0)
		return -1;
	if (pg_cmd(t->conn,
	           "UPDATE customers SET name = COALESCE(NULLIF($3, ''), name),"
	           " phone = COALESCE(NULLIF($4, ''), phone), lang = $5"
	           " WHERE tenant_id = $1 AND id = $2",
	           5,
	           (const char *const[]){t->tenant, t->customer_id, draft_str(d, "name"),
	                                 draft_str(d, "phone"), t->lang}) < 0)
		return -1;
	return address_remember(t, json_object_get(d->ck, "address"));
}

/* The order_placed event of the conversation and the seller's order.placed notification. */
static int order_announce(struct turn *t, const struct order_draft *d)
{
	json_t *order = NULL, *data = NULL;
	int rc = -1;

	if (turn_event(t, "order_placed",
	               json_pack("{s:s, s:I, s:I, s:s, s:s}", "order_id", d->id, "order_number",
	                         (json_int_t)atoll(d->number), "total_minor", (json_int_t)d->total,
	                         "currency", t->shop.currency, "payment_method",
	                         draft_payment_code(d))) < 0)
		goto out;
	order = order_json_load(t->conn, d->id, NULL);
	data = order ? json_pack("{s:O}", "order", order) : NULL;
	if (!data || notify_seller(t->conn, t->tenant, "order.placed", data) < 0)
		goto out;
	rc = 0;
out:
	json_decref(order);
	json_decref(data);
	return rc;
}

/* Thanks the shopper (number, total, how to pay), forgets the draft and goes to the menu.
 * number: the order's, or the marker that stands for it (engine_order_write). */
static void order_placed_reply(struct turn *t, const struct order_draft *d, const char *number)
{
	char money[48];

	turn_money(t, d->total, money, sizeof(money));
	turn_sayf(t, "Thank you! Your order #%s has been placed. Total: %s.",
	          "Asante! Oda yako #%s imewekwa. Jumla: %s.", number, money);
	if (d->pay && d->pay->instructions[0])
		turn_say(t, d->pay->instructions, shop_payment_instructions(d->pay, 1));
	if (strcmp(draft_payment_code(d), "mpesa") == 0) {
		turn_say(t,
		         "When you have paid, paste the M-Pesa confirmation message here (or type "
		         "its transaction code) and I'll pass it to the shop.",
		         "Ukishalipa, bandika hapa ujumbe wa uthibitisho wa M-Pesa (au andika "
		         "nambari yake ya muamala) nami nitaupeleka kwa duka.");
		turn_ctx_set_str(t, "await_pay", d->id);
	}
	turn_say(t, "We'll message you here when it's on its way.",
	         "Tutakutumia ujumbe hapa ikiwa njiani.");
	turn_button(t, TR(t, "My orders", "Oda zangu"), "orders");
	turn_button(t, TR(t, "Keep shopping", "Endelea kununua"), "browse");
	turn_ctx_del(t, "ck"); /* d->ck is gone from here on */
	turn_ctx_del(t, "suggest_name");
	turn_ctx_del(t, "suggest_phone");
	turn_set_state(t, "menu");
	snprintf(t->res->order_id, sizeof(t->res->order_id), "%s", d->id);
}

/* ---- the order placed by the turn's writing statement ----
 *
 * Every order of a shop queues for its order counter's row (numbers are gap-free, so the
 * row stays locked until the COMMIT) and for its products' stock. So the order is written by
 * the turn's last statement, the one before COMMIT: everything that does not need the number
 * is done first (the cart, the customer, the address book, the notification targets, the
 * trust pattern), and what does need it (the order's rows, the order_placed event, the
 * shopper's reply, the seller's notifications) is made with a marker where the number goes,
 * which that statement replaces with the number it draws. A line that ran short between the
 * checkout's read and that statement fails it (order_stock_take, SQLSTATE 40001): the
 * transaction runs again (pg_tx_run), and then the read sees the shortfall and the order goes
 * the step-by-step way, which tells the shopper and keeps the cart. */
struct turn_order {
	char marker[64];       /* stands for the number until it is drawn */
	char id[MSG_UUID_LEN]; /* the order's id, made here */
	char sub[24], tax[24], fee[24], tot[24];
	long long total;
	const char *payment, *payment_status; /* static or the shop settings' (the turn's) */
	char *name, *phone, *address_js, *items_js, *products, *quantities, *notify_js;
};

void engine_order_free(struct turn_order *o)
{
	if (!o)
		return;
	free(o->name);
	free(o->phone);
	free(o->address_js);
	free(o->items_js);
	free(o->products);
	free(o->quantities);
	free(o->notify_js);
	free(o);
}

/* The number in JSON text x: the marker as a JSON string is the number, elsewhere its digits. */
#define ORDER_NUM(x)                                                                               \
	"replace(replace(" x "::text, '\"' || $14::text || '\"', n.v::text), $14::text,"           \
	" n.v::text)::jsonb"

/* $1 tenant, $2 conversation, $3 events, $4 channel, $5 chat, $6 reply_to, $7 the reply or
 * NULL, $8 .. $13 the conversation's new state (conv_turn_write's); $14 the marker, $15 the
 * order's id, $16 customer, $17 payment method, $18 .. $21 subtotal, tax, fee, total, $22
 * currency, $23 name, $24 phone, $25 address, $26 payment status, $27 the items, $28 the
 * channel's type, $29 the platform's user id, $30 message id, $31 the products and $32 the
 * quantities whose stock is taken, $33 the seller's notification rows (notify_seller_rows).
 * The counter first, then the stock (s reads n, and the order reads s): every placement of a
 * shop takes its counter row before any of its stock rows (the step-by-step way locks the
 * counter first too, as the KYC gate does), so placements cannot deadlock on each other's
 * products, and several of one shop may go with one COMMIT (pg_defer). */
static const char ORDER_WRITE_SQL[] =
    "WITH n AS (UPDATE order_counters SET next_value = next_value + 1"
    "  WHERE tenant_id = $1 RETURNING next_value - 1 AS v),"
    " s AS (SELECT order_stock_take($1, $31::uuid[], $32::int[]) AS ok FROM n),"
    " o AS (INSERT INTO orders (tenant_id, id, order_number, customer_id, payment_method,"
    "  subtotal_minor, tax_minor, delivery_fee_minor, total_minor, currency, customer_name,"
    "  customer_phone, delivery_address, payment_status)"
    "  SELECT $1, $15, n.v, $16, $17, $18::bigint, $19::bigint, $20::bigint, $21::bigint, $22,"
    "  $23, $24, $25::jsonb, $26 FROM n, s WHERE s.ok RETURNING *),"
    " i AS (INSERT INTO order_items (tenant_id, order_id, product_id, sku, name, quantity,"
    "  unit_price_minor, subtotal_minor)"
    "  SELECT $1, o.id, l.product_id, l.sku, l.name, l.quantity, l.unit_price_minor,"
    "  l.subtotal_minor FROM o, jsonb_to_recordset($27::jsonb) AS l(product_id uuid,"
    "  sku text, name text, quantity int, unit_price_minor bigint, subtotal_minor bigint)"
    "  RETURNING *),"
    " m AS (INSERT INTO order_channel_meta (tenant_id, order_id, channel, channel_id,"
    "  external_chat_id, external_user_id, external_message_id, conversation_id)"
    "  SELECT $1, o.id, $28, $4, $5, $29, $30, $2 FROM o RETURNING *),"
    " oj AS (SELECT " ORDER_JSON_SQL_EXPR_FROM("i", "m") " AS j FROM o),"
    " ev AS (INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)"
    "  SELECT $1, $2, x.e->>'type', COALESCE(x.e->'payload', '{}'::jsonb)"
    "  FROM n, jsonb_array_elements(" ORDER_NUM("$3") ") WITH ORDINALITY AS x(e, k)"
    "  ORDER BY x.k),"
    " ob AS (INSERT INTO outbox (tenant_id, kind, conversation_id, channel_id, recipient,"
    "  reply_to, payload) SELECT $1, 'reply', $2, $4, $5, $6, " ORDER_NUM("$7") " FROM n"
    "  WHERE $7::jsonb IS NOT NULL),"
    " nt AS (INSERT INTO outbox (tenant_id, kind, channel_id, target_id, recipient,"
    "  event_type, payload)"
    "  SELECT $1, x.r->>'kind', (x.r->>'channel_id')::uuid, (x.r->>'target_id')::uuid,"
    "  x.r->>'recipient', x.r->>'event_type',"
    "  CASE WHEN x.r->>'kind' = 'webhook' THEN (x.r->'payload') || jsonb_build_object('order',"
    "  oj.j) ELSE " ORDER_NUM("(x.r->'payload')") " END"
    "  FROM n, oj, jsonb_array_elements($33::jsonb) WITH ORDINALITY AS x(r, k) ORDER BY x.k)"
    " " CONV_TURN_UPDATE_SET
    " FROM n WHERE conversations.tenant_id = $1 AND conversations.id = $2 RETURNING n.v";

/* What engine_order_write left to the COMMIT tells the turn's caller once it is in. */
struct order_done {
	struct engine_result *res;
	char tenant[MSG_UUID_LEN], conversation[MSG_UUID_LEN];
	const char *channel; /* static */
	char currency[8];
	long long total;
};

static void order_done(const char *number, void *arg)
{
	struct order_done *od = arg;
	struct log_ctx lc = {.tenant = od->tenant, .channel = od->channel,
	                     .conversation = od->conversation};

	od->res->order_number = number ? atol(number) : 0;
	log_info(&lc, "order #%s placed (%lld %s)", number ? number : "?", od->total,
	         od->currency);
}

/* The statement goes with the COMMIT (pg_defer: one round trip holds the shop's hot rows)
 * when engine_write_at_commit allows it. 1 deferred, 0 not, -1. */
static int order_write_defer(struct turn *t, const char *const *params)
{
	struct order_done *od;
	int rc;

	if (!engine_write_at_commit(t))
		return 0;
	od = calloc(1, sizeof(*od));
	if (!od)
		return -1;
	od->res = t->res;
	snprintf(od->tenant, sizeof(od->tenant), "%s", t->tenant);
	snprintf(od->conversation, sizeof(od->conversation), "%s", t->conv_id);
	od->channel = t->log.channel;
	snprintf(od->currency, sizeof(od->currency), "%s", t->shop.currency);
	od->total = t->order->total;
	rc = pg_defer(t->tenant, ORDER_WRITE_SQL, 33, params, order_done, od);
	if (rc != 1)
		free(od);
	return rc;
}

int engine_order_write(struct turn *t, const struct conv_turn_write *w)
{
	struct turn_order *o = t->order;
	char *ev = json_dumps(w->events ? w->events : json_array(), JSON_COMPACT);
	char *ctx = json_dumps(w->context, JSON_COMPACT);
	char *offered = json_dumps(w->offered, JSON_COMPACT);
	char mis[16];
	PGresult *res = NULL;
	int rc = -1, deferred;

	snprintf(mis, sizeof(mis), "%d", w->misunderstandings);
	if (!ev || !ctx || !offered)
		goto out;
	{
		const char *const params[33] = {
		    w->tenant_id, w->conversation_id, ev, w->channel_id, w->recipient, w->reply_to,
		    w->reply_js, w->state, ctx, offered, w->lang, mis, w->handoff ? "true" : "false",
		    o->marker, o->id, t->customer_id, o->payment, o->sub, o->tax, o->fee, o->tot,
		    t->shop.currency, o->name, o->phone, o->address_js, o->payment_status,
		    o->items_js, msg_channel_name(t->m->channel), t->m->user_id, t->m->message_id,
		    o->products, o->quantities, o->notify_js};

		deferred = order_write_defer(t, params);
		if (deferred != 0) {
			rc = deferred < 0 ? -1 : 0;
			goto out;
		}
		pg_note_hot_locks(); /* held from here to the COMMIT: a group commits after it */
		res = pg_exec(t->conn, ORDER_WRITE_SQL, 33, params);
	}
	if (!res || PQntuples(res) != 1)
		goto out;
	t->res->order_number = atol(PQgetvalue(res, 0, 0));
	log_info(&t->log, "order #%s placed (%lld %s)", PQgetvalue(res, 0, 0), o->total,
	         t->shop.currency);
	rc = 0;
out:
	PQclear(res);
	free(ev);
	free(ctx);
	free(offered);
	return rc;
}

/* The notification targets and whether the counter's row exists (a tenant older than it has
 * none: the step-by-step way makes it), read before any hot row is taken. */
static PGresult *order_targets_read(struct turn *t)
{
	return pg_exec(t->conn,
	               "SELECT EXISTS (SELECT 1 FROM order_counters WHERE tenant_id = $1),"
	               " nt.id, nt.kind, nt.channel_id, COALESCE(nt.chat_id, nt.to_number), nt.url"
	               " FROM (SELECT 1) one LEFT JOIN notification_targets nt"
	               " ON nt.tenant_id = $1 AND nt.active ORDER BY nt.created_at, nt.id",
	               1, &t->tenant);
}

/* The order as the seller's chat text needs it (notify.c), its number the marker. */
static json_t *order_chat_json(struct turn *t, const struct order_draft *d,
                               const struct turn_order *o, const json_t *items)
{
	json_t *addr = json_loads(d->address_js, 0, NULL);
	json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:O, s:{s:I, s:I, s:I, s:I, s:s},"
	                      " s:{s:s, s:s?, s:s?}, s:o}",
	                      "id", o->id, "order_number", o->marker, "status", "pending",
	                      "version", 1, "payment_method", o->payment, "items", items,
	                      "totals", "subtotal_minor", (json_int_t)d->subtotal, "tax_minor",
	                      (json_int_t)d->tax, "delivery_fee_minor", (json_int_t)d->fee,
	                      "total_minor", (json_int_t)d->total, "currency", t->shop.currency,
	                      "customer", "id", t->customer_id, "name", o->name, "phone", o->phone,
	                      "delivery_address", addr ? addr : json_object());

	return j;
}

static int item_cmp(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;

	return strcmp(json_string_value(json_object_get(x, "name")),
	              json_string_value(json_object_get(y, "name")));
}

/* The items as the order's rows will hold them, in the order the order's JSON lists them
 * (by name: their created_at is the transaction's). */
static json_t *order_items_json(const PGresult *lines)
{
	int i, n = PQntuples(lines);
	json_t **v = calloc((size_t)n + 1, sizeof(*v)), *arr = json_array();

	for (i = 0; v && arr && i < n; i++) {
		v[i] = json_pack(
		    "{s:s, s:s, s:s, s:I, s:I, s:I}", "product_id", PQgetvalue(lines, i, 0), "sku",
		    PQgetvalue(lines, i, 5), "name", PQgetvalue(lines, i, 1), "quantity",
		    (json_int_t)atoll(PQgetvalue(lines, i, 2)), "unit_price_minor",
		    (json_int_t)atoll(PQgetvalue(lines, i, 3)), "subtotal_minor",
		    (json_int_t)engine_money_line(atoll(PQgetvalue(lines, i, 2)),
		                                  atoll(PQgetvalue(lines, i, 3))));
		if (!v[i])
			break;
	}
	if (!v || !arr || i < n) {
		for (i = 0; v && i < n; i++)
			json_decref(v[i]);
		free(v);
		json_decref(arr);
		return NULL;
	}
	qsort(v, (size_t)n, sizeof(*v), item_cmp);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
	return arr;
}

/* The products and quantities as PostgreSQL array literals ("{id,id}", "{1,2}"). */
static int order_stock_arrays(const PGresult *lines, struct turn_order *o)
{
	struct sbuf p, q;
	int i;

	sbuf_init(&p);
	sbuf_init(&q);
	sbuf_printf(&p, "{");
	sbuf_printf(&q, "{");
	for (i = 0; i < PQntuples(lines); i++) {
		sbuf_printf(&p, "%s%s", i ? "," : "", PQgetvalue(lines, i, 0));
		sbuf_printf(&q, "%s%ld", i ? "," : "", atol(PQgetvalue(lines, i, 2)));
	}
	sbuf_printf(&p, "}");
	sbuf_printf(&q, "}");
	o->products = sbuf_take(&p);
	o->quantities = sbuf_take(&q);
	return o->products && o->quantities ? 0 : -1;
}

/* 1 when the order can be left to the turn's writing statement: the counter's row exists,
 * every line's stock covered the quantity when the checkout read it, and order_burst would
 * not fire (its detection needs the order's rows and event before the COMMIT); 0 when it goes
 * step by step; -1 on error. *targets: order_targets_read's rows (the caller PQclear()s). */
static int order_fast_check(struct turn *t, const PGresult *lines, PGresult **targets)
{
	int i, burst;

	*targets = NULL;
	for (i = 0; i < PQntuples(lines); i++)
		if (atol(PQgetvalue(lines, i, 4)) < atol(PQgetvalue(lines, i, 2)))
			return 0;
	*targets = order_targets_read(t);
	if (!*targets || PQntuples(*targets) < 1)
		return -1;
	if (PQgetvalue(*targets, 0, 0)[0] != 't')
		return 0;
	burst = trust_turn_order_burst_due(t);
	return burst < 0 ? -1 : !burst;
}

/* The order made ready for the turn's writing statement (t->order), its event, the seller's
 * notification rows and the reply; the cart and the customer are written now. */
static int order_place_last(struct turn *t, const char *cart_id, const PGresult *lines,
                            struct order_draft *d, const PGresult *targets)
{
	struct turn_order *o = calloc(1, sizeof(*o));
	json_t *items = NULL, *chat = NULL, *data = NULL, *rows = NULL;
	char uuid[MSG_UUID_LEN];
	int rc = -1;

	if (!o)
		return -1;
	util_uuid_new(o->id);
	util_uuid_new(uuid);
	snprintf(o->marker, sizeof(o->marker), "ccgw-order-number-%s", uuid);
	snprintf(d->id, sizeof(d->id), "%s", o->id);
	if (order_draft_price(t, lines, d) < 0)
		goto out;
	snprintf(o->sub, sizeof(o->sub), "%lld", d->subtotal);
	snprintf(o->tax, sizeof(o->tax), "%lld", d->tax);
	snprintf(o->fee, sizeof(o->fee), "%ld", d->fee);
	snprintf(o->tot, sizeof(o->tot), "%lld", d->total);
	o->total = d->total;
	o->payment = draft_payment_code(d);
	o->payment_status = strcmp(o->payment, "mpesa") == 0 ? "awaiting" : NULL;
	o->name = draft_str(d, "name") ? strdup(draft_str(d, "name")) : NULL;
	o->phone = draft_str(d, "phone") ? strdup(draft_str(d, "phone")) : NULL;
	o->address_js = strdup(d->address_js);
	items = order_items_json(lines);
	o->items_js = items ? json_dumps(items, JSON_COMPACT) : NULL;
	if ((draft_str(d, "name") && !o->name) || (draft_str(d, "phone") && !o->phone) ||
	    !o->address_js || !o->items_js || order_stock_arrays(lines, o) < 0)
		goto out;
	chat = order_chat_json(t, d, o, items);
	data = chat ? json_pack("{s:O}", "order", chat) : NULL;
	rows = data ? notify_seller_rows(targets, 1, t->tenant, "order.placed", NULL, data) : NULL;
	o->notify_js = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
	if (!o->notify_js || order_cart_close(t, d, cart_id) < 0)
		goto out;
	if (turn_event(t, "order_placed",
	               json_pack("{s:s, s:s, s:I, s:s, s:s}", "order_id", o->id, "order_number",
	                         o->marker, "total_minor", (json_int_t)d->total, "currency",
	                         t->shop.currency, "payment_method", o->payment)) < 0)
		goto out;
	t->order = o;
	o = NULL;
	order_placed_reply(t, d, t->order->marker);
	rc = 0;
out:
	engine_order_free(o);
	json_decref(items);
	json_decref(chat);
	json_decref(data);
	json_decref(rows);
	return rc;
}

int engine_order_place(struct turn *t, const char *cart_id, PGresult *lines)
{
	struct order_draft d;
	PGresult *targets = NULL, *res;
	int rc = -1, sr;

	memset(&d, 0, sizeof(d));
	/* KYC (commerce/kyc.c): an unverified shop past its order limit takes no order */
	sr = kyc_order_gate(t->conn, t->tenant);
	if (sr <= 0) {
		if (sr == 0) {
			turn_say(t,
			         "Sorry, this shop cannot take orders yet, so I couldn't place yours. "
			         "Your cart is kept: please try again later.",
			         "Samahani, duka hili haliwezi kupokea oda bado, kwa hivyo sikuweza "
			         "kuweka yako. Kikapu chako kimehifadhiwa: tafadhali jaribu tena baadaye.");
			turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
			turn_set_state(t, "menu");
		}
		return sr < 0 ? -1 : 0;
	}
	d.ck = turn_checkout(t);
	d.pay = shop_settings_payment(&t->shop, draft_str(&d, "payment"));
	/* usually the turn's writing statement places it, last */
	sr = order_fast_check(t, lines, &targets);
	if (sr != 0) {
		rc = sr < 0 ? -1 : order_place_last(t, cart_id, lines, &d, targets);
		goto out;
	}
	/* else step by step; the counter's row first, as every placement takes it (above) */
	if (pg_cmd(t->conn, "SAVEPOINT place_order", 0, NULL) < 0)
		goto out;
	res = pg_exec(t->conn, "SELECT 1 FROM order_counters WHERE tenant_id = $1 FOR UPDATE", 1,
	              &t->tenant);
	if (!res)
		goto out;
	PQclear(res);
	/* what needs no stock and no number first: the rows every order of the shop queues for
	 * (its products' stock, its order counter) are taken as late as they can be, since they
	 * are held until the COMMIT; a sold-out line rolls all of it back to the savepoint */
	if (order_draft_price(t, lines, &d) < 0 || order_cart_close(t, &d, cart_id) < 0)
		goto out;
	pg_note_hot_locks(); /* stock rows and the order counter: commit soon */
	sr = order_stock_reserve(t, lines);
	if (sr != 0) {
		rc = sr < 0 ? -1 : 0;
		goto out;
	}
	/* the savepoint is left open (a RELEASE would be one more round trip with the counter
	 * held): nothing rolls back to it from here, and it ends with the transaction */
	if (order_rows_insert(t, &d, lines) < 0 || order_announce(t, &d) < 0 ||
	    trust_turn_order_placed(t, d.id) < 0)
		goto out;
	order_placed_reply(t, &d, d.number);
	t->res->order_number = atol(d.number);
	log_info(&t->log, "order #%s placed (%lld %s)", d.number, d.total, t->shop.currency);
	rc = 0;
out:
	PQclear(targets);
	free(d.address_js);
	return rc;
}
