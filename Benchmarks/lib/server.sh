# shellcheck shell=bash
# Starting, watching and stopping `keel serve` for one benchmark run (sourced by run.sh).
#
#   server_start URL LOGFILE    starts keel serve on a free port; sets SERVER_PID, SERVER_PORT, BASE_URL
#   rss_sampler_start FILE      samples the server's VmRSS (kB) every 0.5 s into FILE ("<epoch> <kB>" lines)
#   rss_sampler_stop
#   server_hwm_kb               prints the server's VmHWM (peak resident set, kB)
#   server_stop                 SIGTERM, then SIGKILL after 15 s (safe to call twice)
#   server_log_problems LOGFILE prints the number of error/critical lines in the server log

SERVER_PID=""
SERVER_PORT=""
BASE_URL=""
RSS_SAMPLER_PID=""

server_start() {
    local url="$1" logfile="$2" i code
    SERVER_PORT="$(free_port)"
    BASE_URL="http://127.0.0.1:$SERVER_PORT"
    KEEL_RATE_LIMIT_RPS=0 KEEL_RATE_LIMIT_BURST=0 \
        "$KEEL_BIN" serve --database-url "$url" --port "$SERVER_PORT" --log-level warning --workers off \
        >"$logfile" 2>&1 &
    SERVER_PID=$!
    for ((i = 0; i < 600; i++)); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 20 "$logfile" >&2
            SERVER_PID=""
            die "keel serve exited during startup (log above: $logfile)"
        fi
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/health/ready" || true)"
        [ "$code" = "200" ] && { log "keel serve is ready on $BASE_URL (pid $SERVER_PID)"; return 0; }
        sleep 0.2
    done
    die "keel serve did not become ready within 120 s (last /health/ready status: $code; log: $logfile)"
}

rss_sampler_start() {
    local file="$1" pid="$SERVER_PID"
    (
        while [ -r "/proc/$pid/status" ]; do
            kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)"
            [ -n "$kb" ] && printf '%s %s\n' "$(date +%s)" "$kb"
            sleep 0.5
        done
    ) >>"$file" 2>/dev/null &
    RSS_SAMPLER_PID=$!
}

rss_sampler_stop() {
    if [ -n "$RSS_SAMPLER_PID" ]; then
        kill "$RSS_SAMPLER_PID" 2>/dev/null || true
        wait "$RSS_SAMPLER_PID" 2>/dev/null || true
        RSS_SAMPLER_PID=""
    fi
}

server_hwm_kb() {
    awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || true
}

server_stop() {
    local i
    rss_sampler_stop
    [ -n "$SERVER_PID" ] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            warn "keel serve (pid $SERVER_PID) did not stop within 15 s of SIGTERM; killing it"
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# Lines the server logged at error or critical level: swift-log's StreamLogHandler writes "<timestamp> <level> <label> : ...";
# a JSON log line would carry "level":"error".
SERVER_LOG_PROBLEM_RE='^[^[:space:]]+[[:space:]]+(error|critical)[[:space:]]|"level"[[:space:]]*:[[:space:]]*"(error|critical)"'
server_log_problems() {
    grep -cE "$SERVER_LOG_PROBLEM_RE" "$1" 2>/dev/null || true
}
