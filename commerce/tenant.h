/*
 * tenant.h: creating a tenant (shop) as the application role: the tenants row under a
 * client-chosen id (the RLS policy lets a transaction create the tenant it is scoped to),
 * its order counter, an API key (only its SHA-256 is stored) and its console and web chat
 * channels. Also the slug rules and the slug -> id lookup. Used by `ccgw tenant create`,
 * `ccgw demo`, the tests and the admin API.
 */
#ifndef CCGW_TENANT_H
#define CCGW_TENANT_H

#include <libpq-fe.h>
#include <stddef.h>

#define TENANT_ERR_DB        (-1)
#define TENANT_ERR_INVALID   (-30) /* bad slug, name or currency; see the message */
#define TENANT_ERR_DUPLICATE (-31) /* the slug is taken */
#define TENANT_ERR_NOT_FOUND (-32)

#define TENANT_API_KEY_MAX 64 /* "ccgw_" + 43 characters of base64url and the NUL fit */

/* 1 when slug is 2 to 40 of a-z 0-9 -. */
int tenant_slug_valid(const char *slug);

/*
 * Creates a tenant in its own transaction (conn must not be inside one). currency may be
 * NULL ("KES"). Fills tenant_id (37 bytes) and api_key (TENANT_API_KEY_MAX bytes; the only
 * time the key is seen). On TENANT_ERR_INVALID / _DUPLICATE, err (errlen bytes) says why.
 */
int tenant_create(PGconn *conn, const char *slug, const char *name, const char *currency,
                  char *tenant_id, char *api_key, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Looks up a tenant id by slug (outside any tenant transaction is fine). Returns 0,
 * TENANT_ERR_NOT_FOUND or TENANT_ERR_DB. */
int tenant_id_by_slug(PGconn *conn, const char *slug, char *tenant_id)
    __attribute__((warn_unused_result));

/* Inside the caller's tenant transaction: the id of the tenant's first active channel of
 * type ("console", "webchat"), creating it when missing. 0 or TENANT_ERR_DB. */
int tenant_channel_ensure(PGconn *conn, const char *tenant_id, const char *type, char *channel_id)
    __attribute__((warn_unused_result));

/* Inside the caller's tenant transaction: a new API key for the tenant (hash stored, key
 * returned in api_key). 0 or TENANT_ERR_DB. */
int tenant_api_key_add(PGconn *conn, const char *tenant_id, const char *name, char *api_key)
    __attribute__((warn_unused_result));

#endif
