#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite (never for real data: fsync is off).
#
#   scripts/pg-test-cluster.sh start    create (or reuse) and start it; the last stdout line is its URL
#   scripts/pg-test-cluster.sh url      print the URL of the running cluster
#   scripts/pg-test-cluster.sh status   say whether it runs (exit 0 if it does)
#   scripts/pg-test-cluster.sh stop     stop it and delete its directory
#
# Environment:
#   PGDATA_DIR    where the cluster lives (default: $PWD/.pgdata, which .gitignore already ignores)
#   PGPORT_TEST   port to listen on, 127.0.0.1 only (default 54329; the next free port is taken if it is busy)
#
# The URL is postgres://postgres@127.0.0.1:PORT/keel_test (trust authentication, loopback only), e.g.
#   KEEL_TEST_DATABASE_URL="$(scripts/pg-test-cluster.sh start | tail -n 1)" swift test
#
# Uses the newest Debian PostgreSQL under /usr/lib/postgresql/*/bin; when there is none and we are root,
# installs it with apt-get. initdb refuses to run as root, so as root the server runs as the `postgres` user.
set -euo pipefail

DB_NAME=keel_test
DB_USER=postgres
DEFAULT_PORT=54329

say() { printf 'pg-test-cluster: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

abspath() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$PWD" "$1" ;;
    esac
}

DIR="$(abspath "${PGDATA_DIR:-$PWD/.pgdata}")"
DIR="${DIR%/}"
[ -n "$DIR" ] && [ "$DIR" != "/" ] || die "PGDATA_DIR must not be /"

# State kept in $DIR (written by whoever runs this script):
#   port          the port the cluster was started on
#   cluster-path  where the cluster itself lives (normally $DIR; a /tmp directory when the
#                 postgres user cannot reach $DIR or the socket path would be too long)
# The cluster directory holds data/ (PGDATA), run/ (the Unix socket) and server.log.

find_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then printf '%s\n' "$d"; fi
    done | sort -V | tail -n 1
}

ensure_bin() {
    BIN="$(find_bin)"
    if [ -z "$BIN" ]; then
        [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); run: sudo apt-get install -y postgresql"
        say "PostgreSQL binaries are missing; installing the Debian package (apt-get install postgresql)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        BIN="$(find_bin)"
        [ -n "$BIN" ] || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb was found"
    fi
}

AS_ROOT=0
[ "$(id -u)" -eq 0 ] && AS_ROOT=1

# Runs a server-side command as the cluster's owner (postgres when we are root), from inside the cluster directory.
as_owner() {
    if [ "$AS_ROOT" -eq 1 ]; then
        (cd "$CLUSTER" && runuser -u postgres -- "$@")
    else
        (cd "$CLUSTER" && "$@")
    fi
}

load_state() {
    CLUSTER=""
    PORT=""
    if [ -f "$DIR/cluster-path" ]; then CLUSTER="$(cat "$DIR/cluster-path")"; fi
    if [ -f "$DIR/port" ]; then PORT="$(cat "$DIR/port")"; fi
}

url_for() { printf 'postgres://%s@127.0.0.1:%s/%s\n' "$DB_USER" "$1" "$DB_NAME"; }

pg_ctl_status() {
    as_owner "$BIN/pg_ctl" -D "$CLUSTER/data" status >/dev/null 2>&1
}

# Running means: pg_ctl sees the postmaster and it accepts connections on the recorded port.
is_running() {
    [ -n "${CLUSTER:-}" ] && [ -f "$CLUSTER/data/PG_VERSION" ] && [ -n "${PORT:-}" ] || return 1
    [ -n "${BIN:-}" ] || BIN="$(find_bin)"
    [ -n "$BIN" ] || return 1
    pg_ctl_status && "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres -t 3 >/dev/null 2>&1
}

# The pid in postmaster.pid, if that process is still alive (a zombie counts as dead).
live_postmaster_pid() {
    local pid state
    [ -f "$CLUSTER/data/postmaster.pid" ] || return 1
    pid="$(head -n 1 "$CLUSTER/data/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [ "$state" != "Z" ] || return 1
    printf '%s' "$pid"
}

# A leftover server (killed, hung, machine restarted): stop what is left of it so a clean start can follow.
clear_leftover() {
    local i
    if live_postmaster_pid >/dev/null; then
        say "a leftover server holds $CLUSTER/data; stopping it"
        as_owner "$BIN/pg_ctl" -D "$CLUSTER/data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
    fi
    for ((i = 0; i < 50; i++)); do
        live_postmaster_pid >/dev/null || break
        sleep 0.2
    done
    if live_postmaster_pid >/dev/null; then
        # Hung or stopped (SIGSTOP): this is our own throwaway server, so kill it.
        kill -KILL "$(live_postmaster_pid)" 2>/dev/null || true
        sleep 1
    fi
    if live_postmaster_pid >/dev/null; then die "the server process $(live_postmaster_pid) for $CLUSTER/data does not stop"; fi
    # Its lock files name a dead (or zombie) pid that postgres would take for a live one.
    rm -f "$CLUSTER/data/postmaster.pid" "$CLUSTER"/run/.s.PGSQL.*
}

