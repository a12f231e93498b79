/*
 * notify.h: tells the seller about an event on every active notification target of the
 * tenant, as outbox rows written in the caller's transaction: kind 'notification' (a
 * normalized reply for a Telegram chat or WhatsApp number, with Confirm/Cancel buttons for a
 * new order) or kind 'webhook' (the contract's body {"event", "event_id", "tenant_id", ...}).
 */
#ifndef CCGW_NOTIFY_H
#define CCGW_NOTIFY_H

#include <jansson.h>
#include <libpq-fe.h>

/*
 * event_type: "order.placed", "order.cancelled", "order.status_changed", "complaint.filed",
 * "handoff.requested", "complaint.updated", "violation.opened" (trust.c),
 * "order.payment_claimed" (data also has "payment": {"method", "reference", "amount_minor",
 * ...}), "order.payment_changed" (webhooks only). data (borrowed) is an object whose members go into the webhook body
 * beside event, event_id and tenant_id: {"order": <order_json>} for order events, plus
 * {"complaint": {...}} or {"conversation": {...}} for the others. Chat targets get a short
 * text made from data; order.status_changed goes to webhooks only (the seller made it).
 * Returns the number of outbox rows written, or -1 on a database error.
 */
int notify_seller(PGconn *conn, const char *tenant_id, const char *event_type, const json_t *data)
    __attribute__((warn_unused_result));

/*
 * The outbox rows notify_seller writes, as a JSON array (a new reference; NULL out of
 * memory) of {"kind", "channel_id", "target_id", "recipient", "event_type", "payload"}, for a
 * caller that writes them itself (engine_place.c, in the statement that places the order).
 * targets: rows of notification_targets from column col on (id, kind, channel_id,
 * COALESCE(chat_id, to_number), url; a NULL id is skipped), borrowed. A webhook's payload has
 * body_data's members beside event, event_id and tenant_id; a chat target's text is made from
 * chat_data, whose order_number may be a string standing for the number until it is drawn.
 */
json_t *notify_seller_rows(const PGresult *targets, int col, const char *tenant_id,
                           const char *event_type, const json_t *body_data,
                           const json_t *chat_data) __attribute__((warn_unused_result));

/*
 * The seller's buttons under an order: "ord:<action>:<order id>:<version>", one for each
 * status the lifecycle allows next (Confirm, Processing, Shipped, Delivered, Cancel). The
 * version is the one the seller was shown: a press on an order changed since is stale. A
 * payload without the version (older buttons) skips that check.
 */
#define NOTIFY_PAYLOAD_ORDER   "ord:"
#define NOTIFY_PAYLOAD_CONFIRM "ord:confirm:"
#define NOTIFY_PAYLOAD_CANCEL  "ord:cancel:"
/* The seller's Release button under a handoff: "hr:<conversation id>". A text that quotes
 * the handoff message is relayed to the shopper until then. */
#define NOTIFY_PAYLOAD_RELEASE "hr:"

/* The seller's Paid / Not found buttons under an order.payment_claimed notification:
 * "pm:paid:<order id>:<version>", "pm:rejected:<order id>:<version>". */
#define NOTIFY_PAYLOAD_PAYMENT "pm:"

/* The buttons for the statuses allowed after status (a JSON array; empty when none), or
 * NULL when out of memory. */
json_t *notify_order_buttons(const char *order_id, const char *status, long version);

/* The status an action word of a seller's button stands for ("confirm" -> "confirmed"), or
 * NULL when it is not one. */
const char *notify_order_action_status(const char *action);

#endif
