/*
 * engine_orders.c: the shopper's own orders (list, status, cancellation while the lifecycle
 * allows), complaints linked to an order, the human handoff, generic yes/no answers, and the
 * seller's Confirm / Cancel buttons under a new-order notification.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce_util.h"
#include "engine_internal.h"
#include "money.h"
#include "notify.h"
#include "order_json.h"
#include "order_status.h"
#include "pg.h"
#include "trust.h"

static const char *status_words(struct turn *t, const char *status)
{
	static const struct {
		const char *status, *en, *sw;
	} words[] = {
	    {"pending", "waiting for the shop to confirm", "inasubiri duka kuthibitisha"},
	    {"confirmed", "confirmed", "imethibitishwa"},
	    {"processing", "being prepared", "inaandaliwa"},
	    {"shipped", "on its way", "iko njiani"},
	    {"delivered", "delivered", "imefika"},
	    {"cancelled", "cancelled", "imeghairiwa"},
	    {"returned", "returned", "imerudishwa"},
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(words[i].status, status) == 0)
			return TR(t, words[i].en, words[i].sw);
	return status;
}

static int cancellable(const char *status)
{
	return order_status_allowed(status, "cancelled");
}

/* One of this customer's orders by number: id, order_number, status, total_minor,
 * currency, version. NULL on error; 0 rows when it is not theirs. */
static PGresult *my_order(struct turn *t, const char *number)
{
	long n;

	if (!number || !cm_parse_uint(number, 12, &n))
		number = "0";
	return pg_exec(t->conn,
	               "SELECT id, order_number, status, total_minor, currency, version FROM orders"
	               " WHERE tenant_id = $1 AND customer_id = $2 AND order_number = $3::bigint",
	               3, (const char *const[]){t->tenant, t->customer_id, number});
}

static int not_yours(struct turn *t, const char *number)
{
	turn_sayf(t, "I couldn't find order #%s among your orders.",
	          "Sikupata oda #%s kati ya oda zako.", number ? number : "");
	turn_button(t, TR(t, "My orders", "Oda zangu"), "orders");
	turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
	turn_set_state(t, "menu");
	return 0;
}

static PGresult *my_orders(struct turn *t, int only_cancellable)
{
	return pg_exec(
	    t->conn,
	    "SELECT order_number, status, total_minor, currency,"
	    " to_char(created_at, 'DD Mon') FROM orders"
	    " WHERE tenant_id = $1 AND customer_id = $2"
	    " AND ($3 = 'f' OR status IN ('pending', 'confirmed', 'processing'))"
	    " ORDER BY created_at DESC, order_number DESC LIMIT 8",
	    3, (const char *const[]){t->tenant, t->customer_id, only_cancellable ? "t" : "f"});
}

static void order_rows(struct turn *t, PGresult *res, const char *prefix)
{
	char payload[40], title[64], desc[96], money[48];
	int i;

	for (i = 0; i < PQntuples(res); i++) {
		snprintf(payload, sizeof(payload), "%s%s", prefix, PQgetvalue(res, i, 0));
		snprintf(title, sizeof(title), "#%s", PQgetvalue(res, i, 0));
		money_format(atoll(PQgetvalue(res, i, 2)), PQgetvalue(res, i, 3), money,
		             sizeof(money));
		snprintf(desc, sizeof(desc), "%s, %s, %s", status_words(t, PQgetvalue(res, i, 1)),
		         money, PQgetvalue(res, i, 4));
		turn_row(t, title, desc, payload);
	}
}

int act_orders(struct turn *t, const char *arg)
{
	PGresult *res = my_orders(t, 0);

	(void)arg;
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		turn_say(t, "You have no orders yet.", "Bado huna oda.");
		turn_menu_buttons(t);
		turn_set_state(t, "menu");
		return 0;
	}
	turn_say(t, "Your recent orders. Pick one to see its status:",
	         "Oda zako za karibuni. Chagua moja kuona hali yake:");
	order_rows(t, res, "os:");
	PQclear(res);
	turn_list(t, TR(t, "Orders", "Oda"), TR(t, "My orders", "Oda zangu"));
	turn_set_state(t, "orders");
	return 0;
}

