#!/usr/bin/env python3
"""shop_browser.py: the storefront in a real browser (headless Chromium through Selenium).

    python3 tests/browser/shop_browser.py --base http://127.0.0.1:PORT --slug demo --out DIR

Against a running `ccgw serve` with a published shop S (`ccgw demo` publishes /shop/demo):
the shop page at phone width (390x844) and desktop width (1280x900) has its landmarks, alt
text, no script, no sideways scrolling on the phone and several columns on the desktop, prices
and stock; a product page opens from its card; its "Chat here" opens the web chat, which
shows that very product with its add-to-cart buttons at once. Screenshots go to DIR
(shop-phone.png, shop-desktop.png, shop-product.png, shop-chat.png; shop-failure.png when a
step fails). Exit 0 when every step passed, 1 with a message naming the step that failed.

Needs Debian's python3-selenium, chromium and chromium-driver (scripts/test installs them).
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
import re  # noqa: E402
import time  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 20
SLUG_RE = re.compile(r"^[a-z0-9-]+$")


class Fail(Exception):
    pass


def say(msg):
    print("ok  %s" % msg, flush=True)


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def page_facts(d):
    return d.execute_script("""
var q = function (s) { return document.querySelectorAll(s); };
var imgs = q('img'), noAlt = 0;
for (var i = 0; i < imgs.length; i++) if (!imgs[i].hasAttribute('alt')) noAlt++;
var cards = q('.card'), tops = [];
for (var k = 0; k < Math.min(cards.length, 4); k++) tops.push(cards[k].getBoundingClientRect().top);
return {
  lang: document.documentElement.lang,
  h1: (q('h1')[0] || {}).textContent || '',
  main: q('main').length, header: q('header').length, nav: q('nav[aria-label]').length,
  footer: q('footer').length, scripts: document.scripts.length, imgs: imgs.length,
  noAlt: noAlt, cards: cards.length, prices: q('.price').length,
  chatLinks: q('a.btn.chat').length, stock: q('.stock').length,
  scrollW: document.documentElement.scrollWidth, innerW: window.innerWidth,
  tops: tops, bytes: document.documentElement.outerHTML.length,
  title: document.title,
  ogImage: (document.querySelector('meta[property="og:title"]') || {}).content || ''
};
""")


def step_phone(d, base, slug, out):
    d.set_window_size(390, 844)
    d.get("%s/shop/%s" % (base, slug))
    f = page_facts(d)
    check(f["h1"].strip() != "", "a. phone: the shop page has no <h1> (HTTP error page?)")
    check(f["lang"] in ("en", "sw"), "a. phone: <html lang> is %r" % f["lang"])
    check(f["main"] == 1 and f["header"] >= 1 and f["nav"] >= 1 and f["footer"] >= 1,
          "a. phone: landmarks missing: %r" % f)
    check(f["scripts"] == 0, "a. phone: the page has %d scripts; it must work without" %
          f["scripts"])
    check(f["noAlt"] == 0, "a. phone: %d images without alt text" % f["noAlt"])
    check(f["cards"] >= 20 and f["prices"] >= 20, "a. phone: only %d products shown" %
          f["cards"])
    check(f["chatLinks"] >= 20, "a. phone: 'Chat here' missing on products")
    check(f["scrollW"] <= f["innerW"] + 1,
          "a. phone: the page scrolls sideways (%d > %d)" % (f["scrollW"], f["innerW"]))
    check(f["ogImage"] != "", "a. phone: no og:title")
    check(f["bytes"] < 100 * 1024, "a. phone: the HTML is %d bytes" % f["bytes"])
    d.save_screenshot(os.path.join(out, "shop-phone.png"))
    say("a. phone 390x844: %s, %d products, landmarks, alt text, no script, no sideways "
        "scroll, %d bytes of HTML" % (f["h1"].strip(), f["cards"], f["bytes"]))


def step_desktop(d, base, slug, out):
    d.set_window_size(1280, 900)
    d.get("%s/shop/%s" % (base, slug))
    f = page_facts(d)
    tops = f["tops"]
    check(len(tops) >= 3 and abs(tops[0] - tops[1]) < 2 and abs(tops[1] - tops[2]) < 2,
          "b. desktop: the products are not in columns (card tops %r)" % tops)
    # lazy images below the fold are loaded once scrolled to
    d.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    time.sleep(0.5)
    d.execute_script("window.scrollTo(0, 0)")
    d.save_screenshot(os.path.join(out, "shop-desktop.png"))
    say("b. desktop 1280x900: products in columns, %d images" % f["imgs"])


def step_product(d, base, slug, out):
    links = d.find_elements(By.CSS_SELECTOR, ".card a.pl")
    check(len(links) > 0, "c. product: no product links on the shop page")
    name = links[0].find_element(By.TAG_NAME, "h3").text.strip()
    href = links[0].get_attribute("href")
    d.get(href)
    f = page_facts(d)
    check(f["h1"].strip() == name,
          "c. product: the page of %r shows %r" % (name, f["h1"].strip()))
    check(f["prices"] == 1 and f["stock"] == 1, "c. product: no price or stock line")
    d.save_screenshot(os.path.join(out, "shop-product.png"))
    say("c. product page of %r (%s)" % (name, href.split("/p/")[-1]))
    return name


def step_chat(d, base, slug, out, name):
    btn = d.find_element(By.CSS_SELECTOR, "a.btn.chat")
    href = btn.get_attribute("href")
    check("/chat/%s?product=" % slug in href, "d. chat: 'Chat here' goes to %r" % href)
    btn.click()
    js = """
