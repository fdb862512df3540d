#!/usr/bin/env python3
"""Opens N idle TCP sessions to HOST:PORT, each proven live by a 1-byte echo, holds them
until stdin closes, then closes them. Prints one line per phase for the driver script.
Usage: idle_client.py HOST PORT N"""
import socket, sys, time

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
t0 = time.time()
failed = 0
for i in range(n):
    try:
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise OSError("no echo")
        socks.append(s)
    except OSError as e:
        failed += 1
        if failed <= 3:
            print("session %d failed: %s" % (i, e), file=sys.stderr, flush=True)
        if failed > 10:
            print("FAILED after %d sessions" % len(socks), flush=True)
            sys.exit(1)
print("OPEN %d %.1f" % (len(socks), time.time() - t0), flush=True)
sys.stdin.read()
for s in socks:
    s.close()
print("CLOSED", flush=True)
