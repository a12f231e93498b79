-- 065_trust.sql: trust and safety working end to end (issue 18, parts 1-4; docs/TRUST.md).
-- * complaints: the seller's resolution and who last changed it;
-- * behavior_patterns: four built-in rows per tenant (flooding, abusive_language,
--   unpaid_orders, order_burst), for every existing tenant here and for every new tenant by a
--   trigger on tenants; each definition names its threshold, window, action and severity;
-- * violations: one open (or confirmed) violation per customer and kind, with the action it
--   takes (flag | throttle | block), the pattern, how often it was detected and when last;
-- * pattern_detections / evidence: the detection an evidence row belongs to, and the indexes
--   the detection and the admin lists use;
-- * trust_state: one row per customer with the counters that keep detection O(1) per message
--   (messages and abusive messages in the current window) and when a throttled shopper was
--   last answered.

ALTER TABLE complaints ADD COLUMN resolution text,
  ADD COLUMN resolved_at timestamptz;
CREATE INDEX complaints_tenant_created ON complaints (tenant_id, created_at DESC, id DESC);

ALTER TABLE violations ADD COLUMN action text NOT NULL DEFAULT 'flag'
    CHECK (action IN ('flag', 'throttle', 'block')),
  ADD COLUMN pattern_id uuid,
  ADD COLUMN conversation_id uuid,
  ADD COLUMN detections integer NOT NULL DEFAULT 1,
  ADD COLUMN last_detected_at timestamptz NOT NULL DEFAULT now(),
  ADD FOREIGN KEY (tenant_id, pattern_id) REFERENCES behavior_patterns(tenant_id, id)
    ON DELETE SET NULL (pattern_id),
  ADD FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations(tenant_id, id);
-- one live violation per customer and kind: a detection opens it or extends it
CREATE UNIQUE INDEX violations_live ON violations (tenant_id, customer_id, kind)
  WHERE status IN ('open', 'confirmed');
CREATE INDEX violations_tenant_created ON violations (tenant_id, created_at DESC, id DESC);

ALTER TABLE pattern_detections ADD COLUMN order_id uuid,
  ADD FOREIGN KEY (tenant_id, order_id) REFERENCES orders(tenant_id, id);
CREATE INDEX pattern_detections_violation ON pattern_detections (tenant_id, violation_id);

ALTER TABLE evidence ADD COLUMN detection_id uuid,
  ADD FOREIGN KEY (tenant_id, detection_id) REFERENCES pattern_detections(tenant_id, id)
    ON DELETE CASCADE;
CREATE INDEX evidence_violation ON evidence (tenant_id, violation_id);
CREATE INDEX evidence_complaint ON evidence (tenant_id, complaint_id);

-- order_burst counts a customer's orders of the last hour (orders_tenant_customer, 001);
-- unpaid_orders their cancelled or returned orders of the window:
CREATE INDEX orders_tenant_customer_unpaid ON orders (tenant_id, customer_id, updated_at DESC)
  WHERE status IN ('cancelled', 'returned');

CREATE TABLE trust_state (
  tenant_id uuid NOT NULL,
  customer_id uuid NOT NULL,
  flood_started_at timestamptz NOT NULL DEFAULT now(),
  flood_count integer NOT NULL DEFAULT 0,
  abuse_started_at timestamptz NOT NULL DEFAULT now(),
  abuse_count integer NOT NULL DEFAULT 0,
  throttle_reply_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, customer_id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers(tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE trust_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE trust_state FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON trust_state USING (tenant_id = app_tenant_id())
  WITH CHECK (tenant_id = app_tenant_id());
GRANT SELECT, INSERT, UPDATE ON trust_state TO :"app_role";

-- The built-in patterns of one tenant (existing rows, tuned by the seller, are kept).
CREATE POLICY owner_seed ON behavior_patterns FOR INSERT TO CURRENT_USER WITH CHECK (true);
CREATE POLICY owner_seed_read ON behavior_patterns FOR SELECT TO CURRENT_USER USING (true);
CREATE FUNCTION trust_patterns_seed(p_tenant uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO public.behavior_patterns (tenant_id, name, definition) VALUES
    (p_tenant, 'flooding', '{"threshold": 20, "window_seconds": 60, "action": "throttle",
      "severity": "medium", "interval_seconds": 30}'::jsonb),
    (p_tenant, 'abusive_language', '{"threshold": 1, "window_seconds": 86400,
      "action": "flag", "severity": "medium"}'::jsonb),
    (p_tenant, 'unpaid_orders', '{"threshold": 3, "window_seconds": 2592000,
      "action": "block", "severity": "high"}'::jsonb),
    (p_tenant, 'order_burst', '{"threshold": 5, "window_seconds": 3600, "action": "flag",
      "severity": "medium"}'::jsonb)
  ON CONFLICT (tenant_id, name) DO NOTHING
$$;
REVOKE ALL ON FUNCTION trust_patterns_seed(uuid) FROM PUBLIC;

CREATE FUNCTION tenants_trust_seed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM public.trust_patterns_seed(NEW.id);
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION tenants_trust_seed() FROM PUBLIC;
CREATE TRIGGER tenants_trust_seed AFTER INSERT ON tenants
  FOR EACH ROW EXECUTE FUNCTION tenants_trust_seed();

SELECT trust_patterns_seed(id) FROM tenants;
