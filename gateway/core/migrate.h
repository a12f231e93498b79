/*
 * migrate.h: applies the numbered SQL files of sql/ in order, each once and in its own
 * transaction, recorded in schema_migrations with a SHA-256 checksum. An advisory lock keeps
 * two migrating processes apart; a file whose recorded checksum changed is refused.
 */
#ifndef CCGW_MIGRATE_H
#define CCGW_MIGRATE_H

#include <stddef.h>

/* Migrates the database at conninfo (the owner role) from the *.sql files in sql_dir,
 * granting to app_role. Returns how many files were applied (0: up to date), or -1 with a
 * message in err. */
int migrate_run(const char *conninfo, const char *sql_dir, const char *app_role, char *err,
		size_t errlen) __attribute__((warn_unused_result));

#endif
