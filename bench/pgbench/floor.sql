-- bench/pgbench/floor.sql: the ceiling's transaction (message.sql) in ccgw's own schema: the
-- rows one inbound message must write there and nothing else. The message recorded for
-- de-duplication, its conversation locked, the shopper's trust counters (issue 11's flooding
-- check), the turn's two events (message_received, intent_detected), the reply's outbox row,
-- the conversation's new state, one durable commit, in the round trips ccgw makes for a turn
-- that reads nothing (the opening with the first statement; the trust statement; the writing
-- statement with the COMMIT). Row-level security, foreign keys, indexes and triggers are
-- sql/'s. As in a webhook's turn in `ccgw serve`, the transaction sets ccgw.wake_local, so
-- the reply's outbox row wakes no listener (sql/099; before 2026-12-08 this script's rows
-- notified, which made the floor a fifth to a quarter slower than ccgw's own writes).
-- Not here: reads for the answer, the dispatcher's claim and outcome, group commit.
-- So its rate against message.sql's is what ccgw's schema alone costs (bench/budget, phase d).
-- Runs as the application role on bench_ingest's database after its run, conversation :c one
-- of its shoppers' (floor_pick: n -> conversation and customer, made by bench/budget):
--   pgbench -n -M prepared -c 32 -j 2 -T SECONDS -D t=TENANT -D ch=CHANNEL -D n=ROWS -f floor.sql
\set c random(1, :n)
\startpipeline
BEGIN;
SELECT set_config('app.tenant_id', :t, true), set_config('ccgw.wake_local', 'on', true);
WITH k AS (SELECT conversation_id FROM floor_pick WHERE n = :c),
 cv AS (SELECT c.id, c.state, c.context FROM conversations c
        WHERE c.tenant_id = :t AND c.id = (SELECT conversation_id FROM k) FOR UPDATE),
 im AS (INSERT INTO inbound_messages (tenant_id, channel_id, platform_message_id, kind, conversation_id)
        SELECT :t, :ch, 'wamid.' || gen_random_uuid(), 'text', cv.id FROM cv
        ON CONFLICT DO NOTHING RETURNING 1)
SELECT cv.id, cv.state, cv.context, (SELECT count(*) FROM im) FROM cv;
\endpipeline
UPDATE trust_state SET flood_count = flood_count + 1, updated_at = now()
  WHERE tenant_id = :t AND customer_id = (SELECT customer_id FROM floor_pick WHERE n = :c)
  RETURNING flood_count, abuse_count;
\startpipeline
WITH k AS (SELECT conversation_id FROM floor_pick WHERE n = :c),
 ev AS (INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)
        SELECT :t, (SELECT conversation_id FROM k), x.e->>'type', COALESCE(x.e->'payload', '{}'::jsonb)
        FROM jsonb_array_elements('[{"type": "message_received", "payload": {"kind": "text", "text": "add 2 red mugs", "message_id": "wamid.x"}}, {"type": "intent_detected", "payload": {"intent": "add_to_cart", "confidence": 0.93}}]'::jsonb)
        WITH ORDINALITY AS x(e, n) ORDER BY x.n),
 ob AS (INSERT INTO outbox (tenant_id, kind, conversation_id, channel_id, recipient, reply_to, payload)
        SELECT :t, 'reply', (SELECT conversation_id FROM k), :ch, '254712345678', 'wamid.x',
        '{"type": "text", "text": "Added 2 x Red Mug to your cart.", "buttons": [{"title": "Checkout", "payload": "ck"}, {"title": "Keep shopping", "payload": "browse"}]}'::jsonb)
UPDATE conversations SET state = 'cart', context = '{"last": "x"}'::jsonb,
  offered = '["ck", "browse", "menu"]'::jsonb, lang = 'en', misunderstandings = 0, handoff = false,
  last_inbound_at = now(), last_message_at = now()
  WHERE tenant_id = :t AND id = (SELECT conversation_id FROM k);
COMMIT;
\endpipeline
