-- 104_warm_targets.sql: a channel of each type for the request workers' warm-up.
--
-- A new database session knows nothing yet: the first turn on each of ccgw serve's pool
-- connections parses and plans every statement, loads the catalog entries of every table,
-- policy and trigger it touches and compiles the trigger functions. Measured with
-- bench_webchat at 100 messages/s on a server just started: the first turns' transactions
-- took 90 to 220 ms (a few ms once warm), and the messages behind them queued. So the
-- server, while it opens its pool, rehearses two turns on each connection in a transaction
-- it rolls back (gateway/core/warm.c), on the channel this function names: the active
-- channel changed last (the engine's statements are the same for every channel type). The application role cannot list channels
-- without a tenant (row-level security): the function hands out ids only, no secrets or
-- settings, as tenant_by_slug does.
CREATE FUNCTION warm_targets() RETURNS TABLE (tenant_id uuid, channel_id uuid, type text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT c.tenant_id, c.id, c.type
    FROM public.channels c
   WHERE c.status = 'active'
   ORDER BY c.updated_at DESC
   LIMIT 1
$$;
REVOKE ALL ON FUNCTION warm_targets() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warm_targets() TO :"app_role";
