#!/usr/bin/env python3
"""Turns one benchmark run (the temporary directory of Benchmarks/run.sh) into <out>.json and <out>.md. Stdlib only.

  report.py --run-dir DIR --out Benchmarks/results/20250101-120000-small

DIR holds meta.json (run settings), results.jsonl (one line per wrk run, from bench.lua's done() plus db and
rss_after_mb) and db-<db>.json (seeding, dataset counts, RSS, server log problems) per database.

Targets live in TARGETS below, the one place they are defined. They are judged on SQLite; PostgreSQL figures are shown
beside them for information. A measurement with more than ERROR_FLAG of its requests failing counts as missed.
"""
import argparse
import json
import os
import platform

ERROR_FLAG = 0.01  # a scenario with more than 1% errors is flagged (and misses its targets)
BUSY_LOAD = 1.5    # a 1-minute load average above this many times nproc before the runs: the machine was busy

LIST_SCENARIOS = ["contact_list", "contact_list_page2", "contact_search"]

# metric: rps | rps_ratio (to health, same db and connections) | p50_ms | p99_ms | peak_rss_mb (per database)
# conns: None = every measured connection count; a list = only those (reported "not measured" if absent)
TARGETS = [
    {"id": "get_vs_health", "text": "contact_get req/s ≥ 35% of health (same run, same connections)",
     "scenarios": ["contact_get"], "metric": "rps_ratio", "op": ">=", "value": 0.35, "conns": None},
    {"id": "list_search_p99", "text": "list & search p99 < 25 ms at 8 connections",
     "scenarios": LIST_SCENARIOS, "metric": "p99_ms", "op": "<", "value": 25, "conns": [8]},
    {"id": "create_rps", "text": "contact_create ≥ 2500 req/s",
     "scenarios": ["contact_create"], "metric": "rps", "op": ">=", "value": 2500, "conns": None},
    {"id": "list_search_p50", "text": "list & search p50 < 20 ms",
     "scenarios": LIST_SCENARIOS, "metric": "p50_ms", "op": "<", "value": 20, "conns": None},
    {"id": "column_move_p50", "text": "deal stage column & deal_move p50 < 10 ms",
     "scenarios": ["stage_column", "deal_move"], "metric": "p50_ms", "op": "<", "value": 10, "conns": None},
    {"id": "stages_board_p50", "text": "pipeline_stages & board p50 < 50 ms (absolute budget)",
     "scenarios": ["pipeline_stages", "board"], "metric": "p50_ms", "op": "<", "value": 50, "conns": None},
    {"id": "timeline_p50", "text": "deal_timeline p50 < 20 ms",
     "scenarios": ["deal_timeline"], "metric": "p50_ms", "op": "<", "value": 20, "conns": None},
    # Only on a large run, against Benchmarks/results/latest-small.json (the last complete small run): cost must not grow
    # with the data. Each p50 is taken relative to health's p50 in its own run first, so that the machine's drift between
    # the two runs (health itself often moves by 1.5x) is not mistaken for the data's cost. scenarios None = all but health.
    {"id": "scale_p50", "text": "large dataset p50 ≤ 1.5× the small dataset's (each relative to health in its run; latest-small)",
     "scenarios": None, "metric": "scale_p50", "op": "<=", "value": 1.5, "conns": None},
    {"id": "rss", "text": "server peak RSS (VmHWM) < 300 MB",
     "scenarios": [], "metric": "peak_rss_mb", "op": "<", "value": 300, "conns": None},
]
JUDGED_ON = "sqlite"
DB_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
SHORT = {"contact_list": "list", "contact_list_page2": "page2", "contact_search": "search",
         "contact_get": "get", "contact_create": "create", "stage_column": "column", "deal_move": "move",
         "pipeline_stages": "stages", "board": "board", "deal_timeline": "timeline", "deal_get": "deal get"}


def load(run_dir):
    meta = json.load(open(os.path.join(run_dir, "meta.json")))
    rows = [json.loads(l) for l in open(os.path.join(run_dir, "results.jsonl")) if l.strip()]
    dbs = {}
    for db in meta["databases"]:
        p = os.path.join(run_dir, f"db-{db}.json")
        dbs[db] = json.load(open(p)) if os.path.exists(p) else {"db": db, "missing": True}
    return meta, rows, dbs


def machine_info():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    os_name = platform.system()
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model, "memory_gb": mem_gb, "os": os_name,
            "kernel": platform.release(), "loadavg_at_report": [round(x, 2) for x in os.getloadavg()]}


