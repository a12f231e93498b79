/*
 * engine_payment.c: M-Pesa references in the chat (issue 16). While the shopper has an M-Pesa
 * order awaiting payment (payment_status 'awaiting', or 'rejected' after a code the shop did
 * not find), every text is looked at: a pasted M-Pesa confirmation or a bare transaction code
 * (commerce/mpesa.c; the reader's payment_ref as well) is stored on the order (payment_ref,
 * the amount, payment_status 'claimed'), the seller hears of it with the code
 * (order.payment_claimed, through notify_seller: chat targets and webhooks), and the shopper
 * is thanked. A code already on another order of the shop is refused politely (the unique
 * index orders_payment_ref stands behind the check). "I have paid" / "nimelipa" without a
 * code asks for the confirmation message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "money.h"
#include "mpesa.h"
#include "notify.h"
#include "order_json.h"
#include "order_payment.h"
#include "pg.h"
#include "util.h"

/* The shopper's latest M-Pesa order still waiting for a code: columns id, order_number,
 * total_minor, currency. NULL on error (a result with no row when none). */
static PGresult *awaiting_order(struct turn *t)
{
	return pg_exec(t->conn,
	               "SELECT id, order_number, total_minor, currency FROM orders"
	               " WHERE tenant_id = $1 AND customer_id = $2 AND payment_method = 'mpesa'"
	               " AND payment_status IN ('awaiting', 'rejected')"
	               " AND status NOT IN ('cancelled', 'returned')"
	               " ORDER BY created_at DESC LIMIT 1",
	               2, (const char *const[]){t->tenant, t->customer_id});
}

static int claim_notify(struct turn *t, const char *order_id, const struct mpesa_ref *r)
{
	json_t *order = order_json_load(t->conn, order_id, NULL), *data = NULL, *pay;
	int rc = -1;

	if (!order)
		return -1;
	pay = json_pack("{s:s, s:s}", "method", "mpesa", "reference", r->code);
	if (!pay)
		goto out;
	if (r->amount_minor >= 0)
		json_object_set_new(pay, "amount_minor", json_integer(r->amount_minor));
	if (r->party[0])
		json_object_set_new(pay, "paid_to", json_string(r->party));
	if (r->account[0])
		json_object_set_new(pay, "account", json_string(r->account));
	data = json_pack("{s:O, s:o}", "order", order, "payment", pay);
	if (data && notify_seller(t->conn, t->tenant, "order.payment_claimed", data) >= 0)
		rc = 0;
out:
	json_decref(order);
	json_decref(data);
	return rc;
}

