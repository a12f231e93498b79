-- 109_outbox_complete_batch.sql: a batch's outcomes written in one UPDATE and their events in
-- one INSERT, with every row reached by its key.
--
-- outbox_complete (100) wrote each outcome and its event in two statements of their own, one
-- row at a time: in bench/pgwork (1,000 shoppers, 32 in flight, about 15 rows a batch) 5.4 ms
-- a call, the largest statement of a message (0.36 ms of PostgreSQL's 2.05 ms). Its row
-- statements ran 2.4 ms of that; the rest was the loop's own work around them.
--
-- Now a batch is four statements whatever its size: each row's place (ctid) looked up by its
-- whole key, one index probe a row (a subquery run for each id: the primary key is the only
-- index it can use); one UPDATE of the rows through those places, planned with index and
-- bitmap scans off so that a TID scan is the only way to the outbox it is not penalized for
-- (joined to the batch by id alone, a plan made while the outbox held one row read all of the
-- tenant's rows for every batch after, until the next ANALYZE: test_pg_registry
-- test_complete_plan_after_small_analyze); the settings back; one INSERT of the events, in the
-- batch's order. A row updated by someone else since its lookup is skipped as a lost lease,
-- as a row leased to another owner is. The conversations' next messages are still looked up
-- row by row (one index probe each, as in 100), after every outcome of the batch is written.
-- Everything else is as in 100.
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
  done_ids uuid[];
  done_convs uuid[];
  done_seqs bigint[];
  done_final boolean[];
  done_owners text[];
  done_payloads jsonb[];
  places tid[];
  was_indexscan text := current_setting('enable_indexscan');
  was_bitmapscan text := current_setting('enable_bitmapscan');
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

  -- each row's place, looked up by its whole key (one index probe a row)
  SELECT array_agg((SELECT x.ctid FROM outbox x
                    WHERE x.tenant_id = app_tenant_id() AND x.id = b.id) ORDER BY b.ord)
  INTO places
  FROM unnest(p_ids) WITH ORDINALITY AS b(id, ord);

  -- the outcomes, written through those places: planned with index scans off, so the
  -- outbox can only be reached by them (a plan made on a young outbox would otherwise read
  -- all of the tenant's rows); the events come after, with the settings back
  PERFORM set_config('enable_indexscan', 'off', true), set_config('enable_bitmapscan', 'off', true);
  WITH u AS (
    UPDATE outbox o SET status = b.status,
      last_error = COALESCE(b.err, o.last_error),
      error_code = COALESCE(b.code, o.error_code),
      platform_message_id = COALESCE(b.pmid, o.platform_message_id),
      sent_at = CASE WHEN b.status = 'sent' THEN now() ELSE o.sent_at END,
      next_attempt_at = CASE WHEN b.status = 'pending'
        THEN clock_timestamp() + b.delay_ms * interval '1 millisecond'
        ELSE o.next_attempt_at END,
      attempts = greatest(o.attempts + b.delta, 0),
      parts_sent = b.parts, lease_owner = NULL, lease_until = NULL
    FROM unnest(places, p_ids, p_owners, p_status, p_errs, p_codes, p_pmids, p_delays,
                p_deltas, p_parts) WITH ORDINALITY
      AS b(place, id, owner, status, err, code, pmid, delay_ms, delta, parts, ord)
    WHERE o.ctid = b.place AND o.id = b.id
      AND o.status = 'sending' AND o.lease_owner = b.owner
    RETURNING b.ord, b.owner, o.id, o.conversation_id, o.seq, o.status, o.attempts,
      o.last_error, o.error_code, o.platform_message_id
  )
  SELECT array_agg(u.id ORDER BY u.ord), array_agg(u.conversation_id ORDER BY u.ord),
    array_agg(u.seq ORDER BY u.ord),
    array_agg(u.conversation_id IS NOT NULL
              AND u.status IN ('sent', 'failed', 'dead', 'undeliverable') ORDER BY u.ord),
    array_agg(u.owner ORDER BY u.ord),
    array_agg(jsonb_strip_nulls(jsonb_build_object('outbox_id', u.id, 'status', u.status,
        'attempts', u.attempts, 'platform_message_id', u.platform_message_id,
        'error', CASE WHEN u.status <> 'sent' THEN u.last_error END,
        'error_code', CASE WHEN u.status <> 'sent' THEN u.error_code END)) ORDER BY u.ord)
  INTO done_ids, done_convs, done_seqs, done_final, done_owners, done_payloads
  FROM u;
  PERFORM set_config('enable_indexscan', was_indexscan, true),
    set_config('enable_bitmapscan', was_bitmapscan, true);

  -- a message_sent or message_failed event for each finished row, in the batch's order
  INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)
  SELECT app_tenant_id(), d.conv,
    CASE WHEN d.payload->>'status' = 'sent' THEN 'message_sent' ELSE 'message_failed' END,
    d.payload
  FROM unnest(done_convs, done_final, done_payloads) WITH ORDINALITY AS d(conv, final, payload, ord)
  WHERE d.final
  ORDER BY d.ord;

  FOR i IN 1 .. coalesce(cardinality(done_ids), 0) LOOP
    claimed := false; tenant_id := NULL; id := done_ids[i]; kind := NULL; channel_id := NULL;
    target_id := NULL; conversation_id := NULL; recipient := NULL; reply_to := NULL;
    event_type := NULL; payload := NULL; attempts := NULL; parts_sent := NULL;
    lease_owner := NULL;
    RETURN NEXT;
    CONTINUE WHEN NOT done_final[i];

    -- the conversation's next message (outbox_claim's rule for whether it may go now)
    SELECT n.id, n.seq, n.kind, n.channel_id, n.attempts, n.next_attempt_at INTO nx
    FROM outbox n WHERE n.tenant_id = app_tenant_id()
      AND n.conversation_id = done_convs[i] AND n.status = 'pending'
      AND n.seq > done_seqs[i] ORDER BY n.seq LIMIT 1;
    CONTINUE WHEN NOT FOUND;
    go := (nx.attempts = 0 OR nx.next_attempt_at <= now())
      AND NOT (nx.kind = 'reply' AND EXISTS (SELECT 1 FROM channels c
        WHERE c.id = nx.channel_id AND channel_delivers_locally(c.type)))
      AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.tenant_id = app_tenant_id()
        AND p.conversation_id = done_convs[i] AND p.status IN ('pending', 'sending')
        AND p.seq < nx.seq AND p.id <> done_ids[i]);
    IF go THEN
      UPDATE outbox x SET status = 'sending', lease_owner = done_owners[i],
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

  -- statuses the platform sent before the message ids were stored: as in 093 and 100
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
