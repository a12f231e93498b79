-- 032_console_rows.sql: the dispatcher leaves the replies of console channels to the console.
-- `ccgw console` is its own delivery: at each line the shopper types it takes its
-- conversation's pending replies from the outbox, marks them sent in that transaction and
-- prints them. Replies that another writer puts on a console channel (a seller's status change
-- through the admin API, an agent's message, a handoff release) were claimed by the dispatcher,
-- which has no sender for the console, and failed. Now the claim does not take them: it parks
-- them out of the due range for good (next_attempt_at = 'infinity', pending, no lease), so they
-- wait for the console's next line and no later claim looks at them again. Everything else is
-- 031's claim unchanged.

CREATE OR REPLACE FUNCTION outbox_claim(p_owner text, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (claimed boolean, tenant_id uuid, id uuid, kind text, channel_id uuid, target_id uuid,
               conversation_id uuid, recipient text, reply_to text, event_type text,
               payload jsonb, attempts integer, parts_sent integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH cand AS (
    SELECT o.tenant_id, o.id,
           (o.conversation_id IS NOT NULL AND EXISTS (
              SELECT 1 FROM outbox p
              WHERE p.tenant_id = o.tenant_id AND p.conversation_id = o.conversation_id
                AND p.status IN ('pending', 'sending') AND p.seq < o.seq)) AS blocked,
           (o.kind = 'reply' AND EXISTS (
              SELECT 1 FROM channels ch
              WHERE ch.tenant_id = o.tenant_id AND ch.id = o.channel_id
                AND ch.type = 'console')) AS console
    FROM outbox o
    WHERE o.status IN ('pending', 'sending')
      AND o.next_attempt_at <= now()
      AND (o.status = 'pending' OR o.lease_until IS NULL OR o.lease_until <= now())
    ORDER BY o.next_attempt_at
    LIMIT greatest(p_limit, 0) * 4
    FOR UPDATE OF o SKIP LOCKED
  ), pick AS (
    SELECT c.tenant_id, c.id FROM cand c WHERE NOT c.blocked AND NOT c.console
    LIMIT greatest(p_limit, 0)
  ), took AS (
    UPDATE outbox o
    SET status = 'sending',
        lease_owner = p_owner,
        lease_until = now() + make_interval(secs => greatest(p_lease_seconds, 1)),
        next_attempt_at = now() + make_interval(secs => greatest(p_lease_seconds, 1)),
        attempts = o.attempts + 1
    FROM pick
    WHERE o.tenant_id = pick.tenant_id AND o.id = pick.id
    RETURNING true AS claimed, o.tenant_id, o.id, o.kind, o.channel_id, o.target_id,
              o.conversation_id, o.recipient, o.reply_to, o.event_type, o.payload, o.attempts,
              o.parts_sent
  ), parked AS (
    UPDATE outbox o
    SET next_attempt_at = CASE WHEN cand.console THEN 'infinity'::timestamptz
                               ELSE now() + make_interval(secs => greatest(p_lease_seconds, 1))
                          END,
        status = CASE WHEN cand.console THEN 'pending' ELSE o.status END,
        lease_owner = CASE WHEN cand.console THEN NULL ELSE o.lease_owner END,
        lease_until = CASE WHEN cand.console THEN NULL ELSE o.lease_until END
    FROM cand
    WHERE (cand.blocked OR cand.console) AND o.tenant_id = cand.tenant_id AND o.id = cand.id
    RETURNING false AS claimed, o.tenant_id, o.id, NULL::text, NULL::uuid, NULL::uuid, NULL::uuid,
              NULL::text, NULL::text, NULL::text, NULL::jsonb, o.attempts, o.parts_sent
  )
  SELECT * FROM took UNION ALL SELECT * FROM parked
$$;

REVOKE ALL ON FUNCTION outbox_claim(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outbox_claim(text, integer, integer) TO :"app_role";
