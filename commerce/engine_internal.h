/*
 * engine_internal.h: what the engine's files share: one turn (the handling of one inbound
 * message: the conversation row, the reading, the reply being built) and the actions the
 * state machine table (engine_fsm.c) points at, implemented in engine_shop.c (browse,
 * search, cart), engine_checkout.c (checkout), engine_place.c (placing the order) and
 * engine_orders.c (my orders, cancellation, complaints, handoff, seller buttons).
 */
#ifndef CCGW_ENGINE_INTERNAL_H
#define CCGW_ENGINE_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>

#include "engine.h"
#include "log.h"
#include "message.h"
#include "nlp.h"
#include "shop_settings.h"
#include "util.h"

#define ENGINE_TEXT_MAX   2000               /* longer texts get "please keep it short" */
#define ENGINE_TEXT_KEEP  16384              /* bytes of a text kept in its event (for a person) */
#define ENGINE_LINES_MAX  100                /* lines of a catalog order taken */
#define ENGINE_MONEY_MAX  1000000000000000LL /* the largest order total, in minor units */
#define ENGINE_PAGE_SIZE  8                  /* products per page (plus "more" and "back" rows) */
#define ENGINE_RECENT_MAX 60                 /* payloads remembered for taps on older messages */
#define ENGINE_IDLE_RESET (24 * 3600)        /* seconds before a checkout starts over */

struct engine {
	const struct nlp *nlp;
	int wake_local; /* engine_set_wake_local */
	int push_local; /* engine_set_push_local */
};

/* One inbound message being handled. */
struct turn {
	struct engine *e;
	PGconn *conn;
	const struct msg_inbound *m; /* cleaned copy: valid UTF-8, bounded */
	const char *tenant;
	struct log_ctx log;
	struct engine_result *res;
	struct shop_settings shop;

	/* the conversation row, locked */
	char conv_id[MSG_UUID_LEN];
	char customer_id[MSG_UUID_LEN];
	char state[32];  /* on entry */
	char next[32];   /* after this turn */
	json_t *ctx;     /* context, owned, changed in place */
	json_t *offered; /* payloads offered by the previous turn, owned */
	char lang[3];
	int sw; /* 1 when replying in Swahili */
	int misunderstandings;
	int created;       /* the conversation was created by this message */
	long idle_seconds; /* since the previous inbound message; -1 for none */
	long handoff_seconds; /* since the conversation was handed to a person; -1 for none */
	int agent_replied;    /* a person wrote in it since then */

	/* the reading of a text message */
	const char *text; /* the cleaned text, "" for none */
	struct nlp_reading rd;
	int parsed;
	int confused; /* this message was not understood */

	/* the reply being built: one message per turn, choices attached to it */
	struct sbuf out;
	json_t *buttons;
	json_t *rows;
	json_t *card;
	char list_button[32];
	char list_title[64];
	int keep_offered; /* nothing new was offered: keep the previous choices */
	int replace;      /* the reply replaces the message pressed (message.h "replace") */

	/* written at the end of the turn, in one statement with the conversation (engine.c) */
	json_t *events; /* [{"type", "payload"}], in order; NULL for none yet */
	char *reply_js; /* the reply for the outbox (JSON), or NULL */
	int customer_known; /* the customer's name and phone are both on file already */
	char tenant_version[16]; /* the tenant row's version (xmin) read with the conversation */

	/* the order this turn places in its writing statement (engine_place.c), or NULL */
	struct turn_order *order;
	int res_local; /* res is engine_handle's own (the caller gave none): nothing after it */

	/* a question about the shop read in this text (engine_questions.c): the seller's
	 * question (index into shop.faqs, -1 none) or a built-in topic ("" none) */
	int q_faq;
	char q_topic[NLP_TOPIC_MAX];
	char q_place[NLP_PLACE_MAX];
};

#define TR(t, en, sw_text) ((t)->sw ? (sw_text) : (en))

/* Reply building (engine_reply.c). Texts are templates with %s filled from the arguments. */
void turn_say(struct turn *t, const char *en, const char *sw);
void turn_say_args(struct turn *t, const char *en, const char *sw, const char *const *args,
                   size_t nargs);
