/*
 * admin_auth.c: Bearer API keys of the admin API. A key is never stored: api_keys holds the
 * hex SHA-256 of it, and the SECURITY DEFINER function api_key_tenant(hash) maps a hash of a
 * key that is not revoked to its tenant (and records the last use).
 *
 * Why the lookup by hash is safe against timing attacks: the database compares SHA-256(key)
 * with stored hashes through a B-tree index, so its running time can depend on how many leading
 * bytes of the *hash* match a stored hash. An attacker chooses the key, not the hash; learning
 * bytes of a stored hash does not help to find a key that hashes to it (that needs a SHA-256
 * preimage), and a key that matches on some hash bytes is as useless as any other wrong key.
 * The key itself is never compared with anything byte by byte, and no other secret remains to
 * compare once the lookup has answered (the function returns only the tenant id).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admin_internal.h"
#include "pg.h"
#include "util.h"

#define AUTH_KEY_MAX 512

struct auth_lookup {
	const char *hash;
	char *tenant_id; /* 37 bytes */
	int found;
};

static int auth_lookup_tx(PGconn *conn, void *arg)
{
	struct auth_lookup *a = arg;
	const char *params[1] = {a->hash};
	PGresult *res;
	const char *v;

	a->found = 0;
	res = pg_exec(conn, "SELECT api_key_tenant($1)", 1, params);
	if (!res)
		return PG_ERR_QUERY;
	v = PQntuples(res) == 1 ? pg_value(res, 0, 0) : NULL;
	if (v && strlen(v) == 36) {
		memcpy(a->tenant_id, v, 37);
		a->found = 1;
	}
	PQclear(res);
	return 0;
}

int admin_auth_tenant(PGconn *conn, const char *authorization, char tenant_id[37])
{
	struct auth_lookup a;
	char hash[65];
	const char *key;
	size_t len;
	int rc;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return 1;
	key = authorization + 7;
	while (*key == ' ')
		key++;
	len = strlen(key);
	while (len > 0 && (key[len - 1] == ' ' || key[len - 1] == '\t'))
		len--;
	if (len == 0 || len > AUTH_KEY_MAX)
		return 1;
	util_sha256_hex(key, len, hash);
	a.hash = hash;
	a.tenant_id = tenant_id;
	a.found = 0;
	rc = pg_tx_run(conn, NULL, auth_lookup_tx, &a);
	if (rc < 0)
		return rc;
	return a.found ? 0 : 1;
}
