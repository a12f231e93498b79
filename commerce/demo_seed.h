/*
 * demo_seed.h: the demo shop (tenant slug "demo"): a Nairobi shop with about 30 products in
 * five categories, prices in KES minor units, settings with tax, delivery fee and three
 * payment methods. Creating it again refreshes catalog and settings (idempotent).
 */
#ifndef CCGW_DEMO_SEED_H
#define CCGW_DEMO_SEED_H

#include <libpq-fe.h>

#include "tenant.h"

#define DEMO_SLUG "demo"

/* Creates or refreshes the demo tenant (conn not inside a transaction). Fills tenant_id (37
 * bytes); api_key (TENANT_API_KEY_MAX bytes) gets a key only when the tenant was created now,
 * else "". *created is 1 when it was created. Returns 0 or a negative error. */
int demo_seed(PGconn *conn, char *tenant_id, char *api_key, int *created)
    __attribute__((warn_unused_result));

/* How many products the demo catalog has. */
int demo_seed_product_count(void);

#endif
