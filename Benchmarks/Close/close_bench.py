#!/usr/bin/env python3
"""Close under load: a 3-node Warren cluster on loopback, a connector process, S idle
sessions entering at the three nodes (relayed to the tunnel's holder where needed), then
`POST /v1/tunnels/ID/close`. Measures the time from the API's answer to the last session
ending, over every node (goal p99 <= 100 ms), for several trials.

Beside it in the same run, the harness's own floor: the same S client sockets held open
to a plain TCP server that closes them all at once itself (no Warren) — what observing S
ends costs this Python client.

Reuses the cluster, echo server and session helpers of Benchmarks/Certs/certs_bench.py.
"""
import argparse, json, os, socket, sys, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Certs"))
from certs_bench import Cluster, Echo, Session, pct, tunnel_with_connector  # noqa: E402

def log(*a):
    print("bench-close:", *a, file=sys.stderr, flush=True)

def trial(cluster, echo, sessions_total, rep, base):
    listen = base + 200 + rep
    state_dir = f"{cluster.work}/close-{rep}"
    tunnel, proc = tunnel_with_connector(cluster, echo, f"close{rep}", listen, state_dir)
    sessions = [Session(cluster.host[cluster.names[i % 3]], listen, None) for i in range(sessions_total)]
    for s in sessions:
        s.start()
    # Every session must be carried to the connector before the close.
    deadline = time.time() + 20
    while time.time() < deadline:
        status, listed = cluster.call("n1", "GET", f"/v1/sessions?tunnel={tunnel}")
        if status == 200 and len(listed["sessions"]) >= sessions_total:
            break
        time.sleep(0.05)
    held = len(listed["sessions"])
    sent = time.monotonic()
    status, body = cluster.call("n2", "POST", f"/v1/tunnels/{tunnel}/close", {})
    answered = time.monotonic()
    assert status == 200, body
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(s.ended_at for s in sessions):
        time.sleep(0.001)
    ended = [s.ended_at for s in sessions if s.ended_at]
    by_node = {}
    for i, s in enumerate(sessions):
        if s.ended_at:
            node = cluster.names[i % 3]
            by_node[node] = max(by_node.get(node, 0), (s.ended_at - answered) * 1000)
    for s in sessions:
        s.stop()
    try:
        code = proc.wait(10)
    except Exception:
        proc.kill()
        code = None
    missing = len(sessions) - len(ended)
    return {"held": held, "missing": missing, "connectorExit": code,
            "ms": None if missing else (max(ended) - answered) * 1000,
            "fromSendMs": None if missing else (max(ended) - sent) * 1000,
            "apiMs": (answered - sent) * 1000, "lastByEntryNodeMs": by_node}

def floor_trial(sessions_total):
    """S sockets to a local server that closes them all itself: the harness's floor."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1024)
    port = server.getsockname()[1]
    accepted = []
    def accept():
        while len(accepted) < sessions_total:
            accepted.append(server.accept()[0])
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    sessions = [Session("127.0.0.1", port, None) for _ in range(sessions_total)]
    for s in sessions:
        s.start()
    t.join(10)
    time.sleep(0.2)
    start = time.monotonic()
    for c in accepted:
        c.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(s.ended_at for s in sessions):
        time.sleep(0.001)
    ended = [s.ended_at for s in sessions if s.ended_at]
    for s in sessions:
        s.stop()
    server.close()
    return (max(ended) - start) * 1000 if len(ended) == len(sessions) else None

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--base-port", type=int, default=21000)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    cluster = Cluster(args.binary, args.work, args.base_port, 3600)
    echo = Echo()
    results = {"close": [], "floor": []}
    try:
        cluster.start()
        for rep in range(args.reps):
            r = trial(cluster, echo, args.sessions, rep, args.base_port)
            f = floor_trial(args.sessions)
            results["close"].append(r)
            results["floor"].append(f)
            log(f"trial {rep + 1}/{args.reps}: {r['held']} sessions held, last ended "
                f"{'missed' if r['ms'] is None else '%.1f ms' % r['ms']} after the answer "
                f"(by entry node {({k: round(v, 1) for k, v in r['lastByEntryNodeMs'].items()})}); "
                f"floor {'missed' if f is None else '%.1f ms' % f}")
    finally:
        cluster.stop()
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=1)
    rows = results["close"]
    ms = [r["ms"] for r in rows if r["ms"] is not None]
    sent = [r["fromSendMs"] for r in rows if r["fromSendMs"] is not None]
    api = [r["apiMs"] for r in rows]
    floor = [f for f in results["floor"] if f is not None]
    missed = sum(1 for r in rows if r["ms"] is None)
    print(f"Close under load: {args.sessions} idle sessions entering at 3 nodes, {args.reps} trials")
    print(f"  {'':34} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(f"  {'last session ended, after answer':34} {pct(ms, 50):8.1f} {pct(ms, 99):8.1f} {max(ms) if ms else float('nan'):8.1f}"
          f"   missed trials: {missed}   (goal p99 <= 100 ms)")
    print(f"  {'same, from the request':34} {pct(sent, 50):8.1f} {pct(sent, 99):8.1f} {max(sent) if sent else float('nan'):8.1f}")
    print(f"  {'the close API call itself':34} {pct(api, 50):8.1f} {pct(api, 99):8.1f} {max(api):8.1f}")
    print(f"  {'floor: plain TCP server closes all':34} {pct(floor, 50):8.1f} {pct(floor, 99):8.1f} {max(floor) if floor else float('nan'):8.1f}")
    print("  (negative: every session had ended before the API's answer reached the client)")
    print(f"  connector exit codes: {sorted({str(r['connectorExit']) for r in rows})}")

if __name__ == "__main__":
    main()
