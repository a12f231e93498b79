#!/usr/bin/env python3
"""sink_mock.py: a recording receiver for the dispatcher's tests. It stands in for the Graph
API (answers POST .../messages in WhatsApp's JSON) and for sellers' webhook receivers (checks
X-CCGW-Signature against a secret it was given and answers 401 on a bad one), records every
request, and can be told to answer errors.

Control (JSON bodies):
  GET  /__health                 200
  GET  /__requests               [{"seq", "t", "path", "headers", "body", "status",
                                   "answered", "sig_ok"}] in arrival order; t in seconds
                                   (time.time()); answered is false when the client was gone
  POST /__reset                  forget requests, rules and secrets
  POST /__rules   [rule, ...]    appended; the first rule that matches a request and has
                                 uses left decides the answer:
                                 {"match": "text in path or body" (optional),
                                  "times": N (optional, default unlimited),
                                  "status": 429, "headers": {"Retry-After": "1"},
                                  "body": {...} or "text" (optional),
                                  "delay_ms": 0 (answer after this long: timeouts)}
  POST /__clear_rules            forget the rules, keep the recorded requests
  POST /__secret  {"prefix": "/hook", "secret": "..."}   verify signatures under a path prefix
Usage: sink_mock.py --port P"""
import argparse
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"requests": [], "rules": [], "secrets": [], "seq": 0}


def wa_ok(body, seq):
    to = ""
    try:
        to = json.loads(body).get("to", "")
    except Exception:
        pass
    return {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": "wamid.mock%06d" % seq}]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, obj=None, headers=None, text=None):
        data = text.encode() if text is not None else json.dumps(obj if obj is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        # head and body in one write: two small writes meet delayed ACKs (40 ms each)
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(data)
        self.flush_headers()

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode("utf-8", "replace") if n else ""

    def do_GET(self):
        if self.path == "/__health":
            self.answer(200, {"ok": True})
        elif self.path == "/__requests":
            with LOCK:
                data = list(STATE["requests"])
            self.answer(200, data)
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self):
        body = self.read_body()
        if self.path == "/__reset":
            with LOCK:
                STATE["requests"].clear()
                STATE["rules"].clear()
                STATE["secrets"].clear()
            self.answer(200, {"ok": True})
            return
        if self.path == "/__clear_rules":
            with LOCK:
                STATE["rules"].clear()
            self.answer(200, {"ok": True})
            return
        if self.path == "/__rules":
            with LOCK:
                STATE["rules"].extend(json.loads(body))
            self.answer(200, {"ok": True})
            return
        if self.path == "/__secret":
            with LOCK:
                STATE["secrets"].append(json.loads(body))
            self.answer(200, {"ok": True})
            return
        self.record(body)

    def record(self, body):
        now = time.time()
        with LOCK:
            STATE["seq"] += 1
            seq = STATE["seq"]
            rule = None
            for r in STATE["rules"]:
                m = r.get("match")
                if m and m not in self.path and m not in body:
                    continue
                if r.get("times") is not None:
                    if r["times"] <= 0:
                        continue
                    r["times"] -= 1
                rule = r
                break
            secret = None
            for s in STATE["secrets"]:
                if self.path.startswith(s["prefix"]):
                    secret = s["secret"]
            rec = {"seq": seq, "t": now, "path": self.path,
                   "headers": {k.lower(): v for k, v in self.headers.items()},
                   "body": body, "status": 0, "answered": False, "sig_ok": None}
            STATE["requests"].append(rec)
        status, obj, headers, text = 200, None, None, None
        if secret is not None:
            want = "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
            got = self.headers.get("X-CCGW-Signature", "")
            rec["sig_ok"] = hmac.compare_digest(want, got)
            if not rec["sig_ok"]:
                status, obj = 401, {"error": "bad signature"}
        if rule is not None and status == 200:
            status = rule.get("status", 200)
            headers = rule.get("headers")
            b = rule.get("body")
            if isinstance(b, str):
                text = b
            else:
                obj = b
            if rule.get("delay_ms"):
                time.sleep(rule["delay_ms"] / 1000.0)
        if obj is None and text is None:
            obj = wa_ok(body, seq) if status < 300 else {"error": {"message": "mock error", "code": status}}
        rec["status"] = status
        try:
            self.answer(status, obj, headers, text)
            rec["answered"] = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    ThreadingHTTPServer.request_queue_size = 256  # many connections open at once
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
