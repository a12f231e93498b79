#!/usr/bin/env python3
"""telegram_mock.py: a stand-in for the Telegram Bot API for integration tests.

Bot API routes: POST or GET /bot<token>/<method>, the token being anything up to the next '/'.
Parameters come as a JSON body (Content-Type: application/json), as form fields
(application/x-www-form-urlencoded or multipart/form-data) or in the query string; all are
merged (body fields win). Form and query values stay strings, as sent. Every Bot API request
is recorded. Answers are {"ok": true, "result": ...}:
  sendMessage            a Message {"message_id" (1, 2, ... per chat), "date", "from" (the bot),
                         "chat": {"id": chat_id (an int when numeric), "type": "private"
                         ("group" for a negative id, "supergroup" for -100..., "channel" for
                         "@name")}, "text"} plus "reply_markup" when one was given
                         (400 "Bad Request: chat_id is empty" / "Bad Request: message text is
                         empty" when one is missing)
  editMessageText        a Message like sendMessage's with the given message_id and an
  editMessageReplyMarkup "edit_date" (true instead when inline_message_id is given)
  answerCallbackQuery, setWebhook, deleteWebhook, setMyCommands      true
  getMe                  {"id": the digits before ':' in the token, "is_bot": true,
                         "first_name": "Mock", "username": "mock_bot"}
  getWebhookInfo         {"url": the last setWebhook url or "", "has_custom_certificate": false,
                         "pending_update_count": 0}
  getUpdates             long polling on the token's update queue (offset, limit, timeout,
                         allowed_updates): an offset drops the queued updates with a lower
                         update_id (a negative offset keeps only the last -offset updates);
                         answers at most limit (default and cap 100) of the queued updates, in
                         update_id order, and while there are none waits up to timeout seconds
                         (default 0, cap 30) for some. A non-empty allowed_updates list is
                         remembered for the token (as Telegram does; [] means everything) and
                         updates of other types are not delivered. A poll whose client hangs up
                         while waiting stops counting as in flight.
                         409 {"ok": false, "error_code": 409, "description": "Conflict: can't use
                         getUpdates method while webhook is active; ..."} while a webhook is set
                         (setWebhook with a non-empty url, no deleteWebhook or setWebhook with
                         url "" since);
                         409 "Conflict: terminated by other getUpdates request; ..." at once for
                         a getUpdates that arrives while another for the same token is in flight
                         (counted in /__polls "conflicts").
  any other method       404 {"ok": false, "error_code": 404, "description": "Not Found"}
setWebhook/deleteWebhook with drop_pending_updates=true empty the token's queue.
Control routes:
  GET  /__health     200 {"ok": true}
  GET  /__requests   the recorded Bot API requests as a JSON array of
                     {"seq", "t" (time.time()), "method" (the Bot API method, e.g.
                      "sendMessage"), "token", "http_method", "path",
                      "headers": {lower-case name: value}, "body": the parameters as a dict,
                      "failed": the status when a queued failure answered it, else absent};
                     ?method=sendMessage and/or ?token=... keep only the matching ones
  GET  /__polls      {"<token>": {"in_flight": n, "total": n, "conflicts": n}} counting the
                     getUpdates calls (all of them, whatever they were answered)
  POST /__updates    body {"token": "...", "updates": [Update, ...]}: queue updates for the
                     token; one without "update_id" gets the next one of a per-token counter
                     starting at 100000000 (the counter moves past ids a test gives);
                     answers {"update_ids": [...]}
  POST /__fail       body {"method": "sendMessage" or "*", "status": 429|403|401|400|500,
                     "description": "..." (optional), "retry_after": N (optional, 429 only),
                     "parameters": {...} (optional, extra), "token": "..." (optional: only
                     this token's requests), "count": 1}: the next count matching requests
                     are answered {"ok": false, "error_code": status, "description": ...,
                     "parameters": {"retry_after": N}} (parameters only when not empty).
                     Default descriptions: 429 "Too Many Requests: retry after N", 403
                     "Forbidden: bot was blocked by the user", 401 "Unauthorized", 400 "Bad
                     Request: chat not found", 500 "Internal Server Error".
                     "*" matches every method except getUpdates (a poller would eat it);
                     name getUpdates to fail polls. Answers {"queued": n}.
  POST /__reset      forget everything (requests, queues, polls, webhooks, failures, counters);
                     polls waiting at that moment answer an empty result
Usage: telegram_mock.py --port PORT
"""
import argparse
import email.parser
import email.policy
import json
import re
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
COND = threading.Condition(LOCK)
FIRST_UPDATE_ID = 100000000
POLL_CAP = 30


