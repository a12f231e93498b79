/*
 * order_status.c: the order lifecycle (see order_status.h): guarded transition, version
 * bump, stock return on cancellation, events, the shopper's message and seller notices.
 */
#include "order_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce_util.h"
#include "conversation.h"
#include "log.h"
#include "notify.h"
#include "order_json.h"
#include "pg.h"
#include "trust.h"
#include "util.h"

static const struct {
	const char *from, *to;
} lifecycle[] = {
    {"pending", "confirmed"},   {"pending", "cancelled"},  {"confirmed", "processing"},
    {"confirmed", "cancelled"}, {"processing", "shipped"}, {"processing", "cancelled"},
    {"shipped", "delivered"},   {"shipped", "returned"},   {"delivered", "returned"},
};

static const char *const statuses[] = {"pending",   "confirmed", "processing", "shipped",
                                       "delivered", "cancelled", "returned"};

int order_status_valid(const char *s)
{
	size_t i;

	for (i = 0; s && i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcmp(s, statuses[i]) == 0)
			return 1;
	return 0;
}

int order_status_allowed(const char *from, const char *to)
{
	size_t i;

	for (i = 0; i < sizeof(lifecycle) / sizeof(lifecycle[0]); i++)
		if (strcmp(from, lifecycle[i].from) == 0 && strcmp(to, lifecycle[i].to) == 0)
			return 1;
	return 0;
}

int order_lock_for_change(PGconn *conn, const char *order_id, long expected_version,
                          struct order_locked *o)
{
	PGresult *res;
	int rc = ORDER_ERR_DB;

	memset(o, 0, sizeof(*o));
	if (!util_uuid_valid(order_id))
		return ORDER_ERR_NOT_FOUND;
	res = pg_exec(conn,
	              "SELECT c.id FROM order_channel_meta m JOIN conversations c"
	              "  ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id"
	              " WHERE m.order_id = $1 FOR UPDATE OF c",
	              1, &order_id);
	if (!res)
		return ORDER_ERR_DB;
	PQclear(res);
	res = pg_exec(conn,
	              "SELECT tenant_id, version, order_number, status, payment_status,"
	              " COALESCE(payment_ref, '') FROM orders WHERE id = $1 FOR UPDATE",
	              1, &order_id);
	if (!res)
		return ORDER_ERR_DB;
	if (PQntuples(res) != 1) {
		rc = ORDER_ERR_NOT_FOUND;
		goto out;
	}
	snprintf(o->tenant_id, sizeof(o->tenant_id), "%s", PQgetvalue(res, 0, 0));
	o->version = atol(PQgetvalue(res, 0, 1));
	snprintf(o->number, sizeof(o->number), "%s", PQgetvalue(res, 0, 2));
	snprintf(o->status, sizeof(o->status), "%s", PQgetvalue(res, 0, 3));
	o->has_payment_status = !PQgetisnull(res, 0, 4);
	snprintf(o->payment_status, sizeof(o->payment_status), "%s", PQgetvalue(res, 0, 4));
	snprintf(o->payment_ref, sizeof(o->payment_ref), "%s", PQgetvalue(res, 0, 5));
	rc = expected_version >= 0 && expected_version != o->version ? ORDER_ERR_STALE : 0;
out:
	PQclear(res);
	return rc;
}

PGresult *order_chat_get(PGconn *conn, const char *order_id)
{
	return pg_exec(conn,
	               "SELECT m.conversation_id, m.channel_id, m.external_chat_id, c.lang"
	               " FROM order_channel_meta m JOIN conversations c"
	               "  ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id"
	               " WHERE m.order_id = $1",
	               1, &order_id);
}

/* What the shopper is told, in their language. */
static const char *status_message(const char *status, int sw)
{
	static const struct {
		const char *status, *en, *sw;
	} msgs[] = {
	    {"confirmed", "Good news: your order #%s has been confirmed.",
	     "Habari njema: oda yako #%s imethibitishwa."},
	    {"processing", "Your order #%s is being prepared.", "Oda yako #%s inaandaliwa."},
	    {"shipped", "Your order #%s is on its way.", "Oda yako #%s iko njiani."},
	    {"delivered", "Your order #%s has been delivered. Thank you for shopping with us!",
	     "Oda yako #%s imefika. Asante kwa kununua kwetu!"},
	    {"cancelled", "Your order #%s has been cancelled.", "Oda yako #%s imeghairiwa."},
	    {"returned", "The return of your order #%s has been recorded.",
	     "Kurudishwa kwa oda yako #%s kumerekodiwa."},
	};
	size_t i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (strcmp(msgs[i].status, status) == 0)
			return sw ? msgs[i].sw : msgs[i].en;
	return NULL;
}

