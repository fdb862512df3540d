#!/usr/bin/env python3
"""Ratios of one path to its peers from the newest peer-harness run under OUT_DIR.

  ratios.py OUT_DIR OURS PEER [PEER ...]

Throughput and conn/s: ours / peer (higher is better, goal >= 1.0).
Latency p50/p99: ours / peer (lower is better, goal <= 1.0). Medians over samples,
disturbed samples (foreign CPU over the harness limit) left out as the harness does.
"""
import glob
import json
import os
import statistics
import sys
from collections import defaultdict

out_dir, ours, peers = sys.argv[1], sys.argv[2], sys.argv[3:]
runs = [out_dir] if os.path.isfile(os.path.join(out_dir, "raw.jsonl")) else sorted(
    d for d in glob.glob(os.path.join(out_dir, "*")) if os.path.isfile(os.path.join(d, "raw.jsonl")))
if not runs:
    sys.exit(f"ratios: no raw.jsonl under {out_dir}")
run = runs[-1]
by = defaultdict(lambda: defaultdict(list))
for line in open(os.path.join(run, "raw.jsonl")):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    d = r.get("data", {})
    if "error" in d or (d.get("foreign_cpu_pct") or 0) > 25:
        continue
    by[r["path"]][r["test"]].append(d)


def med(path, test, key):
    vals = [d[key] for d in by[path][test] if isinstance(d.get(key), (int, float))]
    return statistics.median(vals) if vals else None


metrics = [("1-stream Gbit/s", "iperf_p1", "gbps", True), ("8-stream Gbit/s", "iperf_p8", "gbps", True),
           ("RR p50 µs", "rr", "p50_us", False), ("RR p99 µs", "rr", "p99_us", False),
           ("conn/s c=1", "conn_c1", "conns_per_s", True), ("conn/s c=8", "conn_c8", "conns_per_s", True)]
print(f"\n## {ours} against its peers (run {os.path.basename(run)})\n")
print("| metric | " + ours + " | " + " | ".join(f"{p} | ratio to {p}" for p in peers) + " |")
print("|---|---:|" + "---:|---:|" * len(peers))
for label, test, key, higher in metrics:
    mine = med(ours, test, key)
    cells = [label, "n/a" if mine is None else f"{mine:,.2f}"]
    for p in peers:
        theirs = med(p, test, key)
        cells.append("n/a" if theirs is None else f"{theirs:,.2f}")
        if mine is None or not theirs:
            cells.append("n/a")
        else:
            ratio = mine / theirs
            good = ratio >= 1.0 if higher else ratio <= 1.0
            cells.append(f"{ratio:.2f}× {'✓' if good else '✗'}")
    print("| " + " | ".join(cells) + " |")
print("\nRatios are ours / peer; ✓ = goal met (throughput and conn/s ≥ 1.0×, latency ≤ 1.0×).")
