/*
 * order_payment.h: the seller's verdict on an order's payment (issue 16): payment_status
 * 'paid' (from no status, 'awaiting', 'claimed' or 'rejected') or 'rejected' (a claimed code
 * the seller did not find on their statement). Like a status change: If-Match version
 * checked and bumped, an order_payment_changed event, the shopper told on the order's own
 * channel, webhook targets notified (order.payment_changed).
 */
#ifndef CCGW_ORDER_PAYMENT_H
#define CCGW_ORDER_PAYMENT_H

#include <libpq-fe.h>

#include "order_status.h"

/* 1 when s is a payment status the seller may set ("paid", "rejected"). */
int order_payment_status_valid(const char *s);
/* 1 when an order whose payment_status is from (NULL: none) may become to. */
int order_payment_allowed(const char *from, const char *to);

/* Sets order_id's payment_status in the caller's tenant transaction; locks as
 * order_status_transition_ex does (conversation, then order). Returns 0 or ORDER_ERR_*
 * (NOT_FOUND 404, STALE 412, FORBIDDEN 409, INVALID 400). */
int order_payment_transition(PGconn *conn, const char *order_id, const char *payment_status,
                             long expected_version, const char *actor, long *new_version)
    __attribute__((warn_unused_result));

#endif
