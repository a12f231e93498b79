/*
 * cli_migrate.c: `ccgw migrate`: applies the pending migrations of sql/ as the owner role
 * (CCGW_MIGRATE_URL) and prints how many were applied.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "migrate.h"

int cli_migrate(int argc, char **argv)
{
	struct config cfg;
	char err[1024];
	const char *dir = getenv("CCGW_SQL_DIR");
	int n;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: ccgw migrate\n");
		return 2;
	}
	if (app_config_load(&cfg) < 0)
		return 1;
	if (!cfg.migrate_url) {
		fprintf(stderr, "ccgw migrate: set CCGW_MIGRATE_URL to the owner role's connection "
				"(or run scripts/run once for the embedded cluster)\n");
		config_clear(&cfg);
		return 1;
	}
	n = migrate_run(cfg.migrate_url, dir && *dir ? dir : CCGW_SQL_DIR, cfg.app_role, err,
			sizeof(err));
	config_clear(&cfg);
	if (n < 0) {
		fprintf(stderr, "ccgw migrate: %s\n", err);
		return 1;
	}
	printf("{\"applied\": %d}\n", n);
	return 0;
}
