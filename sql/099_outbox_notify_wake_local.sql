-- 099_outbox_notify_wake_local.sql: an engine turn whose process wakes its own dispatcher
-- writes its outbox rows without the NOTIFY on ccgw_outbox.
--
-- `ccgw serve` with a dispatcher wakes it in process after every webhook's commit
-- (gateway/inbound: app_outbox_kick), and its listener also heard the NOTIFY of the same rows
-- and woke a second worker, whose claim then found nothing (bench_ingest: 0.97 claims per
-- message, one commit each). A NOTIFY also costs the writer: PostgreSQL queues every
-- notifying transaction's commit behind the previous one's (a database-wide lock held until
-- the commit record is on disk), so the turns' commits could not share a WAL flush.
-- Now such a turn sets the transaction setting ccgw.wake_local to 'on' in its first
-- statement (commerce/engine.c), and rows written while it is on notify ccgw_outbox no more.
-- Everything else is as in 096: other writers (the admin API, other processes, a process
-- without a dispatcher, the web chat and the console) notify as before, and parked local
-- replies are announced on ccgw_local whatever the setting. A dispatcher that was not woken
-- (another process) still finds the rows at its sweep (dispatch_sweep_ms).
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
  IF due AND current_setting('ccgw.wake_local', true) IS DISTINCT FROM 'on' THEN
    PERFORM pg_notify('ccgw_outbox', CASE WHEN n > 200 THEN '' ELSE COALESCE(ids, '') END);
  END IF;
  IF ln > 0 THEN
    PERFORM pg_notify('ccgw_local', CASE WHEN ln > 200 THEN '' ELSE lids END);
  END IF;
  RETURN NULL;
END
$$;