var bots = document.querySelectorAll('#log [data-from="bot"]');
var out = [];
for (var i = 0; i < bots.length; i++) {
  var b = bots[i], bubble = b.querySelector('.bubble'), p = [];
  var btns = b.querySelectorAll('button[data-payload]');
  for (var k = 0; k < btns.length; k++) p.push(btns[k].getAttribute('data-payload'));
  out.push({text: bubble ? bubble.textContent : b.textContent, payloads: p});
}
return out;
"""
    try:
        WebDriverWait(d, WAIT).until(lambda x: any(
            name in b["text"] and any(p.startswith("add:") for p in b["payloads"])
            for b in x.execute_script(js)))
    except TimeoutException:
        raise Fail("d. chat: the bot did not show %r with add-to-cart buttons (bubbles: %r)"
                   % (name, [b["text"][:80] for b in d.execute_script(js)][-3:]))
    check("product=" not in d.current_url,
          "d. chat: the address still asks for the product (%s)" % d.current_url)
    time.sleep(0.3)
    d.save_screenshot(os.path.join(out, "shop-chat.png"))
    say("d. 'Chat here' opened the web chat with %r and its add-to-cart buttons" % name)


def make_driver(args):
    opts = webdriver.ChromeOptions()
    opts.binary_location = args.chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--no-first-run", "--no-default-browser-check", "--disable-extensions",
              "--window-size=1280,900", "--lang=en-US"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=opts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--slug", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--chromedriver",
                    default=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    args = ap.parse_args()
    base = args.base.rstrip("/")
    if not SLUG_RE.match(args.slug):
        print("FAIL: --slug must be a-z, 0-9 and '-'", flush=True)
        return 1
    os.makedirs(args.out, exist_ok=True)
    d = None
    try:
        try:
            d = make_driver(args)
        except WebDriverException as e:
            raise Fail("could not start Chromium: %s" % (str(e).strip().splitlines() or ["?"])[0])
        d.set_page_load_timeout(WAIT)
        step_phone(d, base, args.slug, args.out)
        step_desktop(d, base, args.slug, args.out)
        name = step_product(d, base, args.slug, args.out)
        step_chat(d, base, args.slug, args.out, name)
        say("storefront browser test: all steps passed")
        return 0
    except (Fail, WebDriverException) as e:
        print("FAIL: %s" % (str(e).strip().splitlines() or ["?"])[0], flush=True)
        if d is not None:
            try:
                d.save_screenshot(os.path.join(args.out, "shop-failure.png"))
            except Exception:
                pass
        return 1
    finally:
        if d is not None:
            try:
                d.quit()
            except Exception:
                pass


if __name__ == "__main__":
    sys.exit(main())
