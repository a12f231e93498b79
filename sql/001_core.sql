-- 001_core.sql: tenants, catalog, customers, carts, orders, the gateway's channels,
-- conversations, inbound de-duplication, outbox and notification targets, with row-level
-- security on every tenant-owned table. Runs as the owner role inside one transaction; the
-- application role is named by the psql-style variable app_role substituted by `ccgw migrate`
-- (see gateway/migrate.c: the literal :"app_role" below becomes the quoted role name).


-- The tenant of the current transaction, or NULL when none is set. Every policy uses this.
CREATE FUNCTION app_tenant_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid
$$;

CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{2,40}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  currency char(3) NOT NULL DEFAULT 'KES' CHECK (currency ~ '^[A-Z]{3}$'),
  -- tax_bp, delivery_fee_minor, payment_methods, welcome_text, business_hours, time_zone
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  email text NOT NULL,
  name text NOT NULL DEFAULT '',
  role text NOT NULL DEFAULT 'seller' CHECK (role IN ('seller', 'admin', 'agent')),
  password_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, email)
);

CREATE TABLE api_keys (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  key_hash text NOT NULL UNIQUE,          -- hex SHA-256 of the key; the key itself is never stored
  prefix text NOT NULL,                   -- first characters, to tell keys apart
  name text NOT NULL DEFAULT 'default',
  revoked_at timestamptz,
  last_used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE customers (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  name text,
  phone text,
  email text,
  lang text NOT NULL DEFAULT 'en',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

-- One row per platform identity of a customer (a wa_id, a Telegram user id, a web session).
CREATE TABLE customer_identities (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  customer_id uuid NOT NULL,
  channel text NOT NULL CHECK (channel IN ('whatsapp', 'telegram', 'webchat', 'console')),
  external_user_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, channel, external_user_id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers(tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE address_book (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  customer_id uuid NOT NULL,
  label text NOT NULL DEFAULT 'default',
  address_text text NOT NULL,
  latitude double precision,
  longitude double precision,
  is_default boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers(tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE products (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  sku text NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '',
  category text NOT NULL DEFAULT 'General',
  price_minor bigint NOT NULL CHECK (price_minor >= 0),
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  stock integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
  active boolean NOT NULL DEFAULT true,
  image_url text,
  deleted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX products_tenant_sku ON products (tenant_id, sku) WHERE deleted_at IS NULL;
CREATE INDEX products_tenant_category ON products (tenant_id, category) WHERE deleted_at IS NULL;

-- Channels: one row per WhatsApp number, Telegram bot, web chat or console of a tenant.
-- config holds what is not secret (phone_number_id, bot username, templates); secrets holds
-- the AES-256-GCM sealed JSON of the secrets (access_token, app_secret, verify_token,
-- bot_token, secret_token), never the plaintext.
CREATE TABLE channels (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  type text NOT NULL CHECK (type IN ('whatsapp', 'telegram', 'webchat', 'console')),
  name text NOT NULL DEFAULT '',
  external_id text,                       -- phone_number_id, Telegram bot id
  config jsonb NOT NULL DEFAULT '{}'::jsonb,
  secrets bytea,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'unhealthy')),
  health_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (id)
);
CREATE UNIQUE INDEX channels_external ON channels (type, external_id)
  WHERE external_id IS NOT NULL AND status <> 'disabled';

CREATE TABLE conversations (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL,
  customer_id uuid,
  external_chat_id text NOT NULL,
  external_user_id text,
  state text NOT NULL DEFAULT 'start',
  context jsonb NOT NULL DEFAULT '{}'::jsonb,   -- what the state machine remembers
  offered jsonb NOT NULL DEFAULT '[]'::jsonb,   -- payloads of the choices last offered, in order
  lang text NOT NULL DEFAULT 'en',
  misunderstandings integer NOT NULL DEFAULT 0,
  handoff boolean NOT NULL DEFAULT false,
  last_inbound_at timestamptz,
  last_message_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, channel_id, external_chat_id),
  FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers(tenant_id, id)
);

CREATE TABLE conversation_events (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  seq bigint GENERATED ALWAYS AS IDENTITY,
  conversation_id uuid NOT NULL,
  event_type text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX conversation_events_conv ON conversation_events (tenant_id, conversation_id, seq);

CREATE TABLE carts (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  customer_id uuid,
  conversation_id uuid NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'converted', 'abandoned')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers(tenant_id, id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations(tenant_id, id)
);
CREATE UNIQUE INDEX carts_one_open ON carts (tenant_id, conversation_id) WHERE status = 'open';

CREATE TABLE cart_items (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  cart_id uuid NOT NULL,
  product_id uuid NOT NULL,
  quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 999),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, cart_id, product_id),
  FOREIGN KEY (tenant_id, cart_id) REFERENCES carts(tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, product_id) REFERENCES products(tenant_id, id)
);

-- The per-tenant order number sequence: UPDATE ... RETURNING under the row lock.
CREATE TABLE order_counters (
  tenant_id uuid NOT NULL PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  next_value bigint NOT NULL DEFAULT 1001,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  order_number bigint NOT NULL,
  customer_id uuid,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN
    ('pending', 'confirmed', 'processing', 'shipped', 'delivered', 'cancelled', 'returned')),
  version integer NOT NULL DEFAULT 1,
  payment_method text NOT NULL DEFAULT 'cash_on_delivery',
  subtotal_minor bigint NOT NULL CHECK (subtotal_minor >= 0),
  tax_minor bigint NOT NULL DEFAULT 0 CHECK (tax_minor >= 0),
  delivery_fee_minor bigint NOT NULL DEFAULT 0 CHECK (delivery_fee_minor >= 0),
  total_minor bigint NOT NULL CHECK (total_minor >= 0),
  currency char(3) NOT NULL,
  customer_name text,
  customer_phone text,
  delivery_address jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, order_number),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers(tenant_id, id)
);
CREATE INDEX orders_tenant_status ON orders (tenant_id, status, created_at DESC);
CREATE INDEX orders_tenant_customer ON orders (tenant_id, customer_id, created_at DESC);

CREATE TABLE order_items (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  order_id uuid NOT NULL,
  product_id uuid NOT NULL,
  sku text NOT NULL,
  name text NOT NULL,
  quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 999),
  unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
  subtotal_minor bigint NOT NULL CHECK (subtotal_minor >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders(tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, product_id) REFERENCES products(tenant_id, id)
);

CREATE TABLE order_channel_meta (
  tenant_id uuid NOT NULL,
  order_id uuid NOT NULL,
  channel text NOT NULL CHECK (channel IN ('whatsapp', 'telegram', 'webchat', 'console')),
  channel_id uuid NOT NULL,
  external_chat_id text NOT NULL,
  external_user_id text,
  external_message_id text,
  conversation_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, order_id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders(tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations(tenant_id, id)
);

CREATE TABLE complaints (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  order_id uuid,
  customer_id uuid,
  conversation_id uuid,
  text text NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_review', 'resolved', 'rejected')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders(tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers(tenant_id, id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations(tenant_id, id)
);

-- De-duplication of platform deliveries: a (channel, platform message id) is handled once.
CREATE TABLE inbound_messages (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL,
  platform_message_id text NOT NULL,
  conversation_id uuid,
  kind text NOT NULL DEFAULT 'text',
  received_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, channel_id, platform_message_id),
  FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, id)
);

