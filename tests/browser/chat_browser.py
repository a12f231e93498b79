#!/usr/bin/env python3
"""chat_browser.py: the web chat in a real browser (headless Chromium through Selenium).

    python3 tests/browser/chat_browser.py --base http://127.0.0.1:PORT --slug S --out DIR

Against a running `ccgw serve` with the shop S (the demo shop works): the page connects, a
shopper shops to a placed order by pressing the offered buttons and typing what is asked, the
transcript survives a reload and the page reconnects to the same conversation, the page fits a
phone, the accessibility basics hold (log role, labelled text box, buttons with text, focus back
in the text box after a press), and the one-line embed (widget.js) opens the chat in an iframe
on another page. Screenshots go to DIR (webchat-desktop.png, webchat-desktop-resumed.png,
webchat-phone.png, webchat-embed.png; webchat-failure.png when a step fails). Exit 0 when every
step passed, 1 with a message naming the step that failed.

Needs Debian's python3-selenium, chromium and chromium-driver (scripts/test installs them).
When the python3 on PATH has no selenium (a pyenv one, say), it runs itself again with
/usr/bin/python3, which has Debian's.
"""
import os
import sys


def _have_selenium():
    try:
        import selenium  # noqa: F401
        return True
    except ImportError:
        return False


if not _have_selenium():
    _SYS_PY = "/usr/bin/python3"
    if (os.path.exists(_SYS_PY) and not os.environ.get("CCGW_BROWSER_REEXEC")
            and os.path.realpath(sys.executable) != os.path.realpath(_SYS_PY)):
        os.environ["CCGW_BROWSER_REEXEC"] = "1"
        os.execv(_SYS_PY, [_SYS_PY] + sys.argv)
    print("FAIL: selenium is not installed (apt-get install python3-selenium chromium "
          "chromium-driver)", flush=True)
    sys.exit(1)

import argparse  # noqa: E402
import functools  # noqa: E402
import http.server  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 20           # seconds, each explicit wait
QUIET = 0.4         # seconds without a new bot bubble before the next step
MAX_STEPS = 30
SLUG_RE = re.compile(r"^[a-z0-9-]+$")
# "Thank you! Your order #1042 has been placed." / "Asante! Oda yako #1042 imewekwa."
ORDER_RE = re.compile(r"(?i)\b(?:order|oda)(?:\s+yako)?\s*#\s*\d+")

# (what to look for in data-payload, exact or prefix, pressed at most once?)
PLAN = [
    ("ck:yes", "exact", True),
    ("pay:cash_on_delivery", "exact", True),
    ("pay:", "prefix", True),
    ("phone:use", "exact", True),
    ("name:use", "exact", True),
    ("ck", "exact", True),
    ("add:", "prefix", True),
    ("prod:", "prefix", True),
    ("cat:", "prefix", False),
    ("browse", "exact", False),
]

ADDRESS = "Moi Avenue 12, Nairobi"
PHONE = "0712345678"
NAME = "Amina Wanjiru"


class Fail(Exception):
    pass


def say(msg):
    print(msg, flush=True)


# ---- page helpers (the page's contract: #log holds [data-from=bot|user] bubbles; choices are
# button[data-payload]; <html data-conn="online"> after the welcome; #text is the text box) ----

JS_BOTS = r"""
var out = [];
var bots = document.querySelectorAll('#log [data-from="bot"]');
for (var i = 0; i < bots.length; i++) {
  var b = bots[i], text = '';
  var bubble = b.querySelector('.bubble');
  if (bubble) {
    var c = bubble.cloneNode(true);
    var hidden = c.querySelectorAll('.sr-only');
    for (var j = 0; j < hidden.length; j++) hidden[j].remove();
    text = c.textContent;
  }
  var payloads = [];
  var btns = b.querySelectorAll('button[data-payload]');
  for (var k = 0; k < btns.length; k++) payloads.push(btns[k].getAttribute('data-payload'));
  out.push({text: text, payloads: payloads, seen: b.hasAttribute('data-test-seen')});
}
return out;
"""

