/*
 * order_status.h: the order lifecycle of the external contract (pending -> confirmed |
 * cancelled; confirmed -> processing | cancelled; processing -> shipped | cancelled;
 * shipped -> delivered | returned; delivered -> returned). A change bumps the version, puts
 * stock back on cancellation, records order_status_changed (and order_cancelled), tells the
 * shopper on the channel the order came from and notifies the seller's targets.
 */
#ifndef CCGW_ORDER_STATUS_H
#define CCGW_ORDER_STATUS_H

#include <libpq-fe.h>

#define ORDER_ERR_DB        (-1)
#define ORDER_ERR_NOT_FOUND (-40) /* 404 */
#define ORDER_ERR_STALE     (-41) /* expected_version is not the current version: 412 */
#define ORDER_ERR_FORBIDDEN (-42) /* the lifecycle does not allow this change: 409 */
#define ORDER_ERR_INVALID   (-43) /* not a status name: 400 */

/* An order as order_lock_for_change read it, locked (strings empty for SQL NULL). */
struct order_locked {
	char tenant_id[37], number[24], status[16], payment_status[16], payment_ref[16];
	int has_payment_status;
	long version;
};

/*
 * The start of every version-checked change of an order, in the caller's tenant
 * transaction: locks the order's conversation row (FOR UPDATE, as engine turns do; none for
 * an order made outside a conversation), then the order row, reads it into *o and checks
 * expected_version (< 0: no check). The conversation first keeps the engine's lock order (a
 * turn that cancels an order takes them so; the other order could deadlock with it) and
 * orders the shopper's message written after with the turns' replies. Returns 0,
 * ORDER_ERR_NOT_FOUND (also for an id that is not a UUID), ORDER_ERR_STALE or ORDER_ERR_DB.
 */
int order_lock_for_change(PGconn *conn, const char *order_id, long expected_version,
                          struct order_locked *o) __attribute__((warn_unused_result));

/* The chat an order came from: one row of conversation_id, channel_id, external_chat_id and
 * the conversation's lang, or none for an order made outside a conversation; NULL on a
 * database error (caller PQclears). */
PGresult *order_chat_get(PGconn *conn, const char *order_id);

/* 1 when the lifecycle allows from -> to. */
int order_status_allowed(const char *from, const char *to);
/* 1 when s is one of the seven status names. */
int order_status_valid(const char *s);

/*
 * Moves order_id to new_status in the caller's tenant transaction. expected_version < 0 skips
 * the version check. actor is "seller", "shopper" or "system" (recorded in the event; when
 * the shopper made the change, the engine's own reply tells them, so no extra message).
 * It locks the order's conversation row (FOR UPDATE, as engine turns do) before the order row,
 * so the shopper's message is ordered with the turns' replies and the lock order is the
 * engine's. *new_version (may be NULL) receives the bumped version. Returns 0 or
 * ORDER_ERR_*.
 */
int order_status_transition_ex(PGconn *conn, const char *order_id, const char *new_status,
                               long expected_version, const char *actor, long *new_version)
    __attribute__((warn_unused_result));
int order_status_transition(PGconn *conn, const char *order_id, const char *new_status,
                            long expected_version, const char *actor)
    __attribute__((warn_unused_result));

#endif
