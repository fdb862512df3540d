#!/usr/bin/env python3
"""A selectors-based echo server for many idle connections. Usage: echo_server.py HOST PORT"""
import selectors, socket, sys

sel = selectors.DefaultSelector()
listener = socket.create_server((sys.argv[1], int(sys.argv[2])), backlog=4096, reuse_port=False)
listener.setblocking(False)
sel.register(listener, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is listener:
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.setblocking(False)
            sel.register(conn, selectors.EVENT_READ)
        else:
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if data:
                try:
                    conn.sendall(data)
                except OSError:
                    pass
            else:
                sel.unregister(conn)
                conn.close()
