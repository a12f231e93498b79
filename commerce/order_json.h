/*
 * order_json.h: one order as the JSON object of the external contract's admin API (id,
 * order_number, status, version, created_at, payment_method, payment_status,
 * payment_reference, payment_amount_minor, payment_claimed_at, items, totals, customer,
 * delivery_address, channel_meta). Used by the admin API, webhooks and seller notifications.
 */
#ifndef CCGW_ORDER_JSON_H
#define CCGW_ORDER_JSON_H

#include <jansson.h>
#include <libpq-fe.h>

/* Loads the order in the caller's tenant transaction. Returns a new reference (caller
 * json_decref's it), or NULL with *not_found set to 1 when no such order is visible, 0 on
 * a database error. not_found may be NULL. */
json_t *order_json_load(PGconn *conn, const char *order_id, int *not_found)
    __attribute__((warn_unused_result));

/* The SQL expression behind order_json_load, for list queries: a jsonb of the order row
 * aliased "o", as a string literal: "SELECT " ORDER_JSON_SQL_EXPR " FROM orders o ..." */
#define ORDER_JSON_SQL_EXPR                                                                        \
	ORDER_JSON_SQL_EXPR_FROM("order_items i WHERE i.tenant_id = o.tenant_id"                   \
	                         " AND i.order_id = o.id",                                         \
	                         "order_channel_meta m WHERE m.tenant_id = o.tenant_id"            \
	                         " AND m.order_id = o.id")

/* The same made from other sources of its rows: ITEMS the order's items (aliased i), META
 * its channel metadata (aliased m), each a FROM clause as a string literal; the placing
 * statement's own rows (engine_place.c), which it cannot read back from the tables. */
#define ORDER_JSON_SQL_EXPR_FROM(ITEMS, META)                                                      \
	"jsonb_build_object("                                                                      \
	" 'id', o.id, 'order_number', o.order_number, 'status', o.status,"                         \
	" 'version', o.version, 'created_at', o.created_at,"                                       \
	" 'payment_method', o.payment_method,"                                                     \
	" 'payment_status', o.payment_status, 'payment_reference', o.payment_ref,"                 \
	" 'payment_amount_minor', o.payment_amount_minor,"                                         \
	" 'payment_claimed_at', o.payment_claimed_at,"                                             \
	" 'items', COALESCE((SELECT jsonb_agg(jsonb_build_object("                                 \
	"   'product_id', i.product_id, 'sku', i.sku, 'name', i.name, 'quantity', i.quantity,"     \
	"   'unit_price_minor', i.unit_price_minor, 'subtotal_minor', i.subtotal_minor)"           \
	"   ORDER BY i.created_at, i.name, i.id) FROM " ITEMS "), '[]'::jsonb),"                   \
	" 'totals', jsonb_build_object('subtotal_minor', o.subtotal_minor,"                        \
	"   'tax_minor', o.tax_minor, 'delivery_fee_minor', o.delivery_fee_minor,"                 \
	"   'total_minor', o.total_minor, 'currency', o.currency),"                                \
	" 'customer', jsonb_build_object('id', o.customer_id, 'name', o.customer_name,"            \
	"   'phone', o.customer_phone),"                                                           \
	" 'delivery_address', o.delivery_address,"                                                 \
	" 'channel_meta', (SELECT to_jsonb(m) FROM " META "))"

#endif
