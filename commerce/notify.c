/*
 * notify.c: seller notifications as outbox rows (see notify.h). The text for chat targets is
 * built here from the event's data; the dispatcher sends and signs the webhooks.
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "money.h"
#include "order_status.h"
#include "pg.h"
#include "util.h"

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void order_lines(struct sbuf *b, const json_t *order)
{
	const json_t *items = json_object_get(order, "items"), *it;
	const json_t *totals = json_object_get(order, "totals");
	const char *cur = jstr(totals, "currency");
	char money[48];
	size_t i;

	json_array_foreach(items, i, it)
	{
		money_format(json_integer_value(json_object_get(it, "subtotal_minor")), cur, money,
		             sizeof(money));
		sbuf_printf(b, "\n%lld x %s: %s",
		            (long long)json_integer_value(json_object_get(it, "quantity")),
		            jstr(it, "name"), money);
	}
	money_format(json_integer_value(json_object_get(totals, "total_minor")), cur, money,
	             sizeof(money));
	sbuf_printf(b, "\nTotal: %s", money);
}

/* The chat text for an event into b; 0 when chat targets are not told of it. */
static int chat_text(struct sbuf *b, const char *event_type, const json_t *data)
{
	const json_t *order = json_object_get(data, "order");
	const json_t *cust = json_object_get(order, "customer");
	const json_t *addr = json_object_get(order, "delivery_address");
	const json_t *nv = json_object_get(order, "order_number");
	char num[80];

	/* an integer, or a string that stands for it until the order has its number
	 * (notify_seller_rows) */
	if (json_is_string(nv))
		snprintf(num, sizeof(num), "%s", json_string_value(nv));
	else
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(nv));

	if (strcmp(event_type, "order.placed") == 0) {
		sbuf_printf(b, "New order #%s", num);
		order_lines(b, order);
		sbuf_printf(b, "\nCustomer: %s, %s", jstr(cust, "name"), jstr(cust, "phone"));
		if (*jstr(addr, "text"))
			sbuf_printf(b, "\nDeliver to: %s", jstr(addr, "text"));
		sbuf_printf(b, "\nPayment: %s", jstr(order, "payment_method"));
	} else if (strcmp(event_type, "order.cancelled") == 0) {
		if (strcmp(jstr(data, "actor"), "shopper") != 0) {
			return 0; /* the seller cancelled it: only webhooks hear of it */
		}
		sbuf_printf(b, "Order #%s was cancelled by the customer (%s).", num,
		            jstr(cust, "name"));
	} else if (strcmp(event_type, "complaint.filed") == 0) {
		const json_t *c = json_object_get(data, "complaint");

		if (order)
			sbuf_printf(b, "Complaint about order #%s from %s:\n%s", num,
			            jstr(cust, "name"), jstr(c, "text"));
		else
			sbuf_printf(b, "Complaint from %s:\n%s", jstr(c, "customer_name"),
			            jstr(c, "text"));
	} else if (strcmp(event_type, "order.payment_claimed") == 0) {
		const json_t *pay = json_object_get(data, "payment");
		const json_t *totals = json_object_get(order, "totals");
		const json_t *amount = json_object_get(pay, "amount_minor");
		char money[48];

		sbuf_printf(b, "Order #%s: %s says they paid by M-Pesa, code %s.", num,
		            *jstr(cust, "name") ? jstr(cust, "name") : "the customer",
		            jstr(pay, "reference"));
		if (json_is_integer(amount)) {
			money_format(json_integer_value(amount), jstr(totals, "currency"), money,
			             sizeof(money));
			sbuf_printf(b, "\nAmount in their message: %s", money);
		}
		money_format(json_integer_value(json_object_get(totals, "total_minor")),
		             jstr(totals, "currency"), money, sizeof(money));
		sbuf_printf(b, "\nOrder total: %s", money);
		sbuf_printf(b, "\nCheck the code against your M-Pesa statement, then press Paid "
		                "or Not found.");
	} else if (strcmp(event_type, "handoff.requested") == 0) {
		const json_t *c = json_object_get(data, "conversation");

		sbuf_printf(b, "%s asked to talk to a person (%s). Conversation %s.\n"
		            "Reply to this message to answer them here; press Release when done.",
		            *jstr(c, "customer_name") ? jstr(c, "customer_name") : "A shopper",
		            jstr(c, "channel"), jstr(c, "id"));
	} else if (strncmp(event_type, "kyc.", 4) == 0) {
		const json_t *k = json_object_get(data, "kyc"); /* commerce/kyc.c */

		if (strcmp(event_type, "kyc.order_limit") == 0)
			sbuf_printf(b, "Your shop has taken the %lld orders allowed before KYC "
			            "verification, so shoppers are told it cannot take orders yet. "
			            "Submit your KYC details and documents (PUT /api/v1/kyc) to be "
			            "verified.",
			            (long long)json_integer_value(json_object_get(k, "order_limit")));
		else if (strcmp(jstr(k, "status"), "verified") == 0)
			sbuf_printf(b, "Your KYC (%s) was approved: your shop is verified.",
			            jstr(k, "legal_name"));
		else
			sbuf_printf(b, "Your KYC (%s) was rejected: %s", jstr(k, "legal_name"),
			            *jstr(k, "reason") ? jstr(k, "reason") : "no reason given");
	} else if (strcmp(event_type, "violation.opened") == 0) { /* trust.c */
		const json_t *v = json_object_get(data, "violation");
		const json_t *vc = json_object_get(v, "customer");

		sbuf_printf(b, "Trust & safety: %s (%s) by %s. Action: %s. Violation %s.",
		            jstr(v, "kind"), jstr(v, "severity"),
		            *jstr(vc, "name") ? jstr(vc, "name") : "a shopper", jstr(v, "action"),
		            jstr(v, "id"));
	} else if (strcmp(event_type, "complaint.updated") == 0) { /* trust.c */
		const json_t *c = json_object_get(data, "complaint");

		sbuf_printf(b, "Complaint %s is now %s.", jstr(c, "id"), jstr(c, "status"));
	} else {
		return 0;
	}
	return 1;
}

