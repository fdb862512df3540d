#!/usr/bin/env python3
"""A/B of two Warren builds or settings in the same minutes: two tunnels (KIND=tunnel,
Benchmarks/tunnel-up.sh) or two relay pairs (KIND=relay, Benchmarks/relay-up.sh, PKI in
/tmp/dp/pki from `warren pki init --nodes n1,n2`) side by side on one iperf3 server, and
iperf3 runs alternating between them (ABBA order). Prints Gbit/s, the Warren processes'
CPU-s per GB, their context switches per GB and the machine's load for every run.

usage: Benchmarks/tunnel-ab.py ROUNDS SECONDS STREAMS  BIN_A ENV_A  BIN_B ENV_B
  ENV: comma-separated K=V pairs for that side's processes, or '-'.
  RT=10: run every process it starts at SCHED_FIFO priority 10, so builds running beside
  it (nice 0) cannot take the CPU from the measured path: the only way on this shared
  2-core machine to see what a quiet machine would (keep runs short: others wait).
  Else NICE (default -10). Ports: 27211 (iperf3), 27411… and 27431… (the two sides).
"""
import os, sys, subprocess, time, json, signal
rounds, secs, par = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
cfgs = [(sys.argv[4], sys.argv[5], 27411), (sys.argv[6], sys.argv[7], 27431)]
NICE = ["chrt", "-f", os.environ["RT"]] if os.environ.get("RT") else ["nice", "-n", os.environ.get("NICE", "-10")]
KIND = os.environ.get("KIND", "tunnel")
HZ = os.sysconf("SC_CLK_TCK")
iperf = subprocess.Popen(NICE + ["iperf3", "-s", "-B", "127.0.0.1", "-p", "27211"], stdout=subprocess.DEVNULL, start_new_session=True)
ups = []
for bin_, envs, port in cfgs:
    env = dict(os.environ, WARREN_BIN=bin_, HOST="127.0.0.1", IPERF_PORT="27211", ECHO_PORT="27299",
               EXT_IPERF_PORT=str(port), EXT_ECHO_PORT=str(port + 1))
    if envs != "-":
        for kv in envs.split(","):
            k, v = kv.split("="); env[k] = v
    env["WARREN_PKI"] = os.environ.get("WARREN_PKI", "/tmp/dp/pki")
    ups.append(subprocess.Popen(NICE + ["bash", os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{KIND}-up.sh")], env=env, start_new_session=True))
def kids(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out if "warren" in open(f"/proc/{p}/cmdline").read() or KIND == "tunnel"]
def ticks(pids):
    t = 0; cs = 0
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            t += int(f[11]) + int(f[12])
            for task in os.listdir(f"/proc/{p}/task"):
                st = open(f"/proc/{p}/task/{task}/status").read()
                for line in st.splitlines():
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")): cs += int(line.split()[1])
        except FileNotFoundError: pass
    return t, cs
def foreign_busy():
    f = open("/proc/stat").readline().split()[1:]
    v = list(map(int, f)); return sum(v) - v[3] - v[4], sum(v)
try:
    for _b, _e, port in cfgs:
        for _ in range(300):
            if KIND == "relay":
                if subprocess.run(f"ss -Htln '( sport = :{port} )' | grep -q .", shell=True).returncode == 0: break
                time.sleep(0.1); continue
            conn = subprocess.run(["pgrep", "-P", str(ups[cfgs.index((_b, _e, port))].pid), "-f", "warren.* connector "], capture_output=True, text=True).stdout.split()
            if conn and subprocess.run(f"ss -Htnp state established '( dport = :{port + 140} )' | grep -q 'pid={conn[0]},'", shell=True).returncode == 0: break
            time.sleep(0.1)
        time.sleep(0.5)
    res = {0: [], 1: []}
    for r in range(rounds):
        for i, (_, envs, port) in enumerate(cfgs if r % 2 == 0 else cfgs[::-1]):
            i = cfgs.index((_, envs, port))
            pids = kids(ups[i].pid)
            t0, c0 = ticks(pids); b0 = foreign_busy(); w0 = time.time()
            out = subprocess.run(NICE + ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(secs), "-P", par, "-J"], capture_output=True, text=True).stdout
            t1, c1 = ticks(pids); b1 = foreign_busy(); w1 = time.time()
            d = json.loads(out)
            if "sum_received" not in d.get("end", {}):
                print("iperf3 error:", d.get("error"), flush=True); time.sleep(1); continue
            bps = d["end"]["sum_received"]["bits_per_second"]
            gbytes = d["end"]["sum_received"]["bytes"] / 1e9
            cpu = (t1 - t0) / HZ
            busy = (b1[0] - b0[0]) / (b1[1] - b0[1]) * 200
            res[i].append((bps / 1e9, cpu / gbytes, (c1 - c0) / gbytes))
            print(f"round {r} {'AB'[i]} ({envs}): {bps/1e9:6.2f} Gbit/s  cpu-s/GB {cpu/gbytes:5.2f}  tunnel cpu {cpu/(w1-w0)*100:5.1f}%  ctxsw/GB {(c1-c0)/gbytes:8.0f}  machine busy {busy:5.1f}%  load {open('/proc/loadavg').read().split()[0]}", flush=True)
    for i in (0, 1):
        g = sorted(x[0] for x in res[i]); c = sorted(x[1] for x in res[i])
        print(f"{'AB'[i]} {cfgs[i][1]}: median {g[len(g)//2]:.2f} Gbit/s, median cpu-s/GB {c[len(c)//2]:.2f}")
finally:
    for p in ups + [iperf]:
        try: os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError: pass
