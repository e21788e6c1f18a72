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
  pipeline_id           the default pipeline's id (pipeline_stages, board)
  stage_column_query    stage_id=<the open stage of the default pipeline with most deals>&status=open&limit=25
  deal_ids.txt          up to ~1000 deal ids of every pipeline and status (deal_get, deal_timeline)
  deal_moves.txt        "<deal id> <its stage> <the other stage>" per line: open deals of the default pipeline that
                        sit in one of two neighbouring open stages the deal_move scenario moves them between
                        (deal_move rewrites the middle column after each run, so the next run starts from where
                        the deals are)
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

    deal_info = fetch_deals(api, write)

    dataset = {}
    for kind in [k for k in args.kinds.split(",") if k]:
        try:
            page = api.call("GET", f"/api/v1/{kind}?limit=1&include_total=true")
            dataset[kind] = page.get("total")
        except SystemExit as e:
            print(f"prepare.py: warning: could not count {kind}: {e}", file=sys.stderr)
            dataset[kind] = None
    write("dataset.json", json.dumps(dataset))
    print(json.dumps({"sample_contact_ids": len(ids), "owner_id": owner, "page2_cursor": bool(cursor), **deal_info,
                      "dataset": dataset}))


def list_pages(api, path, pages, limit=200):
    """Up to `pages` pages of a list endpoint (keyset cursors), as one list of items."""
    items, cursor = [], None
    for _ in range(pages):
        q = f"{path}{'&' if '?' in path else '?'}limit={limit}"
        if cursor:
            q += "&cursor=" + urllib.parse.quote(cursor, safe="")
        page = api.call("GET", q)
        items += page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return items


def move_pair(stages):
    """Two neighbouring open stages (a, b) that deal_move can move deals between in both directions without tripping
    a stage rule (allowed next stages, required fields, no skipping), or None."""
    ordered = sorted(stages, key=lambda s: s["position"])
    opens = [s for s in ordered if s.get("type") == "open"]

    def can_enter(src, dst):
        rules = dst.get("rules") or {}
        allowed = (src.get("rules") or {}).get("allowed_next_stage_ids") or []
        if allowed and dst["id"] not in allowed:
            return False
        if rules.get("required_fields"):
            return False
        if dst["position"] > src["position"] + 1 and (src.get("rules") or {}).get("disallow_skip"):
            return False
        return True

    return [(a, b) for a, b in zip(opens, opens[1:]) if can_enter(a, b) and can_enter(b, a)]


def fetch_deals(api, write):
    """pipeline_id, stage_column_query, deal_ids.txt and deal_moves.txt (see the module docstring); an empty file when
    the workspace has no such data, so the scenario that needs it is skipped."""
    pipelines = api.call("GET", "/api/v1/pipelines")["data"]
    default = next((p for p in pipelines if p.get("is_default")), pipelines[0] if pipelines else None)
    info = {"pipelines": len(pipelines)}
    if default is None:
        print("prepare.py: warning: the workspace has no pipeline; the deal scenarios will be skipped", file=sys.stderr)
        for name in ["pipeline_id", "stage_column_query", "deal_ids.txt", "deal_moves.txt"]:
            write(name, "")
        return info
    pid = default["id"]
    write("pipeline_id", pid)
    stages = default.get("stages") or api.call("GET", f"/api/v1/pipelines/{pid}/stages")["data"]
    opens = [s for s in stages if s.get("type") == "open"]
    info.update(default_pipeline=pid, stages=len(stages), open_stages=len(opens))

    # The kanban column: the default pipeline's open stage with the most deals (deal_count from the stage totals).
    if opens:
        column = max(opens, key=lambda s: (s.get("deal_count") or 0, -s["position"]))
        write("stage_column_query", f"stage_id={column['id']}&status=open&limit=25")
        info["stage_column"] = f"{column['name']} ({column.get('deal_count', '?')} deals)"
    else:
        write("stage_column_query", "")
        print("prepare.py: warning: the default pipeline has no open stage; stage_column will be skipped", file=sys.stderr)

    # Deals of every pipeline and status, from both ends and by name (deal_get, deal_timeline).
    deal_ids = []
    for sort in ["-created_at", "created_at", "name"]:
        deal_ids += [d["id"] for d in list_pages(api, f"/api/v1/deals?sort={urllib.parse.quote(sort)}", pages=2)]
    deal_ids = list(dict.fromkeys(deal_ids))
    write("deal_ids.txt", "\n".join(deal_ids) + ("\n" if deal_ids else ""))
    info["sample_deal_ids"] = len(deal_ids)

    # deal_move: open deals of the default pipeline in the busiest pair of neighbouring open stages.
    open_deals = list_pages(api, f"/api/v1/deals?pipeline_id={pid}&status=open", pages=5)
    pairs = move_pair(stages)
    best, best_deals = None, []
    for a, b in pairs:
        ds = [d for d in open_deals if d.get("stage_id") in (a["id"], b["id"])]
        if len(ds) > len(best_deals):
            best, best_deals = (a, b), ds
    lines = []
    if best:
        a, b = best
        for d in best_deals:
            here, other = (a, b) if d["stage_id"] == a["id"] else (b, a)
            lines.append(f"{d['id']} {here['id']} {other['id']}")
        info["deal_move"] = f"{len(lines)} open deals between {a['name']} and {b['name']}"
    else:
        print("prepare.py: warning: no open deals in two neighbouring open stages of the default pipeline that stage "
              "rules let move both ways; deal_move will be skipped", file=sys.stderr)
    write("deal_moves.txt", "\n".join(lines) + ("\n" if lines else ""))
    return info


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
