-- 054_dispatchers.sql: the live dispatching processes on this database. Each `ccgw serve`
-- with a dispatcher refreshes its row every 2 seconds; a row not refreshed for 10 seconds is
-- a process that died. A channel's configured send rate is shared out among the live ones,
-- so N processes together stay within it (docs/DISPATCH.md). Not tenant data: no tenant_id.
CREATE TABLE dispatchers (
  owner text PRIMARY KEY,
  seen_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON dispatchers TO :"app_role";
