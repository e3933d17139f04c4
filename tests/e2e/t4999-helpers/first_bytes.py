#!/usr/bin/env python3
"""Records how each TCP connection begins, then hangs up (test use only).

Proves what a client sent first without answering it: every connection's first bytes go to LOG
as one line, "tls" for a TLS handshake record (0x16 0x03) and otherwise the bytes as text (an
HTTP request line starts "GET /v2/ ..."). Listens on 127.0.0.1:PORT; prints nothing.

usage: first_bytes.py PORT LOG
"""
import socket, sys, threading

port, log = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()


def handle(conn):
    conn.settimeout(5)
    try:
        data = conn.recv(64)
    except OSError:
        data = b""
    if data:
        line = "tls" if data[:2] == b"\x16\x03" else data.split(b"\r\n")[0].decode("latin-1")
        with lock, open(log, "a") as f:
            f.write(line + "\n")
    conn.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