int act_order_show(struct turn *t, const char *arg)
{
	PGresult *res = my_order(t, arg), *items;
	char money[48], payload[40], qty[24];
	const char *number;
	int i;

	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return not_yours(t, arg);
	}
	number = PQgetvalue(res, 0, 1);
	turn_sayf(t, "Order #%s is %s.", "Oda #%s %s.", number,
	          status_words(t, PQgetvalue(res, 0, 2)));
	items =
	    pg_exec(t->conn,
	            "SELECT quantity, name FROM order_items WHERE tenant_id = $1 AND order_id = $2"
	            " ORDER BY created_at, name",
	            2, (const char *const[]){t->tenant, PQgetvalue(res, 0, 0)});
	if (!items) {
		PQclear(res);
		return -1;
	}
	for (i = 0; i < PQntuples(items); i++) {
		snprintf(qty, sizeof(qty), "%s", PQgetvalue(items, i, 0));
		turn_linef(t, "%s x %s", "%s x %s", qty, PQgetvalue(items, i, 1));
	}
	PQclear(items);
	money_format(atoll(PQgetvalue(res, 0, 3)), PQgetvalue(res, 0, 4), money, sizeof(money));
	turn_linef(t, "Total: %s", "Jumla: %s", money);
	if (cancellable(PQgetvalue(res, 0, 2))) {
		snprintf(payload, sizeof(payload), "cx:%s", number);
		turn_button(t, TR(t, "Cancel order", "Ghairi oda"), payload);
	}
	snprintf(payload, sizeof(payload), "cmp:%s", number);
	turn_button(t, TR(t, "Report a problem", "Ripoti tatizo"), payload);
	turn_button(t, TR(t, "My orders", "Oda zangu"), "orders");
	turn_ctx_set_str(t, "order", number);
	turn_set_state(t, "order");
	PQclear(res);
	return 0;
}

int act_order_cancel(struct turn *t, const char *arg)
{
	PGresult *res = my_order(t, arg);
	char money[48];
	const char *number;

	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return not_yours(t, arg);
	}
	number = PQgetvalue(res, 0, 1);
	if (!cancellable(PQgetvalue(res, 0, 2))) {
		turn_sayf(
		    t,
		    "Order #%s is %s, so it can't be cancelled here. Would you like to talk "
		    "to a person?",
		    "Oda #%s %s, kwa hivyo haiwezi kughairiwa hapa. Ungependa kuongea na mtu?",
		    number, status_words(t, PQgetvalue(res, 0, 2)));
		turn_button(t, TR(t, "Talk to a person", "Ongea na mtu"), "human");
		turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
		turn_set_state(t, "menu");
		PQclear(res);
		return 0;
	}
	money_format(atoll(PQgetvalue(res, 0, 3)), PQgetvalue(res, 0, 4), money, sizeof(money));
	turn_sayf(t, "Cancel order #%s (%s)? Please confirm.",
	          "Ghairi oda #%s (%s)? Tafadhali thibitisha.", number, money);
	turn_button(t, TR(t, "Yes, cancel it", "Ndiyo, ighairi"), "yes");
	turn_button(t, TR(t, "No, keep it", "Hapana, iache"), "no");
	turn_ctx_set_str(t, "order", number);
	turn_set_state(t, "order_cancel");
	PQclear(res);
	return 0;
}

static int cancel_confirmed(struct turn *t)
{
	const char *number = turn_ctx_str(t, "order");
	PGresult *res = my_order(t, number);
	char id[MSG_UUID_LEN];
	int rc;

	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return not_yours(t, number);
	}
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (turn_events_flush(t) < 0) /* the change records events of its own */
		return -1;
	rc = order_status_transition(t->conn, id, "cancelled", -1, "shopper");
	if (rc == ORDER_ERR_FORBIDDEN) {
		turn_sayf(t, "Sorry, order #%s can no longer be cancelled.",
		          "Samahani, oda #%s haiwezi kughairiwa tena.", number);
		turn_button(t, TR(t, "Talk to a person", "Ongea na mtu"), "human");
		turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
		turn_set_state(t, "menu");
		return 0;
	}
	if (rc < 0)
		return -1;
	turn_sayf(t, "Your order #%s has been cancelled.", "Oda yako #%s imeghairiwa.", number);
	turn_menu_buttons(t);
	turn_ctx_del(t, "order");
	turn_set_state(t, "menu");
	return 0;
}

