#!/usr/bin/env bash
# Load benchmarks of `keel serve` with wrk, on SQLite and/or a throwaway PostgreSQL cluster.
#
#   Benchmarks/run.sh [options]
#
#   --size small|large        dataset (Benchmarks/sizes.tsv); default small
#   --db sqlite|postgres|both default sqlite
#   --duration 10s            length of each measured wrk run; default 10s
#   --warmup 2s               warm-up per scenario (at the largest connection count, not measured); default 2s; 0 = none
#   --connections 8,32        connection counts, each one measured separately; default 8,32
#   --threads 2               wrk threads; default 2
#   --scenarios a,b           only these (names in Benchmarks/scenarios/index.tsv); default all
#   --skip-build              use the existing release binary instead of building it
#   --in-place                build in the work tree itself instead of a snapshot copy (see below)
#   --binary PATH             use this keel binary (implies --skip-build)
#   --no-seed                 skip `keel seed-demo`; create a few records through the API instead (smoke test only)
#   --keep                    keep the temporary directories (database, logs, wrk output) for inspection
#   -h, --help
#
# Builds `swift build -c release --product keel --scratch-path .build-bench` (so it never clobbers .build/) in a snapshot
# of Package.swift, Package.resolved, Sources/ and Tests/ copied to .build-bench-src/ (so that someone editing Sources/
# meanwhile cannot fail the build with "input file was modified during the build"), installs
# wrk with apt-get if needed, and for each database: bootstraps a workspace, seeds it with `keel seed-demo` (timed),
# starts `keel serve` (rate limits off, log level warning, workers off), fetches sample ids through the API, runs every
# scenario at every connection count, reads the server's peak RSS, and stops everything again (also on Ctrl-C).
# Writes Benchmarks/results/<timestamp>-<size>.{json,md} and copies them to latest-<size>.{json,md}.
# See Benchmarks/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/Benchmarks"
cd "$ROOT"

# shellcheck source=lib/common.sh
source "$BENCH/lib/common.sh"
# shellcheck source=lib/pg.sh
source "$BENCH/lib/pg.sh"
# shellcheck source=lib/server.sh
source "$BENCH/lib/server.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

SIZE=small
DBS=sqlite
DURATION=10s
WARMUP=2s
CONNECTIONS=8,32
THREADS=2
ONLY_SCENARIOS=""
SKIP_BUILD=0
KEEL_BIN=""
SEED=1
KEEP=0
IN_PLACE=0
SCRATCH="${BENCH_SCRATCH_PATH:-.build-bench}"

need_arg() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --size) need_arg "$@"; SIZE="$2"; shift ;;
        --db) need_arg "$@"; DBS="$2"; shift ;;
        --duration) need_arg "$@"; DURATION="$2"; shift ;;
        --warmup) need_arg "$@"; WARMUP="$2"; shift ;;
        --connections) need_arg "$@"; CONNECTIONS="$2"; shift ;;
        --threads) need_arg "$@"; THREADS="$2"; shift ;;
        --scenarios) need_arg "$@"; ONLY_SCENARIOS="$2"; shift ;;
        --skip-build) SKIP_BUILD=1 ;;
        --in-place) IN_PLACE=1 ;;
        --binary) need_arg "$@"; KEEL_BIN="$2"; SKIP_BUILD=1; shift ;;
        --no-seed) SEED=0 ;;
        --keep) KEEP=1 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

case "$DBS" in
    sqlite) DB_LIST=(sqlite) ;;
    postgres | pg) DB_LIST=(postgres) ;;
    both) DB_LIST=(sqlite postgres) ;;
    *) die "--db must be sqlite, postgres or both" ;;