JS_MARK = r"""
var bots = document.querySelectorAll('#log [data-from="bot"]');
for (var i = 0; i < bots.length; i++) bots[i].setAttribute('data-test-seen', '1');
return bots.length;
"""

JS_FIND_BUTTON = r"""
var idx = arguments[0], payload = arguments[1];
var bots = document.querySelectorAll('#log [data-from="bot"]');
var btns = bots[idx] ? bots[idx].querySelectorAll('button[data-payload]') : [];
for (var i = 0; i < btns.length; i++) {
  if (btns[i].getAttribute('data-payload') === payload) {
    btns[i].scrollIntoView({block: 'center'});
    return btns[i];
  }
}
return null;
"""


def bots(d):
    return d.execute_script(JS_BOTS)


def mark_bots(d):
    """Marks the bot bubbles there are now; a bubble without the mark is new (a count that
    survives the page keeping only its last 100 bubbles)."""
    d.execute_script(JS_MARK)


def new_bots(d):
    return [b for b in bots(d) if not b["seen"]]


def conn_state(d):
    return d.execute_script("return document.documentElement.getAttribute('data-conn')")


def wait_online(d, what):
    try:
        WebDriverWait(d, WAIT, poll_frequency=0.1).until(lambda drv: conn_state(drv) == "online")
    except TimeoutException:
        raise Fail("%s: the page did not get online within %ds (data-conn=%r)"
                   % (what, WAIT, conn_state(d)))


def wait_new_bot(d, what, with_buttons=False):
    """Waits for a new bot bubble (with choices when asked), then for QUIET seconds without
    another one. Returns the new bubbles."""
    def arrived(drv):
        fresh = new_bots(drv)
        if with_buttons:
            return any(b["payloads"] for b in fresh)
        return len(fresh) > 0
    try:
        WebDriverWait(d, WAIT, poll_frequency=0.1).until(arrived)
    except TimeoutException:
        raise Fail("%s: no new bot message%s within %ds"
                   % (what, " with buttons" if with_buttons else "", WAIT))
    n = len(new_bots(d))
    quiet_since = time.time()
    end = time.time() + WAIT
    while time.time() - quiet_since < QUIET and time.time() < end:
        time.sleep(0.1)
        m = len(new_bots(d))
        if m != n:
            n = m
            quiet_since = time.time()
    return new_bots(d)


def text_box(d):
    try:
        return WebDriverWait(d, WAIT).until(EC.visibility_of_element_located((By.ID, "text")))
    except TimeoutException:
        raise Fail("the text box (#text) is not visible")


