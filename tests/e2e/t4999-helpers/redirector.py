#!/usr/bin/env python3
"""An HTTPS registry front that sends blobs elsewhere (test use only).

GET /v2/ answers 200; GET /v2/<repo>/manifests/<ref> answers MANIFEST (an OCI image manifest
file); every other GET or HEAD answers 307 with Location TARGET + the request path, the way a
registry sends blob downloads to object storage. Listens on 127.0.0.1:PORT with CERT and KEY.

usage: redirector.py PORT CERT KEY MANIFEST TARGET
"""
import ssl, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, cert, key, manifest, target = sys.argv[1:6]
body = open(manifest, "rb").read()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, with_body):
        if self.path == "/v2/":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            if with_body:
                self.wfile.write(b"{}")
        elif "/manifests/" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)
        else:
            self.send_response(307)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def do_GET(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)


srv = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
