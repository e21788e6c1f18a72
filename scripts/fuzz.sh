#!/usr/bin/env bash
# Contract fuzzing: runs schemathesis against a throwaway `keel serve` and fails on any 5xx or any response that does
# not match the OpenAPI document the server itself serves (GET /api/v1/openapi.json).
#
#   scripts/fuzz.sh                   fuzz a server on a fresh temporary SQLite database
#   scripts/fuzz.sh --db postgres     fuzz a server on the PostgreSQL database in KEEL_TEST_DATABASE_URL (it should be
#                                     a throwaway one: the script bootstraps an owner into it and the fuzzer fills it)
#
# Needs an already built binary (`swift build --product keel`); nothing is built here.
#
# Environment:
#   KEEL_BIN            the keel binary (default .build/debug/keel)
#   FUZZ_EXAMPLES       examples per operation and phase (default 25)
#   FUZZ_MAX_SECONDS    time cap for the schemathesis run; overrunning it is a failure (default 600)
#   FUZZ_SEED           schemathesis/Hypothesis seed (default 20260316), so runs are reproducible
#   FUZZ_WORKERS        schemathesis workers (default 2)
#   FUZZ_PHASES         schemathesis phases (default examples,coverage,fuzzing)
#   FUZZ_REPORT_DIR     where the JUnit report goes, and on failure a copy of the server log (default: in the
#                       temporary work directory, which is kept only when the run fails)
#   SCHEMATHESIS        the schemathesis executable (default: `schemathesis` or `st` on PATH; when there is neither,
#                       it is installed into .build/fuzz-venv with pip, pinned to SCHEMATHESIS_VERSION)
#
# Server settings for the run: rate limits and the login limiter off (the fuzzer would only measure them), bcrypt cost 4,
# no bootstrap banner (the owner and an all-scopes `*` API key come from `keel bootstrap --json` before the server
# starts), private webhook targets refused (fuzzed webhook URLs must never reach anything on this machine; note that on
# a machine with working DNS a fuzzed URL may name a real public host, which the delivery worker would then call).
#
# Before fuzzing, a few records of every kind are created through the API, and a generated schemathesis config feeds
# their ids to path parameters (80% of the cases) and to id-valued query and body fields (50%), so that operations on
# /{objects}/{id} reach their real logic instead of answering 404 to random ids. Operations that would end the fuzzer's
# own access are left out (the list and the reasons are below, at EXCLUDED_OPERATIONS).
#
# Checks: not_a_server_error (no 5xx), status_code_conformance (every status is documented for the operation),
# content_type_conformance, response_headers_conformance and response_schema_conformance (bodies match the schemas).
# Exit status: 0 when every check passed, non-zero otherwise (also when the server died or the time cap was hit).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
say() { printf 'fuzz: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

DB_KIND=sqlite
while [ $# -gt 0 ]; do
    case "$1" in
        --db) DB_KIND="${2:-}"; [ $# -lt 2 ] || shift ;;
        --db=*) DB_KIND="${1#--db=}" ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done

KEEL_BIN="${KEEL_BIN:-$ROOT/.build/debug/keel}"
FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-25}"
FUZZ_MAX_SECONDS="${FUZZ_MAX_SECONDS:-600}"
FUZZ_SEED="${FUZZ_SEED:-20260316}"
FUZZ_WORKERS="${FUZZ_WORKERS:-2}"
FUZZ_PHASES="${FUZZ_PHASES:-examples,coverage,fuzzing}"
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"

