-- 110_outbox_claim_batch.sql: the rows a claim takes are updated in one statement.
--
-- outbox_claim (107) updated each row it took in a statement of its own, by its key: in
-- bench/pgwork (1,000 shoppers, 32 in flight, about 15 rows a batch) 2.5 ms a call, 0.095 ms
-- of it for each row's UPDATE. As outbox_complete does since 109, the candidates are read and
-- locked as before, and the rows taken are then updated together through their places (ctid,
-- read with the lock), in one UPDATE planned with index and bitmap scans off so that a TID
-- scan is the only way to the outbox it is not penalized for; the settings are put back
-- after it. The rows taken come first in the result, in the candidates' order; the parked
-- rows are still written one by one (a few, and only when a conversation's earlier reply is
-- unsent or a channel delivers locally). Everything else is as in 107.
CREATE OR REPLACE FUNCTION outbox_claim(p_owner text, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (claimed boolean, tenant_id uuid, id uuid, kind text, channel_id uuid,
               target_id uuid, conversation_id uuid, recipient text, reply_to text, event_type text,
               payload jsonb, attempts integer, parts_sent integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
  lim integer := least(greatest(coalesce(p_limit, 0), 0), 1000);
  lease interval := make_interval(secs => least(greatest(coalesce(p_lease_seconds, 1), 1), 3600));
  park interval := least(lease, interval '2 seconds');
  c record;
  taken integer := 0;
  park_tenant uuid[] := '{}';
  park_id uuid[] := '{}';
  park_console boolean[] := '{}';
  take_place tid[] := '{}';
  take_tenant uuid[] := '{}';
  take_id uuid[] := '{}';
  was_indexscan text := current_setting('enable_indexscan');
  was_bitmapscan text := current_setting('enable_bitmapscan');
  i integer;
BEGIN
  FOR c IN
    SELECT o.tenant_id AS t, o.id AS i, o.ctid AS place,
           (o.conversation_id IS NOT NULL AND EXISTS (
              SELECT 1 FROM public.outbox p
              WHERE p.tenant_id = o.tenant_id AND p.conversation_id = o.conversation_id
                AND p.status IN ('pending', 'sending') AND p.seq < o.seq)) AS blocked,
           (o.kind = 'reply' AND EXISTS (
              SELECT 1 FROM public.channels ch
              WHERE ch.tenant_id = o.tenant_id AND ch.id = o.channel_id
                AND public.channel_delivers_locally(ch.type))) AS console
    FROM public.outbox o
    WHERE o.status IN ('pending', 'sending')
      AND o.next_attempt_at <= now()
      AND (o.status = 'pending' OR o.lease_until IS NULL OR o.lease_until <= now())
    ORDER BY o.next_attempt_at
    LIMIT lim * 4
    FOR UPDATE OF o SKIP LOCKED
  LOOP
    IF c.blocked OR c.console THEN
      park_tenant := park_tenant || c.t;
      park_id := park_id || c.i;
      park_console := park_console || c.console;
    ELSIF taken < lim THEN
      take_place := take_place || c.place;
      take_tenant := take_tenant || c.t;
      take_id := take_id || c.i;
      taken := taken + 1;
    END IF;
  END LOOP;
  IF taken > 0 THEN
    PERFORM set_config('enable_indexscan', 'off', true),
      set_config('enable_bitmapscan', 'off', true);
    RETURN QUERY
    WITH u AS (
      UPDATE public.outbox x
      SET status = 'sending',
          lease_owner = p_owner,
          lease_until = now() + lease,
          next_attempt_at = now() + lease,
          attempts = x.attempts + 1
      FROM unnest(take_place, take_tenant, take_id) WITH ORDINALITY AS b(place, t, i, ord)
      WHERE x.ctid = b.place AND x.tenant_id = b.t AND x.id = b.i
      RETURNING b.ord, x.tenant_id, x.id, x.kind, x.channel_id, x.target_id, x.conversation_id,
                x.recipient, x.reply_to, x.event_type, x.payload, x.attempts, x.parts_sent
    )
    SELECT true, u.tenant_id, u.id, u.kind, u.channel_id, u.target_id, u.conversation_id,
           u.recipient, u.reply_to, u.event_type, u.payload, u.attempts, u.parts_sent
    FROM u ORDER BY u.ord;
    PERFORM set_config('enable_indexscan', was_indexscan, true),
      set_config('enable_bitmapscan', was_bitmapscan, true);
  END IF;
  FOR i IN 1 .. coalesce(cardinality(park_id), 0) LOOP
    UPDATE public.outbox x
    SET next_attempt_at = CASE WHEN park_console[i] THEN 'infinity'::timestamptz
                               WHEN x.status = 'pending' THEN now() + park
                               ELSE now() + lease
                          END,
        status = CASE WHEN park_console[i] THEN 'pending' ELSE x.status END,
        lease_owner = CASE WHEN park_console[i] THEN NULL ELSE x.lease_owner END,
        lease_until = CASE WHEN park_console[i] THEN NULL ELSE x.lease_until END
    WHERE x.tenant_id = park_tenant[i] AND x.id = park_id[i]
    RETURNING false, x.tenant_id, x.id, NULL::text, NULL::uuid, NULL::uuid, NULL::uuid,
              NULL::text, NULL::text, NULL::text, NULL::jsonb, x.attempts, x.parts_sent
    INTO claimed, tenant_id, id, kind, channel_id, target_id, conversation_id, recipient,
         reply_to, event_type, payload, attempts, parts_sent;
    IF FOUND THEN
      RETURN NEXT;
    END IF;
  END LOOP;
END
$$;
