/*
 * channel_open.c: a channel's config and sealed secrets opened into one object, and wiped
 * when done with.
 */
#include "channel_open.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secrets.h"

static void text_wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

char *secret_open_text(const unsigned char *key, const char *tenant_id,
                       const unsigned char *sealed, size_t len, char *err, size_t errlen)
{
	char *plain = NULL;

	if (!key) {
		snprintf(err, errlen, "CCGW_SECRET_KEY is not set: stored secrets cannot be opened");
		return NULL;
	}
	if (secrets_open(key, tenant_id, sealed, len, &plain) < 0) {
		snprintf(err, errlen, "stored secrets do not open with this CCGW_SECRET_KEY");
		return NULL;
	}
	return plain;
}

void channel_config_free(json_t *config)
{
	const char *k;
	json_t *v;

	if (!config)
		return;
	if (config->refcount == 1)
		json_object_foreach(config, k, v) if (json_is_string(v))
		    OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
	json_decref(config);
}

enum channel_open_result channel_open(const unsigned char *key, const char *tenant_id,
                                      const char *config_text, const unsigned char *sealed,
                                      size_t sealed_len, json_t **out, char *err, size_t errlen)
{
	json_t *merged, *secrets;
	char *plain;

	*out = NULL;
	merged = config_text ? json_loads(config_text, 0, NULL) : json_object();
	if (!json_is_object(merged)) {
		json_decref(merged);
		snprintf(err, errlen, "channel config is not a JSON object");
		return CHANNEL_OPEN_BAD;
	}
	if (!sealed) {
		*out = merged;
		return CHANNEL_OPEN_OK;
	}
	plain = secret_open_text(key, tenant_id, sealed, sealed_len, err, errlen);
	if (!plain) {
		json_decref(merged);
		return CHANNEL_OPEN_KEY;
	}
	secrets = json_loads(plain, 0, NULL);
	text_wipe_free(plain);
	if (!json_is_object(secrets) || json_object_update(merged, secrets) < 0) {
		channel_config_free(secrets);
		channel_config_free(merged);
		snprintf(err, errlen, "channel secrets are not a JSON object");
		return CHANNEL_OPEN_BAD;
	}
	json_decref(secrets); /* its strings are merged's now, wiped with it */
	*out = merged;
	return CHANNEL_OPEN_OK;
}

enum channel_open_result channel_open_bytea(const unsigned char *key, const char *tenant_id,
                                            const char *config_text, const char *secrets_bytea,
                                            json_t **out, char *err, size_t errlen)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	enum channel_open_result rc;

	if (secrets_bytea && secrets_bytea_decode(secrets_bytea, &sealed, &len) < 0) {
		*out = NULL;
		snprintf(err, errlen, "channel secrets are not readable bytes");
		return CHANNEL_OPEN_KEY;
	}
	rc = channel_open(key, tenant_id, config_text, sealed, len, out, err, errlen);
	free(sealed);
	return rc;
}
