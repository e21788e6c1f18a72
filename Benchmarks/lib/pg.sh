# shellcheck shell=bash
# A throwaway PostgreSQL cluster for one benchmark run (sourced by run.sh).
#
#   pg_start DIR        starts a cluster living under DIR; sets PG_URL to the URL of a fresh, empty database
#   pg_stop             stops it and deletes its files (safe to call twice, and when nothing was started)
#
# Uses scripts/pg-test-cluster.sh (the project's test cluster script) with PGDATA_DIR/PGPORT_TEST pointing at our own
# directory and port, so a test cluster someone else runs at the same time is never touched. When that script is missing
# (or BENCH_PG_OWN=1), falls back to a minimal cluster of its own: initdb/pg_ctl as the postgres user, socket in the data
# dir, 127.0.0.1 only, a free port, fsync off. Never for real data.

PG_MODE=""        # script | own
PG_DIR=""
PG_BIN=""
PG_OWN_PORT=""
PG_URL=""

_pg_find_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then printf '%s\n' "$d"; fi
    done | sort -V | tail -n 1
}

_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Sets PG_BASE_URL to the URL of the postgres database of a new running cluster.
_pg_start_own() {
    PG_BIN="$(_pg_find_bin)"
    if [ -z "$PG_BIN" ]; then
        [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed: sudo apt-get install -y postgresql"
        log "installing PostgreSQL (apt-get install -y postgresql)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
            || die "could not install postgresql"
        PG_BIN="$(_pg_find_bin)"
    fi
    mkdir -p "$PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$PG_DIR"
    _pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    PG_OWN_PORT="$(free_port)"
    _pg_as_owner tee -a "$PG_DIR/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $PG_OWN_PORT
unix_socket_directories = '$PG_DIR/data'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
EOF
    _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/data/server.log" -w -t 60 start >/dev/null \
        || { tail -n 20 "$PG_DIR/data/server.log" >&2; die "PostgreSQL did not start"; }
    PG_BASE_URL="postgres://postgres@127.0.0.1:$PG_OWN_PORT/postgres"
}

pg_start() {
    PG_DIR="$1"
    local script="$ROOT/scripts/pg-test-cluster.sh" base
    if [ -x "$script" ] && [ "${BENCH_PG_OWN:-0}" != "1" ]; then
        PG_MODE=script
        # A port range away from the test cluster's default (54329); the script moves on when it is busy.
        base="$(PGDATA_DIR="$PG_DIR" PGPORT_TEST="${BENCH_PGPORT:-55431}" "$script" start | tail -n 1)"
    else
        PG_MODE=own
        log "starting a minimal PostgreSQL cluster of our own in $PG_DIR"
        _pg_start_own
        base="$PG_BASE_URL"
    fi
    [[ "$base" == postgres://* ]] || die "could not start PostgreSQL (got: '$base')"
    local name="keel_bench_$$_$RANDOM"
    psql -X -q "$base" -v ON_ERROR_STOP=1 -c "create database $name" >/dev/null || die "could not create database $name"
    PG_URL="${base%/*}/$name"
}

pg_stop() {
    case "$PG_MODE" in
        script)
            PGDATA_DIR="$PG_DIR" "$ROOT/scripts/pg-test-cluster.sh" stop >/dev/null || warn "pg-test-cluster.sh stop failed"
            ;;
        own)
            _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
                || _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
            rm -rf "$PG_DIR"
            ;;
    esac
    PG_MODE=""
}
