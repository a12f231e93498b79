-- 080_kyc.sql: know-your-customer for sellers (docs/TRUST.md "KYC"). One kyc_info row per
-- tenant (the details the seller submits, the operator's verdict and reason); documents
-- stored in PostgreSQL (bytea) with their SHA-256, size and the content type their magic bytes
-- show; the note that the seller was told the order limit stopped orders (once).
-- The seller (application role) may submit and resubmit, never verify: only the platform
-- operator (the owner role, `ccgw kyc review`) sets a status other than pending.

ALTER TABLE kyc_info
  ADD CONSTRAINT kyc_info_one_per_tenant UNIQUE (tenant_id),
  ADD COLUMN review_reason text CHECK (review_reason IS NULL OR length(review_reason) <= 1000),
  ADD COLUMN submitted_at timestamptz NOT NULL DEFAULT now(),
  ADD CONSTRAINT kyc_info_legal_name_len CHECK (length(legal_name) BETWEEN 1 AND 200),
  ADD CONSTRAINT kyc_info_country_code CHECK (country IS NULL OR country ~ '^[A-Z]{2}$');

ALTER TABLE kyc_documents
  ADD COLUMN content bytea,
  ADD COLUMN sha256 text CHECK (sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'),
  ADD COLUMN size_bytes bigint CHECK (size_bytes IS NULL OR size_bytes BETWEEN 1 AND 5242880),
  ADD COLUMN content_type text
    CHECK (content_type IS NULL OR content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
  ADD COLUMN filename text CHECK (filename IS NULL OR length(filename) <= 255),
  ADD CONSTRAINT kyc_documents_content_size
    CHECK (content IS NULL OR octet_length(content) = size_bytes),
  ADD CONSTRAINT kyc_documents_doc_type_len CHECK (length(doc_type) BETWEEN 1 AND 64);
-- the documents of a tenant's KYC, in the order they came
CREATE INDEX kyc_documents_by_kyc ON kyc_documents (tenant_id, kyc_id, created_at, id);

CREATE TABLE kyc_order_limit_notices (
  tenant_id uuid NOT NULL PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  order_limit integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE kyc_order_limit_notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE kyc_order_limit_notices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kyc_order_limit_notices
  USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());

-- Only the owner role (the one running this migration, as `ccgw kyc review` does) gives a
-- verdict: the application role may set status 'pending' (a submission) and no other.
DO $$
BEGIN
  EXECUTE format($f$
    CREATE FUNCTION kyc_verdict_guard() RETURNS trigger
    LANGUAGE plpgsql AS $b$
    BEGIN
      IF current_user <> %L AND NEW.status <> 'pending'
          AND (TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status) THEN
        RAISE EXCEPTION 'only the platform operator reviews KYC' USING ERRCODE = '42501';
      END IF;
      RETURN NEW;
    END
    $b$ $f$, current_user);
END
$$;
CREATE TRIGGER kyc_info_verdict BEFORE INSERT OR UPDATE ON kyc_info
  FOR EACH ROW EXECUTE FUNCTION kyc_verdict_guard();
CREATE TRIGGER kyc_documents_verdict BEFORE INSERT OR UPDATE ON kyc_documents
  FOR EACH ROW EXECUTE FUNCTION kyc_verdict_guard();

-- The operator lists every tenant's KYC (`ccgw kyc list`); writes stay scoped to one tenant.
CREATE POLICY owner_review ON kyc_info FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY owner_review ON kyc_documents FOR SELECT TO CURRENT_USER USING (true);

-- The application role: submit and read; documents are never changed or deleted by it.
REVOKE DELETE ON kyc_info FROM :"app_role";
REVOKE UPDATE, DELETE ON kyc_documents FROM :"app_role";
GRANT SELECT, INSERT ON kyc_order_limit_notices TO :"app_role";
