/*
 * admin.h: the seller's admin API under /api/v1 (CONTRACT "Admin API", docs/ADMIN_API.md):
 * channels, products, orders, conversations, notification targets. Every handler checks the
 * Bearer key, then runs its work in one transaction with app.tenant_id set from the key, so
 * row-level security stands behind every query and another tenant's object answers 404.
 */
#ifndef CCGW_ADMIN_H
#define CCGW_ADMIN_H

#include "http.h"

#define ADMIN_HANDLER(name)                                                                        \
	void name(struct http_ctx *ctx, const struct http_request *req, struct http_response *resp)

/* admin_channels.c */
ADMIN_HANDLER(admin_channels_create);
ADMIN_HANDLER(admin_channels_list);
ADMIN_HANDLER(admin_channels_get);
ADMIN_HANDLER(admin_channels_patch);
ADMIN_HANDLER(admin_channels_delete);
/* The registration POST /api/v1/channels does, for a trusted caller in this process that
 * already knows the tenant (ccgw simulate): the same checks, sealing and insert, body
 * borrowed. resp gets the answer (201 with the channel, else the error); id_out the new
 * channel's id on 201, else "". */
void admin_channels_register(struct http_ctx *ctx, const char *tenant_id, json_t *body,
                             struct http_response *resp, char id_out[37]);

/* admin_products.c */
ADMIN_HANDLER(admin_products_create);
ADMIN_HANDLER(admin_products_bulk);
ADMIN_HANDLER(admin_products_list);
ADMIN_HANDLER(admin_products_get);
ADMIN_HANDLER(admin_products_patch);
ADMIN_HANDLER(admin_products_delete);

/* admin_orders.c */
ADMIN_HANDLER(admin_orders_list);
ADMIN_HANDLER(admin_orders_get);
ADMIN_HANDLER(admin_orders_patch);

/* admin_conversations.c */
ADMIN_HANDLER(admin_conversations_list);
ADMIN_HANDLER(admin_conversations_get);
ADMIN_HANDLER(admin_conversations_events);
ADMIN_HANDLER(admin_conversations_message);
ADMIN_HANDLER(admin_conversations_release);

/* admin_inbound.c */
ADMIN_HANDLER(admin_inbound_failures_list);
/* admin_keys.c */
ADMIN_HANDLER(admin_keys_list);
ADMIN_HANDLER(admin_keys_create);
ADMIN_HANDLER(admin_keys_delete);
/* admin_targets.c */
ADMIN_HANDLER(admin_targets_create);
ADMIN_HANDLER(admin_targets_list);
ADMIN_HANDLER(admin_targets_delete);
/* admin_webchat.c: the web chat's allowed origins and look */
ADMIN_HANDLER(admin_webchat_get);
ADMIN_HANDLER(admin_webchat_put);
/* admin_assets.c: the storefront's images */
ADMIN_HANDLER(admin_assets_create);
ADMIN_HANDLER(admin_assets_list);
ADMIN_HANDLER(admin_assets_get);
/* admin_storefront.c: the storefront's draft, preview, publishing and rollback */
ADMIN_HANDLER(admin_storefront_draft_get);
ADMIN_HANDLER(admin_storefront_draft_put);
ADMIN_HANDLER(admin_storefront_preview);
ADMIN_HANDLER(admin_storefront_publish);
ADMIN_HANDLER(admin_storefront_rollback);

/* admin_kyc.c: the seller's KYC details and documents (docs/TRUST.md "KYC") */
ADMIN_HANDLER(admin_kyc_get);
ADMIN_HANDLER(admin_kyc_put);
ADMIN_HANDLER(admin_kyc_documents_create);
ADMIN_HANDLER(admin_kyc_documents_get);
ADMIN_HANDLER(admin_kyc_documents_content);
/* The body POST /api/v1/kyc/documents may have: a 5 MiB document and room for a larger one
 * to be answered 400 by the handler (8 MiB; above it the server answers 413). */
#define ADMIN_KYC_BODY_MAX (8L * 1024 * 1024)

/* admin_trust.c: complaints, behavior patterns, violations (docs/TRUST.md) */
ADMIN_HANDLER(admin_complaints_list);
ADMIN_HANDLER(admin_complaints_get);
ADMIN_HANDLER(admin_complaints_patch);
ADMIN_HANDLER(admin_patterns_list);
ADMIN_HANDLER(admin_patterns_patch);
ADMIN_HANDLER(admin_violations_list);
ADMIN_HANDLER(admin_violations_get);
ADMIN_HANDLER(admin_violations_patch);

/* admin_settings.c: shop settings and the seller's questions (issue 16) */
ADMIN_HANDLER(admin_settings_get);
ADMIN_HANDLER(admin_settings_patch);
ADMIN_HANDLER(admin_faqs_create);
ADMIN_HANDLER(admin_faqs_list);
ADMIN_HANDLER(admin_faqs_get);
ADMIN_HANDLER(admin_faqs_patch);
ADMIN_HANDLER(admin_faqs_delete);

/* admin_currency.c: 1 when code is an active ISO 4217 currency code (upper case, 3 letters). */
int admin_currency_valid(const char *code);

#endif