def type_and_enter(d, text):
    box = text_box(d)
    box.clear()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def short(s, n=70):
    s = " ".join((s or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def browser_problems(d):
    """CSP violations and uncaught script errors from the browser's console since last asked."""
    try:
        entries = d.get_log("browser")
    except WebDriverException:
        return []
    bad = []
    for e in entries:
        msg = e.get("message", "")
        if ("Content Security Policy" in msg or "Refused to" in msg or "Uncaught" in msg):
            bad.append(msg)
    return bad


def check_console(d, what):
    bad = browser_problems(d)
    if bad:
        raise Fail("%s: the browser console reports:\n  %s" % (what, "\n  ".join(bad[:5])))


# ---- the steps ----

def open_page(d, url, what, chat=True):
    try:
        d.get(url)
    except WebDriverException as e:
        raise Fail("%s: cannot open %s: %s"
                   % (what, url, (str(e).strip().splitlines() or ["?"])[0]))
    if chat:
        try:
            WebDriverWait(d, WAIT).until(EC.presence_of_element_located((By.ID, "log")))
        except TimeoutException:
            raise Fail("%s: %s is not the chat page (no #log): %r"
                       % (what, url, short(d.find_element(By.TAG_NAME, "body").text, 120)))


def check_no_page_scroll(d, what):
    """Only the message log scrolls: the page itself fits the window both ways."""
    m = d.execute_script("var e = document.documentElement; return {sw: e.scrollWidth, "
                         "sh: e.scrollHeight, iw: window.innerWidth, ih: window.innerHeight};")
    if m["sw"] > m["iw"] + 1:
        raise Fail("%s: horizontal scroll (scrollWidth %s > innerWidth %s)"
                   % (what, m["sw"], m["iw"]))
    if m["sh"] > m["ih"] + 1:
        raise Fail("%s: the page itself scrolls (scrollHeight %s > innerHeight %s); only the "
                   "message log should" % (what, m["sh"], m["ih"]))
    return m


def step_a(d, page):
    d.set_window_size(1280, 900)
    open_page(d, page, "a")
    wait_online(d, "a")
    mark_bots(d)
    type_and_enter(d, "hi")
    fresh = wait_new_bot(d, "a (after 'hi')", with_buttons=True)
    choices = sum(len(b["payloads"]) for b in fresh)
    check_console(d, "a")
    say("a. desktop 1280x900: online; 'hi' answered with %d choice(s)" % choices)


def pick(payloads, used):
    for i, (want, how, once) in enumerate(PLAN):
        if once and i in used:
            continue
        for p in payloads:
            if (how == "exact" and p == want) or (how == "prefix" and p.startswith(want)):
                return i, p
    return None, None


def typed_answer(text):
    low = (text or "").lower()
    if "address" in low or "location" in low:
        return ADDRESS
    if "phone" in low:
        return PHONE
    if "name" in low:
        return NAME
    return "browse"


def step_b(d, state):
    used = set()
    ck_yes = False
    for step in range(1, MAX_STEPS + 1):
        all_bots = bots(d)
        if not all_bots:
            raise Fail("b: no bot message to answer")
        last = all_bots[-1]
        with_buttons = [i for i, b in enumerate(all_bots) if b["payloads"]]
        action = None
        # a question without buttons (name, address, phone) is answered by typing
        if not last["payloads"] and typed_answer(last["text"]) != "browse":
            action = ("type", typed_answer(last["text"]))
        elif with_buttons:
            idx = with_buttons[-1]
            i, payload = pick(all_bots[idx]["payloads"], used)
            if payload is not None:
                action = ("press", idx, i, payload)
        if action is None:
            action = ("type", typed_answer(last["text"]))

        mark_bots(d)
        if action[0] == "press":
            _, idx, i, payload = action
            btn = d.execute_script(JS_FIND_BUTTON, idx, payload)
            if btn is None:
                raise Fail("b.%d: the button %r went away" % (step, payload))
            title = btn.text
            btn.click()
            if PLAN[i][2]:
                used.add(i)
            if payload == "ck:yes":
                ck_yes = True
            if state.get("focus_after_press") is None:
                state["focus_after_press"] = d.execute_script(
                    "return document.activeElement && document.activeElement.id")
            say("b.%d press %s (%s)" % (step, payload, short(title, 40)))
        else:
            say("b.%d type %r" % (step, action[1]))
            type_and_enter(d, action[1])
        fresh = wait_new_bot(d, "b.%d" % step)
        if ck_yes:
            for b in fresh:
                m = ORDER_RE.search(b["text"])
                if m:
                    state["order"] = m.group(0)
                    check_console(d, "b")
                    say("b. order placed: %s" % short(b["text"], 90))
                    return
    raise Fail("b: no placed order after %d steps; last bot message: %r"
               % (MAX_STEPS, short(bots(d)[-1]["text"], 200)))


def step_c(d, page, out):
    d.save_screenshot(os.path.join(out, "webchat-desktop.png"))
    before = len(bots(d))
    conv_js = "try { return localStorage.getItem(arguments[0]); } catch (e) { return null; }"
    conv_key = "ccgw.chat.%s.conversation" % slug_of(page)
    conv = d.execute_script(conv_js, conv_key)
    d.refresh()
    try:
        WebDriverWait(d, WAIT).until(
            lambda drv: any(ORDER_RE.search(b["text"]) for b in bots(drv)))
    except TimeoutException:
        raise Fail("c: after the reload the transcript has no 'Order #' bubble")
    visible = d.execute_script(r"""
      var re = /(order|oda)(\s+yako)?\s*#\s*\d+/i;
      var b = document.querySelectorAll('#log [data-from="bot"] .bubble');
      for (var i = b.length - 1; i >= 0; i--) {
        if (re.test(b[i].textContent)) {
          b[i].scrollIntoView({block: 'center'});
          var r = b[i].getBoundingClientRect();
          return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < window.innerHeight;
        }
      }
      return false;""")
    if not visible:
        raise Fail("c: the 'Order #' bubble is not visible after the reload")
    after = len(bots(d))
    wait_online(d, "c (after the reload)")
    conv_after = d.execute_script(conv_js, conv_key)
    if conv and conv_after != conv:
        raise Fail("c: the reload started a new conversation (%s, was %s): the stored session "
                   "token was not resumed" % (conv_after, conv))
    mark_bots(d)
    type_and_enter(d, "menu")
    wait_new_bot(d, "c (after 'menu')")
    d.save_screenshot(os.path.join(out, "webchat-desktop-resumed.png"))
    check_no_page_scroll(d, "c")
    check_console(d, "c")
    say("c. reload: transcript kept (%d bot bubbles before, %d after), online again%s, 'menu' "
        "answered" % (before, after, " in the same conversation" if conv else ""))


def slug_of(page):
    return page.rstrip("/").rsplit("/", 1)[-1]


def step_d(d, page, out):
    d.set_window_size(390, 844)
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        open_page(d, page, "d")
        wait_online(d, "d")
        box = text_box(d)
        time.sleep(0.3)
        d.save_screenshot(os.path.join(out, "webchat-phone.png"))
        m = d.execute_script(r"""
          var t = document.getElementById('text'), r = t.getBoundingClientRect();
          return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                  iw: window.innerWidth, ih: window.innerHeight,
                  font: parseFloat(getComputedStyle(t).fontSize)};""")
        if not box.is_displayed():
            raise Fail("d: the text box is not displayed at 390x844")
        if m["left"] < 0 or m["right"] > m["iw"] + 1 or m["bottom"] > m["ih"] + 1 or m["top"] < 0:
            raise Fail("d: the text box is outside the viewport at 390x844: %r" % m)
        check_no_page_scroll(d, "d (390x844)")
        if m["font"] < 16:
            raise Fail("d: the text box's font is %spx (under 16px zooms phones in)" % m["font"])
        check_console(d, "d")
        say("d. phone 390x844: text box visible and inside the viewport (width %d), no "
            "horizontal scroll, font %gpx" % (m["iw"], m["font"]))
    finally:
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        d.set_window_size(1280, 900)


def step_e(d, page, state):
    open_page(d, page, "e")
    wait_online(d, "e")
    r = d.execute_script(r"""
      function name(el) {
        if (!el) return '';
        var n = (el.getAttribute('aria-label') || '').trim();
        if (n) return n;
        var by = el.getAttribute('aria-labelledby');
        if (by) {
          n = by.split(/\s+/).map(function (id) {
            var x = document.getElementById(id); return x ? x.textContent : '';
          }).join(' ').trim();
          if (n) return n;
        }
        if (el.id) {
          var l = document.querySelector('label[for="' + el.id + '"]');
          if (l && l.textContent.trim()) return l.textContent.trim();
        }
        var p = el.closest('label');
        return p ? p.textContent.trim() : '';
      }
      var log = document.querySelector('[role="log"]');
      var text = document.getElementById('text');
      var send = document.querySelector('#composer button, button[type="submit"]');
      var choices = document.querySelectorAll('[role="log"] button');
      var empty = 0;
      for (var i = 0; i < choices.length; i++) {
        if (!(choices[i].textContent.trim() || (choices[i].getAttribute('aria-label') || '').trim())) empty++;
      }
      return {log: !!log, logLabel: log ? (log.getAttribute('aria-label') || '') : '',
              logIsLog: log ? log.id === 'log' : false,
              textName: name(text), sendText: send ? send.textContent.trim() : '',
              choices: choices.length, empty: empty};""")
    if not r["log"] or not r["logIsLog"]:
        raise Fail("e: the message log has no role=\"log\"")
    if not r["logLabel"].strip():
        raise Fail("e: the log has no aria-label")
    if not r["textName"]:
        raise Fail("e: the text box has no accessible name (aria-label or <label for>)")
    if not r["sendText"]:
        raise Fail("e: the send button has no text")
    if r["choices"] == 0:
        raise Fail("e: no choice buttons in the log to check")
    if r["empty"]:
        raise Fail("e: %d of %d choice buttons have no text" % (r["empty"], r["choices"]))
    if state.get("focus_after_press") != "text":
        raise Fail("e: after a choice was pressed the focus was on %r, not the text box"
                   % state.get("focus_after_press"))
    box = text_box(d)
    box.click()
    box.send_keys(Keys.TAB)
    after_tab = d.execute_script("var a = document.activeElement; return a && a.id")
    if after_tab != "send":
        raise Fail("e: Tab from the text box went to %r, not the send button" % after_tab)
    check_console(d, "e")
    say("e. accessibility: role=log (%r), text box named %r, %d choice buttons all with text, "
        "focus back in the text box after a press, Tab goes to %r"
        % (r["logLabel"], r["textName"], r["choices"], r["sendText"]))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def step_f(d, base, slug, out):
    tmp = tempfile.mkdtemp(prefix="ccgw-embed-")
    src = "%s/chat/%s/widget.js" % (base, slug)
    with open(os.path.join(tmp, "index.html"), "w", encoding="utf-8") as f:
        f.write("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<title>Asali shop</title></head>\n<body>\n<h1>Asali shop</h1>\n"
                "<p>Raw honey from the hills.</p>\n"
                "<script src=\"%s\" async></script>\n</body></html>\n" % src)
    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=tmp))
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        host = "http://127.0.0.1:%d/" % srv.server_address[1]
        open_page(d, host, "f", chat=False)
        try:
            btn = WebDriverWait(d, WAIT).until(EC.element_to_be_clickable(
                (By.CSS_SELECTOR, 'button[aria-label="Chat with us"]')))
        except TimeoutException:
            raise Fail("f: no 'Chat with us' button on the host page (widget.js from %s)" % src)
        if btn.get_attribute("aria-expanded") != "false":
            raise Fail("f: the closed widget button has aria-expanded=%r"
                       % btn.get_attribute("aria-expanded"))
        btn.click()
        if btn.get_attribute("aria-expanded") != "true":
            raise Fail("f: the open widget button has aria-expanded=%r"
                       % btn.get_attribute("aria-expanded"))
        try:
            frame = WebDriverWait(d, WAIT).until(EC.visibility_of_element_located(
                (By.CSS_SELECTOR, 'iframe[title="Chat"]')))
        except TimeoutException:
            raise Fail("f: no visible iframe titled 'Chat' after the click")
        size = frame.size
        d.switch_to.frame(frame)
        try:
            wait_online(d, "f (in the iframe)")
            if "embed" not in (d.execute_script(
                    "return document.documentElement.className") or ""):
                raise Fail("f: the iframe's page is not in the compact (embed) layout")
            mark_bots(d)
            type_and_enter(d, "hi")
            wait_new_bot(d, "f (after 'hi' in the iframe)")
            check_console(d, "f (iframe)")
        finally:
            d.switch_to.default_content()
        d.save_screenshot(os.path.join(out, "webchat-embed.png"))
        # included twice: still one button
        d.set_script_timeout(WAIT)
        d.execute_async_script(
            "var done = arguments[arguments.length - 1], s = document.createElement('script');"
            "s.src = arguments[0]; s.onload = function () { done(true); };"
            "s.onerror = function () { done(false); }; document.body.appendChild(s);", src)
        n = len(d.find_elements(By.CSS_SELECTOR, 'button[aria-label="Chat with us"]'))
        if n != 1:
            raise Fail("f: widget.js included twice made %d buttons" % n)
        btn.click()
        if btn.get_attribute("aria-expanded") != "false" or frame.is_displayed():
            raise Fail("f: a second click did not close the chat")
        say("f. embed: widget button opened a %dx%d iframe, online, 'hi' answered; included "
            "twice still one button; closes again" % (size["width"], size["height"]))
    finally:
        srv.shutdown()
        srv.server_close()
        th.join(5)
        shutil.rmtree(tmp, ignore_errors=True)


