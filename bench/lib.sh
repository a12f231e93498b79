#!/usr/bin/env bash
# bench/lib.sh: what bench/run, bench/ratio and bench/budget share: the ceiling's database and
# its pgbench, and the floor (bench/pgbench/floor.sql) on bench_ingest's database. Sources
# scripts/lib.sh; source it; it defines functions and changes nothing by itself.
# shellcheck source=../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# ccgw_ceiling_db OWNER_URL DB: DB made afresh (dropped first) with the ceiling's tables
# (bench/pgbench/setup.sql), for pgbench's bench/pgbench/message.sql, so every command divides
# by the same work on the same fresh tables.
ccgw_ceiling_db() {
  local owner_url=$1 db=$2
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$owner_url/ccgw" -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null &&
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$owner_url/$db" -f "$CCGW_ROOT/bench/pgbench/setup.sql" >/dev/null
}

# ccgw_ceiling_pgbench OWNER_URL DB SECONDS: pgbench message.sql with 32 clients on 2 threads
# for SECONDS s on DB (made by ccgw_ceiling_db); pgbench's output on stdout and stderr.
ccgw_ceiling_pgbench() {
  "$PG_BIN/pgbench" -n -M prepared -c 32 -j 2 -T "$3" -f "$CCGW_ROOT/bench/pgbench/message.sql" "$1/$2"
}

# ccgw_floor_pick: on bench_ingest's database (after a run), numbers its conversations that
# have a customer in table floor_pick (n -> conversation, customer) for floor.sql's random
# pick; prints "ROWS TENANT CHANNEL", the -D values floor.sql takes. Needs CCGW_SUPERUSER_URL.
ccgw_floor_pick() {
  "$PG_BIN/psql" -X -q -A -t -F ' ' -v ON_ERROR_STOP=1 \
    "${CCGW_SUPERUSER_URL/dbname=ccgw/dbname=ccgw_t_bench_ingest}" <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS floor_pick;
CREATE TABLE floor_pick AS
  SELECT (row_number() OVER (ORDER BY id))::int AS n, id AS conversation_id, customer_id
  FROM conversations WHERE customer_id IS NOT NULL;
ALTER TABLE floor_pick ADD PRIMARY KEY (n);
GRANT SELECT ON floor_pick TO ccgw_app;
ANALYZE floor_pick;
SELECT count(*), (SELECT tenant_id FROM conversations LIMIT 1),
       (SELECT id FROM channels WHERE type = 'whatsapp' LIMIT 1) FROM floor_pick;
SQL
}

# ccgw_floor_grouped_sql GROUP ROWS [merged]: prints floor.sql's messages GROUP to a
# transaction, as ccgw's group commit writes them: each message's savepoint and tenant setting
# with its opening statement, then its trust statement; every message's writing statement with
# the COMMIT in one pipeline. Message k takes its conversation from a range of its own, in
# ascending order (as ccgw's groups hold distinct conversations, locks in one order). With
# merged, the GROUP writing statements are one statement writing the same rows (what merging
# a group's deferred writes would save: docs/PERFORMANCE.md, "Thirteenth pass").
ccgw_floor_grouped_sql() {
  awk -v group="$1" -v n="$2" -v merged="${3:-}" '
  function rep(s, a, b,   i, out) { # every a in s replaced by b, literally; counted in nrep
    out = ""
    while ((i = index(s, a)) > 0) { out = out substr(s, 1, i - 1) b; s = substr(s, i + length(a)); nrep++ }
    return out s
  }
  /^--/ || /^\\/ || /^$/ { next }
  { cur = cur $0 "\n" } /;$/ { st[++ns] = cur; cur = "" }
  END {
    # floor.sql: BEGIN; the setting; the opening; the trust statement; the write; COMMIT
    m = int(n / group)
    for (k = 1; k <= group; k++) printf "\\set c%d random(%d, %d)\n", k, (k - 1) * m + 1, k * m
    for (k = 1; k <= group; k++) {
      print "\\startpipeline"
      if (k == 1) print "BEGIN;"
      print "SAVEPOINT ccgw_group;"
      printf "%s", st[2]; o = st[3]; gsub(/:c\)/, ":c" k ")", o); printf "%s", o
      print "\\endpipeline"
      o = st[4]; gsub(/:c\)/, ":c" k ")", o); printf "%s", o
    }
    print "\\startpipeline"
    printf "%s", st[2]
    if (merged == "merged") {
      list = ":c1"; for (k = 2; k <= group; k++) list = list ", :c" k
      nrep = 0; o = st[5]
      o = rep(o, "WHERE n = :c)", "WHERE n IN (" list "))")
      o = rep(o, "SELECT :t, (SELECT conversation_id FROM k), x.e", "SELECT :t, k.conversation_id, x.e")
      o = rep(o, "FROM jsonb_array_elements(", "FROM k, jsonb_array_elements(")
      o = rep(o, "ORDER BY x.n", "ORDER BY k.conversation_id, x.n")
      o = rep(o, "SELECT :t, \x27reply\x27, (SELECT conversation_id FROM k)", "SELECT :t, \x27reply\x27, k.conversation_id")
      o = rep(o, "\x27::jsonb)\nUPDATE", "\x27::jsonb FROM k)\nUPDATE")
      o = rep(o, "id = (SELECT conversation_id FROM k)", "id IN (SELECT conversation_id FROM k)")
      if (nrep != 7) { print "floor.sql changed: its merged form needs a look" > "/dev/stderr"; exit 1 }
      printf "%s", o
    } else
      for (k = 1; k <= group; k++) { o = st[5]; gsub(/:c\)/, ":c" k ")", o); printf "%s", o }
    print "COMMIT;"
    print "\\endpipeline"
  }' "$CCGW_ROOT/bench/pgbench/floor.sql"
}

# ccgw_floor_pgbench SCRIPT CLIENTS SECONDS ROWS TENANT CHANNEL: pgbench running SCRIPT
# (floor.sql, or ccgw_floor_grouped_sql's output) with CLIENTS clients on 2 threads for
# SECONDS s, as the application role on bench_ingest's database; ROWS TENANT CHANNEL are
# ccgw_floor_pick's. pgbench's output on stdout and stderr.
ccgw_floor_pgbench() {
  "$PG_BIN/pgbench" -n -M prepared -c "$2" -j 2 -T "$3" -D "n=$4" -D "t=$5" -D "ch=$6" -f "$1" \
    "${CCGW_DATABASE_URL%/*}/ccgw_t_bench_ingest"
}
