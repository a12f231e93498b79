#!/usr/bin/env bash
# scripts/lib.sh: shared by scripts/run and scripts/test. Installs what is missing (Debian 12),
# builds, and runs the embedded PostgreSQL cluster under .ccgw/pg as an unprivileged user.
# Source it; it defines functions and changes nothing by itself.

CCGW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CCGW_STATE="$CCGW_ROOT/.ccgw"
PG_DIR="$CCGW_STATE/pg"
PG_BIN=/usr/lib/postgresql/15/bin

# Debian packages the project needs to build, run and test.
CCGW_PACKAGES=(build-essential cmake pkg-config git ca-certificates curl
  libwebsockets-dev libwebsockets-evlib-ev libev-dev libjansson-dev libpq-dev uuid-dev libcurl4-openssl-dev libssl-dev
  libcmocka-dev libinih-dev libutf8proc-dev postgresql-15 postgresql-client-15
  python3 clang libclang-rt-14-dev libvips-dev)

ccgw_log() { printf '== %s\n' "$*" >&2; }
ccgw_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ccgw_sudo() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs only the packages that are missing; apt-get update once, only when needed.
ccgw_install_deps() {
  local missing=() p
  for p in "${CCGW_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    ccgw_log "installing: ${missing[*]}"
    ccgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    ccgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Debian's postgresql package starts a system cluster; ours is private, leave theirs alone.
}

# ccgw_build DIR [cmake args...]
ccgw_build() {
  local dir=$1; shift
  cmake -S "$CCGW_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

# The unprivileged user that runs PostgreSQL: ourselves unless root, else 'postgres'.
ccgw_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

ccgw_as_pg() {
  local u; u=$(ccgw_pg_user)
  if [ "$(id -un)" = "$u" ]; then "$@"; else runuser -u "$u" -- "$@"; fi
}

ccgw_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts (initdb on first use) the embedded cluster and writes .ccgw/env.
ccgw_pg_start() {
  local u port
  u=$(ccgw_pg_user)
  mkdir -p "$PG_DIR"
  chmod 755 "$CCGW_STATE"
  # the cluster's user must be able to reach its folder through the checkout
  if [ "$(id -u)" -eq 0 ]; then
    local d="$CCGW_ROOT"
    while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
    chown "$u" "$PG_DIR"
  fi
  if [ ! -s "$PG_DIR/data/PG_VERSION" ]; then
    ccgw_log "initdb $PG_DIR/data"
    rm -rf "$PG_DIR/data"
    ccgw_as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth-local=peer \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    ccgw_free_port > "$PG_DIR/port"
  fi
  ccgw_pg_auth "$u"
  port=$(cat "$PG_DIR/port")
  if ! ccgw_as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    # the saved port may have been taken meanwhile
    if ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$port))" 2>/dev/null; then
      port=$(ccgw_free_port); echo "$port" > "$PG_DIR/port"
    fi
    ccgw_as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
      -o "-p $port -k $PG_DIR/run -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on -c shared_buffers=128MB" \
      start >/dev/null || { tail -20 "$PG_DIR/log" >&2; ccgw_die "PostgreSQL did not start"; }
  fi
  ccgw_pg_roles "$port"
}

# The cluster is not open to other local users: its socket directory is its owner's alone
# (mode 0700), the socket takes only the superuser, by peer authentication, for the cluster's
# OS user and root (the map below), and every role else logs in over loopback TCP with a
# password (scram-sha-256). Written at every start, so clusters made before this are fixed too.
ccgw_pg_auth() {
  local u=$1 data="$PG_DIR/data"
  ccgw_as_pg mkdir -p "$PG_DIR/run"
  ccgw_as_pg chmod 0700 "$PG_DIR/run"
  ccgw_as_pg sh -c "cat > '$data/pg_hba.conf'" <<HBA
# written by scripts/lib.sh at every start: edit it there
# TYPE  DATABASE  USER      ADDRESS       METHOD
local   all       postgres                peer map=ccgw
local   all       all                     reject
host    all       all       127.0.0.1/32  scram-sha-256
host    all       all       ::1/128       scram-sha-256
HBA
  ccgw_as_pg sh -c "cat > '$data/pg_ident.conf'" <<IDENT
# written by scripts/lib.sh at every start: who may be the superuser on the socket
# MAPNAME  SYSTEM-USERNAME  PG-USERNAME
ccgw       $u               postgres
ccgw       root             postgres
IDENT
  ccgw_as_pg chmod 0600 "$data/pg_hba.conf" "$data/pg_ident.conf"
  if ccgw_as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    ccgw_as_pg "$PG_BIN/pg_ctl" -D "$data" reload >/dev/null
  fi
}

ccgw_psql_super() {
  ccgw_as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR/run" -p "$(cat "$PG_DIR/port")" -U postgres "$@"
}

# Creates the owner and application roles and the database once; writes .ccgw/env.
ccgw_pg_roles() {
  local port=$1 owner_pw app_pw key
  if [ -s "$CCGW_STATE/secrets" ]; then
    # shellcheck disable=SC1091
    . "$CCGW_STATE/secrets"
  else
    owner_pw=$(openssl rand -hex 24); app_pw=$(openssl rand -hex 24); key=$(openssl rand -hex 32)
    umask 077
    printf 'owner_pw=%s\napp_pw=%s\nkey=%s\n' "$owner_pw" "$app_pw" "$key" > "$CCGW_STATE/secrets"
    umask 022
  fi
  ccgw_psql_super -d postgres -v owner_pw="$owner_pw" -v app_pw="$app_pw" <<'SQL' >/dev/null
SET client_min_messages = warning;
SELECT format('CREATE ROLE ccgw_owner LOGIN CREATEDB PASSWORD %L', :'owner_pw')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ccgw_owner') \gexec
SELECT format('CREATE ROLE ccgw_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD %L', :'app_pw')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ccgw_app') \gexec
SELECT 'CREATE DATABASE ccgw OWNER ccgw_owner'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'ccgw') \gexec
-- the embedded cluster is a development and test cluster: its owner may end the sessions of
-- a test database it drops and recreates (DROP DATABASE ... WITH (FORCE))
GRANT pg_signal_backend TO ccgw_owner;
SQL
  umask 077
  cat > "$CCGW_STATE/env" <<ENV
export CCGW_DATABASE_URL='postgresql://ccgw_app:${app_pw}@127.0.0.1:${port}/ccgw'
export CCGW_MIGRATE_URL='postgresql://ccgw_owner:${owner_pw}@127.0.0.1:${port}/ccgw'
export CCGW_SECRET_KEY='${key}'
# the cluster's superuser on its socket: only for its OS user and root (peer authentication);
# tests use it to show that ccgw serve refuses such a role
export CCGW_SUPERUSER_URL='host=${PG_DIR}/run port=${port} user=postgres dbname=ccgw'
ENV
  umask 022
  ccgw_state_private
}

# The files that hold secrets are the invoking user's alone, at every start (not only when
# first written: a copy or an old checkout may have left them readable).
ccgw_state_private() {
  local f
  for f in "$CCGW_STATE/env" "$CCGW_STATE/secrets" "$CCGW_STATE/demo-api-key"; do
    [ -e "$f" ] && chmod 0600 "$f"
  done
  return 0
}

ccgw_pg_stop() {
  if [ -s "$PG_DIR/data/PG_VERSION" ]; then
    ccgw_as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
