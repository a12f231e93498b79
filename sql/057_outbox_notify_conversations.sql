-- 057_outbox_notify_conversations.sql: the outbox's NOTIFY names the conversations of the rows
-- a statement wrote (comma-separated), so a process holding web chat sockets looks at those
-- conversations only instead of at every socket it holds. More than 200 conversations in one
-- statement (a bulk insert) send an empty payload, which means "look at everything"; the
-- dispatcher ignores the payload as before.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
  ids text;
BEGIN
  SELECT count(DISTINCT conversation_id), string_agg(DISTINCT conversation_id::text, ',')
    INTO n, ids FROM new_rows WHERE conversation_id IS NOT NULL;
  PERFORM pg_notify('ccgw_outbox', CASE WHEN n > 200 THEN '' ELSE COALESCE(ids, '') END);
  RETURN NULL;
END
$$;
DROP TRIGGER outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
