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
 * "handoff.requested". data (borrowed) is an object whose members go into the webhook body
 * beside event, event_id and tenant_id: {"order": <order_json>} for order events, plus
 * {"complaint": {...}} or {"conversation": {...}} for the others. Chat targets get a short
 * text made from data; order.status_changed goes to webhooks only (the seller made it).
 * Returns the number of outbox rows written, or -1 on a database error.
 */
int notify_seller(PGconn *conn, const char *tenant_id, const char *event_type, const json_t *data)
    __attribute__((warn_unused_result));

/* The payloads of the seller's buttons under a new-order notification. */
#define NOTIFY_PAYLOAD_CONFIRM "ord:confirm:"
#define NOTIFY_PAYLOAD_CANCEL  "ord:cancel:"

#endif
