-- 053_pending_statuses.sql: a platform's delivery status ('sent', 'delivered', 'read',
-- 'failed') that arrives before the dispatcher has stored the message id it is about (the
-- platform answered the send, sent the status webhook, and the webhook won the race with the
-- dispatcher writing the outcome) is kept here and applied when the outcome is written, so
-- the outbox row ends in the right state whichever comes first. Rows whose message id never
-- shows up (messages sent outside ccgw) are dropped after a day.
CREATE TABLE pending_statuses (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL,
  platform_message_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
  error_code bigint,
  error_text text,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX pending_statuses_message ON pending_statuses (tenant_id, channel_id, platform_message_id);
CREATE INDEX pending_statuses_age ON pending_statuses (tenant_id, received_at);
ALTER TABLE pending_statuses ENABLE ROW LEVEL SECURITY;
ALTER TABLE pending_statuses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pending_statuses USING (tenant_id = app_tenant_id())
  WITH CHECK (tenant_id = app_tenant_id());
GRANT SELECT, INSERT, DELETE ON pending_statuses TO :"app_role";