int st_order_cancel_text(struct turn *t)
{
	if (t->rd.yes_no == NLP_YN_YES || t->rd.intent == NLP_INTENT_CONFIRM)
		return act_yes(t, NULL) < 0 ? -1 : 1;
	if (t->rd.yes_no == NLP_YN_NO || t->rd.intent == NLP_INTENT_DENY)
		return act_no(t, NULL) < 0 ? -1 : 1;
	if (t->rd.intent == NLP_INTENT_CANCEL_ORDER && !t->rd.order_number)
		return act_yes(t, NULL) < 0 ? -1 : 1; /* "cancel" once more: yes */
	return 0;
}

int act_yes(struct turn *t, const char *arg)
{
	(void)arg;
	if (strcmp(t->state, "order_cancel") == 0)
		return cancel_confirmed(t);
	if (strcmp(t->state, "ck_confirm") == 0)
		return act_ck_yes(t, NULL);
	return act_menu(t, NULL);
}

int act_no(struct turn *t, const char *arg)
{
	(void)arg;
	if (strcmp(t->state, "order_cancel") == 0) {
		turn_sayf(t, "OK, order #%s stays as it is.", "Sawa, oda #%s inabaki kama ilivyo.",
		          turn_ctx_str(t, "order") ? turn_ctx_str(t, "order") : "");
		turn_menu_buttons(t);
		turn_set_state(t, "menu");
		return 0;
	}
	if (strcmp(t->state, "ck_confirm") == 0)
		return act_ck_no(t, NULL);
	return act_menu(t, NULL);
}

