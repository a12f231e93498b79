-- 093_outbox_complete_pending_look.sql: writing a batch's outcomes plans the statement for
-- early statuses only when the tenant has any.
--
-- outbox_complete (090) runs, for a batch with sent messages, a statement that applies the
-- delivery statuses which arrived before the messages' ids were stored (pending_statuses).
-- The dispatcher's sessions plan every statement at each run (plan_cache_mode =
-- force_custom_plan, see 092), and planning that statement cost about 0.8 ms per batch
-- (pg_stat_statements, bench_ingest, 300 shoppers at 32 in flight) while it ran in 0.03 ms
-- and almost never found a row. It now runs only when the tenant has a pending status at all
-- (one index probe). Everything else is as in 090.
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
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  IF p_lock_pmids IS NOT NULL AND cardinality(p_lock_pmids) > 0 THEN
    PERFORM pg_advisory_xact_lock(h) FROM (
      SELECT DISTINCT hashtextextended(c || ':' || p, 0) AS h
      FROM unnest(p_lock_channels, p_lock_pmids) AS x(c, p)
      WHERE p IS NOT NULL ORDER BY 1 OFFSET 0) s;
  END IF;

  RETURN QUERY
  WITH v AS (
    SELECT * FROM unnest(p_ids, p_owners, p_status, p_errs, p_codes, p_pmids, p_delays,
                         p_deltas, p_parts)
      AS v(id, owner, status, err, code, pmid, delay_ms, delta, parts)
  ), u AS (
    UPDATE outbox o SET status = v.status,
      last_error = COALESCE(v.err, o.last_error),
      error_code = COALESCE(v.code, o.error_code),
      platform_message_id = COALESCE(v.pmid, o.platform_message_id),
      sent_at = CASE WHEN v.status = 'sent' THEN now() ELSE o.sent_at END,
      next_attempt_at = CASE WHEN v.status = 'pending'
        THEN clock_timestamp() + v.delay_ms * interval '1 millisecond'
        ELSE o.next_attempt_at END,
      attempts = greatest(o.attempts + v.delta, 0),
      parts_sent = v.parts, lease_owner = NULL, lease_until = NULL
    FROM v
    WHERE o.tenant_id = app_tenant_id() AND o.id = v.id AND o.status = 'sending'
      AND o.lease_owner = v.owner
    RETURNING o.id, o.conversation_id, o.seq, o.status, o.attempts, o.last_error,
      o.error_code, o.platform_message_id, v.owner
  ), nxt AS (
    -- the conversation's next message may go now: claimed here, under the same lease
    -- owner, when it is the conversation's first unfinished row (outbox_claim's rule; this
    -- statement still sees u's row as 'sending', hence p.id <> u.id), is not waiting out a
    -- retry and is not for a channel that delivers locally (056)
    SELECT n.id, u.owner,
      (n.attempts = 0 OR n.next_attempt_at <= now())
      AND NOT (n.kind = 'reply' AND EXISTS (SELECT 1 FROM channels c
        WHERE c.id = n.channel_id AND channel_delivers_locally(c.type)))
      AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.tenant_id = app_tenant_id()
        AND p.conversation_id = u.conversation_id AND p.status IN ('pending', 'sending')
        AND p.seq < n.seq AND p.id <> u.id) AS go
    FROM u CROSS JOIN LATERAL (
      SELECT n.id, n.seq, n.kind, n.channel_id, n.attempts, n.next_attempt_at
      FROM outbox n WHERE n.tenant_id = app_tenant_id()
        AND n.conversation_id = u.conversation_id AND n.status = 'pending'
        AND n.seq > u.seq ORDER BY n.seq LIMIT 1) n
    WHERE u.status IN ('sent', 'failed', 'dead', 'undeliverable')
  ), ch AS (
    UPDATE outbox x SET status = 'sending', lease_owner = nxt.owner,
      lease_until = now() + make_interval(secs => p_lease),
      next_attempt_at = now() + make_interval(secs => p_lease),
      attempts = x.attempts + 1
    FROM nxt WHERE nxt.go AND x.tenant_id = app_tenant_id() AND x.id = nxt.id
      -- written so that it does not match the partial indexes on status: with statistics
      -- that say few rows are pending, the planner would scan all of them per row
      AND CASE WHEN x.status = 'pending' THEN true ELSE false END
    RETURNING x.tenant_id, x.id, x.kind, x.channel_id, x.target_id, x.conversation_id,
      x.recipient, x.reply_to, x.event_type, x.payload, x.attempts, x.parts_sent,
      x.lease_owner
  ), nx AS (
    -- otherwise bring it back if it was parked (the claim decides)
    UPDATE outbox x SET next_attempt_at = now() FROM nxt
    WHERE NOT nxt.go AND x.tenant_id = app_tenant_id() AND x.id = nxt.id
      AND x.next_attempt_at > now()
  ), e AS (
    INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)
    SELECT app_tenant_id(), u.conversation_id,
      CASE WHEN u.status = 'sent' THEN 'message_sent' ELSE 'message_failed' END,
      jsonb_strip_nulls(jsonb_build_object('outbox_id', u.id, 'status', u.status,
        'attempts', u.attempts, 'platform_message_id', u.platform_message_id,
        'error', CASE WHEN u.status <> 'sent' THEN u.last_error END,
        'error_code', CASE WHEN u.status <> 'sent' THEN u.error_code END))
    FROM u WHERE u.conversation_id IS NOT NULL
      AND u.status IN ('sent', 'failed', 'dead', 'undeliverable')
  ) SELECT false, NULL::uuid, u.id, NULL::text, NULL::uuid, NULL::uuid, NULL::uuid,
      NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::integer,
      NULL::text FROM u
    UNION ALL SELECT true, ch.* FROM ch;

  -- statuses the platform sent before the message ids were stored: the best one per
  -- message is applied to it and recorded as a conversation event. Usually the tenant has
  -- none: a look first spares planning the statement below (this function's statements are
  -- planned at every call). A status for these messages cannot arrive in between: its writer
  -- takes the advisory locks this transaction holds (above).
  IF p_lock_pmids IS NOT NULL AND cardinality(p_lock_pmids) > 0
     AND EXISTS (SELECT 1 FROM pending_statuses p WHERE p.tenant_id = app_tenant_id()) THEN
    WITH ps AS (
      DELETE FROM pending_statuses p USING outbox o
      WHERE p.tenant_id = app_tenant_id() AND o.tenant_id = app_tenant_id()
        AND o.id = ANY(p_ids) AND o.status = 'sent'
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
      FROM upd WHERE upd.conversation_id IS NOT NULL;
  END IF;
END
$$;