def make_driver(args):
    opts = webdriver.ChromeOptions()
    opts.binary_location = args.chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--no-first-run", "--no-default-browser-check", "--disable-extensions",
              "--window-size=1280,900", "--lang=en-US"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=opts)


class _Args(argparse.ArgumentParser):
    def error(self, message):  # exit 1 (not argparse's 2), as every other failure
        self.print_usage(sys.stderr)
        print("FAIL: %s" % message, flush=True)
        sys.exit(1)


def main():
    ap = _Args(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="the gateway, e.g. http://127.0.0.1:8080")
    ap.add_argument("--slug", required=True, help="the shop's slug")
    ap.add_argument("--out", required=True, help="folder for the screenshots")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--chromedriver",
                    default=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    args = ap.parse_args()
    base = args.base.rstrip("/")
    if not re.match(r"^https?://[^/]+$", base):
        print("FAIL: --base must be like http://127.0.0.1:8080 (no path)", flush=True)
        return 1
    if not SLUG_RE.match(args.slug):
        print("FAIL: --slug must be a-z, 0-9 and '-'", flush=True)
        return 1
    os.makedirs(args.out, exist_ok=True)
    page = "%s/chat/%s" % (base, args.slug)

    d = None
    state = {}
    try:
        try:
            d = make_driver(args)
        except WebDriverException as e:
            raise Fail("could not start Chromium (%s, %s): %s"
                       % (args.chromium, args.chromedriver,
                          (str(e).strip().splitlines() or ["?"])[0]))
        d.set_page_load_timeout(WAIT)
        step_a(d, page)
        step_b(d, state)
        step_c(d, page, args.out)
        step_d(d, page, args.out)
        step_e(d, page, state)
        step_f(d, base, args.slug, args.out)
        say("web chat browser test: all steps passed (%s)" % state.get("order", ""))
        return 0
    except Fail as e:
        print("FAIL: %s" % e, flush=True)
        failure_evidence(d, args.out)
        return 1
    except WebDriverException as e:
        print("FAIL: browser error: %s" % (str(e).strip().splitlines() or ["?"])[0], flush=True)
        failure_evidence(d, args.out)
        return 1
    except Exception as e:  # a bug in this script: say so, still quit the browser
        import traceback
        traceback.print_exc()
        print("FAIL: %s: %s" % (type(e).__name__, e), flush=True)
        return 1
    finally:
        if d is not None:
            try:
                d.quit()
            except Exception:
                pass


def failure_evidence(d, out):
    """A screenshot (webchat-failure.png) and the last bot bubbles, as far as they can be had."""
    if d is None:
        return
    try:
        d.switch_to.default_content()
        d.save_screenshot(os.path.join(out, "webchat-failure.png"))
        print("  screenshot: %s" % os.path.join(out, "webchat-failure.png"), flush=True)
        for b in bots(d)[-3:]:
            print("  bot bubble: %r %s" % (short(b["text"], 120), b["payloads"][:6]), flush=True)
    except Exception:
        pass


def run():
    rc = 1
    try:
        rc = main()
    except KeyboardInterrupt:
        print("FAIL: interrupted", flush=True)
    sys.exit(rc)


if __name__ == "__main__":
    run()
