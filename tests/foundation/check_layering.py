#!/usr/bin/env python3
"""check_layering.py SOURCE_DIR: the layering rules of docs/ARCHITECTURE.md, checked on the
sources (the build enforces the include paths; this also catches a header found by accident
through a wider path, and the gateway naming a platform).

1. Every #include "x.h" in a library resolves to a header of that library or of one it may
   depend on (the arrows of "Folders and what each may include").
2. In gateway/, at most three string literals name a channel type (a registry or a CLI
   default may), and no platform's header or field names appear.
Exits 1 naming every breach."""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")

# library -> the libraries its files may include from (itself included)
ALLOWED = {
    "common": {"common"},
    "nlp": {"nlp", "common"},
    "commerce": {"commerce", "nlp", "common"},
    "channels": {"channels", "commerce", "common"},
    "gateway/core": {"gateway/core", "channels", "commerce", "nlp", "common"},
    "gateway/http": {"gateway/http", "gateway/core", "channels", "commerce", "nlp", "common"},
    "gateway/dispatch": {"gateway/dispatch", "gateway/core", "channels", "commerce", "nlp",
                         "common"},
    "gateway/inbound": {"gateway/inbound", "gateway/http", "gateway/core", "channels",
                        "commerce", "nlp", "common"},
    "gateway/poll": {"gateway/poll", "gateway/inbound", "gateway/http", "gateway/core",
                     "channels", "commerce", "nlp", "common"},
    "gateway/webchat": {"gateway/webchat", "gateway/inbound", "gateway/http", "gateway/core",
                        "channels", "commerce", "nlp", "common"},
    "gateway/storefront": {"gateway/storefront", "gateway/http", "gateway/core", "channels",
                           "commerce", "nlp", "common"},
    "gateway/admin": {"gateway/admin", "gateway/storefront", "gateway/http", "gateway/core",
                      "channels", "commerce", "nlp", "common"},
}
ALLOWED["gateway/cli"] = set(ALLOWED) | {"gateway/cli"}

PLATFORM_WORDS = ["X-Hub-Signature-256", "x-hub-signature-256", "phone_number_id",
                  "hub.verify_token", "hub.challenge", "X-Telegram-Bot-Api-Secret-Token",
                  "x-telegram-bot-api-secret-token", "bot_token", "wamid"]


def sources(lib):
    d = os.path.join(ROOT, lib)
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith((".c", ".h"))]


def main():
    owner = {}
    for lib in ALLOWED:
        for path in sources(lib):
            if path.endswith(".h"):
                owner.setdefault(os.path.basename(path), []).append(lib)
    breaches = []
    for lib, allowed in ALLOWED.items():
        for path in sources(lib):
            rel = os.path.relpath(path, ROOT)
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                libs = owner.get(m.group(1))
                if not libs:
                    breaches.append(f"{rel}:{n}: includes {m.group(1)}, which no library holds")
                elif not set(libs) & allowed:
                    breaches.append(f"{rel}:{n}: includes {m.group(1)} of {libs[0]}, "
                                    f"against the arrows ({lib} may use {sorted(allowed)})")
    literals = []
    for lib in ALLOWED:
        if not lib.startswith("gateway/"):
            continue
        for path in sources(lib):
            rel = os.path.relpath(path, ROOT)
            text = open(path, encoding="utf-8").read()
            for m in re.finditer(r'"(whatsapp|telegram|webchat|console)"', text):
                literals.append(f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}")
            for w in PLATFORM_WORDS:
                if w in text:
                    breaches.append(f"{rel}: names a platform's field or header: {w}")
    if len(literals) > 3:
        breaches.append("gateway/ names channel types in more than three literals:\n  " +
                        "\n  ".join(literals))
    for b in breaches:
        print(b)
    print(f"layering: {len(breaches)} breaches; {len(literals)} channel-type literals in "
          f"gateway/ (at most 3)")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
