/*
 * nlp_text_internal.h: tokens of normalized text. The tokenizer splits the output of
 * nlp_normalize() into words, numbers and symbols (emoji), recording a '#', '+' or '-'
 * written right before a token. Tokens borrow the normalized buffer; nothing is allocated.
 */
#ifndef CCGW_NLP_TEXT_INTERNAL_H
#define CCGW_NLP_TEXT_INTERNAL_H

#include <stddef.h>

#define NLP_TOKENS_MAX 96

enum nlp_tok_type {
	NLP_TOK_WORD = 0, /* letters, or letters and digits ("x2", "500g") */
	NLP_TOK_NUM,      /* ASCII digits only */
	NLP_TOK_SYM       /* one symbol or emoji code point */
};

struct nlp_token {
	const char *s; /* borrowed from the normalized text, not NUL-terminated */
	unsigned short len;
	unsigned char type;
	char prefix; /* '#', '+', '-' written right before the token, else 0 */
};

/* Splits normalized text (len bytes) into at most max tokens; returns how many. */
size_t nlp_text_tokenize(const char *norm, size_t len, struct nlp_token *toks, size_t max);

/* True when the code point is a letter or digit of any script. */
int nlp_text_is_alnum(int cp);

#endif
