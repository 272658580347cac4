#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb as the postgres user into a temporary
# folder, loopback only, on a free port.
#
#   eval "$(bash tests/postgres/cluster.sh start)"   # exports WARRANTY_GATEWAY_TEST_POSTGRES
#                                                    # and PG_TEST_CLUSTER (the folder)
#   eval "$(bash tests/postgres/cluster.sh start --tls)"   # the same, TLS only: a throwaway CA
#        (openssl) signs the server's certificate (localhost, 127.0.0.1), pg_hba.conf has hostssl
#        lines only, and the URL says sslmode=verify-full&sslrootcert=<the CA>; PG_TEST_OTHER_CA
#        names a second CA that signed nothing
#   eval "$(bash tests/postgres/cluster.sh start --pgbouncer [transaction|session])"   # the same,
#        reached through Debian's pgbouncer on a port of its own, as operators of several
#        instances run it: pool_mode transaction (the default) or session, nothing else set but
#        what it needs to start (trust auth, the wildcard database)
#   bash tests/postgres/cluster.sh stop "$PG_TEST_CLUSTER"
#   bash tests/postgres/cluster.sh pause DIR     # the server stops (an outage), the folder stays
#   bash tests/postgres/cluster.sh resume DIR    # and starts again on the same port
#   bash tests/postgres/cluster.sh kill DIR      # the postmaster is SIGKILLed (a crash); returns
#                                                # when its backends are gone too; resume starts
#                                                # it again, recovering from the WAL
#
# Needs Debian's postgresql package (the server binaries) and root (to run them as postgres);
# --pgbouncer needs Debian's pgbouncer.
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
    # Every tool an option needs is looked for before anything is started: a failure later would
    # leave a running server behind.
    if [ "${2:-}" = "--tls" ]; then
      command -v openssl >/dev/null 2>&1 || { echo "no openssl (apt-get install openssl)" >&2; exit 1; }
    fi
    if [ "${2:-}" = "--pgbouncer" ]; then
      command -v pgbouncer >/dev/null 2>&1 || { echo "no pgbouncer (apt-get install pgbouncer)" >&2; exit 1; }
    fi
    DIR=$(mktemp -d /tmp/wg-pg.XXXXXX)
    # Whatever fails from here on takes the half-made cluster down with it.
    trap 'runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1; rm -rf "$DIR"' ERR
    chown postgres:postgres "$DIR"
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    runuser -u postgres -- "$BIN/initdb" -D "$DIR/data" -A trust -U postgres --no-sync >/dev/null
    echo "-k $DIR -p $PORT -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" > "$DIR/options"
    URL="postgres://postgres@127.0.0.1:$PORT/postgres"
    if [ "${2:-}" = "--tls" ]; then
      TLS="$DIR/tls"
      mkdir "$TLS"
      EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
      for ca in ca other-ca; do
        openssl req -x509 "${EC[@]}" -keyout "$TLS/$ca.key" -out "$TLS/$ca.pem" -days 2 \
          -subj "/CN=warranty-gateway test $ca" 2>/dev/null
      done
      openssl req "${EC[@]}" -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj "/CN=localhost" 2>/dev/null
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$TLS/ext.cnf"
      openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial \
        -out "$TLS/server.pem" -days 2 -extfile "$TLS/ext.cnf" 2>/dev/null
      chown -R postgres:postgres "$TLS"
      chmod 600 "$TLS/server.key"
      printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n' > "$DIR/data/pg_hba.conf"
      echo " -c ssl=on -c ssl_cert_file=$TLS/server.pem -c ssl_key_file=$TLS/server.key" >> "$DIR/options"
      URL="postgres://postgres@localhost:$PORT/postgres?sslmode=verify-full&sslrootcert=$TLS/ca.pem"
      echo "export PG_TEST_OTHER_CA=$TLS/other-ca.pem"
    fi
    runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "$(tr '\n' ' ' < "$DIR/options")" start >/dev/null
    if [ "${2:-}" = "--pgbouncer" ]; then
      BPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      mkdir "$DIR/bouncer"
      echo '"postgres" ""' > "$DIR/bouncer/userlist.txt"
      cat > "$DIR/bouncer/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BPORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/bouncer/userlist.txt
pool_mode = ${3:-transaction}
max_client_conn = 1000
logfile = $DIR/bouncer/pgbouncer.log
pidfile = $DIR/bouncer/pgbouncer.pid
INI
      chown -R postgres:postgres "$DIR/bouncer"
      runuser -u postgres -- pgbouncer -d -q "$DIR/bouncer/pgbouncer.ini"
      for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$BPORT") 2>/dev/null && break
        sleep 0.1
      done
      URL="postgres://postgres@127.0.0.1:$BPORT/postgres"
      echo "export PG_TEST_POOLER=${3:-transaction}"
    fi
    echo "export WARRANTY_GATEWAY_TEST_POSTGRES=\"$URL\""
    echo "export PG_TEST_CLUSTER=$DIR"
    ;;
  stop)
    DIR=${2:?the cluster folder}
    BIN=$(bin_dir)
    if [ -f "$DIR/bouncer/pgbouncer.pid" ]; then
      kill "$(cat "$DIR/bouncer/pgbouncer.pid")" 2>/dev/null || true
    fi
    runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
  pause)
    DIR=${2:?the cluster folder}
    runuser -u postgres -- "$(bin_dir)/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    ;;
  resume)
    DIR=${2:?the cluster folder}
    runuser -u postgres -- "$(bin_dir)/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "$(tr '\n' ' ' < "$DIR/options")" start >/dev/null
    ;;
  kill)
    DIR=${2:?the cluster folder}
    PID=$(head -1 "$DIR/data/postmaster.pid")
    CHILDREN=$(pgrep -P "$PID" || true)
    kill -KILL "$PID"
    # Each backend exits when it notices the postmaster is gone; the shared memory they hold
    # must be free before a new postmaster starts.
    for _ in $(seq 100); do
      ALIVE=""
      for c in $CHILDREN; do kill -0 "$c" 2>/dev/null && ALIVE="$ALIVE $c"; done
      [ -z "$ALIVE" ] && break
      sleep 0.1
    done
    for c in ${ALIVE:-}; do kill -KILL "$c" 2>/dev/null || true; done
    ;;
  *)
    echo "usage: $0 start [--tls | --pgbouncer [transaction|session]] | stop DIR | pause DIR | resume DIR | kill DIR" >&2
    exit 2
    ;;
esac