def fresh_state():
    return {"requests": [], "fail": [], "seq": 0, "gen": 0,
            "queues": {},        # token -> [update, ...] in update_id order
            "next_update": {},   # token -> next update_id to assign
            "polls": {},         # token -> {"in_flight", "total", "conflicts"}
            "webhooks": {},      # token -> url (only while one is set)
            "allowed": {},       # token -> [update types] (non-empty lists only)
            "message_ids": {},   # chat key -> last message_id sent
            "messages": {}}      # (chat key, message_id) -> Message


STATE = fresh_state()

DEFAULT_DESCRIPTIONS = {
    403: "Forbidden: bot was blocked by the user",
    401: "Unauthorized",
    400: "Bad Request: chat not found",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
         "make sure that only one bot instance is running",
    500: "Internal Server Error",
}
WEBHOOK_CONFLICT = ("Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first")
POLL_CONFLICT = DEFAULT_DESCRIPTIONS[409]


def tg_error(status, description, parameters=None):
    obj = {"ok": False, "error_code": status, "description": description}
    if parameters:
        obj["parameters"] = parameters
    return obj


def chat_id_value(v):
    """chat_id as given, turned into an int when it is numeric."""
    if isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v.strip()):
        return int(v.strip())
    return v


def chat_type(cid):
    if isinstance(cid, int):
        if cid >= 0:
            return "private"
        return "supergroup" if str(cid).startswith("-100") else "group"
    if isinstance(cid, str) and cid.startswith("@"):
        return "channel"
    return "private"


