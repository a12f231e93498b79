-- 030_dispatch.sql: what the outbound dispatcher needs beyond 001. The one cross-tenant step,
-- claiming due outbox rows, goes through the narrow SECURITY DEFINER function outbox_claim();
-- everything after the claim (channel lookup, the outcome of a send) runs in a tenant
-- transaction of the application role. Also: how far a multi-request reply got (parts_sent),
-- and two read-only summaries for /metrics.

-- A reply an adapter renders into several requests (text, then buttons) records how many of
-- them the platform accepted, so a retry resumes after them instead of repeating them.
ALTER TABLE outbox ADD COLUMN parts_sent integer NOT NULL DEFAULT 0 CHECK (parts_sent >= 0);

-- Rows that need a person's eyes, for the /metrics depth gauge (sent rows are not counted).
CREATE INDEX outbox_problems ON outbox (status) WHERE status IN ('failed', 'dead', 'undeliverable');

-- The owner may read and update outbox rows of every tenant only inside the definer functions
-- below (the application role never can: it is not the owner).
CREATE POLICY owner_dispatch_read ON outbox FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY owner_dispatch_claim ON outbox FOR UPDATE TO CURRENT_USER USING (true) WITH CHECK (true);

-- Claims up to p_limit due rows for p_owner: pending rows whose next_attempt_at has come, and
-- sending rows whose lease ran out (their process died). Only the first unfinished row of a
-- conversation is ever due, so a conversation's message n+1 waits until n is sent or finally
-- failed. SKIP LOCKED lets several processes claim at once without sending a row twice.
-- A claimed row is 'sending', leased for p_lease_seconds; its next_attempt_at moves to the end
-- of the lease, so in-flight rows drop out of the due range scan and come back on their own
-- when the lease expires.
CREATE FUNCTION outbox_claim(p_owner text, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (tenant_id uuid, id uuid, kind text, channel_id uuid, target_id uuid,
               conversation_id uuid, recipient text, reply_to text, event_type text,
               payload jsonb, attempts integer, parts_sent integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH due AS (
    SELECT o.tenant_id, o.id
    FROM outbox o
    WHERE o.status IN ('pending', 'sending')
      AND o.next_attempt_at <= now()
      AND (o.status = 'pending' OR o.lease_until IS NULL OR o.lease_until <= now())
      AND (o.conversation_id IS NULL OR NOT EXISTS (
            SELECT 1 FROM outbox p
            WHERE p.tenant_id = o.tenant_id AND p.conversation_id = o.conversation_id
              AND p.status IN ('pending', 'sending') AND p.seq < o.seq))
    ORDER BY o.next_attempt_at, o.seq
    LIMIT greatest(p_limit, 0)
    FOR UPDATE OF o SKIP LOCKED
  )
  UPDATE outbox o
  SET status = 'sending',
      lease_owner = p_owner,
      lease_until = now() + make_interval(secs => greatest(p_lease_seconds, 1)),
      next_attempt_at = now() + make_interval(secs => greatest(p_lease_seconds, 1)),
      attempts = o.attempts + 1
  FROM due
  WHERE o.tenant_id = due.tenant_id AND o.id = due.id
  RETURNING o.tenant_id, o.id, o.kind, o.channel_id, o.target_id, o.conversation_id,
            o.recipient, o.reply_to, o.event_type, o.payload, o.attempts, o.parts_sent
$$;

-- Outbox rows by status, across tenants, for /metrics (sent/delivered/read are not counted:
-- they only grow; the dispatcher counts its sends itself).
CREATE FUNCTION outbox_depth()
RETURNS TABLE (status text, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT o.status, count(*) FROM outbox o
  WHERE o.status IN ('pending', 'sending', 'failed', 'dead', 'undeliverable')
  GROUP BY o.status
$$;

-- Channels by type and status, and the ids of unhealthy ones, for /metrics.
CREATE FUNCTION channel_health()
RETURNS TABLE (type text, status text, n bigint, unhealthy_ids text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.type, c.status, count(*),
         (array_agg(c.id::text ORDER BY c.id) FILTER (WHERE c.status = 'unhealthy'))[1:20]
  FROM channels c GROUP BY c.type, c.status
$$;

REVOKE ALL ON FUNCTION outbox_claim(text, integer, integer), outbox_depth(), channel_health()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outbox_claim(text, integer, integer), outbox_depth(), channel_health()
  TO :"app_role";
