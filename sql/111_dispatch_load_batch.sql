-- 111_dispatch_load_batch.sql: dispatch_load reads a batch's conversations in two statements
-- whatever the batch's size.
--
-- 108 looked each conversation up by its whole key in a statement of its own (the blocked
-- check, then each row's 24-hour window). Each is now a subquery run once for each id of the
-- batch, in one statement for the blocked checks and one for the windows: a subquery with the
-- whole key can use no index but the key's, so the plans still do not depend on the
-- statistics (test_pg_registry test_load_plan_after_small_analyze), and the function runs two
-- statements where it ran two a row. Same arguments, same rows.
CREATE OR REPLACE FUNCTION dispatch_load(p_tenant uuid, p_chans uuid[], p_targets uuid[],
                                         p_convs uuid[], p_wconv uuid[], p_wchan uuid[],
                                         p_wrcpt text[])
RETURNS TABLE (what text, ord bigint, id uuid, s1 text, s2 text, s3 text, secret bytea,
               flag boolean, age bigint)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  RETURN QUERY
  SELECT 'c'::text, NULL::bigint, c.id, c.type, c.status, c.config::text, c.secrets,
         NULL::boolean, NULL::bigint
  FROM channels c WHERE c.id = ANY(p_chans)
  UNION ALL
  SELECT 't', NULL, t.id, t.kind, t.url, NULL, t.secret, t.active, NULL
  FROM notification_targets t WHERE t.id = ANY(p_targets);
  RETURN QUERY
  SELECT 'b'::text, NULL::bigint, b.v, NULL::text, NULL::text, NULL::text, NULL::bytea,
         NULL::boolean, NULL::bigint
  FROM (SELECT u.v, (SELECT c.blocked_at IS NOT NULL FROM conversations c
                     WHERE c.tenant_id = p_tenant AND c.id = u.v) AS blocked
        FROM unnest(p_convs) AS u(v) OFFSET 0) b
  WHERE b.blocked;
  -- a row's window: the conversation's, else the one the recipient has with the channel
  RETURN QUERY
  SELECT 'w'::text, w.i, NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::bytea,
         NULL::boolean, floor(extract(epoch FROM now() - w.seen))::bigint
  FROM (SELECT x.i, CASE WHEN x.conv IS NOT NULL
                      THEN (SELECT c.last_inbound_at FROM conversations c
                            WHERE c.tenant_id = p_tenant AND c.id = x.conv)
                      ELSE (SELECT c.last_inbound_at FROM conversations c
                            WHERE c.channel_id = x.chan AND c.external_chat_id = x.rcpt
                              AND c.tenant_id = p_tenant) END AS seen
        FROM unnest(p_wconv, p_wchan, p_wrcpt) WITH ORDINALITY AS x(conv, chan, rcpt, i)
        OFFSET 0) w
  ORDER BY w.i;
END
$$;
