#!/usr/bin/env python3
"""An OCSP responder for the tests, on 127.0.0.1 only (`openssl ocsp -port` binds every interface).

Each POSTed request is answered by `openssl ocsp` itself (-reqin/-respout), signed with the test
CA, from an OpenSSL index file the test edits (V = valid, R = revoked). It fails on demand: a file
named `mode` next to the index holding `error` answers HTTP 500, `garbage` answers bytes that are
not an OCSP response, `huge` 200 KB of them, `drip` a byte every half second. Prints `listening on 127.0.0.1:PORT` once ready, and `request` for each
request.

    ocsp_responder.py DIRECTORY   (DIRECTORY holds ca.pem, ca.key, index.txt)
"""
import http.server
import os
import subprocess
import sys
import tempfile
import time

directory = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        if length > 65536 or self.headers.get("content-type") != "application/ocsp-request":
            self.send_error(400)
            return
        request = self.rfile.read(length)
        print("request", flush=True)
        mode = ""
        try:
            with open(os.path.join(directory, "mode")) as f:
                mode = f.read().strip()
        except FileNotFoundError:
            pass
        if mode == "error":
            self.send_error(500)
            return
        if mode == "garbage":
            self.reply(b"not an OCSP response")
            return
        if mode == "drip":
            self.send_response(200)
            self.send_header("content-type", "application/ocsp-response")
            self.send_header("content-length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b"\x30")
                self.wfile.flush()
                time.sleep(0.5)
            return
        if mode == "huge":
            self.reply(b"\x30" * 200_000)
            return
        with tempfile.TemporaryDirectory() as scratch:
            reqin, respout = os.path.join(scratch, "req.der"), os.path.join(scratch, "resp.der")
            with open(reqin, "wb") as f:
                f.write(request)
            ca = os.path.join(directory, "ca.pem")
            subprocess.run(["openssl", "ocsp", "-index", os.path.join(directory, "index.txt"), "-CA", ca,
                            "-rsigner", ca, "-rkey", os.path.join(directory, "ca.key"), "-nmin", "10",
                            "-reqin", reqin, "-respout", respout],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
            with open(respout, "rb") as f:
                self.reply(f.read())

    def reply(self, body):
        self.send_response(200)
        self.send_header("content-type", "application/ocsp-response")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
