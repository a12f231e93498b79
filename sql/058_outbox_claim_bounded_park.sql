-- 058_outbox_claim_bounded_park.sql: a message that waits behind an earlier one of its
-- conversation is parked for at most two seconds, not for a whole lease.
--
-- The claim parks such a row, and whoever finishes the earlier message brings it back
-- (dispatch_store.c, complete_sql). Those two statements can pass each other. The finisher's
-- snapshot may be older than the new row, so it does not see it; the claim's snapshot may be
-- older than the finisher's commit, so it still sees the earlier message in flight. Parked for
-- a lease (60 s by default), the reply then reached the shopper a minute late. Bounded, the
-- next look takes it within the park plus one sweep. The finisher still brings parked rows
-- back at once in the common case.
--
-- The function is now PL/pgSQL: its statement's plan is kept per connection, where a
-- LANGUAGE sql function with this body is planned afresh on every call.
CREATE OR REPLACE FUNCTION outbox_claim(p_owner text, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (claimed boolean, tenant_id uuid, id uuid, kind text, channel_id uuid, target_id uuid,
               conversation_id uuid, recipient text, reply_to text, event_type text,
               payload jsonb, attempts integer, parts_sent integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  lim integer := least(greatest(coalesce(p_limit, 0), 0), 1000);
  lease interval := make_interval(secs => least(greatest(coalesce(p_lease_seconds, 1), 1), 3600));
  park interval := least(make_interval(secs => least(greatest(coalesce(p_lease_seconds, 1), 1), 3600)),
                         interval '2 seconds');
BEGIN
  RETURN QUERY
  WITH cand AS (
    SELECT o.tenant_id, o.id,
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
  ), pick AS (
    SELECT c.tenant_id, c.id FROM cand c WHERE NOT c.blocked AND NOT c.console
    LIMIT lim
  ), took AS (
    UPDATE public.outbox o
    SET status = 'sending',
        lease_owner = p_owner,
        lease_until = now() + lease,
        next_attempt_at = now() + lease,
        attempts = o.attempts + 1
    FROM pick
    WHERE o.tenant_id = pick.tenant_id AND o.id = pick.id
    RETURNING true AS claimed, o.tenant_id, o.id, o.kind, o.channel_id, o.target_id,
              o.conversation_id, o.recipient, o.reply_to, o.event_type, o.payload, o.attempts,
              o.parts_sent
  ), parked AS (
    UPDATE public.outbox o
    SET next_attempt_at = CASE WHEN cand.console THEN 'infinity'::timestamptz
                               WHEN o.status = 'pending' THEN now() + park
                               ELSE now() + lease
                          END,
        status = CASE WHEN cand.console THEN 'pending' ELSE o.status END,
        lease_owner = CASE WHEN cand.console THEN NULL ELSE o.lease_owner END,
        lease_until = CASE WHEN cand.console THEN NULL ELSE o.lease_until END
    FROM cand
    WHERE (cand.blocked OR cand.console) AND o.tenant_id = cand.tenant_id AND o.id = cand.id
    RETURNING false AS claimed, o.tenant_id, o.id, NULL::text, NULL::uuid, NULL::uuid, NULL::uuid,
              NULL::text, NULL::text, NULL::text, NULL::jsonb, o.attempts, o.parts_sent
  )
  SELECT * FROM took UNION ALL SELECT * FROM parked;
END
$$;