CREATE TABLE notification_targets (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  kind text NOT NULL CHECK (kind IN ('telegram', 'whatsapp', 'webhook')),
  channel_id uuid,
  chat_id text,                           -- telegram
  to_number text,                         -- whatsapp
  url text,                               -- webhook
  secret bytea,                           -- webhook: sealed secret
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, id)
);

-- Messages to send. Written in the same transaction as the change that caused them; the
-- dispatcher claims due rows, sends, and records the outcome.
CREATE TABLE outbox (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  seq bigint GENERATED ALWAYS AS IDENTITY,
  kind text NOT NULL DEFAULT 'reply' CHECK (kind IN ('reply', 'notification', 'webhook')),
  conversation_id uuid,                   -- replies: ordering key; NULL for seller targets
  channel_id uuid,                        -- the channel it goes out on (NULL for webhooks)
  target_id uuid,                         -- notification target, when kind is not 'reply'
  recipient text,                         -- wa_id, chat id, web session; URL for webhooks
  reply_to text,                          -- platform id of the inbound message answered
  event_type text,                        -- for notifications: order.placed, ...
  payload jsonb NOT NULL,                 -- a normalized reply, or the webhook body
  status text NOT NULL DEFAULT 'pending' CHECK (status IN
    ('pending', 'sending', 'sent', 'delivered', 'read', 'failed', 'dead', 'undeliverable')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz,
  lease_owner text,
  last_error text,
  error_code bigint,
  platform_message_id text,
  sent_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations(tenant_id, id),
  FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, id),
  FOREIGN KEY (tenant_id, target_id) REFERENCES notification_targets(tenant_id, id) ON DELETE SET NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_conversation ON outbox (tenant_id, conversation_id, seq)
  WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_platform_id ON outbox (tenant_id, platform_message_id)
  WHERE platform_message_id IS NOT NULL;

-- Admin API idempotency: a repeated Idempotency-Key within 24 h returns the first answer.
CREATE TABLE idempotency_keys (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key text NOT NULL,
  request_hash text NOT NULL,
  status_code integer NOT NULL,
  response_body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);

-- updated_at triggers and row-level security for every table created above.
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
  LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION touch_updated_at()',
                   t || '_touch', t);
  END LOOP;
