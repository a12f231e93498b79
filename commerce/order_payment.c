/*
 * order_payment.c: the seller marks an order's payment paid or rejected (see
 * order_payment.h). A rejection lets the shopper send another code: the conversation waits
 * for one again (context.await_pay).
 */
#include "order_payment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce_util.h"
#include "conversation.h"
#include "log.h"
#include "notify.h"
#include "order_json.h"
#include "pg.h"
#include "util.h"

int order_payment_status_valid(const char *s)
{
	return s && (strcmp(s, "paid") == 0 || strcmp(s, "rejected") == 0);
}

int order_payment_allowed(const char *from, const char *to)
{
	if (!order_payment_status_valid(to))
		return 0;
	if (strcmp(to, "paid") == 0)
		return !from || strcmp(from, "paid") != 0;
	return from && strcmp(from, "claimed") == 0; /* only a code can be rejected */
}

/* The shopper's message on the order's channel, and the event. */
static int tell_shopper(PGconn *conn, const char *tenant_id, const char *order_id, const char *to,
                        const char *number, const char *ref)
{
	PGresult *res;
	json_t *ev = NULL, *reply = NULL;
	char *text = NULL;
	const char *conv, *args[2] = {number, ref ? ref : ""};
	int sw, rc = -1;

	res = order_chat_get(conn, order_id);
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		rc = 0;
		goto out;
	}
	conv = PQgetvalue(res, 0, 0);
	sw = strcmp(PQgetvalue(res, 0, 3), "sw") == 0;
	ev = json_pack("{s:s, s:s, s:s}", "order_id", order_id, "payment_status", to, "actor",
	               "seller");
	if (!ev || conv_event_add(conn, tenant_id, conv, "order_payment_changed", ev) < 0)
		goto out;
	if (strcmp(to, "paid") == 0)
		text = cm_template(sw ? "Asante! Tumepokea malipo yako ya oda #%s."
		                      : "Thank you! We have received your payment for order #%s.",
		                   args, 1);
	else
		text = cm_template(
		    sw ? "Samahani, hatukupata malipo ya M-Pesa yenye nambari %s kwa oda #%s. "
		         "Tafadhali angalia nambari na utume tena ujumbe wa uthibitisho wa M-Pesa "
		         "hapa, au ongea nasi."
		       : "Sorry, we couldn't find an M-Pesa payment with the code %s for order "
		         "#%s. "
		         "Please check the code and send the M-Pesa confirmation message here "
		         "again, or talk to us.",
		    (const char *const[]){args[1], args[0]}, 2);
	reply = text ? json_pack("{s:s, s:s}", "text", text, "lang", sw ? "sw" : "en") : NULL;
	if (!reply || conv_reply_add(conn, tenant_id, conv, PQgetvalue(res, 0, 1),
	                             PQgetvalue(res, 0, 2), NULL, reply, NULL) < 0)
		goto out;
	/* after a rejection the conversation waits for another code */
	if (strcmp(to, "rejected") == 0 &&
	    pg_cmd(conn,
	           "UPDATE conversations SET context = jsonb_set(context, '{await_pay}',"
	           " to_jsonb($2::text)) WHERE tenant_id = $1 AND id = $3",
	           3, (const char *const[]){tenant_id, order_id, conv}) < 0)
		goto out;
	rc = 0;
out:
	free(text);
	json_decref(reply);
	json_decref(ev);
	PQclear(res);
	return rc;
}

int order_payment_transition(PGconn *conn, const char *order_id, const char *payment_status,
                             long expected_version, const char *actor, long *new_version)
{
	struct order_locked o;
	json_t *order = NULL, *data = NULL;
	const char *tenant_id = o.tenant_id, *number = o.number, *from = o.payment_status;
	int has_from, rc;
	long version;

	if (!order_payment_status_valid(payment_status))
		return ORDER_ERR_INVALID;
	if (!actor)
		actor = "seller";
	rc = order_lock_for_change(conn, order_id, expected_version, &o);
	if (rc < 0)
		return rc;
	version = o.version;
	has_from = o.has_payment_status;
	rc = ORDER_ERR_DB;
	if (!order_payment_allowed(has_from ? from : NULL, payment_status)) {
		rc = ORDER_ERR_FORBIDDEN;
		goto out;
	}
	if (pg_cmd(conn,
	           "UPDATE orders SET payment_status = $2, version = version + 1 WHERE id = $1", 2,
	           (const char *const[]){order_id, payment_status}) < 0 ||
	    tell_shopper(conn, tenant_id, order_id, payment_status, number, o.payment_ref) < 0)
		goto out;
	order = order_json_load(conn, order_id, NULL);
	data = order ? json_pack("{s:O, s:s, s:s}", "order", order, "previous_payment_status",
	                         has_from ? from : "none", "actor", actor)
	             : NULL;
	if (!data || notify_seller(conn, tenant_id, "order.payment_changed", data) < 0)
		goto out;
	if (new_version)
		*new_version = version + 1;
	log_info(&(struct log_ctx){.tenant = tenant_id}, "order #%s payment %s -> %s (%s)", number,
	         has_from ? from : "none", payment_status, actor);
	rc = 0;
out:
	json_decref(order);
	json_decref(data);
	return rc;
}
