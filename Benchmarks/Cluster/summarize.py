#!/usr/bin/env python3
"""Markdown table of one `scripts/bench-cluster` run: Warren beside etcd, with ratios.

  summarize.py OUT_DIR [COMMAND]

Cells are medians over repetitions [min–max]. Failover: p50 and p99 over the trials
(nearest rank; with 5 trials p99 is the slowest). Samples are never dropped: the foreign
CPU column says how busy the rest of the machine was while each kind of sample ran.
"""
import json
import math
import os
import statistics
import sys
from collections import defaultdict

out_dir = sys.argv[1]
command = sys.argv[2] if len(sys.argv) > 2 else "scripts/bench-cluster"
by = defaultdict(list)
for line in open(os.path.join(out_dir, "raw.jsonl")):
    if line.strip():
        r = json.loads(line)
        by[(r["system"], r["test"])].append(r["data"])
facts = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(out_dir, "facts")) if "=" in line)


def vals(system, test, key):
    return [d[key] for d in by[(system, test)] if isinstance(d.get(key), (int, float))]


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, math.ceil(p * len(v)) - 1))] if v else None


def fmt(x, digits=0):
    return "n/a" if x is None else f"{x:,.{digits}f}"


def cell(v, digits=0):
    if not v:
        return "n/a"
    if len(v) == 1:
        return fmt(v[0], digits)
    return f"{fmt(statistics.median(v), digits)} [{fmt(min(v), digits)}–{fmt(max(v), digits)}]"


def good_ops(d):
    if "requests" not in d:
        return None
    return (d["requests"] - d.get("bad_replies", 0) - d.get("socket_errors", 0)) / d["secs"]


for system in ("warren", "etcd"):
    for d in by[(system, "conc")]:
        g = good_ops(d)
        if g is not None:
            d["good_ops_per_s"] = round(g, 1)
            d["errors"] = d.get("bad_replies", 0) + d.get("socket_errors", 0)
            if d.get("nodes_cpu_pct") is not None and g:
                d["cpu_ms_per_write"] = round(d["nodes_cpu_pct"] * 10 / g, 3)
    for test in ("seq_leader", "seq_follower"):
        for d in by[(system, test)]:
            if d.get("nodes_cpu_pct") is not None and d.get("ops_per_s"):
                d["cpu_ms_per_write"] = round(d["nodes_cpu_pct"] * 10 / d["ops_per_s"], 3)

# (label, test, key, lower is better, goal ratio or None, digits, aggregate)
rows = [
    ("sequential via leader: p50 µs", "seq_leader", "p50_us", True, 1.0, 0, "med"),
    ("sequential via leader: p99 µs", "seq_leader", "p99_us", True, 1.0, 0, "med"),
    ("sequential via leader: writes/s", "seq_leader", "ops_per_s", False, None, 0, "med"),
    ("sequential via follower: p50 µs", "seq_follower", "p50_us", True, None, 0, "med"),
    ("sequential via follower: p99 µs", "seq_follower", "p99_us", True, None, 0, "med"),
    ("sequential via follower: writes/s", "seq_follower", "ops_per_s", False, None, 0, "med"),
    ("sequential: failed writes (total)", "seq_leader", "errors", True, None, 0, "sum"),
    ("16 clients via leader: writes/s (successful)", "conc", "good_ops_per_s", False, 1.5, 0, "med"),
    ("16 clients: p50 µs", "conc", "p50_us", True, None, 0, "med"),
    ("16 clients: p99 µs", "conc", "p99_us", True, None, 0, "med"),
    ("16 clients: errors (total)", "conc", "errors", True, None, 0, "sum"),
    ("16 clients: CPU of the 3 nodes, % of one core", "conc", "nodes_cpu_pct", True, None, 0, "med"),
    ("16 clients: node CPU-ms per write", "conc", "cpu_ms_per_write", True, None, 3, "med"),
    ("sequential via leader: node CPU-ms per write", "seq_leader", "cpu_ms_per_write", True, None, 3, "med"),
    ("idle cluster: CPU of the 3 nodes, % of one core", "idle", "nodes_cpu_pct", True, None, 1, "med"),
    ("failover: kill -9 → new leader seen, p50 ms", "failover", "elected_ms", True, None, 0, "p50"),
    ("failover: kill -9 → new leader seen, p99 ms", "failover", "elected_ms", True, None, 0, "p99"),
    ("failover: kill -9 → first write OK, p50 ms", "failover", "first_write_ms", True, None, 0, "p50"),
    ("failover: kill -9 → first write OK, p99 ms", "failover", "first_write_ms", True, "600ms", 0, "p99"),
]


