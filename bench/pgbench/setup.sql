-- bench/pgbench/setup.sql: the scratch tables of the ceiling benchmark. bench/run creates a
-- database of its own (ccgw_bench_ceiling), runs this there, then pgbench with message.sql,
-- then drops the database. The tables have the shapes of the rows one WhatsApp message makes
-- ccgw write (uuid keys, jsonb bodies, the de-duplication key, the outbox identity), not every
-- column and index of sql/, and no row-level security.
SET client_min_messages = warning;

-- inbound_messages: the platform's message id, unique per channel
CREATE TABLE inbound (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel_id int NOT NULL,
  platform_message_id text NOT NULL,
  conversation_id int NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (channel_id, platform_message_id)
);

-- conversations: 1,000 rows, each locked and updated by the message that lands on it
CREATE TABLE conversations (
  id int PRIMARY KEY,
  state text NOT NULL DEFAULT 'start',
  context jsonb NOT NULL DEFAULT '{}'::jsonb,
  offered jsonb NOT NULL DEFAULT '[]'::jsonb,
  messages int NOT NULL DEFAULT 0,
  last_inbound_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO conversations (id) SELECT g FROM generate_series(1, 1000) g;

-- conversation_events: one message_received row
CREATE TABLE events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq bigint GENERATED ALWAYS AS IDENTITY,
  conversation_id int NOT NULL,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_conv ON events (conversation_id, seq);

-- outbox: the reply, pending until a dispatcher claims it
CREATE TABLE outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq bigint GENERATED ALWAYS AS IDENTITY,
  conversation_id int NOT NULL,
  recipient text NOT NULL,
  reply_to text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
ANALYZE inbound, conversations, events, outbox;
