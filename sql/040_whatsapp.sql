-- 040_whatsapp.sql: events of a channel that belong to no conversation: errors Meta reports for
-- the WhatsApp account or number (value.errors of a webhook) and webhook changes for a phone
-- number that no channel of the app is registered for. Conversation-level events (delivered,
-- read, failed) stay in conversation_events.

CREATE TABLE channel_events (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL,
  event_type text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX channel_events_channel ON channel_events (tenant_id, channel_id, created_at);

CREATE TRIGGER channel_events_touch BEFORE UPDATE ON channel_events
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

ALTER TABLE channel_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE channel_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON channel_events
  USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());

GRANT SELECT, INSERT, DELETE ON channel_events TO :"app_role";
