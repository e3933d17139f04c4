#!/usr/bin/env python3
"""A small HTTP proxy in front of a registry that injects faults (test use only).

usage: fault_proxy.py PORT UPSTREAM_PORT LOG [RULE...]
Rules:
  corrupt=DIGEST      GET of that blob: one byte of the body is flipped (length unchanged);
                      only under /v2/bad/ when the path has such a prefix rule (corrupt-any=1: anywhere)
  429=PATHPART:N:S    the first N requests whose path contains PATHPART get 429, Retry-After: S
  slow=BYTES_PER_S    blob GET bodies under /v2/slow/ are sent at about this rate
Every request is logged as "time method path status" in LOG.
"""
import http.client, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, upstream, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
corrupt, slow, limits, corrupt_any = set(), 0, [], False
for r in sys.argv[4:]:
    k, v = r.split("=", 1)
    if k == "corrupt":
        corrupt.add(v)
    elif k == "corrupt-any":
        corrupt_any = True
    elif k == "slow":
        slow = int(v)
    elif k == "429":
        part, n, s = v.rsplit(":", 2)
        limits.append([part, int(n), s])
lock = threading.Lock()


def note(method, path, status):
    with lock, open(log, "a") as f:
        f.write("%.3f %s %s %d\n" % (time.time(), method, path, status))


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        with lock:
            for lim in limits:
                if lim[0] in self.path and lim[1] > 0:
                    lim[1] -= 1
                    retry = lim[2]
                    break
            else:
                retry = None
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if retry is not None:
            self.send_response(429)
            self.send_header("Retry-After", retry)
            self.send_header("Content-Length", "0")
            self.end_headers()
            note(self.command, self.path, 429)
            return
        try:
            c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            headers["Host"] = "127.0.0.1:%d" % upstream
            c.request(self.command, self.path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
        except OSError:
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            note(self.command, self.path, 502)
            return
        is_blob = self.command == "GET" and "/blobs/sha256:" in self.path and r.status == 200
        bad_path = corrupt_any or self.path.startswith("/v2/bad/")
        if is_blob and bad_path and any(d in self.path for d in corrupt) and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            if k.lower() == "location":
                v = v.replace("127.0.0.1:%d" % upstream, "127.0.0.1:%d" % port)
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        note(self.command, self.path, r.status)
        if self.command == "HEAD":
            return
        if is_blob and slow and self.path.startswith("/v2/slow/"):
            step = max(1, slow // 20)
            for i in range(0, len(data), step):
                self.wfile.write(data[i:i + step])
                time.sleep(0.05)
        else:
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