def enrich(rows):
    """Adds error_rate, flagged and the ratios to health (same db, same connections)."""
    health = {(r["db"], r["connections"]): r for r in rows
              if r.get("scenario") == "health" and not r.get("failed") and not r.get("skipped")}
    for r in rows:
        if r.get("failed") or r.get("skipped"):
            continue
        r["error_rate"] = r["errors"] / max(r["requests"], 1)
        r["flagged"] = r["error_rate"] > ERROR_FLAG
        h = health.get((r["db"], r["connections"]))
        if h and h["rps"] > 0 and h["p50_ms"] > 0:
            r["rps_ratio"] = r["rps"] / h["rps"]
            r["p50_ratio"] = r["p50_ms"] / h["p50_ms"]
    return rows


def add_scale(meta, rows, small_path):
    """On a large run, adds scale_p50 = p50 / the small run's p50 (same db, scenario and connections) to each row."""
    if meta.get("size") != "large" or not os.path.exists(small_path):
        return None
    with open(small_path) as f:
        small = json.load(f)
    ref = {(r["db"], r["scenario"], r["connections"]): r for r in small.get("results", [])
           if not r.get("failed") and not r.get("skipped") and r.get("p50_ms")}
    for r in rows:
        s = ref.get((r.get("db"), r.get("scenario"), r.get("connections")))
        if s and r.get("p50_ratio") and s.get("p50_ratio") and r.get("scenario") != "health":
            r["scale_p50"] = r["p50_ratio"] / s["p50_ratio"]
            r["scale_p50_raw"] = r["p50_ms"] / s["p50_ms"]
            r["small_p50_ms"] = s["p50_ms"]
    return small.get("meta", {}).get("timestamp")


def compare(v, op, limit):
    return {">=": v >= limit, "<=": v <= limit}.get(op, v < limit)


def fmt_metric(metric, v):
    if metric == "rps_ratio":
        return f"{v:.0%}"
    if metric == "rps":
        return f"{v:,.0f} req/s"
    if metric == "peak_rss_mb":
        return f"{v:.0f} MB"
    if metric == "scale_p50":
        return f"×{v:.2f}"
    return f"{v:.1f} ms"


def evaluate(meta, rows, dbs):
    out = []
    for t in TARGETS:
        per_db = {}
        for db in meta["databases"]:
            checks = []
            if t["metric"] == "peak_rss_mb":
                v = dbs.get(db, {}).get("peak_rss_mb")
                checks.append({"what": "server", "value": v, "met": None if v is None else compare(v, t["op"], t["value"])})
            else:
                scenarios = t["scenarios"] if t["scenarios"] is not None else \
                    list(dict.fromkeys(x["scenario"] for x in rows if x.get("db") == db and x.get("scenario") != "health"))
                for scn in scenarios:
                    for c in (t["conns"] or meta["connections"]):
                        r = next((x for x in rows if x.get("db") == db and x.get("scenario") == scn
                                  and x.get("connections") == c and not x.get("skipped")), None)
                        if r is None or r.get("failed") or t["metric"] not in r:
                            checks.append({"scenario": scn, "connections": c, "value": None, "met": None})
                            continue
                        v = r[t["metric"]]
                        ok = compare(v, t["op"], t["value"]) and not r["flagged"]
                        checks.append({"scenario": scn, "connections": c, "value": v, "met": ok,
                                       "errors_flagged": r["flagged"]})
            measured = [ch for ch in checks if ch["met"] is not None]
            if not measured:
                status = "not measured"
            elif all(ch["met"] for ch in measured):
                status = "met" if len(measured) == len(checks) else "met (partly measured)"
            else:
                status = "missed"
            per_db[db] = {"status": status, "checks": checks}
        judged = per_db.get(JUDGED_ON, {}).get("status", f"not judged (no {JUDGED_ON} run)")
        out.append({**{k: t[k] for k in ("id", "text", "metric", "op", "value")}, "status": judged, "by_db": per_db})
    return out


def md_table(header, body):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if h.startswith(("req", "p5", "p9", "err", "RSS", "conn", "×"))
                                                             else "---" for h in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def status_mark(s):
    return {"met": "✅ met", "missed": "❌ **missed**"}.get(s, s.replace("met (", "✅ met (") if s.startswith("met") else f"– {s}")


