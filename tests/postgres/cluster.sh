#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb as the postgres user into a temporary
# folder, loopback only, on a free port.
#
#   eval "$(bash tests/postgres/cluster.sh start)"   # exports WARRANTY_GATEWAY_TEST_POSTGRES
#                                                    # and PG_TEST_CLUSTER (the folder)
#   bash tests/postgres/cluster.sh stop "$PG_TEST_CLUSTER"
#   bash tests/postgres/cluster.sh pause DIR     # the server stops (an outage), the folder stays
#   bash tests/postgres/cluster.sh resume DIR    # and starts again on the same port
#
# Needs Debian's postgresql package (the server binaries) and root (to run them as postgres).
set -euo pipefail

bin_dir() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
  else
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
  fi
}

case "${1:-}" in
  start)
    BIN=$(bin_dir)
    [ -x "$BIN/initdb" ] || { echo "no PostgreSQL server binaries found (apt-get install postgresql)" >&2; exit 1; }
    DIR=$(mktemp -d /tmp/wg-pg.XXXXXX)
    chown postgres:postgres "$DIR"
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    runuser -u postgres -- "$BIN/initdb" -D "$DIR/data" -A trust -U postgres --no-sync >/dev/null
    echo "-k $DIR -p $PORT -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" > "$DIR/options"
    runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "$(cat "$DIR/options")" start >/dev/null
    echo "export WARRANTY_GATEWAY_TEST_POSTGRES=postgres://postgres@127.0.0.1:$PORT/postgres"
    echo "export PG_TEST_CLUSTER=$DIR"
    ;;
  stop)
    DIR=${2:?the cluster folder}
    BIN=$(bin_dir)
    runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
  pause)
    DIR=${2:?the cluster folder}
    runuser -u postgres -- "$(bin_dir)/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    ;;
  resume)
    DIR=${2:?the cluster folder}
    runuser -u postgres -- "$(bin_dir)/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "$(cat "$DIR/options")" start >/dev/null
    ;;
  *)
    echo "usage: $0 start | stop DIR | pause DIR | resume DIR" >&2
    exit 2
    ;;
esac
