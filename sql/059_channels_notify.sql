-- 059_channels_notify.sql: every change of the channels table is announced on ccgw_channels,
-- so a gateway process may keep channel rows (and their opened secrets) in memory and drop
-- them at once when one is registered, edited, disabled or deleted (gateway/inbound/inbound.c).
CREATE FUNCTION channels_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ccgw_channels', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER channels_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON channels
  FOR EACH STATEMENT EXECUTE FUNCTION channels_notify();