case "$DB_KIND" in
    sqlite) ;;
    postgres | pg)
        [[ "${KEEL_TEST_DATABASE_URL:-}" == postgres://* || "${KEEL_TEST_DATABASE_URL:-}" == postgresql://* ]] ||
            die "--db postgres needs KEEL_TEST_DATABASE_URL=postgres://... (a throwaway database)"
        ;;
    *) die "--db takes sqlite or postgres, not '$DB_KIND'" ;;
esac
[ -x "$KEEL_BIN" ] || die "no keel binary at $KEEL_BIN (build it: swift build --product keel, or set KEEL_BIN)"
command -v curl >/dev/null 2>&1 || die "curl is needed"
command -v python3 >/dev/null 2>&1 || die "python3 is needed"

# ---------------------------------------------------------------------------------------------------------------------
# schemathesis
# ---------------------------------------------------------------------------------------------------------------------
if [ -z "${SCHEMATHESIS:-}" ]; then
    if command -v schemathesis >/dev/null 2>&1; then
        SCHEMATHESIS="$(command -v schemathesis)"
    elif command -v st >/dev/null 2>&1 && st --version 2>/dev/null | grep -q schemathesis; then
        SCHEMATHESIS="$(command -v st)"
    else
        venv="$ROOT/.build/fuzz-venv"
        if [ ! -x "$venv/bin/schemathesis" ]; then
            say "schemathesis not found: installing schemathesis==$SCHEMATHESIS_VERSION into $venv"
            python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
            "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" || die "pip install schemathesis failed"
        fi
        SCHEMATHESIS="$venv/bin/schemathesis"
    fi
fi
"$SCHEMATHESIS" --version >/dev/null 2>&1 || die "$SCHEMATHESIS does not run"

# ---------------------------------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------------------------------
WORK="$(mktemp -d /tmp/keel-fuzz.XXXXXX)"
SERVER_PID=""
KEEP_WORK=0

cleanup() {
    local status=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
    if [ "$KEEP_WORK" -eq 1 ] || [ "$status" -ne 0 ]; then
        say "kept $WORK (server log: $WORK/serve.log)"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$DB_KIND" = sqlite ]; then
    DATABASE_URL="sqlite://$WORK/keel.sqlite"
else
    DATABASE_URL="$KEEL_TEST_DATABASE_URL"
fi

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"

export KEEL_DATABASE_URL="$DATABASE_URL"
export KEEL_HOST=127.0.0.1
export KEEL_PORT="$PORT"
export KEEL_RATE_LIMIT_RPS=0
export KEEL_RATE_LIMIT_BURST=0
export KEEL_LOGIN_ATTEMPTS_PER_MINUTE=0
export KEEL_BOOTSTRAP=false
export KEEL_BCRYPT_COST=4
export KEEL_LOG_LEVEL=warning
export KEEL_WEBHOOKS_ALLOW_PRIVATE=false
# Fuzzed webhook URLs may name real public hosts: no background workers, so nothing is ever sent anywhere.
export KEEL_WORKERS="${FUZZ_WORKERS_ON:-off}"

say "database: ${DB_KIND} ($([ "$DB_KIND" = sqlite ] && echo "$DATABASE_URL" || echo "KEEL_TEST_DATABASE_URL"))"
bootstrap_json="$("$KEEL_BIN" bootstrap --email fuzz@example.com --workspace Fuzz --json 2>"$WORK/bootstrap.log")" || {
    cat "$WORK/bootstrap.log" >&2
    die "keel bootstrap failed"
}
API_KEY="$(printf '%s' "$bootstrap_json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')" ||
    die "keel bootstrap printed no api_key"
[ -n "$API_KEY" ] || die "keel bootstrap printed an empty api_key"

"$KEEL_BIN" serve >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
say "keel serve (pid $SERVER_PID) on $BASE"
ready=0
for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null --max-time 2 "$BASE/health/ready" 2>/dev/null; then
        ready=1
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.2
done
if [ "$ready" -ne 1 ]; then
    tail -n 40 "$WORK/serve.log" >&2 || true
    die "the server did not become ready on $BASE/health/ready"
fi

# ---------------------------------------------------------------------------------------------------------------------
# Fixtures: without real ids most operations on /{objects}/{id} only ever see 404. Seed a few records of every kind through
# the API and write a schemathesis config whose dictionaries feed their ids to path parameters (80% of the cases; the rest
# stay random, so 404s are still tested) and to id-valued query and body fields (50%).
# ---------------------------------------------------------------------------------------------------------------------
CONFIG="$WORK/schemathesis.toml"
python3 - "$BASE" "$API_KEY" "$CONFIG" 0.8 <<'PY' || die "seeding fixtures failed"
import json, sys, urllib.request, urllib.error

base, key, out_path, probability = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
api = base + "/api/v1"
created = {}  # dictionary name -> list of ids
failures = []


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read().decode(errors="replace")
        return e.code, text


def add(name, value):
    if value and value not in created.setdefault(name, []):
        created[name].append(value)


def make(name, path, body):
    status, payload = call("POST", path, body)
    if status not in (200, 201) or not isinstance(payload, dict):
        failures.append(f"POST {path}: {status} {str(payload)[:300]}")
        return None
    record = payload["data"]
    add(name, record.get("id"))
    return record


def collect(name, path, field="id"):
    status, payload = call("GET", path)
    if status != 200 or not isinstance(payload, dict):
        failures.append(f"GET {path}: {status} {str(payload)[:300]}")
        return []
    items = payload["data"] if isinstance(payload["data"], list) else []
    for item in items:
        add(name, item.get(field))
    return items


collect("users", "/members", "user_id")
collect("members", "/members")
make("custom_fields", "/custom-fields", {"object_type": "contact", "key": "tier", "label": "Tier", "type": "text"})
make("custom_fields", "/custom-fields", {"object_type": "deal", "key": "region", "label": "Region", "type": "select",
                                         "options": ["emea", "amer"]})
companies = [make("companies", "/companies", {"name": f"Acme {i}", "domain": f"acme{i}.example"}) for i in range(3)]
company_ids = [c["id"] for c in companies if c]
contacts = []
for i in range(4):
    body = {"first_name": f"Ada{i}", "last_name": "Lovelace", "email": f"ada{i}@acme.example", "phone": "+44 20 7946 0000",
            "tags": ["vip"], "custom_fields": {"tier": "gold"}}
    if company_ids:
        body["company_id"] = company_ids[i % len(company_ids)]
    contacts.append(make("contacts", "/contacts", body))
contact_ids = [c["id"] for c in contacts if c]
products = [make("products", "/products", {"name": f"Widget {i}", "sku": f"WID-{i}", "price": 12.5, "currency": "USD"})
            for i in range(3)]
for p in products:
    if p and p.get("sku"):
        add("skus", p["sku"])
pipelines = collect("pipelines", "/pipelines")
extra = make("pipelines", "/pipelines", {"name": "Fuzz pipeline"})
for p in pipelines + ([extra] if extra else []):
    status, payload = call("GET", f"/pipelines/{p['id']}/stages")
    if status == 200 and isinstance(payload, dict):
        for s in payload["data"]:
            add("stages", s["id"])
    else:
        failures.append(f"GET /pipelines/{p['id']}/stages: {status}")
open_stages = []
for p in pipelines:
    status, payload = call("GET", f"/pipelines/{p['id']}/stages")
    if status == 200 and isinstance(payload, dict):
        open_stages += [s["id"] for s in payload["data"] if s.get("type") == "open"]
deals = []
for i in range(4):
    if not open_stages:
        break
    body = {"name": f"Deal {i}", "stage_id": open_stages[i % len(open_stages)], "expected_close_date": "2030-01-15"}
    if company_ids:
        body["company_id"] = company_ids[i % len(company_ids)]
    if contact_ids:
        body["contacts"] = [{"contact_id": contact_ids[i % len(contact_ids)], "role": "champion"}]
    deals.append(make("deals", "/deals", body))
deal_ids = [d["id"] for d in deals if d]
product_ids = [p["id"] for p in products if p]
for i, deal_id in enumerate(deal_ids[:3]):
    body = {"quantity": 2, "discount_percent": 10}
    if product_ids:
        body["product_id"] = product_ids[i % len(product_ids)]
    else:
        body.update({"name": "Service", "unit_price": 100})
    make("line_items", f"/deals/{deal_id}/line-items", body)
for i in range(3):
    make("leads", "/leads", {"name": f"Lead {i}", "email": f"lead{i}@leads.example", "company_name": f"Leadco {i}"})
related = [("contact", x) for x in contact_ids[:2]] + [("deal", x) for x in deal_ids[:2]]
for i, (kind, rid) in enumerate(related or [(None, None)]):
    task = {"title": f"Call back {i}", "due_at": "2030-01-10T09:00:00.000Z"}
    note = {"body": f"Note {i}"}
    if rid:
        task.update({"related_type": kind, "related_id": rid})
        note.update({"related_type": kind, "related_id": rid})
    make("tasks", "/tasks", task)
    make("notes", "/notes", note)
    if rid:
        make("activities", "/activities", {"type": "call", "subject": f"Call {i}", "related_to": [{"type": kind, "id": rid}]})
for i in range(2):
    make("automations", "/automations", {"name": f"Tag new deals {i}", "trigger": {"event": "deal.created"},
                                        "actions": [{"type": "add_tags", "config": {"tags": ["auto"]}}]})
for i in range(3):
    make("invitations", "/invitations", {"email": f"invitee{i}@example.com", "role": "member"})
for aut in created.get("automations", [])[:1]:
    for deal_id in deal_ids[:1]:
        status, payload = call("POST", f"/automations/{aut}/run", {"object_id": deal_id})
        if status == 200 and isinstance(payload, dict):
            run = payload.get("data", {})
            add("runs", run.get("id") if isinstance(run, dict) else None)
        else:
            failures.append(f"POST /automations/{aut}/run: {status} {str(payload)[:300]}")
collect("events", "/events?limit=20")
collect("audit", "/audit/logs?limit=20")

# ----- the schemathesis config -----
# Path parameters by the collection they address: /api/v1/<collection>/{id}..., plus the nested ones.
collection_dictionary = {
    "contacts": "contacts", "companies": "companies", "notes": "notes", "pipelines": "pipelines", "deals": "deals",
    "products": "products", "leads": "leads", "tasks": "tasks", "activities": "activities",
    "custom-fields": "custom_fields", "events": "events", "webhooks": "webhooks", "automations": "automations",
    "invitations": "invitations", "members": "members", "audit": "audit",
}
nested_dictionary = {"sid": "stages", "lid": "line_items", "did": "deliveries", "run_id": "runs", "sku": "skus"}
# Body and query fields that name records.
field_dictionary = {
    "owner_id": "users", "assignee_id": "users", "user_id": "users", "reassign_to": "users", "actor_id": "users",
    "company_id": "companies", "contact_id": "contacts", "pipeline_id": "pipelines", "stage_id": "stages",
    "deal_id": "deals", "product_id": "products", "lead_id": "leads", "object_id": "deals",
    "move_deals_to": "pipelines", "related_id": "contacts", "member_id": "members",
}

def toml_str(s):
    return json.dumps(s)

status, spec = call("GET", "/openapi.json")
if status != 200:
    print(f"fuzz-seed: cannot read the document: {status}", file=sys.stderr)
    sys.exit(1)
lines = ["# Generated by scripts/fuzz.sh: ids of seeded records, fed to path, query and body parameters.", "",
         "# No state carried over from earlier runs (crash replays and the like): a run depends on its seed alone.",
         "[cache]", "enabled = false", ""]
for name, values in sorted(created.items()):
    if values:
        lines += [f"[dictionaries.{name}]", "values = [" + ", ".join(toml_str(v) for v in values) + "]", ""]
have = {n for n, v in created.items() if v}
global_bindings = []
for field, name in sorted(field_dictionary.items()):
    if name in have:
        for loc in ("query", "body"):
            global_bindings.append(f'"{loc}.{field}" = {{ dictionary = "{name}", probability = 0.5 }}')
ops = []
for path, item in spec["paths"].items():
    parts = path.split("/")
    for method, op in item.items():
        if method not in ("get", "post", "put", "patch", "delete") or "operationId" not in op:
            continue
        bindings = []
        for i, seg in enumerate(parts):
            if not (seg.startswith("{") and seg.endswith("}")):
                continue
            param = seg[1:-1]
            name = nested_dictionary.get(param)
            if name is None and i >= 1:
                name = collection_dictionary.get(parts[i - 1]) or collection_dictionary.get(parts[i - 2] if i >= 2 else "")
            if name in have:
                bindings.append(f'"path.{param}" = {{ dictionary = "{name}", probability = {probability} }}')
        if bindings:
            ops.append((op["operationId"], bindings))
if global_bindings:
    lines += ["[parameters]"] + global_bindings + [""]
for op_id, bindings in ops:
    lines += ["[[operations]]", f"include-operation-id = {toml_str(op_id)}", "[operations.parameters]"] + bindings + [""]
with open(out_path, "w") as f:
    f.write("\n".join(lines))
summary = ", ".join(f"{n} {len(v)}" for n, v in sorted(created.items()) if v)
print(f"fuzz-seed: seeded {summary}; {len(ops)} operations get seeded path ids", file=sys.stderr)
for f in failures:
    print(f"fuzz-seed: warning: {f}", file=sys.stderr)
PY

# ---------------------------------------------------------------------------------------------------------------------
# Operations left out: the ones that end the fuzzer's own access (or would make later results meaningless).
# ---------------------------------------------------------------------------------------------------------------------
EXCLUDED_OPERATIONS=(
    deleteCurrentWorkspace # DELETE /workspace: soft-deletes the workspace, every later request would fail
    transferOwnership      # POST /workspace/transfer-ownership: demotes the fuzzer's owner to admin
    updateMember           # PATCH /members/{id}: could change the fuzzer's own role (and so its key's reach)
    removeMember           # DELETE /members/{id}: could remove the fuzzer's own membership (its key dies with it)
    logout                 # POST /auth/logout: revokes the caller's tokens
    revokeRefreshToken     # POST /auth/revoke: revokes tokens
    revokeAPIKey           # DELETE /api-keys/{id}: could revoke the fuzzer's own key
    rotateAPIKey           # POST /api-keys/{id}/rotate: could replace the fuzzer's own key
    updateAPIKey           # PATCH /api-keys/{id}: could shrink the fuzzer's own key's scopes
)
# Kept on purpose: confirmPasswordReset (needs a mailed single-use token the fuzzer never sees, and the API key does
# not depend on the password anyway), switchWorkspace and createWorkspace (a key gets 403; a session would only get new
# tokens or a new workspace), signup (closed: a user exists and KEEL_OPEN_SIGNUP is off).
exclude_args=()
for op in "${EXCLUDED_OPERATIONS[@]}"; do exclude_args+=(--exclude-operation-id "$op"); done

REPORT_DIR="${FUZZ_REPORT_DIR:-$WORK/report}"
mkdir -p "$REPORT_DIR"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance

say "$("$SCHEMATHESIS" --version): $FUZZ_EXAMPLES examples per operation, phases $FUZZ_PHASES, seed $FUZZ_SEED," \
    "workers $FUZZ_WORKERS, time cap ${FUZZ_MAX_SECONDS}s"
say "checks: $CHECKS"
say "excluded: ${EXCLUDED_OPERATIONS[*]}"

start=$SECONDS
status=0
# NO_COLOR: plain logs in CI. The Hypothesis example database is off, so a run depends on the seed alone.
NO_COLOR=1 timeout -k 10 "$FUZZ_MAX_SECONDS" "$SCHEMATHESIS" --config-file "$CONFIG" run "$BASE/api/v1/openapi.json" \
    --url "$BASE" \
    --header "Authorization: Bearer $API_KEY" \
    --checks "$CHECKS" \
    --phases "$FUZZ_PHASES" \
    --max-examples "$FUZZ_EXAMPLES" \
    --seed "$FUZZ_SEED" \
    --generation-database none \
    --workers "$FUZZ_WORKERS" \
    --request-timeout 30 \
    --suppress-health-check all \
    --no-color \
    --output-sanitize true \
    --report junit \
    --report-dir "$REPORT_DIR" \
    "${exclude_args[@]}" || status=$?
elapsed=$((SECONDS - start))

alive=1
kill -0 "$SERVER_PID" 2>/dev/null || alive=0

printf '\n'
say "summary: schemathesis exit $status after ${elapsed}s; server $([ "$alive" -eq 1 ] && echo "still running" || echo "DIED")"
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    say "FAILED: the run exceeded FUZZ_MAX_SECONDS=${FUZZ_MAX_SECONDS}s and was stopped"
fi
if [ "$alive" -eq 0 ]; then
    say "FAILED: the server process exited during the run; last lines of its log:"
    tail -n 40 "$WORK/serve.log" >&2 || true
    [ "$status" -ne 0 ] || status=1
fi
if grep -qiE 'fatal error|panic|Fatal error' "$WORK/serve.log" 2>/dev/null; then
    say "FAILED: the server log shows a crash:"
    grep -iE -m 5 'fatal error|panic' "$WORK/serve.log" >&2 || true
    [ "$status" -ne 0 ] || status=1
fi
if [ "$status" -ne 0 ]; then
    KEEP_WORK=1
    cp "$WORK/serve.log" "$REPORT_DIR/serve.log" 2>/dev/null || true
    say "FAILED (JUnit report in $REPORT_DIR)"
    exit "$status"
fi
say "passed"
