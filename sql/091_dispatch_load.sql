-- 091_dispatch_load.sql: what a dispatcher needs to send a tenant's claimed rows, read in
-- one statement.
--
-- Before, preparing a batch took a transaction of six statements: BEGIN, the tenant's
-- setting, the conversations whose shopper blocked the bot, the channels, the notification
-- targets, the 24-hour windows, COMMIT. This function reads the same in one call, which the
-- dispatcher runs as its own transaction (gateway/dispatch/dispatch_store.c). SECURITY
-- INVOKER: it sets app.tenant_id for its transaction and row-level security applies.
--
-- Arguments: the tenant; the channel ids, target ids and (reply) conversation ids of the
-- batch; per row, in order, its conversation id, channel id and recipient (for the window).
-- Returns rows of four kinds, told apart by `what`:
--   'c' a channel: id, s1 type, s2 status, s3 config (json text), secret the sealed secrets;
--   't' a target:  id, s1 kind, s2 url, secret the sealed secret, flag active;
--   'b' a conversation whose shopper blocked the bot: id;
--   'w' a row's window: ord (1-based row number), age (seconds since the shopper last
--       wrote: the conversation's, else the one the recipient has with the channel).
CREATE FUNCTION dispatch_load(p_tenant uuid, p_chans uuid[], p_targets uuid[], p_convs uuid[],
                              p_wconv uuid[], p_wchan uuid[], p_wrcpt text[])
RETURNS TABLE (what text, ord bigint, id uuid, s1 text, s2 text, s3 text, secret bytea,
               flag boolean, age bigint)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  RETURN QUERY
  SELECT 'c'::text, NULL::bigint, c.id, c.type, c.status, c.config::text, c.secrets,
         NULL::boolean, NULL::bigint
  FROM channels c WHERE c.id = ANY(p_chans)
  UNION ALL
  SELECT 't', NULL, t.id, t.kind, t.url, NULL, t.secret, t.active, NULL
  FROM notification_targets t WHERE t.id = ANY(p_targets)
  UNION ALL
  SELECT 'b', NULL, c.id, NULL, NULL, NULL, NULL, NULL, NULL
  FROM conversations c WHERE c.id = ANY(p_convs) AND c.blocked_at IS NOT NULL
  UNION ALL
  -- plain uuid = uuid comparisons: row-level security lets only leakproof conditions into
  -- an index scan (a cast in the condition means a seq scan)
  SELECT 'w', x.n, NULL, NULL, NULL, NULL, NULL, NULL,
         floor(extract(epoch FROM now() - COALESCE(
           (SELECT c.last_inbound_at FROM conversations c WHERE c.id = x.conv),
           (SELECT c.last_inbound_at FROM conversations c
            WHERE x.conv IS NULL AND c.channel_id = x.chan
              AND c.external_chat_id = x.rcpt))))::bigint
  FROM unnest(p_wconv, p_wchan, p_wrcpt) WITH ORDINALITY AS x(conv, chan, rcpt, n);
END
$$;

REVOKE ALL ON FUNCTION dispatch_load(uuid, uuid[], uuid[], uuid[], uuid[], uuid[], text[])
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dispatch_load(uuid, uuid[], uuid[], uuid[], uuid[], uuid[], text[])
  TO :"app_role";
