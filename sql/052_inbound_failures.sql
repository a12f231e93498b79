-- 052_inbound_failures.sql: a platform message that passes the signature but cannot be
-- processed (a constraint, a bug in the engine: not a transient database error) is tried a
-- bounded number of times across the platform's redeliveries. Each try is counted here; at
-- the last one the message is recorded as failed (status 'failed', an inbound_messages row so
-- redeliveries are duplicates, a channel event) and answered 200, so one bad message never
-- makes the platform retry its whole batch for ever.
CREATE TABLE inbound_failures (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL,
  platform_message_id text NOT NULL,
  kind text NOT NULL DEFAULT 'text',
  status text NOT NULL DEFAULT 'retrying' CHECK (status IN ('retrying', 'failed')),
  attempts integer NOT NULL DEFAULT 1,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, channel_id, platform_message_id),
  FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX inbound_failures_recent ON inbound_failures (tenant_id, created_at, id);
CREATE TRIGGER inbound_failures_touch BEFORE UPDATE ON inbound_failures
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE inbound_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbound_failures FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inbound_failures USING (tenant_id = app_tenant_id())
  WITH CHECK (tenant_id = app_tenant_id());
GRANT SELECT, INSERT, UPDATE ON inbound_failures TO :"app_role";
