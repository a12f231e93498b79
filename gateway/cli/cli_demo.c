/*
 * cli_demo.c: `ccgw demo` creates or refreshes the demo tenant "demo" and its catalog
 * (commerce/demo_seed.c) and prints one JSON line {"tenant_id", "slug", "products"} with
 * "api_key" only when the tenant was created now (a key is shown once). Idempotent.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "pg.h"
#include "demo_seed.h"

int cli_demo(int argc, char **argv)
{
	char tenant_id[37], api_key[TENANT_API_KEY_MAX];
	struct config cfg;
	PGconn *conn = NULL;
	json_t *out = NULL;
	int created = 0, rc = 1;

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			printf(
			    "usage: ccgw demo\n  creates or refreshes the demo shop (slug demo)\n");
			return 0;
		}
		fprintf(stderr, "usage: ccgw demo\n");
		return 2;
	}
	if (app_config_load(&cfg) < 0)
		return 1;
	conn = app_db_connect(&cfg, cfg.database_url, "ccgw-cli", NULL);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "ccgw demo: cannot connect to the database: %s",
		        PQerrorMessage(conn));
		goto out;
	}
	if (demo_seed(conn, tenant_id, api_key, &created) < 0) {
		fprintf(stderr, "ccgw demo: seeding failed: %s\n", PQerrorMessage(conn));
		goto out;
	}
	out = json_pack("{s:s, s:s, s:i, s:b}", "tenant_id", tenant_id, "slug", DEMO_SLUG,
	                "products", demo_seed_product_count(), "created", created);
	if (out && created)
		json_object_set_new(out, "api_key", json_string(api_key));
	if (cli_tenant_print("ccgw demo", out) < 0)
		goto out;
	rc = 0;
out:
	json_decref(out);
	pg_finish(conn);
	config_clear(&cfg);
	return rc;
}
