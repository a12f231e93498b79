-- 096_outbox_notify_local.sql: replies written parked for a local channel (095: the web chat,
-- the console) are announced on their own channel, `ccgw_local`, and no longer wake the
-- dispatcher.
--
-- The outbox's NOTIFY (057) woke the dispatcher for every web chat reply, and each wake ran a
-- claim that found nothing it may send (bench_webchat: about 0.8 claims per message, 0.9 ms
-- each, more database time than the engine's turn). Now a statement's rows are split: those
-- due (everything the dispatcher sends) notify `ccgw_outbox` as before, with their
-- conversations; the parked local replies notify `ccgw_local`, with theirs, which the process
-- holding web chat sockets listens to (besides `ccgw_outbox`). Payloads are as in 057: the
-- conversation ids, comma-separated, or empty for more than 200 ("look at everything").
-- A statement that wrote no row notifies nothing.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
  ids text;
  due boolean;
  ln integer;
  lids text;
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
  IF due THEN
    PERFORM pg_notify('ccgw_outbox', CASE WHEN n > 200 THEN '' ELSE COALESCE(ids, '') END);
  END IF;
  IF ln > 0 THEN
    PERFORM pg_notify('ccgw_local', CASE WHEN ln > 200 THEN '' ELSE lids END);
  END IF;
  RETURN NULL;
END
$$;
