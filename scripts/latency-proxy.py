#!/usr/bin/env python3
"""An HTTP proxy on loopback that adds a fixed delay to every request.

Used by the AWS benchmark (and one test) to give the emulator the latency of
a real AWS endpoint: each request waits DELAY_MS, then goes to the emulator.
Requests are handled concurrently, so parallel calls overlap as they would
against AWS. Usage: latency-proxy.py UPSTREAM_PORT LISTEN_PORT DELAY_MS
"""
import http.client
import http.server
import sys
import threading
import time

UPSTREAM = ("127.0.0.1", int(sys.argv[1]))
LISTEN = ("127.0.0.1", int(sys.argv[2]))
DELAY = int(sys.argv[3]) / 1000.0
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}
local = threading.local()


def upstream():
    if getattr(local, "conn", None) is None:
        local.conn = http.client.HTTPConnection(*UPSTREAM, timeout=120)
    return local.conn


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        time.sleep(DELAY)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        for attempt in range(2):
            try:
                conn = upstream()
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (ConnectionError, http.client.HTTPException):
                local.conn = None
                if attempt:
                    raise
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(LISTEN, Handler)
server.daemon_threads = True
# A client that goes away mid-request (a killed test) is not worth a traceback.
server.handle_error = lambda request, address: None
print("ready", flush=True)
server.serve_forever()
