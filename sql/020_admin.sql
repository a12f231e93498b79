-- 020_admin.sql: indexes for the admin API's keyset paging (products and orders in creation
-- order, notification targets) and for forgetting idempotency keys older than 24 hours.

CREATE INDEX products_tenant_created ON products (tenant_id, created_at, id)
  WHERE deleted_at IS NULL;
CREATE INDEX orders_tenant_created ON orders (tenant_id, created_at DESC, id DESC);
CREATE INDEX idempotency_keys_created ON idempotency_keys (tenant_id, created_at);
