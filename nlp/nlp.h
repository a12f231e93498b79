/*
 * nlp.h: the public face of nlp/. Text in, reading out: intent, confidence, entities
 * (quantity, product phrase, order number, phone, payment method, yes/no) and language.
 * Pure C: no database, no I/O after nlp_new() has loaded the lexicon files, no global
 * mutable state. One struct nlp is read-only after loading and safe to share across threads.
 */
#ifndef CCGW_NLP_H
#define CCGW_NLP_H

#include <stddef.h>

#define NLP_WARN_UNUSED __attribute__((warn_unused_result))

enum nlp_intent {
	NLP_INTENT_UNKNOWN = 0,
	NLP_INTENT_GREET,
	NLP_INTENT_HELP,
	NLP_INTENT_BROWSE,
	NLP_INTENT_SEARCH,
	NLP_INTENT_ADD_TO_CART,
	NLP_INTENT_REMOVE_FROM_CART,
	NLP_INTENT_VIEW_CART,
	NLP_INTENT_CLEAR_CART,
	NLP_INTENT_CHECKOUT,
	NLP_INTENT_CONFIRM,
	NLP_INTENT_DENY,
	NLP_INTENT_ORDER_STATUS,
	NLP_INTENT_CANCEL_ORDER,
	NLP_INTENT_HUMAN,
	NLP_INTENT_COMPLAINT,
	NLP_INTENT_THANKS,
	NLP_INTENT_QUESTION, /* a question about the shop: topic (and place) say which */
	NLP_INTENT_PAID,     /* "I have paid" / "nimelipa", or a pasted payment confirmation */
	NLP_INTENT_COUNT
};

/* What the conversation is waiting for: lets "2", "ok" or "mpesa" be read in context. */
enum nlp_expect {
	NLP_EXPECT_NONE = 0,
	NLP_EXPECT_QUANTITY,
	NLP_EXPECT_YES_NO,
	NLP_EXPECT_NAME,
	NLP_EXPECT_ADDRESS,
	NLP_EXPECT_PHONE,
	NLP_EXPECT_PAYMENT,
	NLP_EXPECT_CHOICE /* a number picks one of the offered choices */
};

enum nlp_yes_no { NLP_YN_NONE = 0, NLP_YN_YES, NLP_YN_NO };

enum nlp_quantity_state {
	NLP_QTY_NONE = 0, /* no quantity in the text */
	NLP_QTY_OK,       /* quantity holds 1..999 */
	NLP_QTY_INVALID   /* 0, negative or above 999: tell the shopper */
};

#define NLP_QTY_MAX 999
#define NLP_PRODUCT_MAX 128
#define NLP_PHONE_MAX 32
#define NLP_PAYMENT_MAX 32
#define NLP_TOPIC_MAX 24
#define NLP_PLACE_MAX 64
#define NLP_PAYREF_MAX 16
#define NLP_ALTS 2

struct nlp_reading {
	enum nlp_intent intent;
	double confidence; /* 0.0 .. 1.0 */
	char lang[3];      /* "en" or "sw" */
	enum nlp_quantity_state quantity_state;
	long quantity;     /* valid when quantity_state == NLP_QTY_OK; raw value when INVALID */
	long order_number; /* 0 when none */
	long choice;       /* a bare number given with NLP_EXPECT_CHOICE, else 0 */
	enum nlp_yes_no yes_no;
	char product[NLP_PRODUCT_MAX]; /* product phrase, normalized; "" when none */
	char phone[NLP_PHONE_MAX];     /* digits with optional leading '+'; "" when none */
	char payment[NLP_PAYMENT_MAX]; /* "cash_on_delivery", "mpesa", "bank_transfer" or "" */
	/* NLP_INTENT_QUESTION: what the question is about: "delivery" (do you deliver (to X)),
	 * "delivery_fee", "delivery_time", "hours", "payment", "returns" or "other" (then the
	 * engine looks among the seller's own questions); "" for other intents. */
	char topic[NLP_TOPIC_MAX];
	char place[NLP_PLACE_MAX];      /* "mombasa" in "do you deliver to Mombasa?"; "" when none */
	char payment_ref[NLP_PAYREF_MAX]; /* an M-Pesa-like transaction code (10 capital letters
	                                   * and digits) found in the text; "" when none */
	/* When the reading is unsure (low confidence), the two likeliest intents in order, with
	 * their calibrated probabilities; NLP_INTENT_UNKNOWN / 0.0 when there is no alternative.
	 * The engine asks "did you mean ...?" with them. */
	enum nlp_intent alt[NLP_ALTS];
	double alt_confidence[NLP_ALTS];
};

struct nlp;

/* Loads every lexicon file (*.tsv) from dir (NULL: the built-in CCGW_LEXICON_DIR or the
 * CCGW_LEXICON_DIR environment variable). On failure returns NULL and writes a message a
 * person can act on into err (errlen bytes). */
struct nlp *nlp_new(const char *dir, char *err, size_t errlen) NLP_WARN_UNUSED;
void nlp_free(struct nlp *nlp);

/* Reads text (len bytes, need not be NUL-terminated nor valid UTF-8). lang_hint may be NULL,
 * "en" or "sw". Fills *out; never fails: bad input reads as NLP_INTENT_UNKNOWN. Only the
 * first 2 KiB are read. No heap allocation (about 30 KB of stack).
 * A bare answer to what is expected reads as NLP_INTENT_UNKNOWN with the entity filled and
 * confidence 0.9: "2" with QUANTITY (quantity), "2" or "the second one" with CHOICE (choice),
 * "mpesa" with PAYMENT (payment). With YES_NO, "ok"/"sawa" read as CONFIRM. With NAME,
 * ADDRESS or PHONE the text reads as UNKNOWN (the answer itself) unless it is only a
 * command such as "menu" or "cancel". See docs/NLP.md. */
void nlp_parse(const struct nlp *nlp, const char *text, size_t len, const char *lang_hint,
	       enum nlp_expect expect, struct nlp_reading *out);

/* "add_to_cart" etc., as in the external contract. */
const char *nlp_intent_name(enum nlp_intent intent);

/* Product matching: ranks candidate names for a phrase (token and trigram similarity,
 * plural-insensitive, typo-tolerant). Writes up to max matches, best first, into out and
 * returns how many scored at least min_score (0.0 .. 1.0), at most max: the number written.
 * Equal scores keep the order of names[]. Two close scores: ask "did you mean ...". */
struct nlp_match {
	size_t index; /* index into names[] */
	double score; /* 0.0 .. 1.0 */
};
size_t nlp_match_products(const char *phrase, const char *const *names, size_t nnames,
			  double min_score, struct nlp_match *out, size_t max);

/* nlp_match_products() with the lexicon's product words: a phrase word also stands for its
 * synonyms ("asali" for "honey", "viatu" for "shoes" or "sandals", "majani ya chai" for
 * "tea") and for the singular its plural prefix rules give ("vikoi" for "kikoi"); each
 * name keeps the best reading. Scores never drop below the plain function's. nlp may be
 * NULL (then it is nlp_match_products). Allocates nothing. */
size_t nlp_match_products_nlp(const struct nlp *nlp, const char *phrase,
			      const char *const *names, size_t nnames, double min_score,
			      struct nlp_match *out, size_t max);

/* Normalizes text the way the parser sees it (NFKC, case fold, accents stripped, repeated
 * letters squeezed) into out (outlen bytes, always NUL-terminated). Returns the length. */
size_t nlp_normalize(const char *text, size_t len, char *out, size_t outlen);

#endif
