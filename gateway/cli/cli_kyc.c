/*
 * cli_kyc.c: the platform operator's KYC review (docs/TRUST.md "KYC"):
 *   ccgw kyc list [--status pending|verified|rejected|not_submitted]
 *   ccgw kyc review --tenant SLUG --approve | --reject --reason TEXT
 * Both run as the owner role (CCGW_MIGRATE_URL, like `ccgw migrate`): only it may read every
 * tenant's KYC and give a verdict. A review writes the seller's kyc.reviewed notification in
 * the same transaction (commerce/kyc.c); a running `ccgw serve` sends it.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "kyc.h"
#include "pg.h"
#include "tenant.h"
#include "utf8.h"

static void cli_kyc_usage(FILE *to)
{
	fprintf(to, "usage: ccgw kyc list [--status pending|verified|rejected|not_submitted]\n"
	            "       ccgw kyc review --tenant SLUG --approve\n"
	            "       ccgw kyc review --tenant SLUG --reject --reason TEXT\n"
	            "  runs as the owner role (CCGW_MIGRATE_URL)\n");
}

static PGconn *cli_kyc_connect(const struct config *cfg, const char *cmd)
{
	PGconn *c;

	if (!cfg->migrate_url) {
		fprintf(stderr,
		        "%s: set CCGW_MIGRATE_URL to the owner role's connection (or run "
		        "scripts/run once for the embedded cluster)\n",
		        cmd);
		return NULL;
	}
	c = app_db_connect(cfg, cfg->migrate_url, "ccgw-kyc", NULL);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "%s: cannot connect to the database: %s", cmd, PQerrorMessage(c));
		pg_finish(c);
		return NULL;
	}
	return c;
}

static json_t *col(const PGresult *res, int r, int c)
{
	const char *v = pg_value(res, r, c);

	return v ? json_string(v) : json_null();
}

static int kyc_list(int argc, char **argv)
{
	const char *status = NULL;
	struct config cfg;
	PGconn *conn = NULL;
	PGresult *res = NULL;
	json_t *data = NULL, *out = NULL;
	int i, rc = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--status") == 0 && i + 1 < argc) {
			status = argv[++i];
			continue;
		}
		fprintf(stderr, "ccgw kyc list: unexpected argument '%s'\n", argv[i]);
		cli_kyc_usage(stderr);
		return 2;
	}
	if (status && strcmp(status, "pending") != 0 && strcmp(status, "verified") != 0 &&
	    strcmp(status, "rejected") != 0 && strcmp(status, "not_submitted") != 0) {
		fprintf(stderr, "ccgw kyc list: --status must be pending, verified, rejected or "
		                "not_submitted\n");
		return 2;
	}
	if (app_config_load(&cfg) < 0)
		return 1;
	conn = cli_kyc_connect(&cfg, "ccgw kyc list");
	if (!conn)
		goto out;
	res = pg_exec(conn,
	              "SELECT t.id, t.slug, t.name, COALESCE(k.status, 'not_submitted'),"
	              " k.legal_name, k.registration_number, k.tax_id, k.country,"
	              " k.review_reason, to_json(k.submitted_at)#>>'{}',"
	              " to_json(k.reviewed_at)#>>'{}', (SELECT count(*) FROM kyc_documents d"
	              " WHERE d.tenant_id = k.tenant_id AND d.kyc_id = k.id)"
	              " FROM tenants t LEFT JOIN kyc_info k ON k.tenant_id = t.id"
	              " WHERE $1::text IS NULL OR COALESCE(k.status, 'not_submitted') = $1"
	              " ORDER BY k.submitted_at NULLS LAST, t.slug",
	              1, &status);
	if (!res) {
		fprintf(stderr, "ccgw kyc list: the query failed: %s", PQerrorMessage(conn));
		goto out;
	}
	data = json_array();
	for (i = 0; data && i < PQntuples(res); i++)
		json_array_append_new(
		    data,
		    json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "tenant_id",
		              col(res, i, 0), "slug", col(res, i, 1), "name", col(res, i, 2),
		              "status", col(res, i, 3), "legal_name", col(res, i, 4),
		              "registration_number", col(res, i, 5), "tax_id", col(res, i, 6),
		              "country", col(res, i, 7), "review_reason", col(res, i, 8),
		              "submitted_at", col(res, i, 9), "reviewed_at", col(res, i, 10),
		              "documents", (json_int_t)atoll(PQgetvalue(res, i, 11))));
	out = data ? json_pack("{s:o}", "data", data) : NULL;
	if (cli_tenant_print("ccgw kyc list", out) < 0)
		goto out;
	rc = 0;
out:
	json_decref(out);
	PQclear(res);
	pg_finish(conn);
	config_clear(&cfg);
	return rc;
}

struct review_args {
	int approve;
	const char *reason;
	int rc; /* kyc_review's */
	char tenant_id[37];
};

