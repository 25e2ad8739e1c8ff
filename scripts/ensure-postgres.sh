#!/usr/bin/env bash
# Ensure a throwaway local PostgreSQL for the storage/API tests, and print its URL.
#
#   eval "$(bash scripts/ensure-postgres.sh)"   # exports FOLLICLE_TEST_POSTGRES_URL
#
# If FOLLICLE_TEST_POSTGRES_URL is already set and reachable, it is reused. Otherwise:
# installs Debian's `postgresql` with apt-get when no initdb is found (needs root), creates
# a cluster in a temporary directory owned by the `postgres` user, starts it on 127.0.0.1 on
# a free port (trust auth, loopback only), creates database `follicle_test`, and prints
#   export FOLLICLE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/follicle_test
#   export FOLLICLE_TEST_POSTGRES_DIR=/tmp/...   (stop: pg_ctl -D DIR stop)
# Diagnostics go to stderr; only the export lines go to stdout.
#
#   bash scripts/ensure-postgres.sh --stop [DIR]   # stop and remove a cluster it started
#                                                  # (DIR defaults to $FOLLICLE_TEST_POSTGRES_DIR)
set -euo pipefail

log() { echo "ensure-postgres: $*" >&2; }

if [[ "${1:-}" == "--stop" ]]; then
  DIR="${2:-${FOLLICLE_TEST_POSTGRES_DIR:-}}"
  [[ -n "$DIR" && -d "$DIR/data" && "$DIR" == /tmp/follicle-pg.* ]] || {
    log "no cluster directory to stop (give the FOLLICLE_TEST_POSTGRES_DIR it printed)"; exit 1; }
  PG_CTL="$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | head -1 || true)"
  PG_CTL="${PG_CTL:-$(command -v pg_ctl)}"
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$PG_CTL" -D "$DIR/data" -m fast stop >&2 || true
  else
    "$PG_CTL" -D "$DIR/data" -m fast stop >&2 || true
  fi
  rm -rf "$DIR"
  log "stopped and removed $DIR"
  exit 0
fi

if [[ -n "${FOLLICLE_TEST_POSTGRES_URL:-}" ]]; then
  plain="${FOLLICLE_TEST_POSTGRES_URL/postgresql+psycopg:/postgresql:}"
  if command -v psql >/dev/null && psql "$plain" -qAtc 'select 1' >/dev/null 2>&1; then
    log "reusing FOLLICLE_TEST_POSTGRES_URL"
    echo "export FOLLICLE_TEST_POSTGRES_URL='${FOLLICLE_TEST_POSTGRES_URL}'"
    exit 0
  fi
fi

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(readlink -f "$(command -v initdb)")"; return 0
  fi
  return 1
}

if ! BIN="$(find_bin)"; then
  if [[ "$(id -u)" != 0 ]]; then
    log "PostgreSQL is not installed and this is not root: install 'postgresql' first"; exit 1
  fi
  log "installing postgresql with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  BIN="$(find_bin)" || { log "initdb still not found after install"; exit 1; }
fi

RUNAS=()
if [[ "$(id -u)" == 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql \
    --shell /bin/bash postgres
  RUNAS=(runuser -u postgres --)
fi

DIR="$(mktemp -d /tmp/follicle-pg.XXXXXX)"
[[ "$(id -u)" == 0 ]] && chown postgres "$DIR"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

"${RUNAS[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-locale >&2
"${RUNAS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=200 -c fsync=off" \
  start >&2
"${RUNAS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres follicle_test >&2
log "PostgreSQL running in $DIR on 127.0.0.1:$PORT"
echo "export FOLLICLE_TEST_POSTGRES_URL='postgresql+psycopg://postgres@127.0.0.1:${PORT}/follicle_test'"
echo "export FOLLICLE_TEST_POSTGRES_DIR='${DIR}'"
