/*
 * kyc.h: know-your-customer for sellers (issue 18 part 5): the checks of a seller's details
 * and documents (fields, country codes, file types by their magic bytes, the size limit), the
 * platform operator's review (status, reason, the seller's kyc.reviewed notification) and the
 * order gate that, with kyc_required on, stops an unverified tenant after
 * kyc_unverified_order_limit orders. See docs/TRUST.md "KYC".
 */
#ifndef CCGW_KYC_H
#define CCGW_KYC_H

#include <libpq-fe.h>
#include <stddef.h>

#define KYC_WUR __attribute__((warn_unused_result))

#define KYC_DOC_MAX_BYTES (5L * 1024 * 1024) /* a document's largest size: 5 MiB */
#define KYC_DOCS_MAX      20                 /* documents one tenant may hold */
#define KYC_REASON_MAX    1000               /* characters of a rejection reason */

/* The order gate's policy (config kyc_required, kyc_unverified_order_limit), one per process:
 * set once at start-up, before any message is handled. The default is off (limit 20). */
void kyc_policy_set(int required, long unverified_order_limit);
int kyc_policy_required(void);
long kyc_policy_limit(void);

/* 1 when code is an ISO 3166-1 alpha-2 country code (upper case), else 0. */
int kyc_country_valid(const char *code);

/* The content type of a document from its first bytes: "application/pdf" (%PDF-),
 * "image/jpeg" (FF D8 FF) or "image/png" (89 50 4E 47 0D 0A 1A 0A); NULL for anything else. */
const char *kyc_doc_content_type(const void *data, size_t len);

/*
 * The order gate, inside the engine's tenant transaction, just before an order is placed.
 * Returns 1 when the order may be placed (kyc_required off, the tenant verified, or fewer
 * than the limit of orders so far), 0 when it may not: then, the first time only, the
 * seller's notification targets get a kyc.order_limit event saying why. -1 on a database
 * error. With kyc_required off it touches no table.
 */
int kyc_order_gate(PGconn *conn, const char *tenant_id) KYC_WUR;

/* The operator's review (`ccgw kyc review`), inside a transaction scoped to tenant_id (any
 * role the row-level security lets in): sets the tenant's KYC to "verified" (approve 1) or
 * "rejected" with reason, its pending documents to accepted / rejected, and tells the seller
 * (kyc.reviewed). Returns 0, KYC_ERR_NONE when the tenant has submitted no KYC, or -1 on a
 * database error. */
#define KYC_ERR_NONE (-40)
int kyc_review(PGconn *conn, const char *tenant_id, int approve, const char *reason) KYC_WUR;

#endif
