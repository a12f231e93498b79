-- 056_webchat.sql: the web chat.
--
-- Replies on channels that deliver locally (the console, and now the web chat's sockets) are
-- taken by the process that holds the shopper's end, never by the dispatcher: the claim parks
-- them as it parked the console's (032), and the outcome statement does not chain them.
CREATE FUNCTION channel_delivers_locally(p_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_type IN ('console', 'webchat')
$$;
GRANT EXECUTE ON FUNCTION channel_delivers_locally(text) TO :"app_role";

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
                AND public.channel_delivers_locally(ch.type))) AS console
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


-- The web chat's settings: the origins allowed to open its socket (besides the gateway's own
-- page) and its look (storefront_config.theme: name, colours, greeting, logo URL).
ALTER TABLE storefront_config ADD COLUMN chat_origins text[] NOT NULL DEFAULT '{}';
