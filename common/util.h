/*
 * util.h: small helpers every folder uses: hex encoding, HMAC-SHA256 and SHA-256, constant-time
 * comparison of secrets, random bytes and tokens, UUID v4 strings, and a growing string buffer.
 */
#ifndef CCGW_UTIL_H
#define CCGW_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define UTIL_WUR __attribute__((warn_unused_result))

/* Writes 2*len lowercase hex characters and a NUL into out (2*len+1 bytes). */
void util_hex_encode(const unsigned char *in, size_t len, char *out);
/* Decodes hex into out (outlen bytes); returns bytes written or -1 on bad input. */
/* The value of one hex digit (0-9, a-f, A-F), or -1. */
int util_hex_digit(char c);
long util_hex_decode(const char *hex, unsigned char *out, size_t outlen) UTIL_WUR;

/* HMAC-SHA256 of data with key, as 64 hex characters and a NUL in out[65]. */
void util_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
			  char out[65]);
/* SHA-256 as 64 hex characters and a NUL. */
void util_sha256_hex(const void *data, size_t len, char out[65]);

/* Constant-time equality of two byte strings; lengths may differ (then false, still
 * without an early exit on content). Returns 1 when equal. */
int util_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* The same for NUL-terminated strings; NULL never equals anything. */
int util_ct_streq(const char *a, const char *b);

/* Fills buf with cryptographically strong random bytes; 0 or -1. */
int util_random_bytes(void *buf, size_t len) UTIL_WUR;
/* A URL-safe random token of nbytes of randomness (base64url, no padding) into out
 * (outlen >= 4*nbytes/3+2). 0 or -1. */
int util_random_token(size_t nbytes, char *out, size_t outlen) UTIL_WUR;
/* A new random UUID (v4), 36 characters and a NUL. */
void util_uuid_new(char out[37]);
/* 1 when s is a well-formed UUID (any version, either case). */
int util_uuid_valid(const char *s);

/* Monotonic clock in milliseconds and microseconds. */
int64_t util_now_ms(void);
int64_t util_now_us(void);

/* A growing NUL-terminated buffer. */
struct sbuf {
	char *data;
	size_t len, cap;
	int failed; /* set once an allocation failed; further appends are ignored */
};
void sbuf_init(struct sbuf *b);
void sbuf_free(struct sbuf *b);
void sbuf_append(struct sbuf *b, const void *data, size_t len);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the buffer over (caller frees); NULL when an allocation had failed. */
char *sbuf_take(struct sbuf *b) UTIL_WUR;

#endif
