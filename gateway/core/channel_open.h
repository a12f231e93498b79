/*
 * channel_open.h: opening what the database keeps of a channel. One function turns a channel's
 * config (JSON) and sealed secrets (secrets.h) into one object, config keys with the secrets
 * over them, as adapters read it (struct channel_target.config, channel_ops.authenticate).
 * The webhook path, the dispatcher and the admin API all open secrets here.
 */
#ifndef CCGW_CHANNEL_OPEN_H
#define CCGW_CHANNEL_OPEN_H

#include <jansson.h>
#include <stddef.h>

enum channel_open_result {
	CHANNEL_OPEN_OK = 0,
	CHANNEL_OPEN_BAD = -1, /* the config or the secrets are not JSON objects: for good */
	CHANNEL_OPEN_KEY = -2  /* no CCGW_SECRET_KEY, or not the key that sealed them: an
	                        * operator can fix it, so a send may be retried */
};

/* Opens one sealed value into heap text (wipe it before freeing), or NULL with a reason in
 * err. key: the 32-byte secret key, NULL when none is configured. */
char *secret_open_text(const unsigned char *key, const char *tenant_id,
                       const unsigned char *sealed, size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Opens a channel: *out becomes the object of config_text (NULL: an empty object) with the
 * keys of the sealed secrets (sealed NULL: none) set over it. Free it with
 * channel_config_free. On failure *out is NULL and err says why.
 */
enum channel_open_result channel_open(const unsigned char *key, const char *tenant_id,
                                      const char *config_text, const unsigned char *sealed,
                                      size_t sealed_len, json_t **out, char *err, size_t errlen);

/* The same from the bytea text form of channels.secrets (NULL: none). */
enum channel_open_result channel_open_bytea(const unsigned char *key, const char *tenant_id,
                                            const char *config_text, const char *secrets_bytea,
                                            json_t **out, char *err, size_t errlen);

/* Wipes every string of an opened config (the secrets among them) and frees it. */
void channel_config_free(json_t *config);

#endif
