# shellcheck shell=bash
# Small helpers shared by Benchmarks/run.sh and its libraries (sourced, never run).

BENCH_T0=${BENCH_T0:-$SECONDS}

# Log lines go to stderr so that stdout stays free for values returned by functions.
log() { printf '[bench %5ss] %s\n' "$((SECONDS - BENCH_T0))" "$*" >&2; }
section() { printf '\n[bench %5ss] ==== %s ====\n' "$((SECONDS - BENCH_T0))" "$*" >&2; }
warn() { printf '[bench %5ss] WARNING: %s\n' "$((SECONDS - BENCH_T0))" "$*" >&2; }
die() { printf '[bench %5ss] ERROR: %s\n' "$((SECONDS - BENCH_T0))" "$*" >&2; exit 1; }

# A TCP port on 127.0.0.1 that is free right now.
free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# Seconds since the epoch with fractions (for timing things that take less than a second).
now_s() { date +%s.%N; }
elapsed_s() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$1" "$2"; }

# Reads one field of a JSON object from a file or stdin: json_field KEY [FILE]
json_field() {
    python3 -c '
import json, sys
src = open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin
v = json.load(src)
for k in sys.argv[1].split("."):
    v = v[k]
print(v if not isinstance(v, (dict, list)) else json.dumps(v))
' "$@"
}

# Makes sure wrk is installed (Debian package), running apt-get update only when the first try fails.
ensure_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    [ "$(id -u)" -eq 0 ] || die "wrk is not installed and we are not root: run  sudo apt-get install -y wrk"
    log "installing wrk (apt-get install -y wrk)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq wrk >/dev/null 2>&1; then
        log "apt-get install failed; running apt-get update first"
        apt-get update -qq >/dev/null 2>&1 || warn "apt-get update failed"
        apt-get install -y -qq wrk >/dev/null || die "could not install wrk"
    fi
    command -v wrk >/dev/null 2>&1 || die "wrk is still not on PATH after apt-get install"
}
