#!/usr/bin/env python3
"""fault_suite.py: ccgw under faults, with counts. Each scenario runs a steady load of signed
WhatsApp webhooks from many shoppers against the real `ccgw serve` (its own PostgreSQL
cluster, so a database restart harms no other test; a mock Graph API), breaks something in the
middle, lets it recover, and checks:
  - every message that got a 200 is in inbound_messages exactly once and has its replies;
  - every reply reached the platform at least once, in order per conversation;
  - duplicates (a send whose outcome was lost, sent again) are counted, never hidden;
  - no send came sooner than a Retry-After asked.
One line per scenario: sent, acknowledged, stored, delivered, duplicates, lost.

Usage: fault_suite.py CCGW_BINARY [SCENARIO...]   (scenarios: kill, pg_restart, storm, two)
CCGW_FAULT_KEEP=1 keeps the suite's folder (its cluster and the gateways' logs) afterwards.
Exit 0 when every scenario holds. Run by ctest (label fault) and so by scripts/test.
"""
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_BIN = "/usr/lib/postgresql/15/bin"
PNID = "109900000000001"
APP_SECRET = "fault-app-secret"
SHOPPERS = 24
MESSAGES = 12         # per shopper (the load lasts about 6 s)
SENDERS = 8           # threads posting webhooks
META_RETRY_S = 40     # how long a message is retried by "Meta" before giving up
TAG_CODES = {"kill": 11, "pgrestart": 22, "storm": 33, "two": 44}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def as_pg(cmd, **kw):
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


