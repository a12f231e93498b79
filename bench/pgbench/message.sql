-- bench/pgbench/message.sql: the database work one inbound WhatsApp message needs, as one
-- durable transaction: record its id for de-duplication, lock and update its conversation
-- (one of 1,000, at random), add an event, add the reply to the outbox. Run by bench/run, in
-- prepared mode (as ccgw runs its statements; :wamid is then a parameter):
--   pgbench -n -M prepared -c 32 -j 2 -T SECONDS -f bench/pgbench/message.sql
\set c random(1, 1000)
BEGIN;
INSERT INTO inbound (channel_id, platform_message_id, conversation_id)
  VALUES (1, 'wamid.' || gen_random_uuid(), :c::int)
  ON CONFLICT DO NOTHING RETURNING platform_message_id AS wamid \gset
SELECT state, context, offered FROM conversations WHERE id = :c::int FOR UPDATE;
UPDATE conversations SET state = 'cart', messages = messages + 1, last_inbound_at = now(),
  context = jsonb_set(context, '{last}', to_jsonb(:wamid::text)),
  offered = '["ck", "browse", "menu"]', updated_at = now()
  WHERE id = :c::int;
INSERT INTO events (conversation_id, event_type, payload)
  VALUES (:c::int, 'message_received', '{"kind": "text", "text": "add 2 red mugs"}');
INSERT INTO outbox (conversation_id, recipient, reply_to, payload)
  VALUES (:c::int, '254712345678', :wamid, '{"text": "Added 2 x Red Mug to your cart.", "buttons": [{"title": "Checkout", "payload": "ck"}, {"title": "Keep shopping", "payload": "browse"}]}');
END;
