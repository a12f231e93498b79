-- 050_hardening.sql: the database side of hardening the gateway against the internet.
-- * Nobody but the owner creates objects in schema public (PostgreSQL 15's default, made
--   explicit for clusters upgraded from older versions, where PUBLIC could).
-- * Every SECURITY DEFINER function runs with search_path = pg_catalog, pg_temp and names its
--   tables schema-qualified, so no object another role manages to put on the path is ever
--   called with the owner's rights.
-- * outbox_claim clamps its arguments: at most 1,000 rows a claim, a lease of 1 s to 1 h.
-- Bodies are otherwise those of 001, 030 and 032.

REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE OR REPLACE FUNCTION channel_route(p_channel_id uuid)
RETURNS TABLE (tenant_id uuid, channel_id uuid, type text, status text, external_id text,
               config jsonb, secrets bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT c.tenant_id, c.id, c.type, c.status, c.external_id, c.config, c.secrets
  FROM public.channels c WHERE c.id = p_channel_id
$$;

CREATE OR REPLACE FUNCTION channel_route_external(p_type text, p_external_id text)
RETURNS TABLE (tenant_id uuid, channel_id uuid, type text, status text, external_id text,
               config jsonb, secrets bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT c.tenant_id, c.id, c.type, c.status, c.external_id, c.config, c.secrets
  FROM public.channels c WHERE c.type = p_type AND c.external_id = p_external_id
    AND c.status <> 'disabled'
$$;

CREATE OR REPLACE FUNCTION tenant_by_slug(p_slug text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT t.id FROM public.tenants t WHERE t.slug = p_slug
$$;

CREATE OR REPLACE FUNCTION api_key_tenant(p_key_hash text) RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  UPDATE public.api_keys SET last_used_at = now()
  WHERE key_hash = p_key_hash AND revoked_at IS NULL
  RETURNING tenant_id
$$;

CREATE OR REPLACE FUNCTION outbox_depth()
RETURNS TABLE (status text, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT o.status, count(*) FROM public.outbox o
  WHERE o.status IN ('pending', 'sending', 'failed', 'dead', 'undeliverable')
  GROUP BY o.status
$$;

-- unhealthy_ids stays in the signature for callers built before 050; /metrics no longer
-- shows channel ids (per-tenant detail is behind the admin API), so it is always NULL now.
CREATE OR REPLACE FUNCTION channel_health()
RETURNS TABLE (type text, status text, n bigint, unhealthy_ids text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT c.type, c.status, count(*), NULL::text[]
  FROM public.channels c GROUP BY c.type, c.status
$$;

CREATE OR REPLACE FUNCTION outbox_claim(p_owner text, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (claimed boolean, tenant_id uuid, id uuid, kind text, channel_id uuid, target_id uuid,
               conversation_id uuid, recipient text, reply_to text, event_type text,
               payload jsonb, attempts integer, parts_sent integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH args AS (
    SELECT least(greatest(coalesce(p_limit, 0), 0), 1000) AS lim,
           make_interval(secs => least(greatest(coalesce(p_lease_seconds, 1), 1), 3600)) AS lease
  ), cand AS (
    SELECT o.tenant_id, o.id,
           (o.conversation_id IS NOT NULL AND EXISTS (
              SELECT 1 FROM public.outbox p
              WHERE p.tenant_id = o.tenant_id AND p.conversation_id = o.conversation_id
                AND p.status IN ('pending', 'sending') AND p.seq < o.seq)) AS blocked,
           (o.kind = 'reply' AND EXISTS (
              SELECT 1 FROM public.channels ch
              WHERE ch.tenant_id = o.tenant_id AND ch.id = o.channel_id
                AND ch.type = 'console')) AS console
    FROM public.outbox o
    WHERE o.status IN ('pending', 'sending')
      AND o.next_attempt_at <= now()
      AND (o.status = 'pending' OR o.lease_until IS NULL OR o.lease_until <= now())
    ORDER BY o.next_attempt_at
    LIMIT (SELECT lim FROM args) * 4
    FOR UPDATE OF o SKIP LOCKED
  ), pick AS (
    SELECT c.tenant_id, c.id FROM cand c WHERE NOT c.blocked AND NOT c.console
    LIMIT (SELECT lim FROM args)
  ), took AS (
    UPDATE public.outbox o
    SET status = 'sending',
        lease_owner = p_owner,
        lease_until = now() + (SELECT lease FROM args),
        next_attempt_at = now() + (SELECT lease FROM args),
        attempts = o.attempts + 1
    FROM pick
    WHERE o.tenant_id = pick.tenant_id AND o.id = pick.id
    RETURNING true AS claimed, o.tenant_id, o.id, o.kind, o.channel_id, o.target_id,
              o.conversation_id, o.recipient, o.reply_to, o.event_type, o.payload, o.attempts,
              o.parts_sent
  ), parked AS (
    UPDATE public.outbox o
    SET next_attempt_at = CASE WHEN cand.console THEN 'infinity'::timestamptz
                               ELSE now() + (SELECT lease FROM args)
                          END,
        status = CASE WHEN cand.console THEN 'pending' ELSE o.status END,
        lease_owner = CASE WHEN cand.console THEN NULL ELSE o.lease_owner END,
        lease_until = CASE WHEN cand.console THEN NULL ELSE o.lease_until END
    FROM cand
    WHERE (cand.blocked OR cand.console) AND o.tenant_id = cand.tenant_id AND o.id = cand.id
    RETURNING false AS claimed, o.tenant_id, o.id, NULL::text, NULL::uuid, NULL::uuid, NULL::uuid,
              NULL::text, NULL::text, NULL::text, NULL::jsonb, o.attempts, o.parts_sent
  )
  SELECT * FROM took UNION ALL SELECT * FROM parked
$$;
