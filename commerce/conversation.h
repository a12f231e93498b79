/*
 * conversation.h: rows that belong to a conversation, for the engine and the admin API: an
 * event in conversation_events, a reply in the outbox (with its message_sent event), and the
 * human handoff operations (a person writes to the shopper; the bot takes over again).
 * Every function runs in the caller's transaction with app.tenant_id set (pg_tx_run).
 */
#ifndef CCGW_CONVERSATION_H
#define CCGW_CONVERSATION_H

#include <jansson.h>
#include <libpq-fe.h>

#define CONV_WUR __attribute__((warn_unused_result))

#define CONV_ERR_DB        (-1)
#define CONV_ERR_NOT_FOUND (-20) /* no such conversation for this tenant: 404 */
#define CONV_ERR_INVALID   (-21) /* empty or over-long text: 400 */

/* Appends an event; payload is borrowed (NULL = {}). 0 or CONV_ERR_DB. */
int conv_event_add(PGconn *conn, const char *tenant_id, const char *conversation_id,
                   const char *event_type, const json_t *payload) CONV_WUR;

/* Appends events in their order: events is [{"type", "payload"}] (borrowed). */
int conv_events_add(PGconn *conn, const char *tenant_id, const char *conversation_id,
                    const json_t *events) CONV_WUR;

/* The end of an engine turn in one statement: its events (may be NULL), its reply (reply_js,
 * JSON, or NULL for none: an outbox row of kind 'reply') and the conversation's new state. */
struct conv_turn_write {
	const char *tenant_id, *conversation_id;
	const json_t *events;
	const char *channel_id, *recipient, *reply_to, *reply_js;
	const char *state, *lang;
	const json_t *context, *offered;
	int misunderstandings, handoff;
	int parked; /* the channel delivers locally (web chat, console): the reply is written parked
	             * (next_attempt_at 'infinity', as outbox_park_local would make it) */
	int at_commit; /* sent with the transaction's COMMIT when the runner allows it (pg_defer):
	                * nothing after it in the transaction may need its rows */
};
int conv_turn_write(PGconn *conn, const struct conv_turn_write *w) CONV_WUR;
/* The conversation's UPDATE of conv_turn_write, for a statement that writes the turn's end
 * with more (engine_place.c): $1 tenant, $7 the reply (JSON) or NULL, $8 state, $9 context,
 * $10 offered, $11 lang, $12 misunderstandings, $13 handoff; the caller adds FROM and WHERE
 * (the conversation is $2). */
#define CONV_TURN_UPDATE_SET                                                                       \
	"UPDATE conversations SET state = $8, context = $9::jsonb, offered = $10::jsonb,"          \
	" lang = $11, misunderstandings = $12::int, handoff = $13::boolean,"                       \
	" last_inbound_at = now(),"                                                                \
	" handoff_at = CASE WHEN $13::boolean THEN COALESCE(handoff_at, now()) END,"               \
	" last_message_at = CASE WHEN $7::jsonb IS NOT NULL THEN now() ELSE last_message_at END"

/* Writes one normalized reply (borrowed) as an outbox row of kind 'reply' for the
 * conversation. reply_to may be NULL. outbox_id (37 bytes) may be NULL. 0 or CONV_ERR_DB.
 * message_sent is recorded by whoever delivers the row (the dispatcher, the console). */
int conv_reply_add(PGconn *conn, const char *tenant_id, const char *conversation_id,
                   const char *channel_id, const char *recipient, const char *reply_to,
                   const json_t *reply, char *outbox_id) CONV_WUR;

/* Hands a conversation in handoff back to the bot: state 'menu', handoff false, event
 * handoff_released, and a reply telling the shopper. 0, CONV_ERR_NOT_FOUND or CONV_ERR_DB. */
int conversation_release(PGconn *conn, const char *conversation_id) CONV_WUR;

/* A person on the seller's side writes text to the shopper: an outbox reply on the
 * conversation's channel; the conversation stays (or goes) in handoff so the bot keeps
 * quiet until released. 0, CONV_ERR_NOT_FOUND, CONV_ERR_INVALID or CONV_ERR_DB. */
int conversation_agent_message(PGconn *conn, const char *conversation_id,
                               const char *text) CONV_WUR;

#endif
