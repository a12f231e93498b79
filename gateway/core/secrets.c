/*
 * secrets.c: AES-256-GCM sealing of stored secrets with the tenant id as associated data.
 */
#include "secrets.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SEAL_VERSION 1
#define SEAL_NONCE 12
#define SEAL_TAG 16

int secrets_key_parse(const char *hex, unsigned char key[32])
{
	if (!hex || strlen(hex) != 64)
		return -1;
	return util_hex_decode(hex, key, 32) == 32 ? 0 : -1;
}

int secrets_seal(const unsigned char key[32], const char *tenant_id, const void *plain,
		 size_t len, unsigned char **out, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	int n, rc = -1;
	size_t total = 1 + SEAL_NONCE + len + SEAL_TAG;

	buf = malloc(total);
	if (!buf)
		goto out;
	buf[0] = SEAL_VERSION;
	if (util_random_bytes(buf + 1, SEAL_NONCE) < 0)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf + 1) != 1)
		goto out;
	if (EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)tenant_id,
			      (int)strlen(tenant_id)) != 1)
		goto out;
	if (EVP_EncryptUpdate(ctx, buf + 1 + SEAL_NONCE, &n, plain, (int)len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, buf + 1 + SEAL_NONCE + n, &n) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, buf + 1 + SEAL_NONCE + len) != 1)
		goto out;
	*out = buf;
	*outlen = total;
	buf = NULL;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(buf);
	return rc;
}

int secrets_open(const unsigned char key[32], const char *tenant_id, const unsigned char *sealed,
		 size_t len, char **out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	char *plain = NULL;
	size_t clen;
	int n, rc = -1;

	if (len < 1 + SEAL_NONCE + SEAL_TAG || sealed[0] != SEAL_VERSION)
		return -1;
	clen = len - 1 - SEAL_NONCE - SEAL_TAG;
	plain = malloc(clen + 1);
	if (!plain)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, sealed + 1) != 1)
		goto out;
	if (EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)tenant_id,
			      (int)strlen(tenant_id)) != 1)
		goto out;
	if (EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n, sealed + 1 + SEAL_NONCE, (int)clen) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG,
				(void *)(sealed + 1 + SEAL_NONCE + clen)) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + n, &n) != 1)
		goto out;
	plain[clen] = '\0';
	*out = plain;
	plain = NULL;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (plain) {
		OPENSSL_cleanse(plain, clen);
		free(plain);
	}
	return rc;
}

char *secrets_bytea_encode(const unsigned char *data, size_t len)
{
	char *s = malloc(2 * len + 3);

	if (!s)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	util_hex_encode(data, len, s + 2);
	return s;
}

int secrets_bytea_decode(const char *text, unsigned char **out, size_t *outlen)
{
	size_t n;
	unsigned char *buf;
	long got;

	if (!text || strncmp(text, "\\x", 2) != 0)
		return -1;
	n = strlen(text + 2) / 2;
	buf = malloc(n ? n : 1);
	if (!buf)
		return -1;
	got = util_hex_decode(text + 2, buf, n);
	if (got < 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = (size_t)got;
	return 0;
}
