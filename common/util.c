/*
 * util.c: the helpers declared in util.h, on OpenSSL libcrypto and libuuid.
 */
#include "util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

void util_hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int util_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long util_hex_decode(const char *hex, unsigned char *out, size_t outlen)
{
	size_t n = strlen(hex), i;

	if (n % 2 || n / 2 > outlen)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = util_hex_digit(hex[2 * i]), lo = util_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

void util_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
			  char out[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, mac, &maclen)) {
		out[0] = '\0';
		return;
	}
	util_hex_encode(mac, maclen, out);
}

void util_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	util_hex_encode(md, sizeof(md), out);
}

int util_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const unsigned char *pa = a, *pb = b;
	unsigned char diff = (unsigned char)(alen != blen);
	size_t i;

	/* compare over the length of b so timing tells nothing about a's content */
	for (i = 0; i < blen; i++)
		diff |= (unsigned char)(pb[i] ^ (i < alen ? pa[i] : 0));
	return diff == 0;
}

int util_ct_streq(const char *a, const char *b)
{
	if (!a || !b)
		return 0;
	return util_ct_equal(a, strlen(a), b, strlen(b));
}

int util_random_bytes(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

int util_random_token(size_t nbytes, char *out, size_t outlen)
{
	unsigned char raw[128];
	unsigned char b64[200];
	int n, i, j = 0;

	if (nbytes > sizeof(raw) || outlen < (nbytes * 4) / 3 + 3)
		return -1;
	if (util_random_bytes(raw, nbytes) < 0)
		return -1;
	n = EVP_EncodeBlock(b64, raw, (int)nbytes);
	for (i = 0; i < n; i++) {
		char c = (char)b64[i];
		if (c == '=')
			break;
		out[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out[j] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

void util_uuid_new(char out[37])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

int util_uuid_valid(const char *s)
{
	uuid_t u;

	if (!s || strlen(s) != 36)
		return 0;
	return uuid_parse(s, u) == 0;
}

int64_t util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t util_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sbuf_init(struct sbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void sbuf_free(struct sbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static int sbuf_reserve(struct sbuf *b, size_t extra)
{
	size_t want;
	char *p;

	if (b->failed)
		return -1;
	if (b->len + extra + 1 <= b->cap)
		return 0;
	want = b->cap ? b->cap : 256;
	while (want < b->len + extra + 1)
		want *= 2;
	p = realloc(b->data, want);
	if (!p) {
		b->failed = 1;
		return -1;
	}
	b->data = p;
	b->cap = want;
	return 0;
}

void sbuf_append(struct sbuf *b, const void *data, size_t len)
{
	if (sbuf_reserve(b, len) < 0)
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_append(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sbuf_reserve(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *sbuf_take(struct sbuf *b)
{
	char *p;

	if (b->failed) {
		sbuf_free(b);
		return NULL;
	}
	if (!b->data) {
		p = calloc(1, 1);
	} else {
		p = b->data;
	}
	memset(b, 0, sizeof(*b));
	return p;
}