static int tell_shopper(PGconn *conn, const char *tenant_id, const char *order_id,
                        const char *status, const char *number, const char *actor)
{
	PGresult *res;
	json_t *reply = NULL, *ev = NULL;
	const char *tmpl;
	char *text = NULL;
	const char *conv, *args[1] = {number};
	char outbox_id[37];
	int rc = -1;

	res = order_chat_get(conn, order_id);
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		rc = 0; /* an order made outside a conversation: nobody to tell */
		goto out;
	}
	conv = PQgetvalue(res, 0, 0);
	ev = json_pack("{s:s, s:s, s:s}", "order_id", order_id, "status", status, "actor", actor);
	if (!ev || conv_event_add(conn, tenant_id, conv, "order_status_changed", ev) < 0)
		goto out;
	if (strcmp(status, "cancelled") == 0 &&
	    conv_event_add(conn, tenant_id, conv, "order_cancelled", ev) < 0)
		goto out;
	if (strcmp(actor, "shopper") == 0) {
		rc = 0;
		goto out;
	}
	tmpl = status_message(status, strcmp(PQgetvalue(res, 0, 3), "sw") == 0);
	if (!tmpl) {
		rc = 0;
		goto out;
	}
	text = cm_template(tmpl, args, 1);
	reply = text ? json_pack("{s:s, s:s}", "text", text, "lang",
	                         strcmp(PQgetvalue(res, 0, 3), "sw") == 0 ? "sw" : "en")
	             : NULL;
	if (!reply || conv_reply_add(conn, tenant_id, conv, PQgetvalue(res, 0, 1),
	                             PQgetvalue(res, 0, 2), NULL, reply, outbox_id) < 0)
		goto out;
	/* a status update: outside WhatsApp's 24-hour window the adapter may send it as the
	 * channel's template (channel_target.event_type) instead of dropping it */
	args[0] = outbox_id;
	if (pg_cmd(conn, "UPDATE outbox SET event_type = 'order.status_changed' WHERE id = $1", 1,
	           args) < 0)
		goto out;
	rc = 0;
out:
	free(text);
	json_decref(reply);
	json_decref(ev);
	PQclear(res);
	return rc;
}

int order_status_transition_ex(PGconn *conn, const char *order_id, const char *new_status,
                               long expected_version, const char *actor, long *new_version)
{
	struct order_locked o;
	json_t *order = NULL, *data = NULL;
	const char *tenant_id = o.tenant_id, *from = o.status, *number = o.number;
	char version_s[24];
	const char *params[3];
	long version;
	int rc;

	if (!order_status_valid(new_status))
		return ORDER_ERR_INVALID;
	if (!actor)
		actor = "system";
	rc = order_lock_for_change(conn, order_id, expected_version, &o);
	if (rc < 0)
		return rc;
	version = o.version;
	rc = ORDER_ERR_DB;
	if (!order_status_allowed(from, new_status)) {
		rc = ORDER_ERR_FORBIDDEN;
		goto out;
	}
	params[0] = order_id;
	params[1] = new_status;
	if (pg_cmd(conn, "UPDATE orders SET status = $2, version = version + 1 WHERE id = $1", 2,
	           params) < 0)
		goto out;
	if (strcmp(new_status, "cancelled") == 0 &&
	    pg_cmd(conn,
	           "UPDATE products p SET stock = p.stock + i.quantity FROM"
	           " (SELECT product_id, sum(quantity)::int AS quantity FROM order_items"
	           "  WHERE order_id = $1 GROUP BY product_id) i WHERE p.id = i.product_id",
	           1, params) < 0)
		goto out;
	if (tell_shopper(conn, tenant_id, order_id, new_status, number, actor) < 0)
		goto out;
	order = order_json_load(conn, order_id, NULL);
	if (!order)
		goto out;
	data =
	    json_pack("{s:O, s:s, s:s}", "order", order, "previous_status", from, "actor", actor);
	if (!data || notify_seller(conn, tenant_id,
	                           strcmp(new_status, "cancelled") == 0 ? "order.cancelled"
	                                                                : "order.status_changed",
	                           data) < 0)
		goto out;
	if (trust_order_changed(conn, tenant_id, order_id, new_status) < 0) /* unpaid_orders */
		goto out;
	if (new_version)
		*new_version = version + 1;
	snprintf(version_s, sizeof(version_s), "%ld", version + 1);
	log_info(&(struct log_ctx){.tenant = tenant_id}, "order #%s %s -> %s (v%s, %s)", number,
	         from, new_status, version_s, actor);
	rc = 0;
out:
	json_decref(order);
	json_decref(data);
	return rc;
}

int order_status_transition(PGconn *conn, const char *order_id, const char *new_status,
                            long expected_version, const char *actor)
{
	return order_status_transition_ex(conn, order_id, new_status, expected_version, actor,
	                                  NULL);
}
