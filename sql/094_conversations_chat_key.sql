-- 094_conversations_chat_key.sql: the conversations' unique key on the platform chat leads
-- with the channel, so the primary key is the only index that starts with tenant_id.
--
-- A conversation is looked up by its primary key (tenant_id, id) many times per message: the
-- engine's UPDATE, and the foreign-key checks of every event, outbox row and inbound message
-- written for it. With the unique key (tenant_id, channel_id, external_chat_id), a plan made
-- while the table had no statistics yet (a new database, or before autovacuum's first ANALYZE)
-- could read it with tenant_id alone and filter on id, so reading every conversation of the
-- tenant per lookup until the statistics came (measured with bench_ingest on a new database:
-- 48 shared buffers per foreign-key check at 200 conversations, growing with the shop). The
-- foreign-key checks' plans are PostgreSQL's own and are not prepared again by common/pg.c.
-- Led by channel_id the key serves the same lookups (channel, chat; ON CONFLICT infers it by
-- its columns, in any order) and cannot be taken for a lookup by tenant alone. The same rows
-- are unique: every column of the old key is in the new one.
ALTER TABLE conversations ADD CONSTRAINT conversations_channel_chat_key
  UNIQUE (channel_id, external_chat_id, tenant_id);
ALTER TABLE conversations DROP CONSTRAINT conversations_tenant_id_channel_id_external_chat_id_key;
