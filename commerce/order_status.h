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