esac
[[ "$DURATION" =~ ^[0-9]+[smh]?$ ]] || die "--duration must look like 10s, 2m or 30"
[[ "$WARMUP" =~ ^[0-9]+[smh]?$ ]] || die "--warmup must look like 2s or 0"
[[ "$CONNECTIONS" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--connections must look like 8,32"
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive number"
IFS=, read -r -a CONN_LIST <<<"$CONNECTIONS"
MAX_CONN=0
for c in "${CONN_LIST[@]}"; do
    [ "$c" -ge 1 ] || die "--connections: each count must be at least 1"
    if [ "$c" -gt "$MAX_CONN" ]; then MAX_CONN=$c; fi
done

# ---- dataset sizes (Benchmarks/sizes.tsv) -------------------------------------------------------------------------
SEED_FLAGS=()
SIZE_KINDS=()
while read -r s kind count _; do
    [[ -z "$s" || "$s" == \#* ]] && continue
    [ "$s" = "$SIZE" ] || continue
    SEED_FLAGS+=("--$kind" "$count")
    SIZE_KINDS+=("$kind=$count")
done <"$BENCH/sizes.tsv"
[ ${#SEED_FLAGS[@]} -gt 0 ] || die "unknown --size $SIZE (sizes are defined in Benchmarks/sizes.tsv)"

# ---- scenarios (Benchmarks/scenarios/index.tsv) -------------------------------------------------------------------
SCEN_NAMES=()
SCEN_REQUIRES=()
SCEN_DESCRIPTIONS=()
while IFS=$'\t' read -r name requires description; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    [ -f "$BENCH/scenarios/$name.lua" ] || die "scenarios/index.tsv names $name but scenarios/$name.lua does not exist"
    if [ -n "$ONLY_SCENARIOS" ] && [[ ",$ONLY_SCENARIOS," != *",$name,"* ]]; then continue; fi
    SCEN_NAMES+=("$name")
    SCEN_REQUIRES+=("${requires:--}")
    SCEN_DESCRIPTIONS+=("$description")
done <"$BENCH/scenarios/index.tsv"
if [ -n "$ONLY_SCENARIOS" ]; then
    IFS=, read -r -a wanted <<<"$ONLY_SCENARIOS"
    for w in "${wanted[@]}"; do
        grep -q "^$w"$'\t' "$BENCH/scenarios/index.tsv" || die "unknown scenario $w (see Benchmarks/scenarios/index.tsv)"
    done
    if [[ ",$ONLY_SCENARIOS," != *",health,"* ]]; then
        warn "health is not among --scenarios: the ratios to health will be missing"
    fi
fi
[ ${#SCEN_NAMES[@]} -gt 0 ] || die "no scenarios to run"

# ---- temporary state and cleanup ------------------------------------------------------------------------------------
RUN_TMP="$(mktemp -d /tmp/keel-bench.XXXXXX)"
chmod 711 "$RUN_TMP" # the postgres user must be able to reach a cluster directory inside it
TS="$(date -u +%Y%m%d-%H%M%S)"
RESULTS_DIR="$BENCH/results"
mkdir -p "$RESULTS_DIR"

SEED_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$SEED_PID" ]; then kill "$SEED_PID" 2>/dev/null || true; wait "$SEED_PID" 2>/dev/null || true; fi
    server_stop
    pg_stop
    if [ "$KEEP" -eq 1 ]; then
        log "kept $RUN_TMP"
    else
        rm -rf "$RUN_TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'warn "interrupted"; exit 130' INT TERM

# ---- build ----------------------------------------------------------------------------------------------------------
if [ -z "$KEEL_BIN" ]; then
    if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then export PATH="/opt/swift/usr/bin:$PATH"; fi
    if [ "$SKIP_BUILD" -eq 0 ]; then
        build_dir="$ROOT"
        if [ "$IN_PLACE" -eq 0 ]; then
            build_dir="$ROOT/.build-bench-src"
            rm -rf "$build_dir"
            mkdir -p "$build_dir"
            cp -a "$ROOT/Package.swift" "$ROOT/Sources" "$ROOT/Tests" "$build_dir/"
            if [ -f "$ROOT/Package.resolved" ]; then cp -a "$ROOT/Package.resolved" "$build_dir/"; fi
        fi
        SCRATCH="$(mkdir -p "$SCRATCH" && cd "$SCRATCH" && pwd)"
        section "build (swift build -c release --product keel --scratch-path $SCRATCH, in $build_dir)"
        t0="$(now_s)"
        set +e
        (cd "$build_dir" && swift build -c release --product keel --scratch-path "$SCRATCH") 2>&1 | tee "$RUN_TMP/build.log" \
            | grep --line-buffered -E 'error:|Compiling Keel|Build complete|Linking' >&2
        rc=${PIPESTATUS[0]}
        set -e
        [ "$rc" -eq 0 ] || { tail -n 40 "$RUN_TMP/build.log" >&2; die "release build failed (exit $rc)"; }
        log "release build took $(elapsed_s "$t0" "$(now_s)") s"
    fi
    for candidate in "$SCRATCH/release/keel" ".build/release/keel"; do
        if [ -x "$candidate" ]; then KEEL_BIN="$candidate"; break; fi
    done
    [ -n "$KEEL_BIN" ] || die "no release binary at $SCRATCH/release/keel (run without --skip-build)"
fi
[ -x "$KEEL_BIN" ] || die "$KEEL_BIN is not an executable"
KEEL_BIN="$(cd "$(dirname "$KEEL_BIN")" && pwd)/$(basename "$KEEL_BIN")"
log "keel binary: $KEEL_BIN ($("$KEEL_BIN" version 2>/dev/null || echo '?'), built $(date -u -r "$KEEL_BIN" '+%Y-%m-%d %H:%M UTC'))"
if [ "$SEED" -eq 1 ] && ! "$KEEL_BIN" seed-demo --help >/dev/null 2>&1; then
    die "this keel has no seed-demo command yet: rebuild, or run with --no-seed (a smoke test with a few API-made records)"
fi

ensure_wrk

# ---- one database -------------------------------------------------------------------------------------------------
RESULTS_JSONL="$RUN_TMP/results.jsonl"
: >"$RESULTS_JSONL"

# Runs wrk once; appends the BENCH_RESULT line (with db added) to RESULTS_JSONL unless $6 is "warmup".
run_wrk() { # db scenario conns duration logfile [warmup]
    local db="$1" name="$2" conns="$3" duration="$4" logfile="$5" mode="${6:-measure}" threads=$THREADS rc=0 line
    if [ "$conns" -lt "$threads" ]; then threads=$conns; fi
    BENCH_LUA_DIR="$BENCH/lib" BENCH_DATA_DIR="$DATA_DIR" BENCH_SCENARIO="$name" BENCH_CONNECTIONS="$conns" BENCH_THREADS="$threads" \
        BENCH_NONCE="$(printf '%x%04x' "$(date +%s)" "$RANDOM")" \
        wrk --latency --timeout 10s -t "$threads" -c "$conns" -d "$duration" -s "$BENCH/scenarios/$name.lua" "$BASE_URL" \
        >"$logfile" 2>&1 || rc=$?
    [ "$mode" = "measure" ] || return 0
    line="$(grep -m1 '^BENCH_RESULT ' "$logfile" | sed 's/^BENCH_RESULT //' || true)"
    if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
        warn "wrk failed for $name at $conns connections (exit $rc); its output:"
        sed 's/^/    /' "$logfile" >&2
        line="{\"scenario\":\"$name\",\"connections\":$conns,\"failed\":true}"
    fi
    local rss_kb
    rss_kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)"
    python3 - "$line" "$db" "${rss_kb:-0}" >>"$RESULTS_JSONL" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
r["db"] = sys.argv[2]
r["rss_after_mb"] = round(int(sys.argv[3] or 0) / 1024, 1)
print(json.dumps(r))
EOF
    python3 - "$RESULTS_JSONL" >&2 <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
if r.get("failed"):
    print(f"    {r['scenario']:<20} c={r['connections']:<4} FAILED")
else:
    err = r["errors"] / max(r["requests"], 1)
    flag = "  <-- ERRORS " + json.dumps(r["status_counts"]) if r["errors"] else ""
    print(f"    {r['scenario']:<20} c={r['connections']:<4} {r['rps']:>9.0f} req/s   p50 {r['p50_ms']:>7.2f} ms   "
          f"p99 {r['p99_ms']:>7.2f} ms   errors {r['errors']} ({err:.1%})   rss {r['rss_after_mb']} MB{flag}")
EOF
}

run_db() {
    local db="$1" work url t0 seed_s="null" seed_out="" i name conns hwm problems
    work="$RUN_TMP/$db"
    mkdir -p "$work"
    DATA_DIR="$work/data"
    section "$db: database"
    if [ "$db" = sqlite ]; then
        url="sqlite:$work/bench.sqlite"
    else
        pg_start "$work/pg"
        url="$PG_URL"
    fi
    log "database: $url"

    "$KEEL_BIN" bootstrap --database-url "$url" --email bench@example.com --workspace Bench --password benchpass1 --json \
        >"$work/bootstrap.json" 2>"$work/bootstrap.err" || { cat "$work/bootstrap.err" >&2; die "keel bootstrap failed"; }
    local api_key user_id
    api_key="$(json_field api_key "$work/bootstrap.json")"
    user_id="$(json_field user_id "$work/bootstrap.json")"
    log "bootstrapped workspace $(json_field workspace_id "$work/bootstrap.json") (owner $user_id)"

    if [ "$SEED" -eq 1 ]; then
        section "$db: seed-demo ${SEED_FLAGS[*]} --seed 42"
        t0="$(now_s)"
        "$KEEL_BIN" seed-demo --database-url "$url" "${SEED_FLAGS[@]}" --seed 42 >"$work/seed.log" 2>&1 &
        SEED_PID=$!
        local ticks=0 seed_rc=0
        while kill -0 "$SEED_PID" 2>/dev/null; do
            sleep 1
            ticks=$((ticks + 1))
            if [ $((ticks % 30)) -eq 0 ]; then log "  seeding for ${ticks} s: $(tail -n 1 "$work/seed.log" 2>/dev/null | cut -c1-120)"; fi
        done
        wait "$SEED_PID" || seed_rc=$?
        SEED_PID=""
        [ "$seed_rc" -eq 0 ] || { tail -n 20 "$work/seed.log" >&2; die "keel seed-demo failed (exit $seed_rc)"; }
        seed_s="$(elapsed_s "$t0" "$(now_s)")"
        seed_out="$(grep -v '^[[:space:]]*$' "$work/seed.log" | tail -n 1)"
        log "seeded in $seed_s s: $seed_out"
    fi

    section "$db: keel serve"
    server_start "$url" "$work/server.log"
    rss_sampler_start "$work/rss.samples"

    if [ "$SEED" -eq 0 ]; then
        log "--no-seed: creating a few records through the API instead"
        python3 "$BENCH/lib/prepare.py" seed-api --base "$BASE_URL" --key "$api_key" --user-id "$user_id" \
            --contacts 300 --companies 20 >&2
    fi
    local kinds=""
    for kv in "${SIZE_KINDS[@]}"; do kinds="$kinds${kinds:+,}${kv%%=*}"; done
    python3 "$BENCH/lib/prepare.py" fetch --base "$BASE_URL" --key "$api_key" --user-id "$user_id" --out "$DATA_DIR" \
        --kinds "$kinds" >"$work/prepare.json" || die "fetching sample data through the API failed"
    log "sample data: $(cat "$work/prepare.json")"

    local server_died=0 load_before
    load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
    log "load average before the runs: $load_before ($(nproc) CPUs)"
    for i in "${!SCEN_NAMES[@]}"; do
        name="${SCEN_NAMES[$i]}"
        req="${SCEN_REQUIRES[$i]}"
        if [ "$req" != "-" ] && [ ! -s "$DATA_DIR/$req" ]; then
            warn "skipping $name: it needs $req, which the sample data does not have"
            printf '{"db":"%s","scenario":"%s","skipped":"needs %s"}\n' "$db" "$name" "$req" >>"$RESULTS_JSONL"
            continue
        fi
        log "$name — ${SCEN_DESCRIPTIONS[$i]}"
        if [ "$WARMUP" != "0" ] && [ "$WARMUP" != "0s" ]; then
            run_wrk "$db" "$name" "$MAX_CONN" "$WARMUP" "$work/wrk-$name-warmup.log" warmup
        fi
        for conns in "${CONN_LIST[@]}"; do
            run_wrk "$db" "$name" "$conns" "$DURATION" "$work/wrk-$name-c$conns.log"
            if ! kill -0 "$SERVER_PID" 2>/dev/null; then
                warn "keel serve died during $name at $conns connections; its log ends with:"
                tail -n 30 "$work/server.log" | sed 's/^/    /' >&2
                server_died=1
                break 2
            fi
        done
    done

    hwm="$(server_hwm_kb)"
    server_stop
    problems="$(server_log_problems "$work/server.log")"
    if [ "${problems:-0}" -gt 0 ]; then
        warn "the server logged $problems error/critical lines; the first ones:"
        grep -E "$SERVER_LOG_PROBLEM_RE" "$work/server.log" | head -n 5 | cut -c1-400 | sed 's/^/    /' >&2
    fi
    python3 - "$work" "$db" "$seed_s" "$seed_out" "${hwm:-0}" "${problems:-0}" "$server_died" "$SEED" "$load_before" \
        "$(cut -d' ' -f1-3 /proc/loadavg)" >"$RUN_TMP/db-$db.json" <<'EOF'
import json, os, re, sys
work, db, seed_s, seed_out, hwm, problems, died, seeded, load_before, load_after = sys.argv[1:11]
samples = []
if os.path.exists(f"{work}/rss.samples"):
    for line in open(f"{work}/rss.samples"):
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            samples.append(int(parts[1]))
dataset = {}
if os.path.exists(f"{work}/data/dataset.json"):
    dataset = json.load(open(f"{work}/data/dataset.json"))
pattern = re.compile(r'^\S+\s+(error|critical)\s|"level"\s*:\s*"(error|critical)"')
lines = open(f"{work}/server.log", errors="replace").read().splitlines() if os.path.exists(f"{work}/server.log") else []
print(json.dumps({
    "db": db,
    "seeded_with": "seed-demo" if seeded == "1" else "api (--no-seed)",
    "seed_seconds": None if seed_s == "null" else float(seed_s),
    "seed_output": seed_out,
    "dataset": dataset,
    "peak_rss_mb": round(int(hwm) / 1024, 1) if hwm and hwm != "0" else None,
    "rss_sampled_max_mb": round(max(samples) / 1024, 1) if samples else None,
    "rss_sampled_mean_mb": round(sum(samples) / len(samples) / 1024, 1) if samples else None,
    "rss_samples": len(samples),
    "server_error_lines": int(problems),
    "server_error_samples": [l[:400] for l in lines if pattern.search(l)][:5],
    "server_log_lines": len(lines),
    "server_log_samples": lines[:3],
    "server_died": died == "1",
    "loadavg_before_runs": [float(x) for x in load_before.split()],
    "loadavg_after_runs": [float(x) for x in load_after.split()],
}))
EOF
    if [ "$db" = postgres ]; then pg_stop; fi
    [ "$server_died" -eq 0 ] || warn "results for $db are incomplete: the server died"
}

for db in "${DB_LIST[@]}"; do
    run_db "$db"
done

# ---- report ---------------------------------------------------------------------------------------------------------
section "report"
META_SIZE="$SIZE" META_TS="$TS" META_SIZE_KINDS="${SIZE_KINDS[*]}" META_DBS="${DB_LIST[*]}" META_DURATION="$DURATION" \
    META_WARMUP="$WARMUP" META_CONNECTIONS="$CONNECTIONS" META_THREADS="$THREADS" META_SCENARIOS="${SCEN_NAMES[*]}" \
    META_BIN="$KEEL_BIN" META_VERSION="$("$KEEL_BIN" version 2>/dev/null || true)" \
    META_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' + uncommitted changes')" \
    META_SWIFT="$(swift --version 2>/dev/null | head -n 1 || true)" META_WRK="$(wrk -v 2>&1 | head -n 1 || true)" \
    python3 - "$RUN_TMP/meta.json" <<'EOF'
import json, os, sys
e = os.environ
json.dump({
    "timestamp": e["META_TS"],
    "size": e["META_SIZE"],
    "size_spec": {k: int(v) for k, v in (kv.split("=", 1) for kv in e["META_SIZE_KINDS"].split())},
    "databases": e["META_DBS"].split(),
    "duration": e["META_DURATION"],
    "warmup": e["META_WARMUP"],
    "connections": [int(c) for c in e["META_CONNECTIONS"].split(",")],
    "threads": int(e["META_THREADS"]),
    "scenarios": e["META_SCENARIOS"].split(),
    "keel_binary": e["META_BIN"],
    "keel_version": e["META_VERSION"].strip(),
    "git_commit": e["META_COMMIT"],
    "swift_version": e["META_SWIFT"].strip(),
    "wrk_version": e["META_WRK"].strip(),
}, open(sys.argv[1], "w"), indent=1)
EOF
# Only a complete, seeded run becomes latest-<size>; a smoke test (--no-seed) or a partial one (--scenarios) is marked.
NAME="$TS-$SIZE"
FULL=1
if [ "$SEED" -eq 0 ]; then NAME="$NAME-noseed"; FULL=0; fi
if [ -n "$ONLY_SCENARIOS" ]; then NAME="$NAME-partial"; FULL=0; fi
python3 "$BENCH/report.py" --run-dir "$RUN_TMP" --out "$RESULTS_DIR/$NAME"
cat "$RESULTS_DIR/$NAME.md"
if [ "$FULL" -eq 1 ]; then
    cp "$RESULTS_DIR/$NAME.md" "$RESULTS_DIR/latest-$SIZE.md"
    cp "$RESULTS_DIR/$NAME.json" "$RESULTS_DIR/latest-$SIZE.json"
    log "wrote Benchmarks/results/$NAME.{json,md} and copied them to latest-$SIZE.{json,md}"
else
    log "wrote Benchmarks/results/$NAME.{json,md} (not copied to latest-$SIZE: not a complete, seeded run)"
fi