#define turn_sayf(t, en, sw, ...)                                                                  \
	turn_say_args((t), (en), (sw), (const char *const[]){__VA_ARGS__},                         \
	              sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
/* The same on a new line of the current paragraph instead of a new paragraph. */
void turn_line_args(struct turn *t, const char *en, const char *sw, const char *const *args,
                    size_t nargs);
#define turn_linef(t, en, sw, ...)                                                                 \
	turn_line_args((t), (en), (sw), (const char *const[]){__VA_ARGS__},                        \
	               sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
void turn_button(struct turn *t, const char *title, const char *payload);
void turn_row(struct turn *t, const char *title, const char *description, const char *payload);
void turn_list(struct turn *t, const char *button, const char *section_title);
void turn_card(struct turn *t, const char *title, const char *subtitle, long long price_minor,
               const char *currency, const char *image_url);
/* Builds the reply (when there is one) for the outbox and sets t->offered for next time; the
 * end of the turn writes it. */
int turn_reply_flush(struct turn *t) __attribute__((warn_unused_result));
/* 1 when payload was among the choices offered by the previous turn. */
int turn_offered_has(const struct turn *t, const char *payload);
/* The menu buttons every "what next" reply ends with. */
void turn_menu_buttons(struct turn *t);

/* Context helpers: strings and integers under ctx[key]. */
const char *turn_ctx_str(const struct turn *t, const char *key);
long turn_ctx_int(const struct turn *t, const char *key, long def);
void turn_ctx_set_str(struct turn *t, const char *key, const char *value);
void turn_ctx_set_int(struct turn *t, const char *key, long value);
void turn_ctx_del(struct turn *t, const char *key);
/* The checkout draft: ctx.ck.{name,address,phone,payment}. */
json_t *turn_checkout(struct turn *t);

/* Records an event of the turn's conversation; the turn's events are written in order at its
 * end, or earlier by turn_events_flush. payload may be NULL ({}). */
int turn_event(struct turn *t, const char *type, json_t *payload_steal)
    __attribute__((warn_unused_result));
/* Writes the events recorded so far now: before code that writes events of its own (an order
 * status change), so that conversation_events.seq stays in the order things happened. */
int turn_events_flush(struct turn *t) __attribute__((warn_unused_result));
void turn_set_state(struct turn *t, const char *state);

/* Whether the turn's writing statement (its events, reply and conversation: conv_turn_write,
 * or an order's engine_order_write) may go with the transaction's COMMIT (pg_defer, one round
 * trip less): when nothing after the turn in the same transaction reads its rows. Not for the
 * channels delivered in the same transaction (web chat, the console: their after-turn step
 * reads the reply row), nor when the caller gave no result to fill. */
int engine_write_at_commit(const struct turn *t);

/* Money in the shop's currency. */
void turn_money(const struct turn *t, long long minor, char *out, size_t len);

/* The state table (engine_fsm.c). */
enum nlp_expect engine_state_expect(const char *state);
int engine_fsm_run(struct turn *t) __attribute__((warn_unused_result));

/* Actions. Each returns 0 or a negative database error; arg is the payload after its prefix
 * (or NULL when reached from text). */
typedef int (*engine_action_fn)(struct turn *t, const char *arg);

int act_menu(struct turn *t, const char *arg);
int act_greet(struct turn *t, const char *arg);
int act_categories(struct turn *t, const char *arg);
int act_category(struct turn *t, const char *arg);
int act_more(struct turn *t, const char *arg);
int act_product(struct turn *t, const char *arg);
int act_product_sku(struct turn *t, const char *arg); /* "sku:<SKU>", storefront links */
int text_sku_link(struct turn *t, int *rc);           /* "... (SKU: <SKU>)" texts */
int act_add(struct turn *t, const char *arg);
int act_cart(struct turn *t, const char *arg);
int act_cart_edit(struct turn *t, const char *arg);
int act_cart_line(struct turn *t, const char *arg);
int act_remove(struct turn *t, const char *arg);
int act_clear(struct turn *t, const char *arg);
int act_search_prompt(struct turn *t, const char *arg);
int act_start_over(struct turn *t, const char *arg);
int act_thanks(struct turn *t, const char *arg);

int act_checkout(struct turn *t, const char *arg);
int act_name_use(struct turn *t, const char *arg);
int act_address_saved(struct turn *t, const char *arg);
int act_phone_use(struct turn *t, const char *arg);
int act_pay(struct turn *t, const char *arg);
int act_ck_yes(struct turn *t, const char *arg);
int act_ck_no(struct turn *t, const char *arg);

int act_orders(struct turn *t, const char *arg);
int act_order_show(struct turn *t, const char *arg);
int act_order_cancel(struct turn *t, const char *arg);
int act_complaint_about(struct turn *t, const char *arg);
int act_human(struct turn *t, const char *arg);
int act_seller_order(struct turn *t, const char *arg);
int act_seller_release(struct turn *t, const char *arg);
int act_yes(struct turn *t, const char *arg);
int act_no(struct turn *t, const char *arg);

/* Text handlers for states that wait for something particular (NULL arg). */
int st_product_text(struct turn *t);
int st_cart_line_text(struct turn *t);
int st_search_text(struct turn *t);
int st_ck_name_text(struct turn *t);
int st_ck_address_text(struct turn *t);
int st_ck_phone_text(struct turn *t);
int st_ck_payment_text(struct turn *t);
int st_ck_confirm_text(struct turn *t);
int st_order_cancel_text(struct turn *t);
int st_complaint_text(struct turn *t);

/* Intent-level text actions used from several states (engine_shop.c / engine_orders.c). */
int text_search(struct turn *t, const char *phrase, int quiet_when_none, int *found)
    __attribute__((warn_unused_result));
int text_add(struct turn *t);
int text_remove(struct turn *t);
int text_order_status(struct turn *t);
int text_cancel_order(struct turn *t);
int text_complaint(struct turn *t);

/* The product a payload or context names (engine_cart.c). */
struct engine_product {
	char id[MSG_UUID_LEN];
	char sku[65];
	char name[201];
	char description[301];
	char category[101];
	char currency[4];
	char image_url[301];
	long long price_minor;
	long stock;
};
/* 1 found (active, not deleted), 0 not found, -1 database error. */
int engine_product_load(struct turn *t, const char *id, struct engine_product *p)
    __attribute__((warn_unused_result));

/* The conversation's open cart: 1 and its id, 0 none (create = 0), -1 error. */
int engine_cart_id(struct turn *t, int create, char *cart_id) __attribute__((warn_unused_result));
/* Lines of a cart: product_id, name, quantity, price_minor, stock, sku, available ('t'/'f':
 * active, not deleted, priced in the shop's currency), currency, ordered by when they were
 * added. NULL on error. */
PGresult *engine_cart_lines(struct turn *t, const char *cart_id)
    __attribute__((warn_unused_result));
/* 1 (and a polite reply) when p is priced in another currency than the shop's: it cannot be
 * added to a cart whose totals are in the shop's currency. */
int engine_product_foreign(struct turn *t, const struct engine_product *p);
/* Money that cannot overflow: quantity x unit price, and a sum, each saturating at
 * ENGINE_MONEY_MAX + 1 (amounts are >= 0; a seller may price a product up to 10^15). */
long long engine_money_line(long long quantity, long long price);
long long engine_money_add(long long a, long long b);
/* Appends "2 x Name: KES 1,700" lines to the reply; returns the subtotal. */
long long engine_cart_describe(struct turn *t, const PGresult *lines);
/* The available lines' subtotal, saturating at ENGINE_MONEY_MAX + 1. */
long long engine_cart_subtotal(const PGresult *lines);
/* Sets a line's quantity (0 removes it) and records cart_item_added / cart_item_removed. */
int engine_cart_set(struct turn *t, const char *cart_id, const struct engine_product *p,
                    long quantity, long previous) __attribute__((warn_unused_result));
/* The quantity of a product in the cart now (0 when none), -1 on error. */
long engine_cart_quantity(struct turn *t, const char *cart_id, const char *product_id);
/* Adds quantity of product (stock and 1..999 checked, the shopper told) and shows the cart. */
int engine_cart_add(struct turn *t, const struct engine_product *p, long quantity)
    __attribute__((warn_unused_result));

/* Shared helpers. */
int engine_catalog_order(struct turn *t) __attribute__((warn_unused_result));
int engine_checkout_next(struct turn *t) __attribute__((warn_unused_result));
/* Places the order of the cart cart_id from its lines (engine_cart_lines, every one available,
 * the total checked) and the draft ctx.ck, and replies (engine_place.c). 0 placed, or not
 * placed because a line ran short (the shopper told, the cart kept); -1 database error. */
int engine_order_place(struct turn *t, const char *cart_id, PGresult *lines)
    __attribute__((warn_unused_result));
/* When engine_order_place left the order to the turn's end (t->order): the turn's writing
 * statement, conv_turn_write's (w) with the order's stock, number and rows, its event, and the
 * reply and the seller's notifications that name its number, all in one statement. 0 or -1
 * (a line that ran short since: -1 with SQLSTATE 40001, so the transaction runs again). */
struct conv_turn_write;
int engine_order_write(struct turn *t, const struct conv_turn_write *w)
    __attribute__((warn_unused_result));
void engine_order_free(struct turn_order *o);
int engine_location(struct turn *t) __attribute__((warn_unused_result));
int engine_contact(struct turn *t) __attribute__((warn_unused_result));

/* Issue 16 (engine_questions.c): questions about the shop, and delivery zones at checkout. */
/* Reads whether the text asks a question about the shop into t->q_faq / q_topic / q_place. */
void engine_question_read(struct turn *t);
/* Answers the question read (the seller's answer or one from the settings), then asks a
 * checkout step in progress again. */
int engine_question_answer(struct turn *t) __attribute__((warn_unused_result));
/* The draft's delivery fee: its zone's, 0 for pick-up, else the shop's flat fee. */
long engine_delivery_fee(struct turn *t);
/* With zones: matches the draft's address to one. 0 matched (or no zones), 1 asked the
 * shopper (pick a zone, or another address), -1 error. */
int engine_zone_step(struct turn *t) __attribute__((warn_unused_result));
/* line 0: 1 (and the reply) when the zone's minimum order is not met, else 0; line 1: the
 * summary's delivery area line. */
int engine_zone_summary(struct turn *t, long long subtotal, int line);
int act_zone(struct turn *t, const char *arg);
int act_pickup(struct turn *t, const char *arg);
int st_ck_zone_text(struct turn *t);

/* M-Pesa references (engine_payment.c): a pasted confirmation or a code for the shopper's
 * M-Pesa order awaiting payment. 1 handled (replied), 0 not about a payment, -1 error. */
int engine_payment_text(struct turn *t) __attribute__((warn_unused_result));
/* The seller's Paid / Not found buttons under an order.payment_claimed notification. */
int act_seller_payment(struct turn *t, const char *arg);

#endif
