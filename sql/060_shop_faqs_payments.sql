-- 060_shop_faqs_payments.sql: issue 16's shop questions and M-Pesa references.
--
-- faqs: the seller's own questions and answers (GET|POST /api/v1/faqs): the question, example
-- phrasings in English and Swahili the engine matches a shopper's text against, and the answer
-- in each language. The engine keeps them with the shop's cached settings: every change of a
-- faq also touches the tenant row (its xmin is the cache's version), in the same transaction.
CREATE TABLE faqs (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  question text NOT NULL CHECK (length(question) BETWEEN 1 AND 300),
  examples jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(examples) = 'array'),
  answer text NOT NULL CHECK (length(answer) BETWEEN 1 AND 1000),
  answer_sw text CHECK (answer_sw IS NULL OR length(answer_sw) BETWEEN 1 AND 1000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX faqs_tenant_created ON faqs (tenant_id, created_at, id);
CREATE TRIGGER faqs_touch BEFORE UPDATE ON faqs FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE faqs ENABLE ROW LEVEL SECURITY;
ALTER TABLE faqs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON faqs USING (tenant_id = app_tenant_id())
  WITH CHECK (tenant_id = app_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON faqs TO :"app_role";

-- An order's payment as the shopper reported it and the seller checked it: payment_status is
-- NULL for methods without a reference (cash on delivery), 'awaiting' for an M-Pesa order
-- placed, 'claimed' once the shopper sent a transaction code (payment_ref, with the amount of
-- a pasted confirmation), then 'paid' or 'rejected' by the seller (PATCH /api/v1/orders/{id}).
ALTER TABLE orders
  ADD COLUMN payment_status text CHECK (payment_status IS NULL OR payment_status IN
    ('awaiting', 'claimed', 'paid', 'rejected')),
  ADD COLUMN payment_ref text CHECK (payment_ref IS NULL OR payment_ref ~ '^[A-Z0-9]{10}$'),
  ADD COLUMN payment_amount_minor bigint CHECK (payment_amount_minor IS NULL OR
    payment_amount_minor >= 0),
  ADD COLUMN payment_claimed_at timestamptz;
-- one transaction code, one order of the shop: a code pasted for a second order is refused
CREATE UNIQUE INDEX orders_payment_ref ON orders (tenant_id, payment_ref)
  WHERE payment_ref IS NOT NULL;
