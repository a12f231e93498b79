-- 105_outbox_depth_indexed.sql: the outbox's depth by status without reading the sent rows.
--
-- Every dispatcher reads outbox_depth() every 5 s for /metrics. Written as one IN list over
-- five statuses, it matched neither partial index (outbox_due: pending and sending;
-- outbox_problems: failed, dead and undeliverable), so PostgreSQL read the whole table,
-- sent rows included: 1,634 buffers and 4 ms for an outbox of 10,000 rows, and a shop's
-- outbox only grows (found in bench_webchat's traces: slow messages every 5 s). As two
-- parts, one per index, it reads the rows still in them: 5 buffers there, 0.6 ms.
CREATE OR REPLACE FUNCTION outbox_depth()
RETURNS TABLE (status text, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT o.status, count(*) FROM public.outbox o
   WHERE o.status IN ('pending', 'sending')
   GROUP BY o.status
  UNION ALL
  SELECT o.status, count(*) FROM public.outbox o
   WHERE o.status IN ('failed', 'dead', 'undeliverable')
   GROUP BY o.status
$$;
