#!/usr/bin/env bash
# Runs the test suite.
#
#   scripts/test.sh                 swift test on SQLite (temporary files; nothing to install)
#   scripts/test.sh --postgres      swift test on a throwaway PostgreSQL cluster (scripts/pg-test-cluster.sh),
#                                   stopped and deleted again on exit
#   scripts/test.sh --all           both, one after the other
#
# Any other argument goes to `swift test`, e.g. `scripts/test.sh --all --filter AuthTests` or `-- --parallel`.
# Exits non-zero when any run fails.
#
# With --postgres: if KEEL_TEST_DATABASE_URL is already set to a postgres:// URL, that database is used as is;
# if the default test cluster is running (`scripts/pg-test-cluster.sh start` in the repository root), it is reused
# and left running; otherwise a private cluster is started (in $PGDATA_DIR, default /tmp/keel-test-pg.<pid>, on a
# free port from 54329) and stopped and deleted on exit, so parallel runs do not disturb each other.
# The SQLite run always ignores KEEL_TEST_DATABASE_URL.
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
CLUSTER_SCRIPT="$ROOT/scripts/pg-test-cluster.sh"

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
command -v swift >/dev/null 2>&1 || { echo "test.sh: swift is not on PATH" >&2; exit 1; }

mode=sqlite
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --sqlite) mode=sqlite ;;
        --postgres | --pg) mode=postgres ;;
        --all) mode=all ;;
        -h | --help) usage; exit 0 ;;
        --) shift; args+=("$@"); break ;;
        *) args+=("$1") ;;
    esac
    shift
done

header() { printf '\n==== %s ====\n' "$*"; }

results=()
failed=0
record() { # name status seconds
    if [ "$2" -eq 0 ]; then
        results+=("$(printf '%-11s passed  (%ss)' "$1" "$3")")
    else
        results+=("$(printf '%-11s FAILED  (exit %s, %ss)' "$1" "$2" "$3")")
        failed=1
    fi
}

run_sqlite() {
    header "swift test on SQLite"
    local start=$SECONDS status
    env -u KEEL_TEST_DATABASE_URL swift test ${args[@]+"${args[@]}"}
    status=$?
    record SQLite "$status" $((SECONDS - start))
}

started_cluster=0
stop_cluster() {
    if [ "$started_cluster" -eq 1 ]; then
        started_cluster=0
        "$CLUSTER_SCRIPT" stop || true
    fi
}
trap stop_cluster EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

run_postgres() {
    header "swift test on PostgreSQL"
    local start=$SECONDS status url
    if [[ "${KEEL_TEST_DATABASE_URL:-}" == postgres* ]]; then
        url="$KEEL_TEST_DATABASE_URL"
        echo "using KEEL_TEST_DATABASE_URL from the environment"
    elif [ -z "${PGDATA_DIR:-}" ] && url="$("$CLUSTER_SCRIPT" url 2>/dev/null)"; then
        echo "reusing the running test cluster in $ROOT/.pgdata (left running afterwards)"
    else
        export PGDATA_DIR="${PGDATA_DIR:-${TMPDIR:-/tmp}/keel-test-pg.$$}"
        started_cluster=1
        if ! url="$("$CLUSTER_SCRIPT" start | tail -n 1)" || [[ "$url" != postgres://* ]]; then
            echo "test.sh: could not start the PostgreSQL test cluster" >&2
            record PostgreSQL 1 $((SECONDS - start))
            return
        fi
    fi
    echo "KEEL_TEST_DATABASE_URL=$url"
    KEEL_TEST_DATABASE_URL="$url" swift test ${args[@]+"${args[@]}"}
    status=$?
    stop_cluster
    record PostgreSQL "$status" $((SECONDS - start))
}

case "$mode" in
    sqlite) run_sqlite ;;
    postgres) run_postgres ;;
    all) run_sqlite; run_postgres ;;
esac

header "summary"
printf '%s\n' "${results[@]}"
exit "$failed"
