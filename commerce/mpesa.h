/*
 * mpesa.h: reading M-Pesa payment references from a shopper's chat text: a pasted M-Pesa
 * confirmation SMS ("QGH7XK2M1P Confirmed. Ksh1,250.00 sent to HONEY SHOP for account 1042
 * on 6/12/26 at 1:05 PM ...", the paybill, till ("paid to") and "You have received" forms and
 * their Swahili) or a bare transaction code (ten capital letters and digits). Pure: no I/O.
 */
#ifndef CCGW_MPESA_H
#define CCGW_MPESA_H

#include <stddef.h>

#define MPESA_CODE_LEN 10

enum mpesa_kind {
	MPESA_NONE = 0,  /* no code in the text */
	MPESA_CODE,      /* a bare code ("QGH7XK2M1P", "code QGH7XK2M1P") */
	MPESA_SENT,      /* "... sent to NAME [for account X]" (paybill / send money) */
	MPESA_PAID,      /* "... paid to NAME" (till / buy goods) */
	MPESA_RECEIVED,  /* "You have received ... from NAME" */
	MPESA_CONFIRMED, /* "Confirmed." with a code but neither of the above */
};

struct mpesa_ref {
	enum mpesa_kind kind;
	char code[MPESA_CODE_LEN + 1]; /* "" when none */
	long long amount_minor;        /* the first amount after the code, in cents; -1 none */
	char party[64];                /* who was paid (or paid), as written; "" when none */
	char account[32];              /* "for account X" of a paybill payment; "" when none */
};

/*
 * Reads text (NUL-terminated). Returns 1 when a code was found (*out filled), else 0. A code
 * is a word of exactly ten capital letters and digits with at least two letters and one
 * digit that starts with a letter (so "CONFIRMED." or a phone number are not codes). A
 * confirmation (kind above MPESA_CODE) needs "Confirmed" or "Imethibitishwa" after the code.
 */
int mpesa_parse(const char *text, struct mpesa_ref *out);

/* 1 when s (any case) is a well-formed code as above, 0 otherwise. */
int mpesa_code_valid(const char *s);

/* Whether the text says the shopper has paid ("I have paid", "nimelipa", "nimetuma pesa"):
 * 2 in Swahili, 1 in English, 0 not. */
int mpesa_says_paid(const char *text);

#endif
