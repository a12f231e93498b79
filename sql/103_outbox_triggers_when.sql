-- 103_outbox_triggers_when.sql: the outbox's triggers are not called for rows whose writer
-- already settled what they decide.
--
-- Measured with auto_explain on a web chat turn's closing statement (0.79 ms): of its outbox
-- insert (0.42 ms), outbox_park_local took 0.20 ms and outbox_notify 0.12 ms. The park
-- trigger is a SECURITY DEFINER function with its own search_path, called for every row, and
-- looks the channel's type up; the notify trigger reads the statement's rows and decides
-- nothing for a webhook turn that wakes its own dispatcher (099: ccgw.wake_local 'on').
-- - outbox_park_local runs only for a reply still to be parked: not for one its writer wrote
--   parked (the engine's turn on a local channel, commerce/conversation.c), and not inside a
--   turn with ccgw.wake_local 'on', whose replies go to the webhook's own channel, which the
--   dispatcher sends for (commerce/engine.c: 'on' is never set for a local channel).
-- - outbox_notify runs only when ccgw.wake_local is not 'on': such a turn's due rows are not
--   announced (099) and it writes no parked replies.
-- Every other writer (the admin API, the dispatcher, the console, other processes) goes
-- through both triggers as before.
DROP TRIGGER outbox_park_local ON outbox;
CREATE TRIGGER outbox_park_local BEFORE INSERT ON outbox FOR EACH ROW
  WHEN (NEW.kind = 'reply' AND NEW.channel_id IS NOT NULL AND NEW.status = 'pending'
        AND NEW.next_attempt_at <> 'infinity'
        AND current_setting('ccgw.wake_local', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION outbox_park_local();

DROP TRIGGER outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT
  WHEN (current_setting('ccgw.wake_local', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION outbox_notify();
