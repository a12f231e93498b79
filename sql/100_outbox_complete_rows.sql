-- 100_outbox_complete_rows.sql: writing a batch's outcomes row by row with plans kept per
-- connection.
--
-- outbox_complete (090, 093) wrote a batch in one set-based statement that joined the batch
-- against the outbox. Its plan depended on the statistics (a generic plan made on a young
-- outbox scanned all of a tenant's rows), so it was planned at every call: measured with
-- bench_ingest (300 shoppers, 32 in flight, about 5 rows per batch), 4.4 ms per call, of
-- which 1.2 ms planned that statement and 2.1 ms ran it; the largest cost of the dispatcher.
-- Now each outcome is a few statements that look one row up by its key: the row by the
-- primary key (tenant_id, id), the conversation's next message and any earlier unfinished one
-- through outbox_conversation (tenant_id, conversation_id, seq), the event inserted by value.
-- No plan choice depends on the statistics (sequential scans are off inside the function, so
-- a table believed tiny is still read by its index), and the function keeps its generic
-- plans (made at the first call on a connection, again when ANALYZE changes a table).
-- What it does is as before: the outcome written when the lease is still ours, the
-- conversation's next message claimed under the same lease owner when it may go now (it is
-- the conversation's first unfinished row, is not waiting out a retry and is not for a
-- channel that delivers locally) or else brought back if parked, a message_sent or
-- message_failed event per finished row, and the delivery statuses that arrived before the
-- message ids were stored (093). One row per outcome written (false, -, id) and one per next
-- message claimed (true, the claim's columns, lease owner).
CREATE OR REPLACE FUNCTION outbox_complete(p_tenant uuid, p_ids uuid[], p_owners text[], p_status text[],
                                p_errs text[], p_codes bigint[], p_pmids text[],
                                p_delays bigint[], p_deltas integer[], p_parts integer[],
                                p_lease integer, p_lock_channels text[], p_lock_pmids text[])
RETURNS TABLE (claimed boolean, tenant_id uuid, id uuid, kind text, channel_id uuid,
               target_id uuid, conversation_id uuid, recipient text, reply_to text,
               event_type text, payload jsonb, attempts integer, parts_sent integer,
               lease_owner text)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
#variable_conflict use_column
DECLARE
  i integer;
  u record;
  nx record;
  go boolean;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  IF p_lock_pmids IS NOT NULL AND cardinality(p_lock_pmids) > 0 THEN
    PERFORM pg_advisory_xact_lock(h) FROM (
      SELECT DISTINCT hashtextextended(c || ':' || p, 0) AS h
      FROM unnest(p_lock_channels, p_lock_pmids) AS x(c, p)
      WHERE p IS NOT NULL ORDER BY 1 OFFSET 0) s;
  END IF;

  FOR i IN 1 .. coalesce(cardinality(p_ids), 0) LOOP
    UPDATE outbox o SET status = p_status[i],
      last_error = COALESCE(p_errs[i], o.last_error),
      error_code = COALESCE(p_codes[i], o.error_code),
      platform_message_id = COALESCE(p_pmids[i], o.platform_message_id),
      sent_at = CASE WHEN p_status[i] = 'sent' THEN now() ELSE o.sent_at END,
      next_attempt_at = CASE WHEN p_status[i] = 'pending'
        THEN clock_timestamp() + p_delays[i] * interval '1 millisecond'
        ELSE o.next_attempt_at END,
      attempts = greatest(o.attempts + p_deltas[i], 0),
      parts_sent = p_parts[i], lease_owner = NULL, lease_until = NULL
    WHERE o.tenant_id = app_tenant_id() AND o.id = p_ids[i]
      -- not matched to the partial indexes on status: the primary key finds the row
      AND CASE WHEN o.status = 'sending' THEN true ELSE false END
      AND o.lease_owner = p_owners[i]
    RETURNING o.id, o.conversation_id, o.seq, o.status, o.attempts, o.last_error,
      o.error_code, o.platform_message_id INTO u;
    CONTINUE WHEN NOT FOUND; -- the lease was lost: the row is someone else's now

    claimed := false; tenant_id := NULL; id := u.id; kind := NULL; channel_id := NULL;
    target_id := NULL; conversation_id := NULL; recipient := NULL; reply_to := NULL;
    event_type := NULL; payload := NULL; attempts := NULL; parts_sent := NULL;
    lease_owner := NULL;
    RETURN NEXT;
    CONTINUE WHEN u.conversation_id IS NULL
      OR u.status NOT IN ('sent', 'failed', 'dead', 'undeliverable');

    INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)
    VALUES (app_tenant_id(), u.conversation_id,
      CASE WHEN u.status = 'sent' THEN 'message_sent' ELSE 'message_failed' END,
      jsonb_strip_nulls(jsonb_build_object('outbox_id', u.id, 'status', u.status,
        'attempts', u.attempts, 'platform_message_id', u.platform_message_id,
        'error', CASE WHEN u.status <> 'sent' THEN u.last_error END,
        'error_code', CASE WHEN u.status <> 'sent' THEN u.error_code END)));

    -- the conversation's next message (outbox_claim's rule for whether it may go now)
    SELECT n.id, n.seq, n.kind, n.channel_id, n.attempts, n.next_attempt_at INTO nx
    FROM outbox n WHERE n.tenant_id = app_tenant_id()
      AND n.conversation_id = u.conversation_id AND n.status = 'pending'
      AND n.seq > u.seq ORDER BY n.seq LIMIT 1;
    CONTINUE WHEN NOT FOUND;
    go := (nx.attempts = 0 OR nx.next_attempt_at <= now())
      AND NOT (nx.kind = 'reply' AND EXISTS (SELECT 1 FROM channels c
        WHERE c.id = nx.channel_id AND channel_delivers_locally(c.type)))
      AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.tenant_id = app_tenant_id()
        AND p.conversation_id = u.conversation_id AND p.status IN ('pending', 'sending')
        AND p.seq < nx.seq AND p.id <> u.id);
    IF go THEN
      UPDATE outbox x SET status = 'sending', lease_owner = p_owners[i],
        lease_until = now() + make_interval(secs => p_lease),
        next_attempt_at = now() + make_interval(secs => p_lease),
        attempts = x.attempts + 1
      WHERE x.tenant_id = app_tenant_id() AND x.id = nx.id
        -- not matched to the partial indexes on status: the primary key finds the row
        AND CASE WHEN x.status = 'pending' THEN true ELSE false END
      RETURNING true, x.tenant_id, x.id, x.kind, x.channel_id, x.target_id,
        x.conversation_id, x.recipient, x.reply_to, x.event_type, x.payload, x.attempts,
        x.parts_sent, x.lease_owner
      INTO claimed, tenant_id, id, kind, channel_id, target_id, conversation_id, recipient,
        reply_to, event_type, payload, attempts, parts_sent, lease_owner;
      IF FOUND THEN
        RETURN NEXT;
      END IF;
    ELSE
      -- otherwise bring it back if it was parked (the claim decides)
      UPDATE outbox x SET next_attempt_at = now()
      WHERE x.tenant_id = app_tenant_id() AND x.id = nx.id AND x.next_attempt_at > now();
    END IF;
  END LOOP;

  -- statuses the platform sent before the message ids were stored: as in 093, and still
  -- planned at each run (EXECUTE, fixed text): a generic plan of this join, made on a young
  -- outbox, drove it through all of the tenant's rows with a platform id
  IF p_lock_pmids IS NOT NULL AND cardinality(p_lock_pmids) > 0
     AND EXISTS (SELECT 1 FROM pending_statuses p WHERE p.tenant_id = app_tenant_id()) THEN
    EXECUTE $q$
    WITH ps AS (
      DELETE FROM pending_statuses p USING outbox o
      WHERE p.tenant_id = app_tenant_id() AND o.tenant_id = app_tenant_id()
        AND o.id = ANY($1) AND o.status = 'sent'
        AND p.channel_id = o.channel_id AND p.platform_message_id = o.platform_message_id
      RETURNING o.id AS oid, p.status, p.error_code, p.error_text, p.payload
    ), best AS (
      SELECT DISTINCT ON (oid) * FROM ps ORDER BY oid,
        CASE ps.status WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'failed' THEN 4
        ELSE 1 END DESC
    ), upd AS (
      UPDATE outbox o SET status = best.status,
        error_code = CASE WHEN best.status = 'failed' THEN best.error_code
          ELSE o.error_code END,
        last_error = CASE WHEN best.status = 'failed' THEN best.error_text
          ELSE o.last_error END
      FROM best WHERE o.tenant_id = app_tenant_id() AND o.id = best.oid
        AND best.status <> 'sent'
      RETURNING o.id, o.conversation_id, best.status, best.payload
    ) INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)
      SELECT app_tenant_id(), upd.conversation_id, CASE upd.status WHEN 'read' THEN
        'message_read' WHEN 'delivered' THEN 'message_delivered'
        ELSE 'message_failed' END, upd.payload || jsonb_build_object('outbox_id', upd.id::text)
      FROM upd WHERE upd.conversation_id IS NOT NULL
    $q$ USING p_ids;
  END IF;
END
$$;
ALTER FUNCTION outbox_complete(uuid, uuid[], text[], text[], text[], bigint[], text[], bigint[],
                               integer[], integer[], integer, text[], text[])
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION outbox_complete(uuid, uuid[], text[], text[], text[], bigint[], text[], bigint[],
                               integer[], integer[], integer, text[], text[])
  SET enable_seqscan = off;
