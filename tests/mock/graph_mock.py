#!/usr/bin/env python3
"""graph_mock.py: a stand-in for Meta's Graph API (WhatsApp Cloud API) for integration tests.

POST /{version}/{phone_number_id}/messages answers like the Cloud API: a new wamid for a
message, {"success": true} for a mark-as-read. Every request is recorded.
Control routes:
  GET  /__health     200
  GET  /__requests   the recorded requests as a JSON array of
                     {"seq", "t" (time.time()), "method", "path",
                      "headers": {lower-case name: value}, "body": parsed JSON or the raw text,
                      "wamid": the id answered or null, "failed": the error status or absent,
                      "retry_after": the Retry-After it answered or absent}
  POST /__fail       queue error answers, body {"status": 400, "body": {...}, "count": 1,
                     "retry_after": 1 (optional: a Retry-After header)}
                     (body defaults to a Graph error with "code"; see below)
  POST /__hold       the next message send answers after "delay_ms" with the wamid "wamid"
                     (a status for it can then arrive before the sender has stored it)
  POST /__reset      forget requests and queued failures
Usage: graph_mock.py --port PORT
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"requests": [], "fail": [], "seq": 0, "hold": None}


def graph_error(code, message):
    return {"error": {"message": message, "type": "OAuthException", "code": code,
                      "error_data": {"messaging_product": "whatsapp", "details": message},
                      "fbtrace_id": "AbCdEfGhIjK"}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def answer(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        if self.path == "/__health":
            self.answer(200, {"ok": True})
        elif self.path == "/__requests":
            with LOCK:
                self.answer(200, STATE["requests"])
        else:
            self.answer(404, graph_error(100, "Unknown path components"))

    def do_POST(self):
        raw = self.read_body()
        if self.path == "/__reset":
            with LOCK:
                STATE["requests"].clear()
                STATE["fail"].clear()
            self.answer(200, {"ok": True})
            return
        if self.path == "/__hold":
            with LOCK:
                STATE["hold"] = json.loads(raw or b"{}")
            self.answer(200, {"ok": True})
            return
        if self.path == "/__fail":
            spec = json.loads(raw or b"{}")
            status = int(spec.get("status", 400))
            body = spec.get("body") or graph_error(int(spec.get("code", 131000)),
                                                   spec.get("message", "Something went wrong"))
            ra = spec.get("retry_after")
            with LOCK:
                for _ in range(int(spec.get("count", 1))):
                    STATE["fail"].append((status, body, ra))
            self.answer(200, {"queued": len(STATE["fail"])})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        parts = self.path.strip("/").split("/")
        with LOCK:
            STATE["seq"] += 1
            seq = STATE["seq"]
            rec = {"seq": seq, "t": time.time(), "method": "POST", "path": self.path,
                   "headers": {k.lower(): v for k, v in self.headers.items()},
                   "body": body, "wamid": None}
            STATE["requests"].append(rec)
            failure = STATE["fail"].pop(0) if STATE["fail"] else None
        if failure:
            rec["failed"] = failure[0]
            extra = {}
            if failure[2] is not None:
                rec["retry_after"] = failure[2]
                extra["Retry-After"] = str(failure[2])
            self.answer(failure[0], failure[1], extra)
            return
        if len(parts) != 3 or parts[2] != "messages":
            self.answer(404, graph_error(100, "Unknown path components"))
            return
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            self.answer(401, graph_error(190, "Invalid OAuth access token"))
            return
        if isinstance(body, dict) and body.get("status") == "read":
            self.answer(200, {"success": True})
            return
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp" \
                or not body.get("to"):
            self.answer(400, graph_error(100, "Invalid parameter"))
            return
        wamid = "wamid.MOCK%08d" % seq
        with LOCK:
            hold, STATE["hold"] = STATE["hold"], None
        if hold:
            wamid = hold.get("wamid", wamid)
            time.sleep(int(hold.get("delay_ms", 0)) / 1000.0)
        rec["wamid"] = wamid
        self.answer(200, {"messaging_product": "whatsapp",
                          "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                          "messages": [{"id": wamid}]})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
