#!/usr/bin/env python3
"""Crash safety: kill -9 `keel serve` while writes are being acknowledged, restart it, and check that nothing was lost.

Each write carries its own Idempotency-Key, and the client retries every write it never saw answered with the same key
after the restart, as an integrator would: a write that committed just before the kill must then be replayed (its
change and its stored answer commit together), not refused as a duplicate or done twice. So every write ends up
acknowledged exactly once.

For every write the client saw acknowledged (2xx):
  * the record is present and intact after the restart,
  * the outbox holds its event, and
  * a webhook endpoint subscribed to it received that event at least once (after the restart, the dispatcher resumes
    from the undispatched outbox rows; nothing is lost and nothing is fanned out twice).
Then the database must pass its integrity check (SQLite `PRAGMA integrity_check`; PostgreSQL amcheck `bt_index_check`
on every B-tree index plus orphan queries).

    scripts/crash-check.py --db sqlite [--writes 1000] [--binary .build/debug/keel]
    scripts/crash-check.py --db postgres --pg-url postgres://postgres@127.0.0.1:54329/keel_test

Exit status 0 when every check passes; the last line is a JSON summary.
"""
import argparse, concurrent.futures, http.server, json, os, random, shutil, signal, socket, sqlite3, subprocess, sys, tempfile
import threading, time, urllib.error, urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog of 5 drops the SYNs of a burst of deliveries, and each dropped one waits out
    # the kernel's 1 s retransmit: the check then measured this receiver (about 16 deliveries a second), not Keel.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass    # a sender killed mid-request leaves a broken pipe; that is the point of the exercise

    def __init__(self):
        self.lock = threading.Lock()
        self.events = {}          # event id -> object id
        self.deliveries = 0
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            obj = json.loads(body)["data"]["object"]["id"]
        except Exception:
            obj = None
        with self.server.lock:
            self.server.deliveries += 1
            self.server.events[self.headers.get("Keel-Event-Id", "")] = obj
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Server:
    def __init__(self, binary, env, log_path):
        self.binary, self.env, self.log_path, self.proc = binary, env, log_path, None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{self.env['KEEL_PORT']}"
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"keel serve exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(base + "/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.1)
        raise SystemExit("keel serve did not become ready")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def call(base, key, method, path, body=None, timeout=30, headers=None):
    """Returns (status, JSON body, response headers)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}"), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), e.headers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("KEEL_TEST_DATABASE_URL", ""))
    ap.add_argument("--binary", default=".build/debug/keel")
    ap.add_argument("--writes", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--kill-after", type=float, default=0.5, help="kill when this share of the writes were acknowledged")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        raise SystemExit(f"{args.binary} is not built (swift build first)")

    work = tempfile.mkdtemp(prefix="keel-crash-")
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"

    dbname = None
    if args.db == "sqlite":
        db_path = os.path.join(work, "crash.sqlite")
        db_url = "sqlite://" + db_path
    else:
        if not args.pg_url.startswith("postgres"):
            raise SystemExit("--pg-url (or KEEL_TEST_DATABASE_URL) is needed for --db postgres")
        dbname = f"keel_crash_{os.getpid()}_{random.randint(0, 99999)}"
        subprocess.run(["psql", args.pg_url, "-qc", f"CREATE DATABASE {dbname}"], check=True)
        db_url = args.pg_url.rsplit("/", 1)[0] + "/" + dbname

    port = free_port()
    env = dict(os.environ, KEEL_DATABASE_URL=db_url, KEEL_PORT=str(port), KEEL_HOST="127.0.0.1", KEEL_BOOTSTRAP="false",
               KEEL_RATE_LIMIT_RPS="0", KEEL_RATE_LIMIT_BURST="0", KEEL_LOGIN_ATTEMPTS_PER_MINUTE="0", KEEL_LOG_LEVEL="warning",
               KEEL_WEBHOOKS_ALLOW_PRIVATE="true", KEEL_WORKER_POLL_MS="20", KEEL_BCRYPT_COST="4",
               KEEL_JWT_SECRET="crash-check-secret-crash-check-secret-0123456789")
    boot = subprocess.run([args.binary, "bootstrap", "--email", "crash@example.com", "--workspace", "Crash", "--json"],
                          env=env, capture_output=True, text=True, check=True)
    key = json.loads(boot.stdout)["api_key"]
    base = f"http://127.0.0.1:{port}/api/v1"
    server = Server(args.binary, env, os.path.join(work, "server.log"))
    server.start()
    status, hook, _ = call(base, key, "POST", "/webhooks", {"url": hook_url, "events": ["contact.created"]})
    assert status == 201, (status, hook)

    acknowledged = {}                 # contact id -> email
    refused = {}                      # write number -> (status, error code) of a non-2xx answer
    twice = []                        # writes answered with an id another write already got
    replayed = []                     # writes whose retry got the stored answer of a write that committed before the kill
    lock = threading.Lock()
    killed = threading.Event()
    run_id = f"{os.getpid()}-{random.randint(0, 99999)}"

    def write(i):
        email = f"crash{i}@example.com"
        try:
            status, body, headers = call(base, key, "POST", "/contacts", {"first_name": f"Crash {i}", "email": email}, timeout=15,
                                         headers={"Idempotency-Key": f"crash-{run_id}-{i}"})
        except Exception:
            return False
        if not 200 <= status < 300:
            with lock:
                refused[i] = (status, (body.get("error") or {}).get("code"))
            return False
        with lock:
            refused.pop(i, None)
            if headers.get("Idempotent-Replayed") == "true":
                replayed.append(i)
            if body["data"]["id"] in acknowledged:
                twice.append(i)
            acknowledged[body["data"]["id"]] = email
            if not killed.is_set() and len(acknowledged) >= args.writes * args.kill_after:
                killed.set()
                server.kill9()
        return True

    t0 = time.time()
    pending = list(range(args.writes))
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(write, pending))
    lost_in_flight = [i for i, ok in zip(pending, results) if not ok]
    acked_before_kill = len(acknowledged)
    if not killed.is_set():
        server.kill9()
    server.start()                    # the same database after kill -9
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(write, lost_in_flight))      # the client retries what it never saw acknowledged

    # Every acknowledged write is present and intact.
    missing, wrong = [], []
    for cid, email in acknowledged.items():
        status, *body = call(base, key, "GET", f"/contacts/{cid}")
        if status != 200:
            missing.append(cid)
        elif body[0]["data"].get("email") != email:
            wrong.append(cid)

    # Every acknowledged write's event reaches the endpoint.
    deadline = time.time() + 120
    while time.time() < deadline:
        with receiver.lock:
            delivered = set(receiver.events.values())
        if all(cid in delivered for cid in acknowledged):
            break
        time.sleep(0.2)
    with receiver.lock:
        delivered = set(receiver.events.values())
        deliveries = receiver.deliveries
    undelivered = [cid for cid in acknowledged if cid not in delivered]
    server.stop()

    # The outbox holds an event for each, and the database is sound.
    if args.db == "sqlite":
        con = sqlite3.connect(db_path)
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        outbox = {r[0] for r in con.execute("SELECT object_id FROM outbox_events WHERE type = 'contact.created'")}
        con.close()
    else:
        db = args.pg_url.rsplit("/", 1)[0] + "/" + dbname
        q = lambda sql: subprocess.run(["psql", db, "-tAqc", sql], check=True, capture_output=True, text=True).stdout.split()
        q("CREATE EXTENSION IF NOT EXISTS amcheck")
        q("""SELECT bt_index_check(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
             WHERE a.amname = 'btree' AND c.relnamespace = 'public'::regnamespace""")
        orphans = int(q("""SELECT (SELECT COUNT(*) FROM members m LEFT JOIN workspaces w ON w.id = m.workspace_id WHERE w.id IS NULL)
                                + (SELECT COUNT(*) FROM webhook_deliveries d LEFT JOIN webhook_endpoints e
                                   ON e.workspace_id = d.workspace_id AND e.id = d.endpoint_id WHERE e.id IS NULL)
                                + (SELECT COUNT(*) FROM record_tags t LEFT JOIN contacts c ON c.workspace_id = t.workspace_id AND c.id = t.object_id
                                   WHERE t.object_type = 'contact' AND c.id IS NULL)""")[0])
        integrity = "ok" if orphans == 0 else f"{orphans} orphaned rows"
        outbox = set(q("SELECT object_id FROM outbox_events WHERE type = 'contact.created'"))
        subprocess.run(["psql", args.pg_url, "-qc", f"DROP DATABASE {dbname}"], check=False)
    no_event = [cid for cid in acknowledged if cid not in outbox]

    summary = {"db": args.db, "writes": args.writes, "acknowledged_before_kill": acked_before_kill,
               "retried_after_restart": len(lost_in_flight), "replayed_after_restart": len(replayed),
               "acknowledged": len(acknowledged), "refused": len(refused), "same_id_twice": len(twice), "missing": len(missing),
               "changed": len(wrong), "without_event": len(no_event), "undelivered": len(undelivered),
               "webhook_deliveries": deliveries, "integrity": integrity, "seconds": round(time.time() - t0, 1)}
    ok = not missing and not wrong and not no_event and not undelivered and integrity == "ok" and not twice \
        and len(acknowledged) == args.writes
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"crash-check: FAILED (server log and database kept in {work})", file=sys.stderr)
        for i, (status, code) in sorted(refused.items())[:10]:
            print(f"crash-check: write {i} answered {status} {code}", file=sys.stderr)
    print(json.dumps(summary))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
