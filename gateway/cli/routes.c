/*
 * routes.c: every HTTP route of the gateway in one table, matched in order. Each module owns
 * its handlers; this file only lists them.
 */
#include "routes.h"

#include <stddef.h>


const struct http_route server_routes[] = {
	{ "GET", "/healthz", ops_healthz, 0 },
	{ "GET", "/readyz", ops_readyz, 1 },
	{ "GET", "/metrics", ops_metrics, 0 },
	/* every channel type's webhooks, through its adapter (inbound.c) */
	{ "GET", "/webhooks/{type}/{channel_id}", inbound_webhook_verify, 1 },
	/* the POST borrows a connection when it needs one (a group commit's member never does) */
	{ "POST", "/webhooks/{type}/{channel_id}", inbound_webhook_receive, 0 },
	/* the web chat's page and files (webchat_gw.h); its socket is /ws/chat/{slug} */
	{ "GET", "/chat/{slug}", webchat_page, 1 },
	{ "GET", "/chat/{slug}/{file}", webchat_asset, 1 },
	/* the public storefront (storefront.h) */
	{ "GET", "/shop/{slug}", storefront_page, 1 },
	{ "GET", "/shop/{slug}/p/{sku}", storefront_product, 1 },
	{ "GET", "/shop/{slug}/p/{sku}/{sku2}", storefront_product, 1 },       /* a SKU with '/' */
	{ "GET", "/shop/{slug}/p/{sku}/{sku2}/{sku3}", storefront_product, 1 },
	{ "GET", "/shop/{slug}/assets/{id}", storefront_asset, 1 },
	/* admin API (admin.h) */
	{ "POST", "/api/v1/channels", admin_channels_create, 1 },
	{ "GET", "/api/v1/channels", admin_channels_list, 1 },
	{ "GET", "/api/v1/channels/{id}", admin_channels_get, 1 },
	{ "PATCH", "/api/v1/channels/{id}", admin_channels_patch, 1 },
	{ "DELETE", "/api/v1/channels/{id}", admin_channels_delete, 1 },
	{ "POST", "/api/v1/products/bulk", admin_products_bulk, 1 },
	{ "POST", "/api/v1/products", admin_products_create, 1 },
	{ "GET", "/api/v1/products", admin_products_list, 1 },
	{ "GET", "/api/v1/products/{id}", admin_products_get, 1 },
	{ "PATCH", "/api/v1/products/{id}", admin_products_patch, 1 },
	{ "DELETE", "/api/v1/products/{id}", admin_products_delete, 1 },
	{ "GET", "/api/v1/orders", admin_orders_list, 1 },
	{ "GET", "/api/v1/orders/{id}", admin_orders_get, 1 },
	{ "PATCH", "/api/v1/orders/{id}", admin_orders_patch, 1 },
	{ "GET", "/api/v1/conversations", admin_conversations_list, 1 },
	{ "GET", "/api/v1/conversations/{id}", admin_conversations_get, 1 },
	{ "GET", "/api/v1/conversations/{id}/events", admin_conversations_events, 1 },
	{ "POST", "/api/v1/conversations/{id}/messages", admin_conversations_message, 1 },
	{ "POST", "/api/v1/conversations/{id}/release", admin_conversations_release, 1 },
	{ "GET", "/api/v1/inbound-failures", admin_inbound_failures_list, 1 },
	{ "GET", "/api/v1/api-keys", admin_keys_list, 1 },
	{ "POST", "/api/v1/api-keys", admin_keys_create, 1 },
	{ "DELETE", "/api/v1/api-keys/{id}", admin_keys_delete, 1 },
	{ "POST", "/api/v1/notification-targets", admin_targets_create, 1 },
	{ "GET", "/api/v1/notification-targets", admin_targets_list, 1 },
	{ "DELETE", "/api/v1/notification-targets/{id}", admin_targets_delete, 1 },
	{ "GET", "/api/v1/webchat", admin_webchat_get, 1 },
	{ "PUT", "/api/v1/webchat", admin_webchat_put, 1 },
	{ "POST", "/api/v1/assets", admin_assets_create, 1 },
	{ "GET", "/api/v1/assets", admin_assets_list, 1 },
	{ "GET", "/api/v1/assets/{id}", admin_assets_get, 1 },
	{ "GET", "/api/v1/storefront/draft", admin_storefront_draft_get, 1 },
	{ "PUT", "/api/v1/storefront/draft", admin_storefront_draft_put, 1 },
	{ "GET", "/api/v1/storefront/draft/preview", admin_storefront_preview, 1 },
	{ "POST", "/api/v1/storefront/publish", admin_storefront_publish, 1 },
	{ "POST", "/api/v1/storefront/rollback", admin_storefront_rollback, 1 },
	{ "GET", "/api/v1/kyc", admin_kyc_get, 1 },
	{ "PUT", "/api/v1/kyc", admin_kyc_put, 1 },
	{ "POST", "/api/v1/kyc/documents", admin_kyc_documents_create, 1 },
	{ "GET", "/api/v1/kyc/documents/{id}", admin_kyc_documents_get, 1 },
	{ "GET", "/api/v1/kyc/documents/{id}/content", admin_kyc_documents_content, 1 },
	/* trust and safety (admin_trust.c, docs/TRUST.md) */
	{ "GET", "/api/v1/complaints", admin_complaints_list, 1 },
	{ "GET", "/api/v1/complaints/{id}", admin_complaints_get, 1 },
	{ "PATCH", "/api/v1/complaints/{id}", admin_complaints_patch, 1 },
	{ "GET", "/api/v1/behavior-patterns", admin_patterns_list, 1 },
	{ "PATCH", "/api/v1/behavior-patterns/{id}", admin_patterns_patch, 1 },
	{ "GET", "/api/v1/violations", admin_violations_list, 1 },
	{ "GET", "/api/v1/violations/{id}", admin_violations_get, 1 },
	{ "PATCH", "/api/v1/violations/{id}", admin_violations_patch, 1 },
	{ "GET", "/api/v1/settings", admin_settings_get, 1 },
	{ "PATCH", "/api/v1/settings", admin_settings_patch, 1 },
	{ "GET", "/api/v1/faqs", admin_faqs_list, 1 },
	{ "POST", "/api/v1/faqs", admin_faqs_create, 1 },
	{ "GET", "/api/v1/faqs/{id}", admin_faqs_get, 1 },
	{ "PATCH", "/api/v1/faqs/{id}", admin_faqs_patch, 1 },
	{ "DELETE", "/api/v1/faqs/{id}", admin_faqs_delete, 1 },
	{ NULL, NULL, NULL, 0 },
};

/* Routes that take a body larger than max_body: a KYC document of up to 5 MiB, with room so
 * that one somewhat over the limit gets the handler's 400 rather than the server's 413. */
const struct http_body_limit server_body_limits[] = {
	{ "POST", "/api/v1/kyc/documents", ADMIN_KYC_BODY_MAX },
	{ NULL, NULL, 0 },
};
