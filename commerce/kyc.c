/*
 * kyc.c: know-your-customer for sellers (see kyc.h): country codes and document types by their
 * magic bytes, the operator's review with the seller's notification, and the order gate the
 * engine calls before placing an order (one indexed read when kyc_required is on, none when
 * off; the tenant's order counter row is locked so two checkouts cannot both take the last
 * order under the limit).
 */
#include "kyc.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "pg.h"

static atomic_int policy_required;
static atomic_long policy_limit = 20;

void kyc_policy_set(int required, long unverified_order_limit)
{
	atomic_store(&policy_required, required ? 1 : 0);
	atomic_store(&policy_limit, unverified_order_limit < 0 ? 0 : unverified_order_limit);
}

int kyc_policy_required(void)
{
	return atomic_load(&policy_required);
}

long kyc_policy_limit(void)
{
	return atomic_load(&policy_limit);
}

/* ISO 3166-1 alpha-2 (the 249 assigned codes, from Debian's iso-codes), sorted. */
static const char countries[] =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCI"
    "CKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQ"
    "GRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLS"
    "LTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPG"
    "PHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTK"
    "TLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

int kyc_country_valid(const char *code)
{
	size_t i;

	if (!code || strlen(code) != 2)
		return 0;
	for (i = 0; i + 1 < sizeof(countries) - 1; i += 2)
		if (countries[i] == code[0] && countries[i + 1] == code[1])
			return 1;
	return 0;
}

const char *kyc_doc_content_type(const void *data, size_t len)
{
	static const unsigned char pdf[] = {'%', 'P', 'D', 'F', '-'};
	static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF};
	static const unsigned char png[] = {0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A};

	if (!data)
		return NULL;
	if (len >= sizeof(pdf) && memcmp(data, pdf, sizeof(pdf)) == 0)
		return "application/pdf";
	if (len >= sizeof(jpeg) && memcmp(data, jpeg, sizeof(jpeg)) == 0)
		return "image/jpeg";
	if (len >= sizeof(png) && memcmp(data, png, sizeof(png)) == 0)
		return "image/png";
	return NULL;
}

/* Tells the seller, once until the next review, that orders stopped at the limit. */
static int gate_notice(PGconn *conn, const char *tenant_id, const char *status, long limit)
{
	char lim[24];
	PGresult *res;
	json_t *data;
	int rc;

	snprintf(lim, sizeof(lim), "%ld", limit);
	res = pg_exec(conn,
	              "INSERT INTO kyc_order_limit_notices (tenant_id, order_limit)"
	              " VALUES ($1, $2::int) ON CONFLICT (tenant_id) DO NOTHING RETURNING 1",
	              2, (const char *const[]){tenant_id, lim});
	if (!res)
		return -1;
	rc = PQntuples(res);
	PQclear(res);
	if (rc == 0)
		return 0; /* told before */
	data = json_pack("{s:{s:s, s:I, s:s}}", "kyc", "status", status, "order_limit",
	                 (json_int_t)limit, "reason",
	                 "the shop's KYC is not verified and it has taken the orders allowed "
	                 "before verification");
	if (!data)
		return -1;
	rc = notify_seller(conn, tenant_id, "kyc.order_limit", data);
	json_decref(data);
	if (rc < 0)
		return -1;
	log_info(&(struct log_ctx){.tenant = tenant_id},
	         "kyc: orders stopped at the unverified limit of %ld; the seller is told", limit);
	return 0;
}

int kyc_order_gate(PGconn *conn, const char *tenant_id)
{
	long limit = kyc_policy_limit();
	char lim[24];
	const char *status = "not_submitted";
	PGresult *res;
	long taken;

	if (!kyc_policy_required())
		return 1;
	res = pg_exec(conn, "SELECT status FROM kyc_info WHERE tenant_id = $1", 1, &tenant_id);
	if (!res)
		return -1;
	if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "verified") == 0) {
		PQclear(res);
		return 1;
	}
	if (PQntuples(res) == 1)
		status = strcmp(PQgetvalue(res, 0, 0), "rejected") == 0 ? "rejected" : "pending";
	PQclear(res);
	/* the order counter's row is the lock every placement of this tenant takes anyway
	 * (engine_place.c): taken now, the count below cannot be passed by a concurrent one */
	if (pg_cmd(conn,
	           "INSERT INTO order_counters (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", 1,
	           &tenant_id) < 0)
		return -1;
	res = pg_exec(conn, "SELECT 1 FROM order_counters WHERE tenant_id = $1 FOR UPDATE", 1,
	              &tenant_id);
	if (!res)
		return -1;
	PQclear(res);
	pg_note_hot_locks(); /* a group transaction commits soon after, as a placement does */
	snprintf(lim, sizeof(lim), "%ld", limit);
	res = pg_exec(conn,
	              "SELECT count(*) FROM (SELECT 1 FROM orders WHERE tenant_id = $1"
	              " LIMIT $2::int) o",
	              2, (const char *const[]){tenant_id, lim});
	if (!res)
		return -1;
	taken = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (taken < limit)
		return 1;
	return gate_notice(conn, tenant_id, status, limit) < 0 ? -1 : 0;
}

int kyc_review(PGconn *conn, const char *tenant_id, int approve, const char *reason)
{
	const char *status = approve ? "verified" : "rejected";
	PGresult *res;
	json_t *data = NULL;
	int rc = -1;

	res = pg_exec(conn,
	              "UPDATE kyc_info SET status = $2, review_reason = $3, reviewed_at = now()"
	              " WHERE tenant_id = $1 RETURNING id, legal_name,"
	              " to_json(reviewed_at)#>>'{}', country",
	              3, (const char *const[]){tenant_id, status, reason});
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return KYC_ERR_NONE;
	}
	if (pg_cmd(
	        conn,
	        "UPDATE kyc_documents SET status = $2 WHERE tenant_id = $1 AND status = 'pending'",
	        2, (const char *const[]){tenant_id, approve ? "accepted" : "rejected"}) < 0 ||
	    pg_cmd(conn, "DELETE FROM kyc_order_limit_notices WHERE tenant_id = $1", 1,
	           &tenant_id) < 0)
		goto out;
	data = json_pack("{s:{s:s, s:s, s:s, s:s, s:s?}}", "kyc", "id", PQgetvalue(res, 0, 0),
	                 "status", status, "legal_name", PQgetvalue(res, 0, 1), "reviewed_at",
	                 PQgetvalue(res, 0, 2), "reason", reason);
	if (!data || notify_seller(conn, tenant_id, "kyc.reviewed", data) < 0)
		goto out;
	rc = 0;
out:
	json_decref(data);
	PQclear(res);
	return rc;
}