int text_order_status(struct turn *t)
{
	char num[24];
	PGresult *res;

	if (t->rd.order_number > 0) {
		snprintf(num, sizeof(num), "%ld", t->rd.order_number);
		return act_order_show(t, num);
	}
	res = my_orders(t, 0);
	if (!res)
		return -1;
	if (PQntuples(res) >= 1) {
		/* "where is my order": the latest one */
		snprintf(num, sizeof(num), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		return act_order_show(t, num);
	}
	PQclear(res);
	return act_orders(t, NULL);
}

int text_cancel_order(struct turn *t)
{
	char num[24];
	PGresult *res;

	if (t->rd.order_number > 0) {
		snprintf(num, sizeof(num), "%ld", t->rd.order_number);
		return act_order_cancel(t, num);
	}
	if (strcmp(t->state, "order") == 0 && turn_ctx_str(t, "order"))
		return act_order_cancel(t, turn_ctx_str(t, "order"));
	res = my_orders(t, 1);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		res = my_orders(t, 0);
		if (!res)
			return -1;
		if (PQntuples(res) > 0) {
			/* the latest order says why it cannot be cancelled */
			snprintf(num, sizeof(num), "%s", PQgetvalue(res, 0, 0));
			PQclear(res);
			return act_order_cancel(t, num);
		}
		PQclear(res);
		turn_say(t, "You have no orders that can be cancelled.",
		         "Huna oda inayoweza kughairiwa.");
		turn_menu_buttons(t);
		turn_set_state(t, "menu");
		return 0;
	}
	if (PQntuples(res) == 1) {
		snprintf(num, sizeof(num), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		return act_order_cancel(t, num);
	}
	turn_say(t, "Which order would you like to cancel?", "Ungependa kughairi oda ipi?");
	order_rows(t, res, "cx:");
	PQclear(res);
	turn_list(t, TR(t, "Orders", "Oda"), TR(t, "Orders", "Oda"));
	turn_set_state(t, "orders");
	return 0;
}

/* Records the complaint (order may be NULL) and tells the seller. */
static int file_complaint(struct turn *t, const char *number, const char *text)
{
	PGresult *res = NULL;
	char order_id[MSG_UUID_LEN] = "", complaint_id[MSG_UUID_LEN];
	json_t *order = NULL, *data = NULL;
	int rc = -1;

	if (number) {
		res = my_order(t, number);
		if (!res)
			return -1;
		if (PQntuples(res) == 1)
			snprintf(order_id, sizeof(order_id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		res = NULL;
	}
	res = pg_exec(
	    t->conn,
	    "INSERT INTO complaints (tenant_id, order_id, customer_id, conversation_id, text)"
	    " VALUES ($1, NULLIF($2, '')::uuid, $3, $4, $5) RETURNING id",
	    5, (const char *const[]){t->tenant, order_id, t->customer_id, t->conv_id, text});
	if (!res)
		goto out;
	snprintf(complaint_id, sizeof(complaint_id), "%s", PQgetvalue(res, 0, 0));
	if (turn_event(t, "complaint_filed",
	               json_pack("{s:s, s:s?, s:s}", "complaint_id", complaint_id, "order_id",
	                         order_id[0] ? order_id : NULL, "text", text)) < 0 ||
	    trust_turn_complaint(t, complaint_id, text) < 0)
		goto out;
	if (order_id[0]) {
		order = order_json_load(t->conn, order_id, NULL);
		if (!order)
			goto out;
	}
	data = json_pack("{s:{s:s, s:s, s:s, s:s?}}", "complaint", "id", complaint_id, "text", text,
	                 "conversation_id", t->conv_id, "customer_name", t->m->display_name);
	if (!data || (order && json_object_set(data, "order", order) < 0))
		goto out;
	if (notify_seller(t->conn, t->tenant, "complaint.filed", data) < 0)
		goto out;
	if (order_id[0])
		turn_sayf(t,
		          "I'm sorry about that. I've recorded your complaint about order #%s and "
		          "the shop will get back to you here.",
		          "Pole sana. Nimerekodi malalamiko yako kuhusu oda #%s na duka litakujibu "
		          "hapa.",
		          number);
	else
		turn_say(t,
		         "I'm sorry about that. I've recorded your complaint and the shop will get "
		         "back to you here.",
		         "Pole sana. Nimerekodi malalamiko yako na duka litakujibu hapa.");
	turn_menu_buttons(t);
	turn_ctx_del(t, "complaint_text");
	turn_ctx_del(t, "complaint_order");
	turn_set_state(t, "menu");
	rc = 0;
out:
	json_decref(order);
	json_decref(data);
	PQclear(res);
	return rc;
}

int text_complaint(struct turn *t)
{
	char num[24];
	PGresult *res;

	if (t->rd.order_number > 0) {
		snprintf(num, sizeof(num), "%ld", t->rd.order_number);
		return file_complaint(t, num, t->text);
	}
	if (strcmp(t->state, "order") == 0 && turn_ctx_str(t, "order"))
		return file_complaint(t, turn_ctx_str(t, "order"), t->text);
	res = my_orders(t, 0);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return file_complaint(t, NULL, t->text);
	}
	turn_ctx_set_str(t, "complaint_text", t->text);
	turn_say(t, "I'm sorry to hear that. Which order is it about?",
	         "Pole kwa hilo. Ni kuhusu oda ipi?");
	order_rows(t, res, "cmp:");
	PQclear(res);
	turn_row(t, TR(t, "Not about an order", "Si kuhusu oda"), NULL, "cmp:none");
	turn_list(t, TR(t, "Orders", "Oda"), TR(t, "Orders", "Oda"));
	turn_set_state(t, "orders");
	return 0;
}

int act_complaint_about(struct turn *t, const char *arg)
{
	const char *text = turn_ctx_str(t, "complaint_text");
	const char *number = arg && strcmp(arg, "none") != 0 ? arg : NULL;
	char *copy;
	int rc;

	if (text && *text) {
		copy = strdup(text);
		if (!copy)
			return -1;
		rc = file_complaint(t, number, copy);
		free(copy);
		return rc;
	}
	if (number)
		turn_ctx_set_str(t, "complaint_order", number);
	else
		turn_ctx_del(t, "complaint_order");
	turn_say(t, "I'm sorry to hear that. Please describe the problem in one message.",
	         "Pole kwa hilo. Tafadhali eleza tatizo kwa ujumbe mmoja.");
	turn_set_state(t, "complaint");
	return 0;
}

int st_complaint_text(struct turn *t)
{
	if (t->rd.intent == NLP_INTENT_VIEW_CART || t->rd.intent == NLP_INTENT_GREET)
		return 0;
	return file_complaint(t, turn_ctx_str(t, "complaint_order"), t->text) < 0 ? -1 : 1;
}

int act_human(struct turn *t, const char *arg)
{
	json_t *data;
	int rc;

	(void)arg;
	if (turn_event(t, "handoff_requested", json_pack("{s:s}", "from_state", t->state)) < 0)
		return -1;
	data = json_pack("{s:{s:s, s:s, s:s, s:s?, s:s}}", "conversation", "id", t->conv_id,
	                 "channel", msg_channel_name(t->m->channel), "customer_id", t->customer_id,
	                 "customer_name", t->m->display_name, "lang", t->lang);
	rc = data ? notify_seller(t->conn, t->tenant, "handoff.requested", data) : -1;
	json_decref(data);
	if (rc < 0)
		return -1;
	turn_sayf(t,
	          "OK, I've asked a person from %s to reply to you here. They'll answer as soon "
	          "as they can.",
	          "Sawa, nimemwomba mtu wa %s akujibu hapa. Atakujibu haraka iwezekanavyo.",
	          t->shop.name);
	turn_set_state(t, "handoff");
	return 0;
}

/* The seller's buttons for what the order may become next, on the reply being built. */
static void seller_buttons(struct turn *t, const char *order_id, const char *status,
                           long version)
{
	json_t *buttons = notify_order_buttons(order_id, status, version), *b;
	size_t i;

	json_array_foreach(buttons, i, b)
	    turn_button(t, json_string_value(json_object_get(b, "title")),
	                json_string_value(json_object_get(b, "payload")));
	json_decref(buttons);
}

/*
 * A seller's button under an order: "<action>:<order id>[:<version>]". The change goes
 * through the order lifecycle as PATCH /api/v1/orders/{id} does (the shopper is told); the
 * answer replaces the message pressed where the platform can edit it, saying who changed it
 * and offering the next steps. A press on an order changed since it was shown (another
 * version) changes nothing and shows where the order is now.
 */
int act_seller_order(struct turn *t, const char *arg)
{
	char action[16], order_id[37], number[24], status[16], vbuf[24];
	const char *want, *colon = strchr(arg, ':'), *who;
	long expected = -1, version;
	PGresult *res;
	int rc;

	if (!colon || (size_t)(colon - arg) >= sizeof(action) || strlen(colon + 1) < 36)
		return 0;
	snprintf(action, sizeof(action), "%.*s", (int)(colon - arg), arg);
	snprintf(order_id, sizeof(order_id), "%.36s", colon + 1);
	if (colon[37] == ':')
		expected = atol(colon + 38);
	else if (colon[37] != '\0')
		return 0;
	want = notify_order_action_status(action);
	if (!want || !util_uuid_valid(order_id))
		return 0;
	res = pg_exec(t->conn,
	              "SELECT order_number FROM orders WHERE tenant_id = $1 AND id = $2", 2,
	              (const char *const[]){t->tenant, order_id});
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		turn_say(t, "That order was not found.", "Oda hiyo haikupatikana.");
		return 0;
	}
	snprintf(number, sizeof(number), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (turn_events_flush(t) < 0) /* the change records events of its own */
		return -1;
	rc = order_status_transition_ex(t->conn, order_id, want, expected, "seller", &version);
	if (rc < 0 && rc != ORDER_ERR_FORBIDDEN && rc != ORDER_ERR_STALE)
		return -1;
	res = pg_exec(t->conn, "SELECT status, version FROM orders WHERE tenant_id = $1 AND id = $2",
	              2, (const char *const[]){t->tenant, order_id});
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	snprintf(status, sizeof(status), "%s", PQgetvalue(res, 0, 0));
	snprintf(vbuf, sizeof(vbuf), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	t->replace = 1;
	who = t->m->display_name && *t->m->display_name ? t->m->display_name : "the seller";
	if (rc == ORDER_ERR_STALE)
		turn_sayf(t, "Order #%s was already changed to %s.",
		          "Oda #%s tayari imebadilishwa kuwa %s.", number, status);
	else if (rc == ORDER_ERR_FORBIDDEN)
		turn_sayf(t, "Order #%s can't be changed to %s from its current status (%s).",
		          "Oda #%s haiwezi kubadilishwa kuwa %s (sasa ni %s).", number, want, status);
	else
		turn_sayf(t, "Order #%s is now %s (by %s). The customer has been told.",
		          "Oda #%s sasa ni %s (na %s). Mteja ameambiwa.", number, status, who);
	seller_buttons(t, order_id, status, atol(vbuf));
	return 0;
}
