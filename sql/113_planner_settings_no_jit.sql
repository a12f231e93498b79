-- 113_planner_settings_no_jit.sql: no JIT inside the functions that turn index scans off.
--
-- outbox_complete (109) and outbox_claim (110) update a batch's rows through their places
-- with enable_indexscan and enable_bitmapscan off for that one statement. Foreign-key checks
-- fired by that UPDATE (for a row written earlier in the same transaction) are planned there
-- when their cached plan was invalidated meanwhile (an ANALYZE of the referenced table): with
-- index scans off such a plan costs over 10^10, past jit_above_cost, and was compiled by JIT
-- at every later run in that session. auto_explain showed 20 to 70 ms a check, and 800 ms
-- for one outbox_complete call, in test_pg_registry (whose claim and outcome share a
-- transaction, as the dispatcher's do not). The plans' shape was the primary key's index scan
-- all along; only the JIT is taken away.
ALTER FUNCTION outbox_complete(uuid, uuid[], text[], text[], text[], bigint[], text[], bigint[],
                               integer[], integer[], integer, text[], text[])
  SET jit = off;
ALTER FUNCTION outbox_claim(text, integer, integer) SET jit = off;
