-- 112_conv_turns_write.sql: a group transaction's turn endings of one shop written in one
-- statement.
--
-- A turn ends with one writing statement (commerce/conversation.c conv_turn_write): its
-- events, its reply in the outbox and the conversation's new state. In a group commit
-- (gateway/core/txgroup.c) each of the group's turns sent its own with the COMMIT, and a
-- statement here costs PostgreSQL about 0.25 ms whatever it writes (three tables, nine
-- indexes, row-level security and the trigger queues set up again for each): pgbench writing
-- the same rows five a transaction ran 20 to 25% more transactions a second with the five
-- statements merged into one (docs/PERFORMANCE.md, "Thirteenth pass").
--
-- conv_turns_write takes the turns of one tenant as arrays, element i being turn i's
-- parameter of conv_turn_write's statement (common/pg.c pg_defer_batched builds them, in the
-- order the turns were left, no conversation twice), and writes what those statements would
-- have written:
-- - each conversation's place (ctid) looked up by its whole key, one index probe a turn;
-- - one UPDATE of the conversations through those places, planned with index and bitmap
--   scans off so that a TID scan is the only way to the table it is not penalized for (the
--   way of 109: a join by ids could be planned, on a young table's statistics, to read all of
--   the tenant's conversations); the settings put back before anything else is planned, as
--   PostgreSQL's foreign-key checks make and keep their plans at their first use;
-- - a conversation not reached through its place (updated by another transaction since the
--   lookup: the engine locked it, so this is never expected) is written by its key;
-- - one INSERT of the events, turn after turn, each turn's in its order (their seq follows);
-- - one INSERT of the replies, for the turns that have one, in the turns' order; a parked
--   reply (a local channel) is written with next_attempt_at 'infinity' as in conv_turn_write.
-- The conversation's fields are set as CONV_TURN_UPDATE_SET (commerce/conversation.h) sets
-- them: last_message_at only with a reply, handoff_at kept while in handoff.
--
-- JIT is off inside it (as 113 makes it for outbox_claim and outbox_complete). A conversation
-- created in the same transaction (a first contact) fires its foreign keys' checks in the
-- UPDATE, and a check whose cached plan was invalidated (an ANALYZE of channels, say) is
-- planned again there, with index scans off: costed past jit_above_cost, that plan was
-- compiled by JIT at every run in that session (23 ms a check, seen with auto_explain).
-- With JIT off its shape is still the primary key's index scan.
CREATE FUNCTION conv_turns_write(p_tenants uuid[], p_convs uuid[], p_events jsonb[],
                                 p_channels uuid[], p_recipients text[], p_reply_tos text[],
                                 p_replies jsonb[], p_states text[], p_contexts jsonb[],
                                 p_offered jsonb[], p_langs text[], p_mis integer[],
                                 p_handoffs boolean[], p_parked boolean[])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
  places tid[];
  written bigint[];
  was_indexscan text := current_setting('enable_indexscan');
  was_bitmapscan text := current_setting('enable_bitmapscan');
  i integer;
BEGIN
  -- each conversation's place, looked up by its whole key (one index probe a turn)
  SELECT array_agg((SELECT c.ctid FROM conversations c
                    WHERE c.tenant_id = b.t AND c.id = b.id) ORDER BY b.ord)
  INTO places
  FROM unnest(p_tenants, p_convs) WITH ORDINALITY AS b(t, id, ord);

  PERFORM set_config('enable_indexscan', 'off', true), set_config('enable_bitmapscan', 'off', true);
  WITH u AS (
    UPDATE conversations c SET state = b.state, context = b.context, offered = b.offered,
      lang = b.lang, misunderstandings = b.mis, handoff = b.handoff,
      last_inbound_at = now(),
      handoff_at = CASE WHEN b.handoff THEN COALESCE(c.handoff_at, now()) END,
      last_message_at = CASE WHEN b.reply IS NOT NULL THEN now() ELSE c.last_message_at END
    FROM unnest(places, p_tenants, p_convs, p_replies, p_states, p_contexts, p_offered,
                p_langs, p_mis, p_handoffs) WITH ORDINALITY
      AS b(place, t, id, reply, state, context, offered, lang, mis, handoff, ord)
    WHERE c.ctid = b.place AND c.tenant_id = b.t AND c.id = b.id
    RETURNING b.ord
  )
  SELECT array_agg(u.ord) INTO written FROM u;
  PERFORM set_config('enable_indexscan', was_indexscan, true),
    set_config('enable_bitmapscan', was_bitmapscan, true);

  -- a conversation its place did not reach: by its key, as conv_turn_write would
  IF coalesce(cardinality(written), 0) < cardinality(p_convs) THEN
    FOR i IN 1 .. cardinality(p_convs) LOOP
      CONTINUE WHEN written IS NOT NULL AND i = ANY (written);
      UPDATE conversations c SET state = p_states[i], context = p_contexts[i],
        offered = p_offered[i], lang = p_langs[i], misunderstandings = p_mis[i],
        handoff = p_handoffs[i], last_inbound_at = now(),
        handoff_at = CASE WHEN p_handoffs[i] THEN COALESCE(c.handoff_at, now()) END,
        last_message_at = CASE WHEN p_replies[i] IS NOT NULL THEN now()
          ELSE c.last_message_at END
      WHERE c.tenant_id = p_tenants[i] AND c.id = p_convs[i];
    END LOOP;
  END IF;

  INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)
  SELECT b.t, b.id, x.e->>'type', COALESCE(x.e->'payload', '{}'::jsonb)
  FROM unnest(p_tenants, p_convs, p_events) WITH ORDINALITY AS b(t, id, ev, ord),
    jsonb_array_elements(b.ev) WITH ORDINALITY AS x(e, n)
  ORDER BY b.ord, x.n;

  INSERT INTO outbox (tenant_id, kind, conversation_id, channel_id, recipient, reply_to,
                      payload, next_attempt_at)
  SELECT b.t, 'reply', b.id, b.channel, b.recipient, b.reply_to, b.reply,
    CASE WHEN b.parked THEN 'infinity'::timestamptz ELSE now() END
  FROM unnest(p_tenants, p_convs, p_channels, p_recipients, p_reply_tos, p_replies,
              p_parked) WITH ORDINALITY
    AS b(t, id, channel, recipient, reply_to, reply, parked, ord)
  WHERE b.reply IS NOT NULL
  ORDER BY b.ord;
END
$$;
ALTER FUNCTION conv_turns_write(uuid[], uuid[], jsonb[], uuid[], text[], text[], jsonb[], text[],
                                jsonb[], jsonb[], text[], integer[], boolean[], boolean[])
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION conv_turns_write(uuid[], uuid[], jsonb[], uuid[], text[], text[], jsonb[], text[],
                                jsonb[], jsonb[], text[], integer[], boolean[], boolean[])
  SET enable_seqscan = off;
ALTER FUNCTION conv_turns_write(uuid[], uuid[], jsonb[], uuid[], text[], text[], jsonb[], text[],
                                jsonb[], jsonb[], text[], integer[], boolean[], boolean[])
  SET jit = off;