port_busy() {
    # Something accepts connections on 127.0.0.1:$1.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
    local want="${PGPORT_TEST:-$DEFAULT_PORT}" p
    [[ "$want" =~ ^[0-9]+$ ]] && [ "$want" -ge 1024 ] && [ "$want" -le 65535 ] || die "PGPORT_TEST=$want is not a port number from 1024 to 65535"
    for ((p = want; p < want + 200 && p <= 65535; p++)); do
        if ! port_busy "$p"; then
            [ "$p" -eq "$want" ] || say "port $want is busy; using $p"
            printf '%s' "$p"
            return 0
        fi
    done
    die "no free port found from $want to $((want + 199))"
}

# Whether the postgres user can create files in $1 (every parent must be searchable by it).
owner_can_use() {
    [ "$AS_ROOT" -eq 1 ] || return 0
    runuser -u postgres -- test -x "$1" 2>/dev/null
}

SOCKET_SUFFIX="/run/.s.PGSQL.65535"

choose_cluster_dir() {
    local parent sock_len
    parent="$(dirname "$DIR")"
    # A Unix socket path must fit in 107 bytes: <cluster>/run/.s.PGSQL.<port>
    sock_len=$(( ${#DIR} + ${#SOCKET_SUFFIX} ))
    if owner_can_use "$parent" && [ "$sock_len" -le 100 ]; then
        CLUSTER="$DIR"
    else
        CLUSTER="$(mktemp -d /tmp/keel-pgtest.XXXXXX)"
        say "using $CLUSTER for the cluster (the postgres user cannot reach $DIR, or its socket path would be too long)"
    fi
    printf '%s\n' "$CLUSTER" >"$DIR/cluster-path"
}

init_cluster() {
    local locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
    rm -rf "$CLUSTER/data" "$CLUSTER/run" "$CLUSTER/server.log"
    mkdir -p "$CLUSTER/run"
    if [ "$AS_ROOT" -eq 1 ]; then chown -R postgres: "$CLUSTER"; fi
    chmod 700 "$CLUSTER/run"
    say "initdb ($BIN) in $CLUSTER/data"
    # -A trust: pg_hba.conf trusts local (socket) and host 127.0.0.1/32, ::1/128 connections, nothing else.
    as_owner "$BIN/initdb" -D "$CLUSTER/data" -U "$DB_USER" -A trust -E UTF8 --locale="$locale" --no-sync >"$CLUSTER/initdb.log" 2>&1 \
        || { cat "$CLUSTER/initdb.log" >&2; die "initdb failed"; }
    as_owner tee -a "$CLUSTER/data/postgresql.conf" >/dev/null <<EOF

# --- keel throwaway test cluster (scripts/pg-test-cluster.sh): durability off, for tests only ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$CLUSTER/run'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
max_locks_per_transaction = 256
log_min_messages = warning
log_min_error_statement = panic
EOF
}

cmd_start() {
    mkdir -p "$DIR"
    load_state
    if is_running; then
        url_for "$PORT"
        return 0
    fi
    ensure_bin
    if [ -z "$CLUSTER" ] || [ ! -d "$CLUSTER" ]; then choose_cluster_dir; fi
    if [ ! -f "$CLUSTER/data/PG_VERSION" ] || [ ! -f "$CLUSTER/data/postgresql.conf" ]; then
        init_cluster
    else
        clear_leftover
    fi
    PORT="$(pick_port)"
    printf '%s\n' "$PORT" >"$DIR/port"
    say "starting PostgreSQL on 127.0.0.1:$PORT"
    if ! as_owner "$BIN/pg_ctl" -D "$CLUSTER/data" -l "$CLUSTER/server.log" -o "-p $PORT" -w -t 60 start >/dev/null; then
        tail -n 30 "$CLUSTER/server.log" >&2 2>/dev/null || true
        die "PostgreSQL did not start (log: $CLUSTER/server.log)"
    fi
    local psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$DB_USER")
    if [ "$("${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]; then
        "${psql[@]}" -d postgres -c "CREATE DATABASE $DB_NAME" >/dev/null || die "could not create database $DB_NAME"
    fi
    say "ready"
    url_for "$PORT"
}

cmd_url() {
    load_state
    is_running || die "no test cluster is running in $DIR (run: $0 start)"
    url_for "$PORT"
}

cmd_status() {
    load_state
    if is_running; then
        say "running: $(url_for "$PORT") (cluster in $CLUSTER)"
        return 0
    fi
    say "not running ($DIR)"
    return 1
}

cmd_stop() {
    load_state
    [ -n "${BIN:-}" ] || BIN="$(find_bin)"
    if [ -n "$CLUSTER" ] && [ -n "$BIN" ] && [ -f "$CLUSTER/data/PG_VERSION" ] && live_postmaster_pid >/dev/null; then
        say "stopping PostgreSQL${PORT:+ on port $PORT}"
        as_owner "$BIN/pg_ctl" -D "$CLUSTER/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
            || as_owner "$BIN/pg_ctl" -D "$CLUSTER/data" -m immediate -w -t 10 stop >/dev/null 2>&1 \
            || true
        if live_postmaster_pid >/dev/null; then
            say "the server does not stop; killing it"
            kill -KILL "$(live_postmaster_pid)" 2>/dev/null || true
        fi
    fi
    if [ -n "$CLUSTER" ] && [ "$CLUSTER" != "$DIR" ] && [ -d "$CLUSTER" ]; then
        case "$CLUSTER" in /tmp/keel-pgtest.*) rm -rf "$CLUSTER" ;; esac
    fi
    if [ -d "$DIR" ]; then
        rm -rf "$DIR"
        say "removed $DIR"
    fi
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url) cmd_url ;;
    status) cmd_status ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
esac