class Cluster:
    """A private PostgreSQL for the suite: peer superuser on its socket, password roles on TCP."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ccgw-fault-")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.app_pw = "a" + os.urandom(12).hex()
        self.owner_pw = "o" + os.urandom(12).hex()
        as_pg([PG_BIN + "/initdb", "-D", self.data, "-U", "postgres", "--auth-local=peer",
               "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"])
        self.start()
        self.sql("postgres", "CREATE ROLE ccgw_owner LOGIN PASSWORD '%s'" % self.owner_pw)
        self.sql("postgres", "CREATE ROLE ccgw_app LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '%s'"
                 % self.app_pw)
        self.sql("postgres", "CREATE DATABASE ccgw OWNER ccgw_owner")
        self.app_url = "postgresql://ccgw_app:%s@127.0.0.1:%d/ccgw" % (self.app_pw, self.port)
        self.owner_url = "postgresql://ccgw_owner:%s@127.0.0.1:%d/ccgw" % (self.owner_pw, self.port)

    def start(self):
        as_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w",
               "-t", "60", "-o", "-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100"
               " -c fsync=on" % (self.port, self.dir), "start"])

    def restart(self):
        # -l: the restarted server must not keep our pipes open (run() would wait for ever)
        as_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"),
               "-m", "fast", "-w", "-t", "60", "-o", "-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100"
               " -c fsync=on" % (self.port, self.dir), "restart"])

    def sql(self, db, q):
        """Runs q as the superuser (no row-level security in the way); rows as lists."""
        out = as_pg([PG_BIN + "/psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                     "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d", db, "-c", q])
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def stop(self):
        try:
            as_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"])
        except subprocess.CalledProcessError:
            pass
        if os.environ.get("CCGW_FAULT_KEEP"):  # the gateways' logs, for a failure's reader
            print("fault: kept %s" % self.dir, flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def http(method, url, body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


class Mock:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/mock/graph_mock.py"),
                                      "--port", str(self.port)])
        self.url = "http://127.0.0.1:%d" % self.port
        for _ in range(100):
            if http("GET", self.url + "/__health")[0] == 200:
                return
            time.sleep(0.05)
        raise RuntimeError("the mock did not start")

    def requests(self):
        return json.loads(http("GET", self.url + "/__requests")[1])

    def fail(self, spec):
        assert http("POST", self.url + "/__fail", json.dumps(spec).encode())[0] == 200

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Gateway:
    def __init__(self, binary, cluster, mock, key):
        self.binary, self.cluster, self.mock, self.key = binary, cluster, mock, key
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.log = open(os.path.join(cluster.dir, "serve-%d.log" % self.port), "ab")

    def start(self):
        env = dict(os.environ, CCGW_HOME="/nonexistent-ccgw-home",
                   CCGW_DATABASE_URL=self.cluster.app_url, CCGW_SECRET_KEY=self.key,
                   CCGW_LISTEN="127.0.0.1:%d" % self.port, CCGW_PUBLIC_URL=self.url,
                   CCGW_WHATSAPP_API_BASE=self.mock.url, CCGW_WHATSAPP_MARK_READ="0",
                   CCGW_DISPATCH_LEASE="5", CCGW_DISPATCH_TIMEOUT_MS="2000",
                   CCGW_WHATSAPP_RATE="1000", CCGW_WHATSAPP_RECIPIENT_RATE="100",
                   CCGW_DB_CONNECT_TIMEOUT="2", CCGW_LOG_LEVEL="warn")
        self.proc = subprocess.Popen([self.binary, "serve"], env=env, stdout=self.log,
                                     stderr=self.log)
        for _ in range(200):
            if http("GET", self.url + "/healthz", timeout=1)[0] == 200:
                return
            time.sleep(0.05)
        raise RuntimeError("ccgw serve did not start")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def webhook(wa_id, wamid, text):
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": PNID},
            "contacts": [{"profile": {"name": "Shopper"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": str(int(time.time())),
                          "type": "text", "text": {"body": text}}]}}]}]}
    raw = json.dumps(body).encode()
    sig = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + sig}


class Load:
    """SHOPPERS shoppers each sending MESSAGES texts in order, as Meta would: a message is
    delivered again after a failure (no answer, 5xx) until it gets a 200, for META_RETRY_S."""

    def __init__(self, tag, targets):
        self.tag, self.targets = tag, targets  # targets: list of webhook URLs, tried in turn
        self.sent = 0
        self.acked = []      # wamids answered 200
        self.gave_up = []    # wamids never answered 200
        self.lock = threading.Lock()
        self.threads = []

    def shopper(self, idx):
        # a number range of its own per scenario: each checks only its own conversations
        wa_id = "2547%02d%06d" % (TAG_CODES[self.tag], idx)
        texts = ["hi", "menu", "hello", "thanks"]
        for m in range(MESSAGES):
            wamid = "wamid.%s.%d.%d" % (self.tag, idx, m)
            raw, headers = webhook(wa_id, wamid, texts[m % len(texts)])
            deadline = time.time() + META_RETRY_S
            turn = idx
            while True:
                url = self.targets[turn % len(self.targets)]
                turn += 1
                with self.lock:
                    self.sent += 1
                status, _ = http("POST", url, raw, headers, timeout=10)
                if status == 200:
                    with self.lock:
                        self.acked.append(wamid)
                    break
                if time.time() > deadline:
                    with self.lock:
                        self.gave_up.append(wamid)
                    break
                time.sleep(0.2 + random.random() * 0.3)
            time.sleep(0.3 + random.random() * 0.4)

    def start(self):
        for i in range(SHOPPERS):
            t = threading.Thread(target=self.shopper, args=(i,))
            t.start()
            self.threads.append(t)

    def wait(self):
        for t in self.threads:
            t.join()


# A drain that has sent nothing for STALL_S has stopped: longer than the longest pause the
# dispatcher takes (a reply's backoff and an unnamed rate limit's pause are capped at 30 s,
# dispatch_reply_backoff_max_ms). No drain waits longer than DRAIN_CAP times its budget. The
# storm needs this: ten 429s without Retry-After, answered one at a time, pause the channel
# 0.5, 1, 2 ... 30 s in turn (with jitter), well over a minute in all.
STALL_S = 40
DRAIN_CAP = 4


def check(name, cluster, mock, load, drain_s=45, respect_retry_after=False):
    """Waits for the outbox to drain, then counts and checks; returns the failures.

    The wait is drain_s, longer while replies still go out (a loaded machine, a sanitizer
    build): past drain_s it ends once nothing has left the outbox for STALL_S seconds, or at
    DRAIN_CAP times drain_s. What is still pending then counts as not delivered."""
    problems = []
    tenant_rows = cluster.sql("ccgw", "SELECT id FROM tenants WHERE slug = 'fault'")
    tenant = tenant_rows[0][0]
    t_end = time.time()
    last_left, last_progress = None, t_end
    while True:
        left = int(cluster.sql("ccgw", "SELECT count(*) FROM outbox WHERE tenant_id = '%s'"
                               " AND status IN ('pending', 'sending')" % tenant)[0][0])
        now = time.time()
        if left == 0:
            break
        if last_left is None or left < last_left:
            last_left, last_progress = left, now
        if now - t_end >= drain_s and (now - last_progress >= STALL_S
                                       or now - t_end >= drain_s * DRAIN_CAP):
            break
        time.sleep(0.5)
    drained = time.time() - t_end
    acked = set(load.acked)
    tag_like = "wamid.%s.%%" % load.tag
    stored = {r[0]: int(r[1]) for r in cluster.sql(
        "ccgw", "SELECT platform_message_id, count(*) FROM inbound_messages"
        " WHERE platform_message_id LIKE '%s' GROUP BY 1" % tag_like)}
    lost_in = [w for w in acked if stored.get(w, 0) != 1]
    if lost_in:
        problems.append("%d acknowledged messages not stored once: %s" % (len(lost_in), lost_in[:3]))
    # the replies of this load's shoppers
    rows = cluster.sql("ccgw",
                       "SELECT o.id, o.conversation_id, o.seq, o.status, o.platform_message_id,"
                       " o.recipient FROM outbox o JOIN conversations c ON c.id = o.conversation_id"
                       " WHERE o.kind = 'reply' AND c.external_chat_id IN (SELECT DISTINCT"
                       " external_chat_id FROM conversations cc JOIN inbound_messages i ON"
                       " i.conversation_id = cc.id WHERE i.platform_message_id LIKE '%s')"
                       % tag_like)
    by_wamid = {r[4]: (r[1], int(r[2])) for r in rows if r[4]}
    undelivered = [r for r in rows if r[3] not in ("sent", "delivered", "read")]
    if undelivered:
        problems.append("%d replies not delivered: %s" % (len(undelivered),
                                                          [(r[3]) for r in undelivered[:3]]))
        # where they wait: by status, attempts and last error, with when they are due
        for r in cluster.sql("ccgw", "SELECT status, attempts, COALESCE(last_error, '-'),"
                             " count(*), round(extract(epoch FROM min(next_attempt_at) - now())),"
                             " round(extract(epoch FROM max(next_attempt_at) - now()))"
                             " FROM outbox WHERE tenant_id = '%s' AND isfinite(next_attempt_at)"
                             " AND status IN"
                             " ('pending', 'sending') GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT 8"
                             % tenant):
            print("fault: %-10s waiting: %s, %s attempts, %s rows, due in %s to %s s; last "
                  "error: %s" % (name, r[0], r[1], r[3], r[4], r[5], r[2][:160]), flush=True)
    per_shopper = {}
    for r in rows:
        per_shopper[r[5]] = per_shopper.get(r[5], 0) + 1
    acked_per_shopper = {}
    for w in acked:
        idx = int(w.split(".")[2])
        acked_per_shopper[idx] = acked_per_shopper.get(idx, 0) + 1
    if len(per_shopper) < len(acked_per_shopper):
        problems.append("%d shoppers had messages acknowledged but %d got replies"
                        % (len(acked_per_shopper), len(per_shopper)))
    for n in per_shopper.values():
        if n < 1:
            problems.append("a shopper without replies")
    # what the platform saw: order per conversation, duplicates, waits honoured
    reqs = [q for q in mock.requests() if q["path"].endswith("/%s/messages" % PNID)]
    sends = [q for q in reqs if not q.get("failed") and isinstance(q["body"], dict)
             and q["body"].get("to") in per_shopper]
    matched, last_seq = 0, {}
    for q in sends:
        hit = by_wamid.get(q.get("wamid"))
        if not hit:
            continue
        matched += 1
        conv, seq = hit
        if last_seq.get(conv, -1) > seq:
            problems.append("conversation %s: reply seq %d reached the shopper after %d"
                            % (conv, seq, last_seq[conv]))
        last_seq[conv] = max(seq, last_seq.get(conv, -1))
    duplicates = len(sends) - matched
    waits_checked = 0
    if respect_retry_after:
        # the row that got a 429 asking for a wait is not sent again sooner (it is its
        # conversation's next send: replies to one shopper go out in order). Sends of other
        # rows that were under way when the pause began cannot be told apart here.
        def to(q):
            return q["body"].get("to") if isinstance(q["body"], dict) else None
        for i, q in enumerate(reqs):
            ra = q.get("retry_after")
            if not ra or not to(q):
                continue
            waits_checked += 1
            nxt = next((o for o in reqs[i + 1:] if to(o) == to(q)), None)
            if nxt and nxt["t"] - q["t"] < float(ra) - 0.05:
                problems.append("a send to %s %.2f s after a 429 that asked for %s s"
                                % (to(q), nxt["t"] - q["t"], ra))
    delivered = len(rows) - len(undelivered)
    lost = len(lost_in) + len(undelivered)
    print("fault: %-10s sent %4d, acknowledged %3d, stored %3d, delivered %3d, duplicates %d, "
          "lost %d (outbox drained %.1f s after the load)%s"
          % (name, load.sent, len(acked), len(acked) - len(lost_in), delivered, duplicates, lost,
             drained,
                         "" if not load.gave_up else ", never acknowledged %d" % len(load.gave_up)),
          flush=True)
    if respect_retry_after:
        print("fault: %-10s %d sends answered 429 with Retry-After: their next sends checked"
              % (name, waits_checked), flush=True)
        if waits_checked == 0:
            problems.append("no 429 with Retry-After reached a shopper's send: nothing checked")
    if load.gave_up:
        problems.append("%d messages never acknowledged in %d s" % (len(load.gave_up), META_RETRY_S))
    return problems


def scenario_kill(binary, cluster, mock, key, webhook_path):
    gw = Gateway(binary, cluster, mock, key)
    gw.start()
    load = Load("kill", [gw.url + webhook_path])
    load.start()
    time.sleep(2.5)
    gw.kill()                       # kill -9 in the middle of the load
    time.sleep(0.5)
    gw.start()                      # restarted: Meta's retries find it again
    load.wait()
    problems = check("kill", cluster, mock, load)
    gw.stop()
    return problems


def scenario_pg_restart(binary, cluster, mock, key, webhook_path):
    gw = Gateway(binary, cluster, mock, key)
    gw.start()
    load = Load("pgrestart", [gw.url + webhook_path])
    load.start()
    time.sleep(2.0)
    t0 = time.time()
    cluster.restart()               # pg_ctl restart -m fast in the middle of the load
    back = None
    for _ in range(200):
        if http("GET", gw.url + "/readyz", timeout=2)[0] == 200:
            back = time.time() - t0
            break
        time.sleep(0.05)
    load.wait()
    problems = check("pg_restart", cluster, mock, load)
    if back is None or back > 15:
        problems.append("the gateway was not ready again within 15 s of the restart")
    else:
        print("fault: pg_restart: /readyz answered 200 again %.1f s after the restart began"
              % back, flush=True)
    gw.stop()
    return problems


def scenario_storm(binary, cluster, mock, key, webhook_path):
    gw = Gateway(binary, cluster, mock, key)
    gw.start()
    # the platform answers a storm of errors, then recovers
    mock.fail({"status": 503, "count": 25, "code": 2, "message": "Service temporarily unavailable"})
    mock.fail({"status": 429, "count": 10, "retry_after": 1,
               "body": {"error": {"message": "Too many requests"}}})
    mock.fail({"status": 429, "count": 10, "body": {"error": {"message": "Too many requests"}}})
    mock.fail({"status": 500, "count": 15, "code": 1, "message": "An unknown error occurred"})
    load = Load("storm", [gw.url + webhook_path])
    load.start()
    load.wait()
    problems = check("storm", cluster, mock, load, drain_s=60, respect_retry_after=True)
    gw.stop()
    return problems


def scenario_two(binary, cluster, mock, key, webhook_path):
    a = Gateway(binary, cluster, mock, key)
    b = Gateway(binary, cluster, mock, key)
    a.start()
    b.start()
    load = Load("two", [a.url + webhook_path, b.url + webhook_path])
    load.start()
    time.sleep(2.5)
    a.kill()                        # one of two gateways dies; Meta's retries reach the other
    load.wait()
    problems = check("two", cluster, mock, load)   # b finishes a's claimed rows after the lease
    b.stop()
    return problems


SCENARIOS = {"kill": scenario_kill, "pg_restart": scenario_pg_restart, "storm": scenario_storm,
             "two": scenario_two}


def main():
    binary = sys.argv[1]
    names = sys.argv[2:] or list(SCENARIOS)
    key = os.urandom(32).hex()
    cluster = Cluster()
    mock = Mock()
    failures = 0
    try:
        env = dict(os.environ, CCGW_HOME="/nonexistent-ccgw-home", CCGW_MIGRATE_URL=cluster.owner_url,
                   CCGW_DATABASE_URL=cluster.app_url, CCGW_LOG_LEVEL="warn")
        subprocess.run([binary, "migrate"], env=env, check=True, capture_output=True)
        out = subprocess.run([binary, "tenant", "create", "--slug", "fault", "--name", "Fault shop"],
                             env=env, check=True, capture_output=True, text=True).stdout
        api_key = json.loads(out)["api_key"]
        gw = Gateway(binary, cluster, mock, key)
        gw.start()
        status, body = http("POST", gw.url + "/api/v1/channels", json.dumps({
            "type": "whatsapp", "phone_number_id": PNID, "access_token": "EAAG-fault",
            "app_secret": APP_SECRET, "verify_token": "v"}).encode(),
            {"Authorization": "Bearer " + api_key, "Content-Type": "application/json"})
        gw.stop()
        if status != 201:
            raise RuntimeError("channel registration answered %d: %r" % (status, body))
        webhook_path = "/webhooks/whatsapp/" + json.loads(body)["id"]
        for name in names:
            problems = SCENARIOS[name](binary, cluster, mock, key, webhook_path)
            for p in problems:
                print("fault: %s: FAILED: %s" % (name, p), flush=True)
            failures += 1 if problems else 0
    finally:
        mock.stop()
        cluster.stop()
    print("%d passed, %d failed" % (len(names) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