def check_cell(t, res):
    parts = []
    for ch in res["checks"]:
        label = "" if "scenario" not in ch else \
            (f"{SHORT.get(ch['scenario'], ch['scenario'])} " if len(t.get("scenarios_in_run", [])) != 1 else "") + f"c{ch['connections']}: "
        v = "n/a" if ch["value"] is None else fmt_metric(t["metric"], ch["value"])
        if ch.get("errors_flagged"):
            v += " (errors)"
        parts.append(label + v)
    return ", ".join(parts) + " → " + status_mark(res["status"])


def render_md(meta, machine, rows, dbs, targets, scen_desc):
    L = []
    L.append(f"# Keel benchmark — {meta['size']} — {meta['timestamp']} UTC\n")
    L.append(f"- machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['memory_gb']} GB RAM, {machine['os']}, "
             f"kernel {machine['kernel']}; load average at the end {machine['loadavg_at_report']}")
    L.append(f"- keel: {meta.get('keel_version') or '?'} (commit {meta.get('git_commit')}), binary `{meta.get('keel_binary')}`; "
             f"{meta.get('swift_version')}")
    warmup = "no warm-up" if meta["warmup"] in ("0", "0s") else \
        f"after a {meta['warmup']} warm-up per scenario (at the largest connection count)"
    L.append(f"- load: {meta.get('wrk_version')}; {meta['threads']} threads; {meta['duration']} per run {warmup}; "
             f"connections {', '.join(map(str, meta['connections']))}")
    L.append("- server: `keel serve --log-level warning --workers off`, KEEL_RATE_LIMIT_RPS=0, KEEL_RATE_LIMIT_BURST=0")
    L.append("- wrk figures swing ±20–40% between runs on a shared 2-core machine (wrk and the server share the cores): "
             "compare the ratios to `health` within one run.\n")

    # Dataset
    L.append("## Dataset\n")
    header = ["", "requested"] + [DB_TITLES.get(db, db) for db in meta["databases"]]
    body = []
    kinds = list(meta["size_spec"].keys())
    for db in meta["databases"]:
        for k in dbs.get(db, {}).get("dataset", {}):
            if k not in kinds:
                kinds.append(k)
    for k in kinds:
        body.append([k, f"{meta['size_spec'][k]:,}" if k in meta["size_spec"] else "–"] +
                    [fmt_count(dbs.get(db, {}).get("dataset", {}).get(k)) for db in meta["databases"]])
    body.append(["seeded with", ""] + [dbs.get(db, {}).get("seeded_with", "?") for db in meta["databases"]])
    body.append(["seeding time", ""] + [fmt_seconds(dbs.get(db, {}).get("seed_seconds")) for db in meta["databases"]])
    L.append(md_table(header, body) + "\n")
    for db in meta["databases"]:
        if dbs.get(db, {}).get("seed_output"):
            L.append(f"- {DB_TITLES.get(db, db)} seed-demo said: `{dbs[db]['seed_output']}`")
    L.append("")

    # Targets
    L.append(f"## Targets (judged on {DB_TITLES[JUDGED_ON]}; other databases for information)\n")
    header = ["target", "status"] + [DB_TITLES.get(db, db) for db in meta["databases"]]
    body = []
    for t in targets:
        tt = dict(t, scenarios_in_run=next((x["scenarios"] or ["*", "*"] for x in TARGETS if x["id"] == t["id"]), []))
        body.append([t["text"], status_mark(t["status"])] + [check_cell(tt, t["by_db"][db]) for db in meta["databases"]])
    L.append(md_table(header, body) + "\n")
    if meta.get("scale_reference"):
        L.append(f"- small-dataset reference for the scale target: {meta['scale_reference']}\n")

    # Per database
    for db in meta["databases"]:
        info = dbs.get(db, {})
        L.append(f"## {DB_TITLES.get(db, db)}\n")
        header = ["scenario", "conn", "req/s", "× health req/s", "p50 ms", "× health p50", "p99 ms", "errors", "RSS after MB"]
        scaled = any("scale_p50" in r for r in rows if r.get("db") == db)
        if scaled:
            header.append("× small p50 (relative to health; raw)")
        body = []
        for r in rows:
            if r.get("db") != db:
                continue
            if r.get("skipped"):
                body.append([r["scenario"], "", f"skipped: {r['skipped']}", "", "", "", "", "", ""] + ([""] if scaled else []))
                continue
            if r.get("failed"):
                body.append([r["scenario"], r["connections"], "wrk failed", "", "", "", "", "", ""] + ([""] if scaled else []))
                continue
            err = f"{r['errors']:,}" if not r["errors"] else f"**{r['errors']:,} ({r['error_rate']:.1%})**"
            if r["flagged"]:
                err += " ⚠"
            body.append([r["scenario"], r["connections"], f"{r['rps']:,.0f}",
                         f"{r['rps_ratio']:.0%}" if "rps_ratio" in r else "–",
                         f"{r['p50_ms']:.2f}", f"×{r['p50_ratio']:.1f}" if "p50_ratio" in r else "–",
                         f"{r['p99_ms']:.2f}", err, r.get("rss_after_mb", "–")]
                        + ([f"×{r['scale_p50']:.2f} (raw ×{r['scale_p50_raw']:.2f}: {r['small_p50_ms']:.2f} ms small)" if "scale_p50" in r else "–"] if scaled else []))
        L.append(md_table(header, body) + "\n")
        L.append(f"- peak RSS (VmHWM at the end): {fmt_mb(info.get('peak_rss_mb'))}; VmRSS sampled every 0.5 s during the runs: "
                 f"max {fmt_mb(info.get('rss_sampled_max_mb'))}, mean {fmt_mb(info.get('rss_sampled_mean_mb'))}")
        lb, la = info.get("loadavg_before_runs"), info.get("loadavg_after_runs")
        if lb:
            L.append(f"- load average (1, 5, 15 min) before the runs {lb}, after {la}"
                     + (f" — ⚠ the machine was busy with other work ({lb[0]} on {machine['nproc']} CPUs before the runs): "
                        "treat absolute figures with suspicion" if lb[0] > BUSY_LOAD * (machine["nproc"] or 1) else ""))
        L.append(f"- server log (level warning): {info.get('server_log_lines', '?')} lines, "
                 f"{info.get('server_error_lines', '?')} at error/critical level"
                 + (" — the server DIED during the run; later scenarios are missing" if info.get("server_died") else ""))
        for s in info.get("server_error_samples") or info.get("server_log_samples") or []:
            L.append(f"    - `{s}`")
        L.append("")

    # Errors
    bad = [r for r in rows if not r.get("skipped") and not r.get("failed") and r["errors"]]
    L.append("## Errors\n")
    if not bad:
        L.append("No request failed: every answer was 2xx and there were no socket errors or timeouts.\n")
    for r in bad:
        sock = {k: v for k, v in r["socket_errors"].items() if v}
        L.append(f"- {'⚠ FLAGGED (> 1%) ' if r['flagged'] else ''}{DB_TITLES.get(r['db'], r['db'])} {r['scenario']} "
                 f"c{r['connections']}: {r['errors']:,} of {r['requests']:,} ({r['error_rate']:.2%}); "
                 f"status codes {json.dumps(r['status_counts'])}" + (f"; socket errors {json.dumps(sock)}" if sock else "")
                 + (f"; first: `{r['error_sample'][:200]}`" if r.get("error_sample") else ""))
    if bad:
        L.append("")

    L.append("## Scenarios\n")
    for name in meta["scenarios"]:
        L.append(f"- `{name}`: {scen_desc.get(name, '')}")
    L.append("")
    return "\n".join(L)


