-- 102_outbox_notify_pushed_local.sql: a web chat turn whose process pushes its replies itself
-- writes them without the NOTIFY on ccgw_local.
--
-- A web chat message's turn reads the replies it wrote inside its own transaction and pushes
-- them to the shopper's socket right after its commit (gateway/webchat: flights). The
-- ccgw_local NOTIFY of the same rows only woke the process's own listening thread, whose
-- look then found nothing to send (they were in flight): a transaction of two statements per
-- message. And a notifying transaction's commit queues behind the previous one's until its
-- commit record is on disk (a database-wide lock), so web chat turns could not share a WAL
-- flush. Such a turn now sets ccgw.wake_local to 'push' in its first statement
-- (commerce/engine.c, engine_set_push_local), and parked replies written while it is set are
-- not announced. One the process did not push (its socket closed at that moment) stays
-- pending: the next hello, or the listening thread's sweep, sends it. Everything else is as in
-- 099: 'on' skips the ccgw_outbox NOTIFY of due rows, and every other writer notifies both.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
  ids text;
  due boolean;
  ln integer;
  lids text;
  wake text := current_setting('ccgw.wake_local', true);
BEGIN
  SELECT count(DISTINCT conversation_id) FILTER (WHERE NOT parked),
         string_agg(DISTINCT conversation_id::text, ',') FILTER (WHERE NOT parked),
         bool_or(NOT parked),
         count(DISTINCT conversation_id) FILTER (WHERE parked),
         string_agg(DISTINCT conversation_id::text, ',') FILTER (WHERE parked)
    INTO n, ids, due, ln, lids
    FROM (SELECT conversation_id,
                 (kind = 'reply' AND status = 'pending' AND next_attempt_at = 'infinity'
                  AND conversation_id IS NOT NULL) AS parked
          FROM new_rows) r;
  IF due AND wake IS DISTINCT FROM 'on' THEN
    PERFORM pg_notify('ccgw_outbox', CASE WHEN n > 200 THEN '' ELSE COALESCE(ids, '') END);
  END IF;
  IF ln > 0 AND wake IS DISTINCT FROM 'push' THEN
    PERFORM pg_notify('ccgw_local', CASE WHEN ln > 200 THEN '' ELSE lids END);
  END IF;
  RETURN NULL;
END
$$;