def agg(system, test, key, how):
    v = vals(system, test, key)
    if how == "sum":
        if test == "seq_leader":
            v = v + vals(system, "seq_follower", key)
        return (sum(v) if v else 0), fmt(sum(v)) if v else "0"
    if how in ("p50", "p99"):
        x = pct(v, 0.5 if how == "p50" else 0.99)
        return x, fmt(x)
    return (statistics.median(v) if v else None), None


print(f"## Warren vs etcd, 3 nodes on loopback (run {os.path.basename(out_dir.rstrip('/'))})\n")
print(f"Command: `{command}` · nproc={facts.get('nproc')} · load average at start "
      f"{facts.get('loadavg_at_start')}, at end {facts.get('loadavg_at_end')} · {facts.get('etcd')} · "
      f"warren {facts.get('warren_commit')}\n")
fs = json.loads(facts.get("fsync_4k", "{}") or "{}")
if fs:
    print(f"4 KiB write + fdatasync in the scratch dir: p50 {fs['p50_us']} µs, p99 {fs['p99_us']} µs.\n")
print("| metric | Warren | etcd | Warren / etcd | goal |")
print("|---|---:|---:|---:|---|")
for label, test, key, lower, goal, digits, how in rows:
    w, wtext = agg("warren", test, key, how)
    e, etext = agg("etcd", test, key, how)
    if how == "med":
        wtext = cell(vals("warren", test, key), digits)
        etext = cell(vals("etcd", test, key), digits)
    ratio = f"{w / e:.2f}×" if isinstance(w, (int, float)) and isinstance(e, (int, float)) and e else "n/a"
    g = ""
    if goal == "600ms":
        g = "≤ 600 ms: " + ("**met**" if w is not None and w <= 600 else "**not met**")
    elif goal is not None and ratio != "n/a":
        r = w / e
        met = r <= goal if lower else r >= goal
        g = f"{'≤' if lower else '≥'} {goal}×: " + ("**met**" if met else "**not met**")
    print(f"| {label} | {wtext} | {etext} | {ratio} | {g} |")

print("\nFailover trials (kill -9 of the leader; a write attempt every 25 ms against a survivor, "
      "status polled every ~10 ms; the killed member is restarted and caught up before the next trial):\n")
print("| system | trial | killed | new leader | new leader seen ms | first write OK ms | attempts | failed attempts | terms used |")
print("|---|---:|---|---|---:|---:|---:|---|---:|")
for system in ("warren", "etcd"):
    for i, d in enumerate(by[(system, "failover")], 1):
        if "error" in d:
            print(f"| {system} | {i} | error: {str(d['error'])[:120]} | | | | | | |")
            continue
        terms = (d["new_term"] - d["old_term"]) if d.get("new_term") is not None else "–"
        fails = ", ".join(f"{k} ×{v}" for k, v in sorted(d.get("failed_attempts", {}).items())) or "–"
        print(f"| {system} | {i} | {d['killed']} | {d.get('new_leader')} | {fmt(d.get('elected_ms'), 1)} | "
              f"{fmt(d.get('first_write_ms'), 1)} | {d.get('write_attempts')} | {fails} | {terms} |")

fc = defaultdict(list)
for (system, test), ds in by.items():
    for d in ds:
        if isinstance(d.get("foreign_cpu_pct"), (int, float)):
            fc[system].append(d["foreign_cpu_pct"])
print("\nForeign CPU (other processes on the machine during the samples, % of one core): " +
      "; ".join(f"{s} median {statistics.median(v):.0f}, max {max(v):.0f}" for s, v in sorted(fc.items())))
errs = [(k, d) for k, ds in by.items() for d in ds
        if d.get("first_error") or d.get("first_bad") or (isinstance(d.get("error"), str))]
if errs:
    print("\nErrors seen:\n")
    for (system, test), d in errs:
        detail = d.get("first_error") or d.get("first_bad") or d.get("error")
        print(f"- {system} {test}: {json.dumps(detail)[:600]}")
