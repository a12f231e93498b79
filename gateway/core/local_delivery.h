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
 * JSON array, cleared first) gets {"seq": N, "payload": {...}, "id": "<outbox id>"} for
 * each. type names the channel type in the events. 0, or -1 when a statement failed.
 */
int local_take_replies(PGconn *conn, const char *conversation_id, const char *type,
                       json_t *out);

/* The same claim without the rows whose ids are in except (a PostgreSQL uuid[] literal,
 * "{...}"; NULL: none): replies this process already handed to a socket and is about to
 * record (local_mark_sent). */
int local_take_replies_except(PGconn *conn, const char *conversation_id, const char *type,
                              const char *except, json_t *out);

/* Reads (does not claim) the pending replies of conversation_id, in outbox order, in the
 * caller's tenant transaction: out (cleared first) gets {"seq", "payload", "id"} for each.
 * 0, or -1 when the statement failed. */
int local_read_replies(PGconn *conn, const char *conversation_id, json_t *out);

/* Records replies that were handed to the shopper (ids: a uuid[] literal) as the claim does:
 * sent, with a message_sent event each; rows already recorded are left alone. In the caller's
 * tenant transaction; the number recorded, or -1 when the statement failed. */
int local_mark_sent(PGconn *conn, const char *ids, const char *type);

/* qsort comparator of two json_t * rows by their "seq". */
int local_cmp_seq(const void *a, const void *b);

/* Hands the claimed replies to ops->deliver_local with sink, in outbox order. Returns how
 * many the sink refused (logged). */
int local_deliver(const struct channel_ops *ops, const struct channel_sink *sink,
                  const json_t *replies);

#endif
