/*
 * trust.h: trust and safety (docs/TRUST.md): the behavior patterns a tenant tunes (flooding,
 * abusive_language, unpaid_orders, order_burst), their detection where it cannot be skipped
 * (in the engine's turn for messages, at order changes for orders), the violations and
 * evidence a detection writes, the actions a violation takes (flag, throttle, block), and
 * the seller's answers to complaints and violations. Every function runs in the caller's
 * transaction with app.tenant_id set (pg_tx_run); nothing here commits.
 */
#ifndef CCGW_TRUST_H
#define CCGW_TRUST_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#define TRUST_WUR __attribute__((warn_unused_result))

#define TRUST_ERR_DB        (-1)
#define TRUST_ERR_NOT_FOUND (-60) /* no such complaint or violation for this tenant: 404 */
#define TRUST_ERR_FINAL     (-61) /* the lifecycle does not allow this change: 409 */

#define TRUST_SILENT 1 /* trust_turn_begin: record the message, no reply, no state change */

struct turn; /* engine_internal.h */

/*
 * The engine's hooks (engine.c, engine_place.c, engine_orders.c), inside the turn.
 * trust_turn_begin counts the shopper's message (flooding) and reads it for abusive words,
 * writes a detection when a pattern fires, and applies the shopper's live violations: 0 to
 * handle the message (a throttled shopper's answer then starts with a polite note),
 * TRUST_SILENT when the shopper is blocked or throttled within the interval, -1 on a
 * database error. trust_turn_order_placed checks order_burst after an order was placed;
 * trust_turn_complaint records the evidence of a complaint just filed (the shopper's message
 * that carried text, and the complaint_filed event). 0 or -1.
 * trust_turn_order_burst_due, before an order is placed: 1 when one more order of the turn's
 * customer now would make order_burst fire (so trust_turn_order_placed will write a
 * detection, which needs the order's rows and event first), 0 when not, -1 on error.
 */
int trust_turn_begin(struct turn *t) TRUST_WUR;
int trust_turn_order_placed(struct turn *t, const char *order_id) TRUST_WUR;
int trust_turn_order_burst_due(struct turn *t) TRUST_WUR;
int trust_turn_complaint(struct turn *t, const char *complaint_id, const char *text) TRUST_WUR;

/* An order's status changed (order_status.c, the engine's and the seller's): checks
 * unpaid_orders when it became cancelled or returned. 0 or -1. */
int trust_order_changed(PGconn *conn, const char *tenant_id, const char *order_id,
                        const char *status) TRUST_WUR;

/*
 * The abusive words and phrases (commerce/lexicon/abuse_<lang>.tsv, or the folder in
 * CCGW_ABUSE_DIR), loaded once. 1 when text holds one (whole words, any case, accents
 * ignored), with the phrase and its language copied out (either may be NULL); else 0.
 */
int trust_abuse_find(const char *text, char *phrase, size_t phrase_len, char lang[3]);
/* How many phrases were loaded (0 when the files could not be read: logged once). */
size_t trust_abuse_count(void);

/* The seller's side (gateway/admin/admin_trust.c). */

/* A pattern's definition checked whole: threshold, window_seconds, action, severity and
 * interval_seconds (throttle), no other keys. 0, or -1 with field ("definition.threshold")
 * and a message a person can act on. */
int trust_definition_check(const json_t *def, char *field, size_t field_len, char *msg,
                           size_t msg_len);
/* "more than 20 messages from one shopper in 60 s" (heap), NULL when out of memory. */
char *trust_pattern_describe(const char *name, const json_t *def);

/* Complaint id: status "in_review" | "resolved" | "rejected" and the seller's resolution
 * (may be NULL). A change records complaint_updated in the complaint's conversation, tells
 * the shopper on their channel in their language and notifies complaint.updated. The same
 * status again only updates the resolution. 0, TRUST_ERR_NOT_FOUND, TRUST_ERR_FINAL (a
 * resolved or rejected complaint) or TRUST_ERR_DB. */
int trust_complaint_update(PGconn *conn, const char *tenant_id, const char *complaint_id,
                           const char *status, const char *resolution) TRUST_WUR;

/* Violation id: status "confirmed" | "dismissed". Dismissing lifts its action at once (and
 * starts the customer's counters of that pattern afresh). 0, TRUST_ERR_NOT_FOUND,
 * TRUST_ERR_FINAL (a dismissed violation) or TRUST_ERR_DB. */
int trust_violation_update(PGconn *conn, const char *tenant_id, const char *violation_id,
                           const char *status) TRUST_WUR;

#endif
