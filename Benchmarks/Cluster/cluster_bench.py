#!/usr/bin/env python3
"""Write-path measurements of a 3-node Warren cluster and a 3-member etcd (stdlib only).

Both systems are driven the same way: one replicated write per request, answered after a
quorum has it on disk. Warren: `POST /v1/tunnels {"name","duration":"24h"}` over HTTPS
(TLS 1.3, keep-alive, `Authorization: Bearer`), 201 expected. etcd: `POST /v3/kv/put` of a
256-byte value through its HTTP/JSON gateway, 200 expected. Loopback only.

  cluster_bench.py login URL CA ADMIN_CERT ADMIN_KEY [USER]
      (warren) create the operator USER (default `bench`) and print a JWT for it
  cluster_bench.py seq SYSTEM URL N PREFIX
      N sequential writes on one keep-alive connection (20 warm-up) -> JSON
  cluster_bench.py status SYSTEM URL...
      each member's view: leader, term, commit and applied index -> JSON
  cluster_bench.py wait-ready SYSTEM TIMEOUT URL...
      until every member names the same leader, has applied (almost) all it knows is
      committed, and one write succeeds -> JSON (exit 1 on timeout)
  cluster_bench.py failover SYSTEM MEMBERS_JSON [TIMEOUT]
      MEMBERS_JSON: [{"name","pid","start":<proc starttime>,"url"}, ...]; SIGKILLs the
      leader (after checking pid + start time) and measures until a survivor reports a new
      leader and until a write succeeds again (an attempt every 25 ms) -> JSON
  cluster_bench.py roles SYSTEM URL...
      "LEADER_URL FOLLOWER_URL LEADER_NAME" (exit 1 when there is no single leader)
  cluster_bench.py caught-up SYSTEM TIMEOUT NAME URL...
      after a restart: until all agree on one leader and NAME (at the first URL) has
      applied the leader's commit index as read at the start -> JSON (exit 1 on timeout)

SYSTEM is `warren` (needs WARREN_CA and WARREN_TOKEN in the environment) or `etcd`.
"""
import base64
import http.client
import json
import math
import os
import signal
import ssl
import sys
import threading
import time
from urllib.parse import urlparse

VALUE_BYTES = 256


def pct(sorted_vals, p):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, math.ceil(p * len(sorted_vals)) - 1))
    return round(sorted_vals[i], 1)


class WriteError(RuntimeError):
    """A write or status call that got an answer other than success."""

    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status, self.body = status, body