/* The chat reply for an event (text and the buttons a seller acts with); NULL when chat
 * targets are not told of it. */
static json_t *chat_reply(const char *event_type, const json_t *data)
{
	const json_t *order = json_object_get(data, "order");
	const char *oid = jstr(order, "id");
	struct sbuf b;
	json_t *r = NULL;
	char *text;

	sbuf_init(&b);
	if (!chat_text(&b, event_type, data)) {
		sbuf_free(&b);
		return NULL;
	}
	text = sbuf_take(&b);
	if (!text)
		return NULL;
	if (strcmp(event_type, "order.placed") == 0 && strlen(oid) == 36) {
		r = json_pack("{s:s, s:o}", "text", text, "buttons",
		              notify_order_buttons(oid, jstr(order, "status"),
		                                   (long)json_integer_value(
		                                       json_object_get(order, "version"))));
	} else if (strcmp(event_type, "order.payment_claimed") == 0 && strlen(oid) == 36) {
		char paid[96], rejected[96];
		long version = (long)json_integer_value(json_object_get(order, "version"));

		snprintf(paid, sizeof(paid), NOTIFY_PAYLOAD_PAYMENT "paid:%s:%ld", oid, version);
		snprintf(rejected, sizeof(rejected), NOTIFY_PAYLOAD_PAYMENT "rejected:%s:%ld", oid,
		         version);
		r = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "text", text, "buttons", "title",
		              "Paid", "payload", paid, "title", "Not found", "payload", rejected);
	} else if (strcmp(event_type, "handoff.requested") == 0 &&
	           util_uuid_valid(jstr(json_object_get(data, "conversation"), "id"))) {
		const char *conv = jstr(json_object_get(data, "conversation"), "id");
		char release[48];

		/* ref: which conversation a reply quoting this message goes to */
		snprintf(release, sizeof(release), NOTIFY_PAYLOAD_RELEASE "%s", conv);
		r = json_pack("{s:s, s:[{s:s, s:s}], s:{s:s}}", "text", text, "buttons", "title",
		              "Release", "payload", release, "ref", "conversation_id", conv);
	} else {
		r = json_pack("{s:s}", "text", text);
	}
	free(text);
	return r;
}

/* The seller's actions, in the order their buttons show, and the status each asks for. */
static const char *const order_actions[][3] = {
    {"confirm", "confirmed", "Confirm"},       {"processing", "processing", "Processing"},
    {"shipped", "shipped", "Shipped"},         {"delivered", "delivered", "Delivered"},
    {"cancel", "cancelled", "Cancel"},
};

const char *notify_order_action_status(const char *action)
{
	size_t i;

	for (i = 0; i < sizeof(order_actions) / sizeof(order_actions[0]); i++)
		if (strcmp(action, order_actions[i][0]) == 0)
			return order_actions[i][1];
	return NULL;
}

