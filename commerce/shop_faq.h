/*
 * shop_faq.h: which question a shopper asks about the shop: one of the built-in topics
 * answered from the settings (delivery to a place, delivery fee, delivery time, opening
 * hours, payment, returns) read from the words of the text, or one of the seller's own
 * questions (table faqs) whose example phrasings are close to it. Pure: no database.
 */
#ifndef CCGW_SHOP_FAQ_H
#define CCGW_SHOP_FAQ_H

#include <jansson.h>
#include <stddef.h>

/* The topics, as nlp.h names them in nlp_reading.topic. */
#define FAQ_TOPIC_DELIVERY      "delivery"
#define FAQ_TOPIC_DELIVERY_FEE  "delivery_fee"
#define FAQ_TOPIC_DELIVERY_TIME "delivery_time"
#define FAQ_TOPIC_HOURS         "hours"
#define FAQ_TOPIC_PAYMENT       "payment"
#define FAQ_TOPIC_RETURNS       "returns"

/* A seller's question counts when one of its phrasings (examples and the question itself)
 * scores at least this much against the text. */
#define FAQ_MATCH_MIN 0.7

/*
 * The built-in topic a text asks about, or NULL. place (placelen bytes) receives the words
 * after "to" / "in" / "hadi" / "mpaka" / "kwa" in a delivery question ("mombasa" in "do you
 * deliver to Mombasa?"), "" when none. strict: the text must also read as a question (a
 * question mark or a question word), for steps where a plain answer is expected (a name,
 * an address).
 */
const char *faq_topic(const char *text, int strict, char *place, size_t placelen);

/* The seller's question (index into faqs, the settings' array) closest to text, or -1 when
 * none scores FAQ_MATCH_MIN; *score receives the best score. */
int faq_best(const json_t *faqs, const char *text, double *score);

/* Reads each question's phrasings into its words once ("_phrases"), so faq_best does not
 * normalize them again for every message (the settings cache keeps the result). */
void faq_prepare(json_t *faqs);

#endif
