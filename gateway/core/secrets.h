/*
 * secrets.h: sealing of stored secrets (channel tokens, app secrets, webhook target secrets)
 * with AES-256-GCM (OpenSSL EVP) under the key from CCGW_SECRET_KEY, so a database dump alone
 * does not leak them. A sealed value is: 1 version byte, 12-byte nonce, ciphertext, 16-byte
 * tag; the tenant id is bound as associated data, so a value copied to another tenant's row
 * does not open.
 */
#ifndef CCGW_SECRETS_H
#define CCGW_SECRETS_H

#include <stddef.h>

/* Parses 64 hex characters into key[32]; 0 or -1. */
int secrets_key_parse(const char *hex, unsigned char key[32]) __attribute__((warn_unused_result));

/* Seals plain (len bytes) into a heap buffer *out of *outlen bytes; 0 or -1. */
int secrets_seal(const unsigned char key[32], const char *tenant_id, const void *plain,
		 size_t len, unsigned char **out, size_t *outlen) __attribute__((warn_unused_result));
/* Opens a sealed value into a heap NUL-terminated string *out; -1 when it does not
 * authenticate (wrong key, wrong tenant, tampered). */
int secrets_open(const unsigned char key[32], const char *tenant_id, const unsigned char *sealed,
		 size_t len, char **out) __attribute__((warn_unused_result));

/* PostgreSQL bytea text form ("\\x...") <-> bytes, for parameters and results. */
char *secrets_bytea_encode(const unsigned char *data, size_t len) __attribute__((warn_unused_result));
int secrets_bytea_decode(const char *text, unsigned char **out, size_t *outlen)
	__attribute__((warn_unused_result));

#endif
