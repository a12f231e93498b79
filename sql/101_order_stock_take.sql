-- 101_order_stock_take.sql: an order's stock taken inside the statement that places it.
--
-- The engine places an order in one statement sent last in its transaction (the stock, the
-- order number, the order's rows, its event, the replies that name its number and the
-- conversation's new state; commerce/engine_place.c), so that the rows every order of a shop
-- queues for (its products' stock, its order counter) are held only from that statement to
-- the COMMIT (docs/PERFORMANCE.md, "Tail latency"). This function takes the stock of every
-- line in product id order (so two orders cannot deadlock on each other's products), each
-- guarded (never below zero, only an active product), and raises a serialization failure
-- (SQLSTATE 40001) when a line runs short: the statement, and with it the transaction,
-- fails as a whole, nothing of the order is kept, and the caller runs the message again
-- (pg_tx_run), when the engine sees the shortfall before taking anything and tells the
-- shopper (the cart kept). SECURITY INVOKER: row-level security applies.
CREATE FUNCTION order_stock_take(p_tenant uuid, p_products uuid[], p_quantities int[])
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
  l record;
BEGIN
  FOR l IN SELECT u.id, u.q FROM unnest(p_products, p_quantities) AS u(id, q) ORDER BY u.id
  LOOP
    UPDATE products SET stock = stock - l.q
     WHERE tenant_id = p_tenant AND id = l.id AND stock >= l.q AND active
       AND deleted_at IS NULL;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'order_stock_take: product % ran short', l.id
        USING ERRCODE = '40001';
    END IF;
  END LOOP;
  RETURN true;
END
$$;

REVOKE ALL ON FUNCTION order_stock_take(uuid, uuid[], int[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_stock_take(uuid, uuid[], int[]) TO :"app_role";
