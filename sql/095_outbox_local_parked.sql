-- 095_outbox_local_parked.sql: replies on channels that deliver locally (the console, the web
-- chat's sockets) are written parked.
--
-- The process that holds the shopper's end takes these replies (gateway/core/local_delivery.c);
-- the dispatcher never sends them. Until now each was written due (next_attempt_at = now()),
-- so the dispatcher's claim, woken by the outbox's NOTIFY for every such row, found it and
-- parked it (056: pending, next_attempt_at 'infinity', no lease): one more UPDATE of every web
-- chat reply, holding the row's lock while the web chat recorded it as sent. Measured with
-- bench_webchat at about 290 messages/s: the claim took more database time (1.2 ms a call)
-- than the engine's own turn. Now a row is written in the state the claim would have left it
-- in, so the claim never sees it. Nothing else changes: the claim still parks a local row
-- that came another way (an older row, a channel whose type this cannot read).
--
-- SECURITY DEFINER so that the channel's type is read whatever the writer's tenant setting
-- (the owner's lookup policy on channels, 001); it reads the type of the row's own channel
-- and nothing else.
CREATE FUNCTION outbox_park_local() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.kind = 'reply' AND NEW.channel_id IS NOT NULL AND NEW.status = 'pending'
     AND public.channel_delivers_locally(
           (SELECT c.type FROM public.channels c
            WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.channel_id)) THEN
    NEW.next_attempt_at := 'infinity';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION outbox_park_local() FROM PUBLIC;

CREATE TRIGGER outbox_park_local BEFORE INSERT ON outbox
  FOR EACH ROW EXECUTE FUNCTION outbox_park_local();