static int review_tx(PGconn *conn, void *arg)
{
	struct review_args *a = arg;

	a->rc = kyc_review(conn, a->tenant_id, a->approve, a->reason);
	return a->rc == 0 ? 0 : PG_ERR_ABORT;
}

static int kyc_review_cmd(int argc, char **argv)
{
	const char *slug = NULL;
	struct review_args a = {-1, NULL, 0, ""};
	char *tenant_id = a.tenant_id;
	struct config cfg;
	PGconn *conn = NULL;
	json_t *out = NULL;
	int i, rc = 1, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
			slug = argv[++i];
		} else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
			a.reason = argv[++i];
		} else if (strcmp(argv[i], "--approve") == 0 && a.approve != 0) {
			a.approve = a.approve == -1 ? 1 : 2;
		} else if (strcmp(argv[i], "--reject") == 0 && a.approve != 1) {
			a.approve = a.approve == -1 ? 0 : 2;
		} else {
			fprintf(stderr, "ccgw kyc review: unexpected argument '%s'\n", argv[i]);
			cli_kyc_usage(stderr);
			return 2;
		}
	}
	if (!slug || a.approve < 0 || a.approve > 1) {
		fprintf(stderr, "ccgw kyc review: --tenant and one of --approve or --reject are "
		                "required\n");
		cli_kyc_usage(stderr);
		return 2;
	}
	if (a.approve == 0 && (!a.reason || !a.reason[0])) {
		fprintf(stderr, "ccgw kyc review: --reject needs --reason TEXT (the seller is told "
		                "it)\n");
		return 2;
	}
	if (a.reason &&
	    (!utf8_valid(a.reason, strlen(a.reason)) || utf8_count(a.reason) > KYC_REASON_MAX)) {
		fprintf(stderr,
		        "ccgw kyc review: --reason must be valid UTF-8 of at most %d "
		        "characters\n",
		        KYC_REASON_MAX);
		return 2;
	}
	if (!tenant_slug_valid(slug)) {
		fprintf(stderr, "ccgw kyc review: invalid slug '%s'\n", slug);
		return 1;
	}
	if (app_config_load(&cfg) < 0)
		return 1;
	conn = cli_kyc_connect(&cfg, "ccgw kyc review");
	if (!conn)
		goto out;
	r = tenant_id_by_slug(conn, slug, tenant_id);
	if (r == TENANT_ERR_NOT_FOUND) {
		fprintf(stderr, "ccgw kyc review: no tenant '%s'\n", slug);
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "ccgw kyc review: %s", PQerrorMessage(conn));
		goto out;
	}
	r = pg_tx_run(conn, tenant_id, review_tx, &a);
	if (a.rc == KYC_ERR_NONE) {
		fprintf(stderr, "ccgw kyc review: tenant '%s' has submitted no KYC\n", slug);
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "ccgw kyc review: the review could not be saved: %s",
		        PQerrorMessage(conn));
		goto out;
	}
	out = json_pack("{s:s, s:s, s:s, s:s?}", "tenant_id", tenant_id, "slug", slug, "status",
	                a.approve ? "verified" : "rejected", "reason", a.reason);
	if (cli_tenant_print("ccgw kyc review", out) < 0)
		goto out;
	rc = 0;
out:
	json_decref(out);
	pg_finish(conn);
	config_clear(&cfg);
	return rc;
}

int cli_kyc(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return kyc_list(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "review") == 0)
		return kyc_review_cmd(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_kyc_usage(stdout);
		return 0;
	}
	cli_kyc_usage(stderr);
	return 2;
}
