/*
 * cli_tenant.c: `ccgw tenant create --slug S --name N [--currency C]` creates a tenant as
 * the application role (commerce/tenant.c) and prints {"tenant_id", "slug", "api_key"} on
 * stdout. A bad or taken slug is an error on stderr with exit code 1; usage errors exit 2.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "pg.h"
#include "tenant.h"

static void cli_tenant_usage(FILE *to)
{
	fprintf(to, "usage: ccgw tenant create --slug SLUG --name NAME [--currency CODE]\n"
	            "  SLUG: 2 to 40 of a-z, 0-9 and -; CODE: ISO 4217 (default KES)\n");
}

static PGconn *cli_tenant_connect(const struct config *cfg)
{
	PGconn *c = app_db_connect(cfg, cfg->database_url, "ccgw-cli", NULL);

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "ccgw: cannot connect to the database: %s", PQerrorMessage(c));
		pg_finish(c);
		return NULL;
	}
	return c;
}

int cli_tenant_print(const char *cmd, json_t *obj)
{
	char *dump = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	if (!dump) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		return -1;
	}
	printf("%s\n", dump);
	fflush(stdout);
	free(dump);
	return 0;
}

int cli_tenant(int argc, char **argv)
{
	const char *slug = NULL, *name = NULL, *currency = NULL;
	char tenant_id[37], api_key[TENANT_API_KEY_MAX], err[256];
	struct config cfg;
	PGconn *conn = NULL;
	json_t *out = NULL;
	int i, rc = 1;

	if (argc < 2 || strcmp(argv[1], "create") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			cli_tenant_usage(stdout);
			return 0;
		}
		cli_tenant_usage(stderr);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		const char **dst = NULL;

		if (strcmp(argv[i], "--slug") == 0)
			dst = &slug;
		else if (strcmp(argv[i], "--name") == 0)
			dst = &name;
		else if (strcmp(argv[i], "--currency") == 0)
			dst = &currency;
		if (!dst || i + 1 >= argc) {
			fprintf(stderr, "ccgw tenant create: unexpected argument '%s'\n", argv[i]);
			cli_tenant_usage(stderr);
			return 2;
		}
		*dst = argv[++i];
	}
	if (!slug || !name) {
		fprintf(stderr, "ccgw tenant create: --slug and --name are required\n");
		cli_tenant_usage(stderr);
		return 2;
	}
	if (!tenant_slug_valid(slug)) {
		fprintf(stderr,
		        "ccgw tenant create: invalid slug '%s': use 2 to 40 of a-z, 0-9 and -\n",
		        slug);
		return 1;
	}
	if (app_config_load(&cfg) < 0)
		return 1;
	conn = cli_tenant_connect(&cfg);
	if (!conn)
		goto out;
	switch (tenant_create(conn, slug, name, currency, tenant_id, api_key, err, sizeof(err))) {
	case 0:
		break;
	case TENANT_ERR_DUPLICATE:
	case TENANT_ERR_INVALID:
		fprintf(stderr, "ccgw tenant create: %s\n", err);
		goto out;
	default:
		fprintf(stderr, "ccgw tenant create: %s: %s\n", err[0] ? err : "failed",
		        PQerrorMessage(conn));
		goto out;
	}
	out =
	    json_pack("{s:s, s:s, s:s}", "tenant_id", tenant_id, "slug", slug, "api_key", api_key);
	if (cli_tenant_print("ccgw tenant create", out) < 0)
		goto out;
	rc = 0;
out:
	json_decref(out);
	pg_finish(conn);
	config_clear(&cfg);
	return rc;
}
