-- 070_storefront.sql: the storefront (issue 19) on the seed's tables.
--
-- Assets keep their bytes here (bytea), once per tenant by SHA-256; a thumbnail and a card
-- variant are child assets (parent_asset_id, variant). Products may show an asset. The seller
-- edits one draft per tenant; publishing copies it into a new storefronts row (version n+1,
-- its banners into storefront_banners), and storefront_config.published_version says which
-- version the public page shows; rollback points it at the version before. Both are invoker
-- functions, so row-level security stands behind them as behind any statement.

ALTER TABLE storefront_assets
  ADD COLUMN sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  ADD COLUMN variant text NOT NULL DEFAULT 'original'
    CHECK (variant IN ('original', 'thumb', 'card')),
  ADD COLUMN data bytea;
-- an upload is stored once per tenant; each original has at most one child per variant
CREATE UNIQUE INDEX storefront_assets_sha ON storefront_assets (tenant_id, sha256)
  WHERE parent_asset_id IS NULL;
CREATE UNIQUE INDEX storefront_assets_variant ON storefront_assets
  (tenant_id, parent_asset_id, variant) WHERE parent_asset_id IS NOT NULL;

ALTER TABLE products ADD COLUMN image_asset_id uuid;
ALTER TABLE products ADD FOREIGN KEY (tenant_id, image_asset_id)
  REFERENCES storefront_assets(tenant_id, id);

ALTER TABLE storefronts ADD CONSTRAINT storefronts_tenant_version UNIQUE (tenant_id, version);
CREATE UNIQUE INDEX storefront_drafts_tenant ON storefront_drafts (tenant_id);
ALTER TABLE storefront_config ADD COLUMN published_version integer;
ALTER TABLE storefront_banners
  ADD COLUMN starts_at timestamptz,
  ADD COLUMN ends_at timestamptz,
  ADD CONSTRAINT storefront_banners_times CHECK (ends_at IS NULL OR starts_at IS NULL
                                                  OR ends_at > starts_at);
CREATE INDEX storefront_banners_storefront ON storefront_banners (tenant_id, storefront_id);

-- The draft becomes version n+1 and is published; NULL when there is no draft.
CREATE FUNCTION storefront_publish() RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
DECLARE
  t uuid := app_tenant_id();
  d jsonb;
  v integer;
  sid uuid;
  b jsonb;
  i integer := 0;
BEGIN
  IF t IS NULL THEN
    RETURN NULL;
  END IF;
  INSERT INTO storefront_config (tenant_id) VALUES (t) ON CONFLICT (tenant_id) DO NOTHING;
  PERFORM 1 FROM storefront_config WHERE tenant_id = t FOR UPDATE;
  SELECT content INTO d FROM storefront_drafts WHERE tenant_id = t;
  IF d IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(max(version), 0) + 1 INTO v FROM storefronts WHERE tenant_id = t;
  INSERT INTO storefronts (tenant_id, version, content, published_at)
    VALUES (t, v, d, now()) RETURNING id INTO sid;
  FOR b IN SELECT e FROM jsonb_array_elements(coalesce(d->'banners', '[]'::jsonb)) AS e LOOP
    INSERT INTO storefront_banners (tenant_id, storefront_id, asset_id, title, link_url,
                                    position, starts_at, ends_at)
      VALUES (t, sid, (b->>'asset_id')::uuid, coalesce(b->>'title', ''), b->>'link_url', i,
              (b->>'starts_at')::timestamptz, (b->>'ends_at')::timestamptz);
    i := i + 1;
  END LOOP;
  UPDATE storefront_config
    SET published_version = v, logo_asset_id = (d->>'logo_asset_id')::uuid,
        theme = theme || coalesce(d->'theme', '{}'::jsonb)
    WHERE tenant_id = t;
  RETURN v;
END
$$;

-- The version before the published one is published again; NULL when there is none.
CREATE FUNCTION storefront_rollback() RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
DECLARE
  t uuid := app_tenant_id();
  cur integer;
  prev integer;
  d jsonb;
BEGIN
  SELECT published_version INTO cur FROM storefront_config WHERE tenant_id = t FOR UPDATE;
  IF cur IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT version, content INTO prev, d FROM storefronts
    WHERE tenant_id = t AND version < cur ORDER BY version DESC LIMIT 1;
  IF prev IS NULL THEN
    RETURN NULL;
  END IF;
  UPDATE storefront_config
    SET published_version = prev, logo_asset_id = (d->>'logo_asset_id')::uuid,
        theme = theme || coalesce(d->'theme', '{}'::jsonb)
    WHERE tenant_id = t;
  RETURN prev;
END
$$;

REVOKE ALL ON FUNCTION storefront_publish(), storefront_rollback() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION storefront_publish(), storefront_rollback() TO :"app_role";