class Client:
    """One keep-alive HTTP(S) connection to one member; reconnects once on a broken one."""

    def __init__(self, url, timeout=5.0):
        u = urlparse(url)
        assert u.hostname in ("127.0.0.1", "::1", "localhost"), "loopback only"
        self.https = u.scheme == "https"
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn = None

    def _connect(self):
        if self.https:
            ctx = ssl.create_default_context(cafile=os.environ["WARREN_CA"])
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def call(self, method, path, body=None, headers=None, ok=(200,)):
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = self._connect()
            try:
                self.conn.request(method, path, data, hdrs)
                r = self.conn.getresponse()
                payload = r.read()
                if r.will_close:
                    self.close()
                if r.status not in ok:
                    raise WriteError(r.status, payload)
                return json.loads(payload) if payload else {}
            except (http.client.HTTPException, ConnectionError, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Warren(Client):
    """Warren's admin API: a write is a tunnel creation (one Raft entry, fsynced on a quorum)."""

    def auth(self):
        return {"Authorization": "Bearer " + os.environ["WARREN_TOKEN"]}

    def write(self, key):
        j = self.call("POST", "/v1/tunnels", {"name": key, "duration": "24h"}, self.auth(), ok=(201,))
        if "tunnel" not in j:
            raise RuntimeError(f"bad create reply {j}")

    def status(self):
        s = self.call("GET", "/v1/status", headers=self.auth())
        return {"member": s["node"], "leader": s.get("leader"), "term": int(s["term"]),
                "commit": int(s["commitIndex"]), "applied": int(s["appliedIndex"]), "role": s.get("role")}


class Etcd(Client):
    """etcd v3 through its HTTP/JSON gateway: a write is a put of a 256-byte value."""

    value = base64.b64encode(os.urandom(VALUE_BYTES // 2).hex().encode()).decode()

    def write(self, key):
        j = self.call("POST", "/v3/kv/put", {"key": base64.b64encode(key.encode()).decode(), "value": self.value})
        if "header" not in j:
            raise RuntimeError(f"bad put reply {j}")

    def status(self):
        s = self.call("POST", "/v3/maintenance/status", {})
        return {"member": s["header"]["member_id"], "leader": s.get("leader"), "term": int(s.get("raftTerm", 0)),
                "commit": int(s.get("raftIndex", 0)), "applied": int(s.get("raftAppliedIndex", 0))}


SYSTEMS = {"warren": Warren, "etcd": Etcd}


def key_name(system, prefix, i):
    # Warren names: 1-64 of [A-Za-z0-9._-]; etcd keys: the same string.
    return f"{prefix}-{i:08d}" if system == "warren" else f"{prefix}/{i:08d}"


def seq(system, url, n, prefix):
    c = SYSTEMS[system](url)
    for i in range(20):  # warm-up: TLS session, JIT-free but caches and connections
        c.write(key_name(system, prefix + "w", i))
    lat, errors, first_error = [], 0, None
    t_start = time.perf_counter()
    deadline = t_start + 120
    for i in range(n):
        t0 = time.perf_counter()
        if t0 > deadline:
            break
        try:
            c.write(key_name(system, prefix, i))
        except Exception as e:  # noqa: BLE001 — counted and reported, never hidden
            errors += 1
            first_error = first_error or {"i": i, "error": str(e)[:400]}
            continue
        lat.append((time.perf_counter() - t0) * 1e6)
    el = time.perf_counter() - t_start
    c.close()
    s = sorted(lat)
    out = {"n": len(s), "errors": errors, "p50_us": pct(s, .5), "p90_us": pct(s, .9), "p99_us": pct(s, .99),
           "max_us": round(s[-1], 1) if s else None, "mean_us": round(sum(s) / len(s), 1) if s else None,
           "ops_per_s": round(len(s) / el, 1)}
    if first_error:
        out["first_error"] = first_error
    return out


def status_all(system, urls, timeout=1.0):
    out = []
    for u in urls:
        c = SYSTEMS[system](u, timeout)
        try:
            out.append(dict(c.status(), url=u))
        except Exception as e:  # noqa: BLE001
            out.append({"url": u, "error": str(e)[:200]})
        finally:
            c.close()
    return out


def no_leader(v):
    return v in (None, "", "0", 0)


def wait_ready(system, timeout, urls):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = status_all(system, urls)
        if all("error" not in s for s in last):
            leaders = {s["leader"] for s in last}
            top = max(s["commit"] for s in last)
            if len(leaders) == 1 and not no_leader(next(iter(leaders))) and all(s["applied"] >= top - 5 for s in last):
                try:
                    SYSTEMS[system](urls[0]).write(key_name(system, "ready", int(time.time() * 1000) % 10**8))
                    return {"ready": True, "status": last}
                except Exception as e:  # noqa: BLE001
                    last.append({"write_error": str(e)[:200]})
        time.sleep(0.1)
    return {"ready": False, "status": last}


def caught_up(system, timeout, name, urls):
    """Waits until the restarted member (urls[0]) applied the leader's commit index."""
    deadline = time.time() + timeout
    target, last = None, None
    t0 = time.perf_counter()
    while time.time() < deadline:
        last = status_all(system, urls)
        ok = [s for s in last if "error" not in s]
        if len(ok) == len(urls):
            leaders = {s["leader"] for s in ok}
            if len(leaders) == 1 and not no_leader(next(iter(leaders))):
                if target is None:
                    target = max(s["commit"] for s in ok)
                if ok[0]["applied"] >= target:
                    return {"caught_up": True, "member": name, "index": target,
                            "ms": round((time.perf_counter() - t0) * 1000, 1)}
        time.sleep(0.05)
    return {"caught_up": False, "member": name, "status": last}


def proc_starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2:].split()[19]
    except OSError:
        return None


def failover(system, members, timeout=20.0):
    cls = SYSTEMS[system]
    urls = [m["url"] for m in members]
    st = status_all(system, urls)
    if any("error" in s for s in st):
        return {"error": "cluster not healthy before kill", "status": st}
    by_member = {s["member"]: m for s, m in zip(st, members)}
    leader = st[0]["leader"]
    old_term = max(s["term"] for s in st)
    victim = by_member.get(leader)
    if victim is None:
        return {"error": f"leader {leader} not among members", "status": st}
    if proc_starttime(victim["pid"]) != str(victim["start"]):
        return {"error": f"pid {victim['pid']} is not the process we started"}
    survivors = [m for m in members if m is not victim]

    done = threading.Event()
    lock = threading.Lock()
    first_write, failures = [], {}

    def prober(url, t_kill, n):
        c = cls(url, timeout=3.0)
        try:
            c.write(key_name(system, f"fo{old_term}x{os.getpid()}", n))
            with lock:
                first_write.append((time.perf_counter() - t_kill, url))
            done.set()
        except Exception as e:  # noqa: BLE001 — expected while there is no leader; tallied
            kind = f"HTTP {e.status}" if isinstance(e, WriteError) else type(e).__name__
            with lock:
                failures[kind] = failures.get(kind, 0) + 1
        finally:
            c.close()

    t_kill = time.perf_counter()
    os.kill(int(victim["pid"]), signal.SIGKILL)
    deadline = t_kill + timeout
    threads, elected, new_leader, attempts, i = [], None, None, 0, 0
    next_probe = t_kill
    while time.perf_counter() < deadline and not (done.is_set() and elected is not None):
        now = time.perf_counter()
        if not done.is_set() and now >= next_probe and len(threads) < 400:
            th = threading.Thread(target=prober, args=(survivors[attempts % 2]["url"], t_kill, attempts), daemon=True)
            th.start()
            threads.append(th)
            attempts += 1
            next_probe = now + 0.025
        if elected is None:
            for s in status_all(system, [survivors[i % 2]["url"]], timeout=0.2):
                if "error" not in s and not no_leader(s["leader"]) and s["leader"] != leader and s["term"] > old_term:
                    elected = time.perf_counter() - t_kill
                    new_leader = by_member.get(s["leader"], {}).get("name", s["leader"])
            i += 1
        time.sleep(0.01)
    after = [x for x in status_all(system, [m["url"] for m in survivors]) if "error" not in x]
    with lock:
        return {"killed": victim["name"], "old_term": old_term,
                "new_term": max((x["term"] for x in after), default=None),
                "elected_ms": round(elected * 1000, 1) if elected is not None else None,
                "first_write_ms": round(min(first_write)[0] * 1000, 1) if first_write else None,
                "new_leader": new_leader, "write_attempts": attempts, "failed_attempts": dict(failures)}


def login(url, ca, cert, key, user="bench"):
    """Creates the operator `user` with the admin certificate, then logs in as it."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    u = urlparse(url)
    password = base64.b64encode(os.urandom(18)).decode()
    c = http.client.HTTPSConnection(u.hostname, u.port, timeout=10, context=ctx)
    c.request("POST", "/v1/users", json.dumps({"name": user, "role": "operator", "password": password}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    if r.status != 201:
        sys.exit(f"login: creating user {user}: HTTP {r.status} {body[:300]!r}")
    c.request("POST", "/v1/login", json.dumps({"username": user, "password": password}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"login: HTTP {r.status} {body[:300]!r}")
    return json.loads(body)["token"]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "login":
        print(login(*a[:5]))
    elif cmd == "seq":
        print(json.dumps(seq(a[0], a[1], int(a[2]), a[3])))
    elif cmd == "status":
        print(json.dumps(status_all(a[0], a[1:])))
    elif cmd == "wait-ready":
        r = wait_ready(a[0], float(a[1]), a[2:])
        print(json.dumps(r))
        sys.exit(0 if r["ready"] else 1)
    elif cmd == "roles":
        st = status_all(a[0], a[1:])
        by = {s["member"]: s for s in st if "error" not in s}
        leaders = {s["leader"] for s in by.values()}
        lead = by.get(next(iter(leaders))) if len(leaders) == 1 else None
        if lead is None or len(by) != len(st):
            sys.exit(f"roles: no single leader: {json.dumps(st)}")
        follower = next(s for s in by.values() if s is not lead)
        print(lead["url"], follower["url"], lead["member"])
    elif cmd == "caught-up":
        r = caught_up(a[0], float(a[1]), a[2], a[3:])
        print(json.dumps(r))
        sys.exit(0 if r["caught_up"] else 1)
    elif cmd == "failover":
        r = failover(a[0], json.loads(a[1]), float(a[2]) if len(a) > 2 else 20.0)
        print(json.dumps(r))
        sys.exit(1 if "error" in r else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
