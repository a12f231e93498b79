/*
 * local_delivery.h: the delivery path of channels whose adapter delivers locally
 * (channel_ops.deliver_local: the console's terminal, the web chat's sockets), where the
 * process that holds the shopper's end takes the replies instead of the dispatcher. The
 * replies of a conversation are claimed from the outbox inside the transaction that wrote
 * them (marked sent, with a message_sent event each, as the dispatcher records a send) and
 * handed to the adapter after the commit, in outbox order.
 */
#ifndef CCGW_LOCAL_DELIVERY_H
#define CCGW_LOCAL_DELIVERY_H

#include <jansson.h>
#include <libpq-fe.h>

#include "channel.h"

/*
 * Claims the pending replies of conversation_id (in the caller's tenant transaction): out (a
 * JSON array, cleared first) gets {"seq": N, "payload": {...}} for each. type names the
 * channel type in the events. 0, or -1 when a statement failed.
 */
int local_take_replies(PGconn *conn, const char *conversation_id, const char *type,
                       json_t *out);

/* Hands the claimed replies to ops->deliver_local with sink, in outbox order. Returns how
 * many the sink refused (logged). */
int local_deliver(const struct channel_ops *ops, const struct channel_sink *sink,
                  const json_t *replies);

#endif