def fmt_count(v):
    return "?" if v is None else f"{v:,}"


def fmt_seconds(v):
    return "–" if v is None else f"{v:.1f} s"


def fmt_mb(v):
    return "?" if v is None else f"{v:.0f} MB"


def scenario_descriptions():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", "index.tsv")
    out = {}
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                out[parts[0]] = parts[2]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--out", required=True, help="path without extension")
    args = ap.parse_args()
    meta, rows, dbs = load(args.run_dir)
    rows = enrich(rows)
    small_ref = add_scale(meta, rows, os.path.join(os.path.dirname(args.out) or ".", "latest-small.json"))
    if small_ref:
        meta["scale_reference"] = f"latest-small.json ({small_ref})"
    targets = [t for t in evaluate(meta, rows, dbs) if t["id"] != "scale_p50" or small_ref]
    machine = machine_info()
    md = render_md(meta, machine, rows, dbs, targets, scenario_descriptions())
    doc = {"meta": meta, "machine": machine, "databases": dbs, "results": rows, "targets": targets,
           "flagged": [f"{r['db']}/{r['scenario']}/c{r['connections']}" for r in rows if r.get("flagged")]}
    with open(args.out + ".json", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(args.out + ".md", "w") as f:
        f.write(md)


if __name__ == "__main__":
    main()
