/*
 * engine.h: the conversation engine. Takes one normalized inbound message (message.h) and, in
 * the caller's transaction (app.tenant_id set, see common/pg.h), records it, moves the
 * conversation's state machine, writes cart / order / event rows and writes the replies as
 * outbox rows. It knows no platform's JSON and sends nothing itself.
 */
#ifndef CCGW_ENGINE_H
#define CCGW_ENGINE_H

#include <libpq-fe.h>

#include "message.h"

struct nlp;
struct engine;

#define ENGINE_DUPLICATE 1 /* the platform message id was seen before: no effect at all */
#define ENGINE_ERR_INVALID (-10) /* the message lacks tenant, channel, chat or message id */

/* What one handled message did, for the caller's logs, metrics and the console. */
struct engine_result {
	char conversation_id[MSG_UUID_LEN];
	int replies;                       /* outbox rows written for the shopper */
	char order_id[MSG_UUID_LEN];       /* set when this message placed an order */
	long order_number;
};

/* Borrows nlp (read-only, shared across threads) for the engine's life. NULL on OOM. */
struct engine *engine_new(const struct nlp *nlp) __attribute__((warn_unused_result));
void engine_free(struct engine *e);
/* on: the caller wakes a dispatcher of its own process after every turn it commits on a
 * channel the dispatcher sends for (gateway/inbound does), so those turns' outbox rows are
 * written without the outbox's NOTIFY (sql/099: transaction setting ccgw.wake_local). Off
 * (the default): every row notifies, as any other writer's does. */
void engine_set_wake_local(struct engine *e, int on);
/* on: the caller pushes a web chat turn's replies itself, read inside the turn's transaction
 * and sent to the shopper's socket right after its commit (gateway/webchat does), so they are
 * written without the ccgw_local NOTIFY (sql/102: ccgw.wake_local 'push'); one it could not
 * push stays pending for the next hello or the listening thread's sweep. Off (the default):
 * they notify, as any other writer's do. */
void engine_set_push_local(struct engine *e, int on);

/*
 * Handles m inside the caller's open transaction on conn (use pg_tx_run; m->tenant_id is the
 * transaction's tenant). Returns 0 when handled (commit), ENGINE_DUPLICATE when m->message_id
 * was already recorded for this channel (commit or roll back: nothing was written), or a
 * negative value on a database error (roll back; the caller answers 503 so the platform
 * retries). Safe to call from many threads at once with different connections.
 * pg_tx_run commits on a positive return and reports 0, so a caller that must tell a
 * redelivery apart keeps this return value in its own argument (see cli_console.c).
 * ENGINE_ERR_INVALID: the message lacks tenant, channel, chat or message id (an adapter bug).
 */
int engine_handle(struct engine *e, PGconn *conn, const struct msg_inbound *m,
		  struct engine_result *res) __attribute__((warn_unused_result));

/* How many times a message that fails for good (not a transient database error) is tried
 * across the platform's redeliveries before it is recorded as failed. */
#define ENGINE_INBOUND_TRIES 3

/*
 * Counts one failed try of m (engine_handle failed for good and was rolled back), inside the
 * caller's tenant transaction, with error (no secrets: a SQLSTATE and a short reason). At the
 * ENGINE_INBOUND_TRIES-th try the message is recorded as failed: inbound_failures.status
 * 'failed', an inbound_messages row (redeliveries are then duplicates) and a channel event
 * 'message_failed'; *final is set to 1. Returns 0, or -1 on a database error.
 */
int engine_inbound_failed(PGconn *conn, const struct msg_inbound *m, const char *error,
			  int *final) __attribute__((warn_unused_result));

#endif
