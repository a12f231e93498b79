-- 055_telegram.sql: what the Telegram channel needs of the database.
--
-- conversations.blocked_at: the shopper blocked the bot (a my_chat_member update, or a send
-- answered 403 "bot was blocked by the user"). Nothing more is sent to the chat until they
-- allow the bot again (blocked_at back to NULL); replies written meanwhile end undeliverable.
ALTER TABLE conversations ADD COLUMN blocked_at timestamptz;

-- channel_poll_offsets: for a channel in long polling mode, the offset that confirms the
-- updates already committed (Telegram's getUpdates offset: the last update_id + 1). It is
-- stored only after the updates are, so a restart neither loses nor repeats one.
CREATE TABLE channel_poll_offsets (
  tenant_id uuid NOT NULL,
  channel_id uuid NOT NULL,
  next_offset bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, channel_id),
  FOREIGN KEY (tenant_id, channel_id) REFERENCES channels(tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE channel_poll_offsets ENABLE ROW LEVEL SECURITY;
ALTER TABLE channel_poll_offsets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON channel_poll_offsets USING (tenant_id = app_tenant_id())
  WITH CHECK (tenant_id = app_tenant_id());
GRANT SELECT, INSERT, UPDATE ON channel_poll_offsets TO :"app_role";

-- The channels of a type that poll (config mode = polling), across tenants: what a poller
-- looks for before it knows a tenant. Narrow, like channel_route.
CREATE FUNCTION channel_poll_list(p_type text)
RETURNS TABLE (tenant_id uuid, channel_id uuid, config jsonb, secrets bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT c.tenant_id, c.id, c.config, c.secrets FROM public.channels c
  WHERE c.type = p_type AND c.status <> 'disabled' AND c.config->>'mode' = 'polling'
  ORDER BY c.created_at, c.id
$$;
REVOKE ALL ON FUNCTION channel_poll_list(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_poll_list(text) TO :"app_role";
