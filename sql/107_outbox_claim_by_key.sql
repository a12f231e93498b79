-- 107_outbox_claim_by_key.sql: the outbox claim takes and parks its rows one by one, by key.
--
-- outbox_claim keeps one generic plan per session (092), made again whenever ANALYZE changes
-- the outbox's statistics. On a new database autovacuum's first ANALYZE of the outbox can come
-- while it holds a few dozen rows. Planned then, the claim's two UPDATE ... FROM cand joins
-- (the rows taken, the rows parked) put the outbox on the outer side of a nested loop, as a
-- whole scan of the table or of its primary key, with the candidates as the inner side; and
-- it kept doing so as the table grew, until the next ANALYZE a minute later. In the
-- bench_ingest run examined: 53,000 buffers and 174 ms a claim, PostgreSQL's CPU a message 2.5
-- times the usual (four of some 35 runs that day were 2.5 to 4 times slower). Switching table
-- scans off alone made it worse (the primary key scanned whole instead, in five of eight runs).
--
-- Now the candidates are read as before (outbox_due in next_attempt_at order, the earlier
-- unfinished reply of each one's conversation through outbox_conversation, the channel by
-- channels_id_key), and each row taken or parked is updated by its primary key in a statement
-- of its own, as outbox_complete does (100): no plan of the claim depends on the statistics,
-- and table scans are off inside it. Rows are taken in the candidates' order, at most
-- p_limit, and those that wait behind an earlier reply of their conversation or belong to a
-- local channel are parked, as before (058); the rows taken come first in the result.
-- test_pg_registry makes the plan on 60 rows and claims among 3,060.
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
  i integer;
BEGIN
  FOR c IN
    SELECT o.tenant_id AS t, o.id AS i,
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
      UPDATE public.outbox x
      SET status = 'sending',
          lease_owner = p_owner,
          lease_until = now() + lease,
          next_attempt_at = now() + lease,
          attempts = x.attempts + 1
      WHERE x.tenant_id = c.t AND x.id = c.i
      RETURNING true, x.tenant_id, x.id, x.kind, x.channel_id, x.target_id, x.conversation_id,
                x.recipient, x.reply_to, x.event_type, x.payload, x.attempts, x.parts_sent
      INTO claimed, tenant_id, id, kind, channel_id, target_id, conversation_id, recipient,
           reply_to, event_type, payload, attempts, parts_sent;
      IF FOUND THEN
        taken := taken + 1;
        RETURN NEXT;
      END IF;
    END IF;
  END LOOP;
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