/* Stores the code on the order (or refuses a code already used) and replies. */
static int claim(struct turn *t, const PGresult *o, const struct mpesa_ref *r)
{
	const char *order_id = PQgetvalue(o, 0, 0), *number = PQgetvalue(o, 0, 1);
	long long total = atoll(PQgetvalue(o, 0, 2));
	char amount_s[24], money[48], tot[48];
	PGresult *dup;
	json_t *ev;

	dup = pg_exec(t->conn,
	              "SELECT order_number, id = $3::uuid FROM orders WHERE tenant_id = $1"
	              " AND payment_ref = $2",
	              3, (const char *const[]){t->tenant, r->code, order_id});
	if (!dup)
		return -1;
	if (PQntuples(dup) > 0) {
		int same = PQgetvalue(dup, 0, 1)[0] == 't';

		PQclear(dup);
		if (same) {
			turn_sayf(t,
			          "Thanks! I already have the M-Pesa code %s for your order #%s.",
			          "Asante! Tayari nina nambari ya M-Pesa %s ya oda yako #%s.",
			          r->code, number);
			turn_menu_buttons(t);
			return 0;
		}
		turn_sayf(
		    t,
		    "Sorry, the M-Pesa code %s has already been used for another order, so I "
		    "can't take it for order #%s. Please check the code in your M-Pesa "
		    "message, or talk to a person.",
		    "Samahani, nambari ya M-Pesa %s imeshatumika kwa oda nyingine, kwa hivyo "
		    "siwezi kuipokea kwa oda #%s. Tafadhali angalia nambari kwenye ujumbe wako "
		    "wa M-Pesa, au ongea na mtu.",
		    r->code, number);
		turn_button(t, TR(t, "Talk to a person", "Ongea na mtu"), "human");
		turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
		return turn_event(t, "payment_refused",
		                  json_pack("{s:s, s:s, s:s}", "order_id", order_id, "reference",
		                            r->code, "reason", "duplicate"));
	}
	PQclear(dup);
	snprintf(amount_s, sizeof(amount_s), "%lld", r->amount_minor);
	if (pg_cmd(t->conn,
	           "UPDATE orders SET payment_ref = $3, payment_amount_minor = $4::bigint,"
	           " payment_status = 'claimed', payment_claimed_at = now()"
	           " WHERE tenant_id = $1 AND id = $2",
	           4,
	           (const char *const[]){t->tenant, order_id, r->code,
	                                 r->amount_minor >= 0 ? amount_s : NULL}) < 0)
		return -1;
	ev = json_pack("{s:s, s:s, s:s}", "order_id", order_id, "reference", r->code, "method",
	               "mpesa");
	if (ev && r->amount_minor >= 0)
		json_object_set_new(ev, "amount_minor", json_integer(r->amount_minor));
	if (turn_event(t, "payment_claimed", ev) < 0 || claim_notify(t, order_id, r) < 0)
		return -1;
	turn_ctx_del(t, "await_pay");
	turn_sayf(t,
	          "Thank you! I've passed your M-Pesa code %s for order #%s to the shop. They "
	          "will check it and confirm your payment here.",
	          "Asante! Nimepeleka nambari yako ya M-Pesa %s ya oda #%s kwa duka. Wataikagua "
	          "na kuthibitisha malipo yako hapa.",
	          r->code, number);
	if (r->amount_minor >= 0 && r->amount_minor != total) {
		money_format(r->amount_minor, PQgetvalue(o, 0, 3), money, sizeof(money));
		money_format(total, PQgetvalue(o, 0, 3), tot, sizeof(tot));
		turn_sayf(t,
		          "Note: the message shows %s, and the order's total is %s. The shop will "
		          "look at the difference.",
		          "Kumbuka: ujumbe unaonyesha %s, na jumla ya oda ni %s. Duka litaangalia "
		          "tofauti hiyo.",
		          money, tot);
	}
	turn_button(t, TR(t, "My orders", "Oda zangu"), "orders");
	turn_button(t, TR(t, "Keep shopping", "Endelea kununua"), "browse");
	log_info(&t->log, "order #%s: M-Pesa code claimed", number);
	return 0;
}