def maybe_json(v):
    """Form fields carry objects (reply_markup, allowed_updates) as JSON text."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def truthy(v):
    return v is True or (isinstance(v, str) and v.lower() in ("true", "1")) or v == 1


def int_param(params, name, default):
    v = params.get(name)
    if v is None or v == "":
        return default
    if isinstance(v, bool):
        raise ValueError(name)
    return int(float(v)) if isinstance(v, (str, float)) else int(v)


def bot_user(token):
    head = token.split(":", 1)[0]
    return {"id": int(head) if head.isdigit() else 0, "is_bot": True,
            "first_name": "Mock", "username": "mock_bot"}


def update_type(update):
    for k in update:
        if k != "update_id":
            return k
    return None


def poll_stats(token):
    return STATE["polls"].setdefault(token, {"in_flight": 0, "total": 0, "conflicts": 0})


def take_failure(method, token):
    """The first queued failure for this request, removed from the queue (LOCK held)."""
    for i, f in enumerate(STATE["fail"]):
        if f["token"] is not None and f["token"] != token:
            continue
        if f["method"] == method or (f["method"] == "*" and method != "getUpdates"):
            return STATE["fail"].pop(i)
    return None


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
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def peer_gone(self):
        """True when the client closed the connection (checked while a poll waits)."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # ---- request parsing ----

    def parse_params(self, query, raw):
        """Query string, then the body's fields; raises ValueError on a bad body."""
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        ctype = self.headers.get("Content-Type", "")
        mime = ctype.split(";")[0].strip().lower()
        if not raw:
            return params
        if mime == "application/json":
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("the JSON body is not an object")
            params.update(body)
        elif mime == "multipart/form-data":
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + raw)
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not name:
                    continue
                data = part.get_payload(decode=True) or b""
                if part.get_filename():
                    params[name] = {"filename": part.get_filename(), "size": len(data)}
                else:
                    params[name] = data.decode("utf-8", "replace")
        else:  # form fields (also what a body without a Content-Type is taken as)
            for k, v in parse_qs(raw.decode("utf-8", "replace"),
                                 keep_blank_values=True).items():
                params[k] = v[-1]
        return params

    def control_json(self, raw):
        try:
            obj = json.loads(raw or b"{}")
        except ValueError:
            return None
        return obj if isinstance(obj, dict) else None

    # ---- routing ----

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, http_method):
        raw = self.read_body()
        url = urlsplit(self.path)
        path = url.path
        if path.startswith("/bot"):
            self.bot_api(http_method, path, url.query, raw)
        elif path == "/__health":
            self.answer(200, {"ok": True})
        elif path == "/__requests" and http_method == "GET":
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            with LOCK:
                out = json.loads(json.dumps(
                    [r for r in STATE["requests"]
                     if ("method" not in q or r["method"] == q["method"])
                     and ("token" not in q or r["token"] == q["token"])]))
            self.answer(200, out)
        elif path == "/__polls" and http_method == "GET":
            with LOCK:
                out = json.loads(json.dumps(STATE["polls"]))
            self.answer(200, out)
        elif path == "/__reset" and http_method == "POST":
            with LOCK:
                gen = STATE["gen"] + 1
                STATE.clear()
                STATE.update(fresh_state())
                STATE["gen"] = gen
                COND.notify_all()
            self.answer(200, {"ok": True})
        elif path == "/__updates" and http_method == "POST":
            self.queue_updates(self.control_json(raw))
        elif path == "/__fail" and http_method == "POST":
            self.queue_failure(self.control_json(raw))
        else:
            self.answer(404, tg_error(404, "Not Found"))

    def queue_updates(self, spec):
        if spec is None or not isinstance(spec.get("token"), str) or not spec["token"] \
                or not isinstance(spec.get("updates"), list) \
                or not all(isinstance(u, dict) for u in spec["updates"]):
            self.answer(400, {"error": 'want {"token": "...", "updates": [{...}, ...]}'})
            return
        token = spec["token"]
        ids = []
        with LOCK:
            queue = STATE["queues"].setdefault(token, [])
            nxt = STATE["next_update"].get(token, FIRST_UPDATE_ID)
            for u in spec["updates"]:
                uid = u.get("update_id")
                if not isinstance(uid, int) or isinstance(uid, bool):
                    uid = nxt
                u = dict({"update_id": uid}, **{k: v for k, v in u.items() if k != "update_id"})
                nxt = max(nxt, u["update_id"] + 1)
                queue.append(u)
                ids.append(u["update_id"])
            queue.sort(key=lambda x: x["update_id"])
            STATE["next_update"][token] = nxt
            COND.notify_all()
        self.answer(200, {"update_ids": ids})

    def queue_failure(self, spec):
        if spec is None:
            self.answer(400, {"error": "want a JSON object"})
            return
        status = int(spec.get("status", 400))
        params = dict(spec.get("parameters") or {})
        ra = spec.get("retry_after")
        if status == 429 and ra is not None:
            params["retry_after"] = int(ra)
        desc = spec.get("description")
        if not desc:
            if status == 429:
                desc = "Too Many Requests: retry after %d" % int(ra) if ra is not None \
                    else "Too Many Requests"
            else:
                desc = DEFAULT_DESCRIPTIONS.get(status, "Error")
        entry = {"method": spec.get("method", "*"), "token": spec.get("token"),
                 "status": status, "body": tg_error(status, desc, params)}
        with LOCK:
            for _ in range(int(spec.get("count", 1))):
                STATE["fail"].append(entry)
            n = len(STATE["fail"])
        self.answer(200, {"queued": n})

    # ---- the Bot API ----

    def bot_api(self, http_method, path, query, raw):
        rest = path[len("/bot"):]
        token, _, method = rest.partition("/")
        bad_body = None
        try:
            params = self.parse_params(query, raw)
        except (ValueError, UnicodeDecodeError) as e:
            params = {"_raw": raw.decode("utf-8", "replace")}
            bad_body = str(e)
        with LOCK:
            STATE["seq"] += 1
            rec = {"seq": STATE["seq"], "t": time.time(), "method": method, "token": token,
                   "http_method": http_method, "path": self.path,
                   "headers": {k.lower(): v for k, v in self.headers.items()},
                   "body": params}
            STATE["requests"].append(rec)
            if method == "getUpdates":
                poll_stats(token)["total"] += 1
            failure = take_failure(method, token)
            if failure:
                rec["failed"] = failure["status"]
        if failure:
            self.answer(failure["status"], failure["body"])
            return
        if not token or not method:
            self.answer(404, tg_error(404, "Not Found"))
            return
        if bad_body is not None:
            self.answer(400, tg_error(400, "Bad Request: can't parse request body: "
                                      + bad_body))
            return
        handler = getattr(self, "m_" + method, None)
        if handler is None:
            self.answer(404, tg_error(404, "Not Found"))
            return
        try:
            result = handler(token, params)
        except (ValueError, TypeError) as e:
            self.answer(400, tg_error(400, "Bad Request: " + str(e)))
            return
        if result is None:  # the method answered itself
            return
        if isinstance(result, tuple):
            self.answer(result[0], result[1])
        else:
            self.answer(200, {"ok": True, "result": result})

    def message(self, token, params, message_id, text=None):
        cid = chat_id_value(params.get("chat_id"))
        msg = {"message_id": message_id, "from": bot_user(token), "date": int(time.time()),
               "chat": {"id": cid, "type": chat_type(cid)}}
        if text is not None:
            msg["text"] = text
        if params.get("reply_markup") not in (None, ""):
            msg["reply_markup"] = maybe_json(params["reply_markup"])
        return msg

    def m_sendMessage(self, token, params):
        if "reply_markup" in params and not isinstance(params["reply_markup"], (dict, str)):
            # the Bot API refuses a null (or any non-object) markup
            return 400, tg_error(400, "Bad Request: object expected as reply markup")
        if params.get("chat_id") in (None, ""):
            return 400, tg_error(400, "Bad Request: chat_id is empty")
        if params.get("text") in (None, ""):
            return 400, tg_error(400, "Bad Request: message text is empty")
        key = str(chat_id_value(params["chat_id"]))
        with LOCK:
            mid = STATE["message_ids"].get(key, 0) + 1
            STATE["message_ids"][key] = mid
            msg = self.message(token, params, mid, params["text"])
            STATE["messages"][(key, mid)] = msg
        return msg

    def edit(self, token, params, text):
        if params.get("inline_message_id") not in (None, ""):
            return True
        if params.get("chat_id") in (None, ""):
            return 400, tg_error(400, "Bad Request: chat_id is empty")
        if params.get("message_id") in (None, ""):
            return 400, tg_error(400, "Bad Request: message identifier is not specified")
        mid = int_param(params, "message_id", 0)
        key = str(chat_id_value(params["chat_id"]))
        with LOCK:
            old = STATE["messages"].get((key, mid), {})
            if text is None:
                text = old.get("text")
            msg = self.message(token, params, mid, text)
            if "date" in old:
                msg["date"] = old["date"]
            msg["edit_date"] = int(time.time())
            STATE["messages"][(key, mid)] = msg
        return msg

    def m_editMessageText(self, token, params):
        if "reply_markup" in params and not isinstance(params["reply_markup"], (dict, str)):
            return 400, tg_error(400, "Bad Request: object expected as reply markup")
        if params.get("text") in (None, ""):
            return 400, tg_error(400, "Bad Request: message text is empty")
        return self.edit(token, params, params["text"])

    def m_editMessageReplyMarkup(self, token, params):
        return self.edit(token, params, None)

    def m_answerCallbackQuery(self, token, params):
        return True

    def m_setMyCommands(self, token, params):
        return True

    def m_setWebhook(self, token, params):
        url = params.get("url") or ""
        with LOCK:
            if url:
                STATE["webhooks"][token] = url
            else:
                STATE["webhooks"].pop(token, None)
            if truthy(params.get("drop_pending_updates")):
                STATE["queues"].pop(token, None)
        return True

    def m_deleteWebhook(self, token, params):
        with LOCK:
            STATE["webhooks"].pop(token, None)
            if truthy(params.get("drop_pending_updates")):
                STATE["queues"].pop(token, None)
        return True

    def m_getMe(self, token, params):
        return bot_user(token)

    def m_getWebhookInfo(self, token, params):
        with LOCK:
            url = STATE["webhooks"].get(token, "")
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

    def m_getUpdates(self, token, params):
        offset = int_param(params, "offset", None)
        limit = int_param(params, "limit", 100)
        if limit < 1 or limit > 100:
            limit = 100
        timeout = max(0, min(int_param(params, "timeout", 0), POLL_CAP))
        allowed = maybe_json(params.get("allowed_updates"))
        if allowed is not None and not isinstance(allowed, list):
            raise ValueError("can't parse allowed_updates")
        with LOCK:
            stats = poll_stats(token)
            if token in STATE["webhooks"]:
                return 409, tg_error(409, WEBHOOK_CONFLICT)
            if stats["in_flight"] > 0:
                stats["conflicts"] += 1
                return 409, tg_error(409, POLL_CONFLICT)
            if allowed is not None:
                if allowed:
                    STATE["allowed"][token] = list(allowed)
                else:
                    STATE["allowed"].pop(token, None)
            queue = STATE["queues"].setdefault(token, [])
            if offset is not None and offset < 0:
                del queue[:max(0, len(queue) + offset)]
            elif offset is not None:
                queue[:] = [u for u in queue if u["update_id"] >= offset]
            stats["in_flight"] += 1
            gen = STATE["gen"]
            deadline = time.monotonic() + timeout
            try:
                while True:
                    if STATE["gen"] != gen:
                        ready = []
                        break
                    kinds = STATE["allowed"].get(token)
                    ready = [u for u in STATE["queues"].get(token, [])
                             if kinds is None or update_type(u) in kinds][:limit]
                    left = deadline - time.monotonic()
                    if ready or left <= 0:
                        break
                    COND.wait(min(left, 0.2))
                    if self.peer_gone():
                        self.close_connection = True
                        return None
            finally:
                if STATE["gen"] == gen:
                    stats["in_flight"] -= 1
        return ready


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
