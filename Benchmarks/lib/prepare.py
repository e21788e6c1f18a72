#!/usr/bin/env python3
"""Data the load scenarios need, fetched through the API of a running `keel serve` (stdlib only).

  prepare.py fetch    --base URL --key API_KEY --out DIR --user-id ID [--kinds contacts,companies]
  prepare.py seed-api --base URL --key API_KEY --user-id ID --contacts N --companies M

`fetch` writes into DIR (read by scenarios/bench.lua through BENCH_DATA_DIR):
  api_key               the bearer token
  contact_ids.txt       up to ~1000 contact ids, one a line (several pages, newest, oldest and by e-mail)
  company_id, owner_id  one company id and the owner id the seeded contacts carry
  contact_list_query    the query string of the contact_list scenario
  contact_list_cursor   page 1's next_cursor of that query, URL-encoded (for contact_list_page2)
  contact_search.json   the body of the contact_search scenario
  dataset.json          {"contacts": total, "companies": total, ...} counted through the API (include_total)
Add what a new scenario needs here, in `fetch`, and read it from the scenario's Lua with bench.read_file/read_lines.

`seed-api` is the slow fallback for --no-seed: it creates a few records one request at a time.
"""
import argparse
import json
import os
import random
import sys
import urllib.error
import urllib.parse
import urllib.request

CONTACT_LIST_QUERY = "limit=50&sort=-created_at&lifecycle_stage=customer"
STAGES = ["subscriber", "lead", "opportunity", "customer", "evangelist", "other"]


class API:
    def __init__(self, base, key):
        self.base = base.rstrip("/")
        self.key = key

    def call(self, method, path, body=None, ok=(200, 201)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.key)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        if status not in ok:
            raise SystemExit(f"prepare.py: {method} {path} answered {status}: {raw[:500].decode(errors='replace')}")
        return json.loads(raw) if raw else None


def fetch(args):
    api = API(args.base, args.key)
    out = args.out
    os.makedirs(out, exist_ok=True)

    def write(name, text):
        with open(os.path.join(out, name), "w") as f:
            f.write(text)

    write("api_key", args.key)

    # Sample contact ids: a spread of pages (newest, oldest, by e-mail), deduplicated.
    ids, owner = [], None
    for sort in ["-created_at", "created_at", "email"]:
        cursor = None
        for _ in range(2):
            q = f"/api/v1/contacts?limit=200&sort={urllib.parse.quote(sort)}"
            if cursor:
                q += "&cursor=" + urllib.parse.quote(cursor, safe="")
            page = api.call("GET", q)
            for c in page["data"]:
                ids.append(c["id"])
                owner = owner or c.get("owner_id")
            cursor = page.get("next_cursor")
            if not cursor:
                break
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise SystemExit("prepare.py: the workspace has no contacts (did seeding work?)")
    write("contact_ids.txt", "\n".join(ids) + "\n")
    owner = owner or args.user_id
    write("owner_id", owner)

    companies = api.call("GET", "/api/v1/companies?limit=1")["data"]
    write("company_id", companies[0]["id"] if companies else "")

    # contact_list and contact_list_page2: page 1's cursor, URL-encoded for the query string.
    write("contact_list_query", CONTACT_LIST_QUERY)
    page1 = api.call("GET", "/api/v1/contacts?" + CONTACT_LIST_QUERY)
    cursor = page1.get("next_cursor")
    write("contact_list_cursor", urllib.parse.quote(cursor, safe="") if cursor else "")
    if not cursor:
        print("prepare.py: warning: contact_list has a single page (fewer than 51 customers); contact_list_page2 "
              "will be skipped", file=sys.stderr)

    search = {
        "filter": {"and": [
            {"field": "owner_id", "op": "eq", "value": owner},
            {"field": "lifecycle_stage", "op": "in", "value": ["customer", "lead"]},
        ]},
        "sort": ["-created_at"],
        "limit": 50,
    }
    write("contact_search.json", json.dumps(search, separators=(",", ":")))
    # Checked once here, so that a body the server rejects shows up before the load runs.
    api.call("POST", "/api/v1/contacts/search", search)

    dataset = {}
    for kind in [k for k in args.kinds.split(",") if k]:
        try:
            page = api.call("GET", f"/api/v1/{kind}?limit=1&include_total=true")
            dataset[kind] = page.get("total")
        except SystemExit as e:
            print(f"prepare.py: warning: could not count {kind}: {e}", file=sys.stderr)
            dataset[kind] = None
    write("dataset.json", json.dumps(dataset))
    print(json.dumps({"sample_contact_ids": len(ids), "owner_id": owner, "page2_cursor": bool(cursor),
                      "dataset": dataset}))


def seed_api(args):
    api = API(args.base, args.key)
    rnd = random.Random(42)
    company_ids = []
    for i in range(args.companies):
        c = api.call("POST", "/api/v1/companies", {"name": f"Bench Company {i}", "domain": f"bench-{i}.example.com"})
        company_ids.append(c["data"]["id"])
    for i in range(args.contacts):
        body = {
            "first_name": rnd.choice(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Linus", "Margaret"]),
            "last_name": f"Bench{i}",
            "email": f"seed{i}@bench.example.com",
            "lifecycle_stage": STAGES[i % len(STAGES)] if i % 3 else "customer",
            "owner_id": args.user_id,
        }
        if company_ids:
            body["company_id"] = company_ids[i % len(company_ids)]
        api.call("POST", "/api/v1/contacts", body)
    print(f"created {args.companies} companies and {args.contacts} contacts through the API")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ["fetch", "seed-api"]:
        p = sub.add_parser(name)
        p.add_argument("--base", required=True)
        p.add_argument("--key", required=True)
        p.add_argument("--user-id", required=True)
        if name == "fetch":
            p.add_argument("--out", required=True)
            p.add_argument("--kinds", default="contacts,companies")
        else:
            p.add_argument("--contacts", type=int, default=300)
            p.add_argument("--companies", type=int, default=20)
    args = ap.parse_args()
    {"fetch": fetch, "seed-api": seed_api}[args.cmd](args)


if __name__ == "__main__":
    main()
