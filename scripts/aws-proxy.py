#!/usr/bin/env python3
"""An HTTP proxy on loopback in front of the AWS emulator, for tests and
benchmarks: what a real endpoint does to a client that moto does not.

- --delay-ms N: every request waits N ms first (a real endpoint's latency).
  Requests are handled concurrently, so parallel calls overlap as they would
  against AWS.
- --throttle SHARE --seed N: that share of requests (drawn from a seeded
  generator, so a trial can be repeated) is answered with the service's own
  throttling error, as a busy account gets it: EC2 RequestLimitExceeded
  (503), IAM/ELB/STS Throttling (400), S3 SlowDown (503), DynamoDB
  ThrottlingException (400). The service is read from the request's SigV4
  credential scope. moto's own API (/moto-api/) is never throttled.
- GET /_proxy/stats: {"requests", "throttled", "maxInFlight"} as JSON:
  how many calls came, how many were throttled, and the most that were in
  flight at once (counted from arrival to answer).

Usage: aws-proxy.py UPSTREAM_PORT LISTEN_PORT [--delay-ms N] [--throttle SHARE --seed N]
Prints "ready" once listening.
"""
import argparse
import http.client
import http.server
import json
import random
import re
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("upstream", type=int)
p.add_argument("listen", type=int)
p.add_argument("--delay-ms", type=int, default=0)
p.add_argument("--throttle", type=float, default=0.0)
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()

UPSTREAM = ("127.0.0.1", args.upstream)
DELAY = args.delay_ms / 1000.0
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
local = threading.local()
lock = threading.Lock()
draws = random.Random(args.seed)
stats = {"requests": 0, "throttled": 0, "maxInFlight": 0}
in_flight = 0


def throttling(service):
    """(status, content type, body) of the service's throttling error."""
    if service == "ec2":
        return 503, "text/xml", (
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
            "<Message>Request limit exceeded.</Message></Error></Errors>"
            "<RequestID>throttled</RequestID></Response>")
    if service == "s3":
        return 503, "application/xml", (
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
            "<RequestId>throttled</RequestId></Error>")
    if service == "dynamodb":
        return 400, "application/x-amz-json-1.0", json.dumps({
            "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
            "message": "Rate of requests exceeds the allowed throughput."})
    return 400, "text/xml", (
        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
        "<Message>Rate exceeded</Message></Error><RequestId>throttled</RequestId></ErrorResponse>")


def upstream():
    if getattr(local, "conn", None) is None:
        local.conn = http.client.HTTPConnection(*UPSTREAM, timeout=120)
    return local.conn


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def forward(self):
        global in_flight
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.path == "/_proxy/stats":
            with lock:
                data = json.dumps(stats).encode()
            return self.answer(200, [("Content-Type", "application/json")], data)
        ours = not self.path.startswith("/moto-api/")
        with lock:
            if ours:
                stats["requests"] += 1
                in_flight += 1
                stats["maxInFlight"] = max(stats["maxInFlight"], in_flight)
            throttle = ours and args.throttle > 0 and draws.random() < args.throttle
            if throttle:
                stats["throttled"] += 1
        try:
            time.sleep(DELAY)
            if throttle:
                m = SCOPE.search(self.headers.get("Authorization", ""))
                status, ctype, text = throttling(m.group(1) if m else "")
                return self.answer(status, [("Content-Type", ctype)], text.encode())
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
            self.answer(resp.status, resp.getheaders(), data)
        finally:
            if ours:
                with lock:
                    in_flight -= 1

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", args.listen), Handler)
server.daemon_threads = True
# A client that goes away mid-request (a killed test) is not worth a traceback.
server.handle_error = lambda request, address: None
print("ready", flush=True)
server.serve_forever()
