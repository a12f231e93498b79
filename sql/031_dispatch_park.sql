-- 031_dispatch_park.sql: claiming stays cheap when conversations have backlogs. A row whose
-- conversation still has an earlier unfinished row cannot be sent yet; 030's claim looked at
-- every such row again on every claim (and sorted them all). Now the claim scans only a window
-- of due rows in next_attempt_at order (the outbox_due index, stopping early), claims the
-- conversations' first rows among them, and parks the others: their next_attempt_at moves one
-- lease ahead, out of the due range. When a conversation's row is finished, the dispatcher
-- brings the next one back at once (in the same transaction as the outcome); if that never
-- happens (a crash), a parked row is due again after the lease anyway. Parking never changes
-- what may be sent: the NOT EXISTS rule of 030 is still what decides.

DROP FUNCTION outbox_claim(text, integer, integer);

-- Rows with claimed = true are claimed for p_owner (as in 030); rows with claimed = false were
-- parked and carry only tenant_id and id (the caller claims again at once when any were).
CREATE FUNCTION outbox_claim(p_owner text, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (claimed boolean, tenant_id uuid, id uuid, kind text, channel_id uuid, target_id uuid,
               conversation_id uuid, recipient text, reply_to text, event_type text,
               payload jsonb, attempts integer, parts_sent integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH cand AS (
    SELECT o.tenant_id, o.id,
           (o.conversation_id IS NOT NULL AND EXISTS (
              SELECT 1 FROM outbox p
              WHERE p.tenant_id = o.tenant_id AND p.conversation_id = o.conversation_id
                AND p.status IN ('pending', 'sending') AND p.seq < o.seq)) AS blocked
    FROM outbox o
    WHERE o.status IN ('pending', 'sending')
      AND o.next_attempt_at <= now()
      AND (o.status = 'pending' OR o.lease_until IS NULL OR o.lease_until <= now())
    ORDER BY o.next_attempt_at
    LIMIT greatest(p_limit, 0) * 4
    FOR UPDATE OF o SKIP LOCKED
  ), pick AS (
    SELECT c.tenant_id, c.id FROM cand c WHERE NOT c.blocked LIMIT greatest(p_limit, 0)
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
    SET next_attempt_at = now() + make_interval(secs => greatest(p_lease_seconds, 1))
    FROM cand
    WHERE cand.blocked AND o.tenant_id = cand.tenant_id AND o.id = cand.id
    RETURNING false AS claimed, o.tenant_id, o.id, NULL::text, NULL::uuid, NULL::uuid, NULL::uuid,
              NULL::text, NULL::text, NULL::text, NULL::jsonb, o.attempts, o.parts_sent
  )
  SELECT * FROM took UNION ALL SELECT * FROM parked
$$;

REVOKE ALL ON FUNCTION outbox_claim(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outbox_claim(text, integer, integer) TO :"app_role";
