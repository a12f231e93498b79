-- 106_conversations_chat_key_no_tenant.sql: the conversations' unique key on the platform chat
-- is (channel_id, external_chat_id), without tenant_id, so that no index of conversations but
-- the primary key holds tenant_id at all.
--
-- 094 moved tenant_id to the key's end so that a lookup by the primary key (tenant_id, id)
-- could not be planned through it. It still could: PostgreSQL uses a column that is not an
-- index's first as an index condition by scanning the whole index. Before the table has
-- statistics (a new database, before autovacuum's first ANALYZE) both indexes cost the same
-- to the planner, and the foreign-key check that every event, outbox row and inbound message
-- runs against its conversation ("SELECT 1 FROM ONLY conversations WHERE tenant_id = $1 AND
-- id = $2 FOR KEY SHARE") kept a generic plan that read the key with tenant_id and filtered on
-- id: measured with bench_ingest on a new database, 944 shared buffers for one check at 1,000
-- conversations, 381 on average over the run, about five checks per message.
--
-- A channel's id is unique on its own (channels_id_key) and names its tenant (the foreign key
-- (tenant_id, channel_id)), so (channel_id, external_chat_id) admits exactly the rows the
-- three-column key did. ON CONFLICT in ccgw names no columns.
ALTER TABLE conversations DROP CONSTRAINT conversations_channel_chat_key;
ALTER TABLE conversations ADD CONSTRAINT conversations_channel_chat_key
  UNIQUE (channel_id, external_chat_id);