END
$$;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (id = app_tenant_id()) WITH CHECK (id = app_tenant_id());

DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
           WHERE n.nspname = 'public' AND c.relkind = 'r'
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant_id()) '
                   'WITH CHECK (tenant_id = app_tenant_id())', t);
  END LOOP;
END
$$;

-- The owner (the role running this migration) may read across tenants only where the narrow
-- SECURITY DEFINER functions below need it; the application role never can.
CREATE POLICY owner_lookup ON tenants FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY owner_lookup ON channels FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY owner_lookup ON api_keys FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

-- Channel id -> tenant and channel: the one lookup before the tenant is known (webhooks).
CREATE FUNCTION channel_route(p_channel_id uuid)
RETURNS TABLE (tenant_id uuid, channel_id uuid, type text, status text, external_id text,
               config jsonb, secrets bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.tenant_id, c.id, c.type, c.status, c.external_id, c.config, c.secrets
  FROM channels c WHERE c.id = p_channel_id
$$;

-- (type, external id) -> channel: a WhatsApp change is routed by its phone_number_id.
CREATE FUNCTION channel_route_external(p_type text, p_external_id text)
RETURNS TABLE (tenant_id uuid, channel_id uuid, type text, status text, external_id text,
               config jsonb, secrets bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.tenant_id, c.id, c.type, c.status, c.external_id, c.config, c.secrets
  FROM channels c WHERE c.type = p_type AND c.external_id = p_external_id
    AND c.status <> 'disabled'
$$;

-- Tenant slug -> tenant id (web chat page, console).
CREATE FUNCTION tenant_by_slug(p_slug text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT id FROM tenants WHERE slug = p_slug
$$;

-- API key hash -> tenant id, for keys that are not revoked. Records the last use.
CREATE FUNCTION api_key_tenant(p_key_hash text) RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE api_keys SET last_used_at = now()
  WHERE key_hash = p_key_hash AND revoked_at IS NULL
  RETURNING tenant_id
$$;

-- The application role: no ownership, only the grants it needs.
GRANT USAGE ON SCHEMA public TO :"app_role";
GRANT SELECT, INSERT, UPDATE ON tenants TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON
  users, api_keys, customers, customer_identities, address_book, products, channels,
  conversations, conversation_events, carts, cart_items, order_counters, orders, order_items,
  order_channel_meta, complaints, inbound_messages, notification_targets, outbox,
  idempotency_keys
  TO :"app_role";
REVOKE ALL ON FUNCTION channel_route(uuid), channel_route_external(text, text),
  tenant_by_slug(text), api_key_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_route(uuid), channel_route_external(text, text),
  tenant_by_slug(text), api_key_tenant(text), app_tenant_id() TO :"app_role";

-- Wake the dispatcher when rows are written (LISTEN ccgw_outbox); a periodic sweep covers
-- missed notifications.
CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ccgw_outbox', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
