/*
 * inbound.h: the one platform-neutral inbound flow. Whatever a channel adapter parsed from a
 * request (a webhook today; a long poll or a socket frame as well) goes through here: each
 * message routed to its channel and run by the engine in its own tenant transaction with
 * de-duplication, each delivery status applied to the outbox forward-only, each channel
 * notice logged and stored. The webhook routes (GET verification, POST delivery) load the
 * channel, authenticate with its adapter, parse and answer 200 only after everything
 * committed, 503 when the database could not take it (the platform delivers again).
 */
#ifndef CCGW_INBOUND_H
#define CCGW_INBOUND_H

#include <jansson.h>
#include <libpq-fe.h>

#include "channel.h"
#include "http.h"
#include "message.h"

struct db_pool;

/* A channel row as the inbound path needs it, config and secrets opened. */
struct inbound_channel {
	char tenant_id[MSG_UUID_LEN];
	char channel_id[MSG_UUID_LEN];
	char *external_id;
	json_t *config; /* channel_open: config with secrets; NULL when they did not open */
	int active;     /* of the expected type and not disabled */
	/* Optional, for a channel that delivers locally (the web chat): runs in the message's
	 * transaction right after the engine handled it (not for a duplicate), with the turn's
	 * conversation, so the caller learns the replies it wrote without a transaction of its
	 * own. A negative return rolls the message back. It may run more than once for one
	 * message (group commit tries a failed one again alone) and on another thread. */
	int (*after_turn)(PGconn *conn, const char *conversation_id, void *arg);
	void *after_turn_arg;
	/* 1: each message in a transaction of its own, never in a group commit (txgroup.h): for
	 * a channel whose shopper waits on an open socket (the web chat), where a group's
	 * messages would wait for each other */
	int alone;
};

enum inbound_load {
	INBOUND_LOAD_OK = 0,
	INBOUND_LOAD_NOT_FOUND = 1,
	INBOUND_LOAD_DB = -1,     /* the database did not answer: 503 */
	INBOUND_LOAD_SECRETS = -2 /* the sealed secrets do not open: the operator's key is wrong */
};

/* Loads the channel with id (by_external 0) or with the external id of ops' type: from the
 * process's copy when it has one, else from the database on *conn, borrowed from pool first
 * when *conn is NULL and pool is not (it is the caller's then, to give back). */
enum inbound_load inbound_channel_load(struct app *app, PGconn **conn, struct db_pool *pool,
                                       const struct channel_ops *ops, int by_external,
                                       const char *key, struct inbound_channel *ch);
void inbound_channel_clear(struct inbound_channel *ch);

/* What one batch came to. */
struct inbound_result {
	int handled, duplicates, skipped, statuses, replies, failed;
	int db_error;    /* a PG_ERR_*: the batch must be delivered again (503) */
	int retry_later; /* a message failed, not yet for the last time: 503 after the rest */
};

/*
 * Runs a parsed batch for channel ch (of type ops), on *conn: messages, then statuses, then
 * notices, each in its own transaction; stops at the first database failure. Wakes the
 * dispatcher when replies were written. pool: where *conn was borrowed from, so that a message
 * waiting for its group's commit gives it back meanwhile (txgroup_run); *conn may then be
 * NULL or another of pool's on return, and the caller gives back whatever it holds. NULL: the
 * connection is the caller's own and stays *conn.
 */
void inbound_run(struct app *app, PGconn **conn, struct db_pool *pool,
                 const struct channel_ops *ops, const struct inbound_channel *ch,
                 struct channel_batch *b, struct inbound_result *out);

/* The webhook routes: GET and POST /webhooks/{type}/{channel_id}. */
void inbound_webhook_verify(struct http_ctx *ctx, const struct http_request *req,
                            struct http_response *resp);
void inbound_webhook_receive(struct http_ctx *ctx, const struct http_request *req,
                             struct http_response *resp);

#endif
