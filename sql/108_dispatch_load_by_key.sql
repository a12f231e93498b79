-- 108_dispatch_load_by_key.sql: dispatch_load looks each conversation up by its primary key,
-- in a statement of its own, under a generic plan kept per connection.
--
-- 091 read a batch's conversations with `id = ANY(p_convs)` and a subquery per window, in one
-- statement planned at every call (0.58 ms of planning a call). On a database whose
-- statistics were made when the tenant had few conversations, the planner sometimes put the
-- ids in a filter over an index scan of the tenant's whole key range: test_pg_registry's
-- test_load_plan_after_small_analyze read 3,052 conversation rows for a batch of 12 among
-- 3,040 in about one run of four, where 24 lookups suffice. Now each blocked-or-not check and
-- each window is one row looked up by its whole key (tenant_id and id, or the chat key), as
-- outbox_complete (100) and outbox_claim (107) do: no plan of these depends on the
-- statistics, so they keep their generic plans, and table scans are off inside the function.
-- The channels and notification targets are read as before. Same arguments, same rows.
CREATE OR REPLACE FUNCTION dispatch_load(p_tenant uuid, p_chans uuid[], p_targets uuid[],
                                         p_convs uuid[], p_wconv uuid[], p_wchan uuid[],
                                         p_wrcpt text[])
RETURNS TABLE (what text, ord bigint, id uuid, s1 text, s2 text, s3 text, secret bytea,
               flag boolean, age bigint)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
  v uuid;
  i integer;
  n integer := greatest(coalesce(cardinality(p_wconv), 0), coalesce(cardinality(p_wchan), 0),
                        coalesce(cardinality(p_wrcpt), 0));
  seen timestamptz;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  RETURN QUERY
  SELECT 'c'::text, NULL::bigint, c.id, c.type, c.status, c.config::text, c.secrets,
         NULL::boolean, NULL::bigint
  FROM channels c WHERE c.id = ANY(p_chans)
  UNION ALL
  SELECT 't', NULL, t.id, t.kind, t.url, NULL, t.secret, t.active, NULL
  FROM notification_targets t WHERE t.id = ANY(p_targets);
  s1 := NULL; s2 := NULL; s3 := NULL; secret := NULL; flag := NULL;
  FOREACH v IN ARRAY coalesce(p_convs, '{}'::uuid[]) LOOP
    IF EXISTS (SELECT 1 FROM conversations c
               WHERE c.tenant_id = p_tenant AND c.id = v AND c.blocked_at IS NOT NULL) THEN
      what := 'b'; ord := NULL; id := v; age := NULL;
      RETURN NEXT;
    END IF;
  END LOOP;
  -- a row's window: the conversation's, else the one the recipient has with the channel
  FOR i IN 1 .. n LOOP
    seen := NULL;
    IF p_wconv[i] IS NOT NULL THEN
      SELECT c.last_inbound_at INTO seen FROM conversations c
      WHERE c.tenant_id = p_tenant AND c.id = p_wconv[i];
    ELSE
      SELECT c.last_inbound_at INTO seen FROM conversations c
      WHERE c.channel_id = p_wchan[i] AND c.external_chat_id = p_wrcpt[i]
        AND c.tenant_id = p_tenant;
    END IF;
    what := 'w'; ord := i; id := NULL;
    age := floor(extract(epoch FROM now() - seen))::bigint;
    RETURN NEXT;
  END LOOP;
END
$$;