json_t *notify_order_buttons(const char *order_id, const char *status, long version)
{
	json_t *arr = json_array();
	char payload[80];
	size_t i;

	for (i = 0; arr && status && i < sizeof(order_actions) / sizeof(order_actions[0]); i++) {
		if (!order_status_allowed(status, order_actions[i][1]))
			continue;
		snprintf(payload, sizeof(payload), NOTIFY_PAYLOAD_ORDER "%s:%s:%ld",
		         order_actions[i][0], order_id, version);
		json_array_append_new(arr, json_pack("{s:s, s:s}", "title", order_actions[i][2],
		                                     "payload", payload));
	}
	return arr;
}

json_t *notify_seller_rows(const PGresult *targets, int col, const char *tenant_id,
                           const char *event_type, const json_t *body_data,
                           const json_t *chat_data)
{
	char event_id[37];
	json_t *rows = json_array(), *body = NULL, *reply = NULL;
	int i, ok = 0;

	util_uuid_new(event_id);
	body = json_pack("{s:s, s:s, s:s}", "event", event_type, "event_id", event_id, "tenant_id",
	                 tenant_id);
	if (!rows || !body ||
	    (json_is_object(body_data) && json_object_update(body, (json_t *)body_data) < 0))
		goto out;
	reply = chat_reply(event_type, chat_data);
	for (i = 0; i < PQntuples(targets); i++) {
		const char *kind = PQgetvalue(targets, i, col + 1);
		json_t *row;

		if (PQgetisnull(targets, i, col)) /* no target: a row of a LEFT JOIN */
			continue;
		if (strcmp(kind, "webhook") == 0) {
			if (!pg_value(targets, i, col + 4))
				continue;
			row = json_pack("{s:s, s:n, s:s, s:s, s:s, s:O}", "kind", "webhook",
			                "channel_id", "target_id", PQgetvalue(targets, i, col),
			                "recipient", PQgetvalue(targets, i, col + 4), "event_type",
			                event_type, "payload", body);
		} else {
			if (!reply || !pg_value(targets, i, col + 2) || !pg_value(targets, i, col + 3))
				continue;
			row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "kind", "notification",
			                "channel_id", PQgetvalue(targets, i, col + 2), "target_id",
			                PQgetvalue(targets, i, col), "recipient",
			                PQgetvalue(targets, i, col + 3), "event_type", event_type,
			                "payload", reply);
		}
		if (json_array_append_new(rows, row) < 0)
			goto out;
	}
	ok = 1;
out:
	json_decref(body);
	json_decref(reply);
	if (!ok) {
		json_decref(rows);
		return NULL;
	}
	return rows;
}

int notify_seller(PGconn *conn, const char *tenant_id, const char *event_type, const json_t *data)
{
	PGresult *res = NULL;
	json_t *rows = NULL, *row;
	char *payload_js = NULL;
	size_t i;
	int rc = -1;

	res = pg_exec(conn,
	              "SELECT id, kind, channel_id, COALESCE(chat_id, to_number), url"
	              " FROM notification_targets WHERE active ORDER BY created_at, id",
	              0, NULL);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		rc = 0;
		goto out;
	}
	rows = notify_seller_rows(res, 0, tenant_id, event_type, data, data);
	if (!rows)
		goto out;
	json_array_foreach(rows, i, row)
	{
		const char *params[7] = {
		    tenant_id,
		    json_string_value(json_object_get(row, "kind")),
		    json_string_value(json_object_get(row, "channel_id")),
		    json_string_value(json_object_get(row, "target_id")),
		    json_string_value(json_object_get(row, "recipient")),
		    event_type,
		    NULL};

		payload_js = json_dumps(json_object_get(row, "payload"), JSON_COMPACT);
		params[6] = payload_js;
		if (!payload_js ||
		    pg_cmd(conn,
		           "INSERT INTO outbox (tenant_id, kind, channel_id, target_id, recipient,"
		           " event_type, payload) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
		           7, params) < 0)
			goto out;
		free(payload_js);
		payload_js = NULL;
	}
	rc = (int)json_array_size(rows);
out:
	if (rc < 0)
		log_error(&(struct log_ctx){.tenant = tenant_id}, "notify: %s failed", event_type);
	free(payload_js);
	json_decref(rows);
	PQclear(res);
	return rc;
}