int engine_payment_text(struct turn *t)
{
	struct mpesa_ref r;
	const char *await = turn_ctx_str(t, "await_pay");
	int has = mpesa_parse(t->text, &r), says_paid, rc;
	PGresult *o;

	if (!has && t->rd.payment_ref[0] && mpesa_code_valid(t->rd.payment_ref)) {
		memset(&r, 0, sizeof(r));
		r.kind = MPESA_CODE;
		r.amount_minor = -1;
		memcpy(r.code, t->rd.payment_ref, MPESA_CODE_LEN); /* valid: exactly ten */
		r.code[MPESA_CODE_LEN] = '\0';
		for (size_t i = 0; r.code[i]; i++)
			if (r.code[i] >= 'a' && r.code[i] <= 'z')
				r.code[i] = (char)(r.code[i] - 32);
		has = 1;
	}
	says_paid = mpesa_says_paid(t->text);
	if (says_paid == 2 && !t->sw) { /* "nimelipa": answered in Swahili */
		snprintf(t->lang, sizeof(t->lang), "sw");
		t->sw = 1;
	}
	says_paid = says_paid || t->rd.intent == NLP_INTENT_PAID;
	/* a confirmation and "I have paid" are always about a payment; a bare code (which
	 * could be a product's SKU) only while an M-Pesa order of this conversation waits or
	 * when said with "I have paid" */
	if (!has && !says_paid)
		return 0;
	if (has && r.kind == MPESA_CODE && !await && !says_paid)
		return 0;
	o = awaiting_order(t);
	if (!o)
		return -1;
	if (PQntuples(o) == 0) {
		PQclear(o);
		turn_ctx_del(t, "await_pay");
		turn_say(t,
		         "Thanks! I can't find an order of yours waiting for an M-Pesa payment. If "
		         "you paid for something else, please talk to a person.",
		         "Asante! Sioni oda yako inayosubiri malipo ya M-Pesa. Kama ulilipia kitu "
		         "kingine, tafadhali ongea na mtu.");
		turn_button(t, TR(t, "My orders", "Oda zangu"), "orders");
		turn_button(t, TR(t, "Talk to a person", "Ongea na mtu"), "human");
		return 1;
	}
	if (!has) {
		turn_sayf(
		    t,
		    "Thank you! Please paste the M-Pesa confirmation message you received for "
		    "order #%s here, or type its transaction code (10 letters and digits, like "
		    "QGH7XK2M1P), so the shop can check your payment.",
		    "Asante! Tafadhali bandika hapa ujumbe wa uthibitisho wa M-Pesa "
		    "uliopokea kwa oda #%s, au andika nambari ya muamala (herufi na nambari 10, "
		    "kama QGH7XK2M1P), ili duka likague malipo yako.",
		    PQgetvalue(o, 0, 1));
		t->keep_offered = 1;
		PQclear(o);
		return 1;
	}
	rc = claim(t, o, &r);
	PQclear(o);
	return rc < 0 ? -1 : 1;
}

/* The seller's buttons under an order.payment_claimed notification:
 * "pm:<paid|rejected>:<order uuid>:<version>" (NOTIFY_PAYLOAD_PAYMENT). */
int act_seller_payment(struct turn *t, const char *arg)
{
	char want[16], order_id[37], number[24], pay[16];
	const char *colon = strchr(arg, ':');
	long expected, version;
	PGresult *res;
	int rc;

	if (!colon || (size_t)(colon - arg) >= sizeof(want) || strlen(colon + 1) < 38 ||
	    colon[37] != ':')
		return 0;
	snprintf(want, sizeof(want), "%.*s", (int)(colon - arg), arg);
	snprintf(order_id, sizeof(order_id), "%.36s", colon + 1);
	expected = atol(colon + 38);
	if (!order_payment_status_valid(want) || !util_uuid_valid(order_id))
		return 0;
	res = pg_exec(t->conn, "SELECT order_number FROM orders WHERE tenant_id = $1 AND id = $2",
	              2, (const char *const[]){t->tenant, order_id});
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
	rc = order_payment_transition(t->conn, order_id, want, expected, "seller", &version);
	if (rc < 0 && rc != ORDER_ERR_FORBIDDEN && rc != ORDER_ERR_STALE)
		return -1;
	res = pg_exec(t->conn,
	              "SELECT COALESCE(payment_status, 'none') FROM orders WHERE tenant_id = $1"
	              " AND id = $2",
	              2, (const char *const[]){t->tenant, order_id});
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	snprintf(pay, sizeof(pay), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	t->replace = 1;
	if (rc == ORDER_ERR_STALE || rc == ORDER_ERR_FORBIDDEN)
		turn_sayf(t, "Order #%s: its payment is already %s.",
		          "Oda #%s: malipo yake tayari ni %s.", number, pay);
	else
		turn_sayf(t, "Order #%s: payment marked %s. The customer has been told.",
		          "Oda #%s: malipo yamewekwa %s. Mteja ameambiwa.", number, pay);
	return 0;
}
