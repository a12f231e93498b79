/*
 * testdb.h: a fresh, migrated PostgreSQL database for one test, in the cluster that
 * scripts/test (or scripts/run) started. The cluster is found through CCGW_MIGRATE_URL /
 * CCGW_DATABASE_URL in the environment or in .ccgw/env; each test gets its own database named
 * after it, dropped and created anew, migrated with the real migration code as the owner
 * role. Tests then connect as the application role (ccgw_app), as the gateway does.
 */
#ifndef CCGW_TESTDB_H
#define CCGW_TESTDB_H

#include <libpq-fe.h>

struct testdb {
	char name[64];
	char owner_url[512]; /* conninfo of the owner role on this database */
	char app_url[512];   /* conninfo of the application role on this database */
	char secret_key[65]; /* CCGW_SECRET_KEY to hand to servers the test starts */
	/* the cluster's superuser on this database over its socket (CCGW_SUPERUSER_URL of
	 * .ccgw/env; peer authentication: root or the cluster's OS user), "" when unknown */
	char superuser_url[512];
};

/* Creates (drops first) and migrates database ccgw_t_<name>. Aborts the test process with a
 * message when the cluster cannot be reached: a test never passes without its database. */
void testdb_setup(struct testdb *db, const char *name);
/* Connects as the application role (asserts on failure). */
PGconn *testdb_connect_app(const struct testdb *db);
/* Connects as the owner role (asserts on failure). */
PGconn *testdb_connect_owner(const struct testdb *db);
/* Runs sql as owner with no parameters and returns the first column of the first row as a
 * heap string (NULL for no row / SQL NULL). For checks that look across tenants. */
char *testdb_owner_scalar(const struct testdb *db, const char *sql, int nparams,
			  const char *const *params);
/* Creates a tenant through the real tenant code and returns its id (heap) and, when api_key
 * is not NULL, its API key (heap). */
char *testdb_tenant_create(const struct testdb *db, const char *slug, char **api_key);

#endif
