/*
 * chat.js: the shopper's web chat (web/chat.html, served at /chat/{slug}). Plain JavaScript,
 * no build step. It reads the shop's config (/chat/{slug}/config.json), keeps the transcript
 * (last 100 bubbles), the session token and the unsent messages in localStorage per shop, and
 * talks to the gateway over a WebSocket (/ws/chat/{slug}) with JSON text frames:
 *   out: {"type":"hello","session":null|token}
 *        {"type":"text","text":...,"client_msg_id":...}
 *        {"type":"postback","payload":...,"client_msg_id":...}
 *   in:  {"type":"welcome","session":...,"conversation_id":...}
 *        {"type":"message","text":...,"buttons":[{title,payload}],"list":{button,sections:[{title,rows:[{title,description,payload}]}]},"id":...}
 *        (id: the reply's outbox id; a reply may come again after a reconnect and is shown once)
 *        {"type":"ack","client_msg_id":...,"duplicate":true}
 *        {"type":"error","code":...,"message":...}
 * The socket is reopened with exponential backoff (0.5 s doubling to 15 s, with jitter). A
 * message is kept until it is answered (a reply or an ack arrives after it was sent on the
 * current socket) and sent again, with the same client_msg_id, after the next welcome: the
 * server drops what it already has and acks it as a duplicate. An error that says the message
 * was not taken (try_again, busy, unavailable, rate_limited) sends what is in flight again
 * shortly on the same socket; another error marks the oldest message in flight "not sent"; an
 * error before the welcome is shown and the socket, closed by the server, is reopened as
 * above (slowly for unknown_shop and origin_not_allowed). Server text is only ever set as
 * text (textContent), never as HTML. The page's CSP forbids inline styles: colours are set as
 * custom properties through the CSSOM (style.setProperty).
 */
(function () {
  'use strict';

  var doc = document;
  var root = doc.documentElement;

  var SLUG = root.getAttribute('data-slug') || '';
  if (!/^[a-z0-9-]+$/.test(SLUG)) {
    var fromPath = /^\/chat\/([a-z0-9-]+)/.exec(location.pathname);
    SLUG = fromPath ? fromPath[1] : '';
  }
  var BASE = '/chat/' + SLUG;
  var KEY = 'ccgw.chat.' + SLUG + '.';
  var EMBED = new URLSearchParams(location.search).get('embed') === '1';

  var MAX_BUBBLES = 100;
  var MAX_OUTBOX = 50;
  var MAX_TRIES = 5;
  var BURST = 8;
  var BACKOFF_MIN = 500;
  var BACKOFF_MAX = 15000;
  var HELLO_TIMEOUT = 10000;
  var MAX_TEXT = 2000;

  var STR = {
    en: {
      title: 'Chat',
      titleWith: '{name} — Chat',
      log: 'Conversation',
      logWith: 'Conversation with {name}',
      type: 'Type a message',
      send: 'Send',
      you: 'You',
      shop: 'Shop',
      choices: 'Choices',
      options: 'Options',
      online: 'Online',
      offline: 'Offline',
      connecting: 'Connecting…',
      reconnecting: 'Offline — reconnecting…',
      waiting: 'Waiting to send',
      unavailable: 'The shop can’t be reached right now — retrying…',
      unknown_shop: 'This shop’s chat is not available.',
      origin_not_allowed: 'This page may not open the shop’s chat.',
      notSent: 'Not sent',
      loadFail: 'Could not load the chat — retrying…',
      error: 'Something went wrong — reconnecting…'
    },
    sw: {
      title: 'Gumzo',
      titleWith: '{name} — Gumzo',
      log: 'Mazungumzo',
      logWith: 'Mazungumzo na {name}',
      type: 'Andika ujumbe',
      send: 'Tuma',
      you: 'Wewe',
      shop: 'Duka',
      choices: 'Chaguo',
      options: 'Chaguo',
      online: 'Mtandaoni',
      offline: 'Nje ya mtandao',
      connecting: 'Inaunganisha…',
      reconnecting: 'Nje ya mtandao — inaunganisha tena…',
      waiting: 'Inasubiri kutumwa',
      unavailable: 'Duka halipatikani kwa sasa — inajaribu tena…',
      unknown_shop: 'Gumzo la duka hili halipatikani.',
      origin_not_allowed: 'Ukurasa huu hauruhusiwi kufungua gumzo la duka.',
      notSent: 'Haikutumwa',
      loadFail: 'Imeshindwa kupakia gumzo — inajaribu tena…',
      error: 'Kuna hitilafu — inaunganisha tena…'
    }
  };

  /* ---- storage (localStorage per shop; memory when it is blocked) ---- */

  var mem = {};

  function load(name, fallback) {
    var s = null;
    try {
      s = window.localStorage.getItem(KEY + name);
    } catch (e) {
      s = Object.prototype.hasOwnProperty.call(mem, name) ? mem[name] : null;
    }
    if (s === null || s === undefined) return fallback;
    try {
      return JSON.parse(s);
    } catch (e) {
      return fallback;
    }
  }

  function save(name, value) {
    var s = JSON.stringify(value);
    mem[name] = s;
    try {
      window.localStorage.setItem(KEY + name, s);
    } catch (e) {
      /* blocked or full: the memory copy serves this page */
    }
  }

  function forget(name) {
    delete mem[name];
    try {
      window.localStorage.removeItem(KEY + name);
    } catch (e) { /* ignore */ }
  }

  /* ---- state ---- */

  var config = null;
  var lang = 'en';
  var transcript = load('log', []);
  if (!Array.isArray(transcript)) transcript = [];
  var outbox = load('outbox', []);
  if (!Array.isArray(outbox)) outbox = [];
  outbox = outbox.filter(function (o) {
    return o && o.f && typeof o.f.client_msg_id === 'string';
  });

  var ws = null;
  var gen = Date.now(); /* socket generation: outbox items remember the one they were sent on */
  var online = false;
  var attempt = 0;
  var timer = 0;
  var helloTimer = 0;
  var started = false;
  var rendered = false;
  var connState = 'connecting';
  var flushTimer = 0;
  var retryDelay = 1000;

  /* error codes: the message was not taken and may be sent again; the shop refuses this page */
  var RETRY = { try_again: 1, busy: 1, unavailable: 1, rate_limited: 1 };
  var REFUSED = { unknown_shop: 1, origin_not_allowed: 1 };

  /* ---- elements ---- */

  function $(id) { return doc.getElementById(id); }
  var logEl = $('log');
  var formEl = $('composer');
  var textEl = $('text');
  var sendEl = $('send');
  var labelEl = $('text-label');
  var bannerEl = $('banner');
  var connTextEl = $('conn-text');
  var nameEl = $('shop-name');
  var logoEl = $('logo');

  if (EMBED) root.classList.add('embed');

  function t(k) { return (STR[lang] || STR.en)[k] || STR.en[k] || k; }
  function fmt(s, name) { return s.replace('{name}', name); }

  function el(tag, cls) {
    var e = doc.createElement(tag);
    if (cls) e.className = cls;
    return e;
  }

  function str(v, max) {
    if (typeof v !== 'string') return '';
    return v.length > max ? v.slice(0, max) : v;
  }

  /* ---- config: name, logo, colours, language ---- */

  function okColor(v) {
    if (typeof v !== 'string' || !v || v.length > 64) return false;
    if (window.CSS && typeof window.CSS.supports === 'function') return window.CSS.supports('color', v);
    return /^#[0-9a-fA-F]{3,8}$/.test(v);
  }

  /* White or near-black text on a hex colour, whichever contrasts more. */
  function onColor(hex) {
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})([0-9a-f]{2})?$/i.exec(hex || '');
    if (!m) return '#ffffff';
    var h = m[1].length === 3 ? m[1].replace(/(.)/g, '$1$1') : m[1];
    var c = [0, 2, 4].map(function (i) {
      var v = parseInt(h.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var l = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    return l > 0.179 ? '#111111' : '#ffffff';
  }

  /* A same-origin (or data:image) URL, resolved; null for anything else. */
  function sameOrigin(u) {
    if (typeof u !== 'string' || !u) return null;
    try {
      var x = new URL(u, location.href);
      if (x.protocol === 'data:') return /^data:image\//i.test(u) ? x.href : null;
      if (x.origin === location.origin) return x.href;
    } catch (e) { /* not a URL */ }
    return null;
  }

  function applyConfig(c) {
    config = c;
    lang = c.lang === 'sw' ? 'sw' : 'en';
    var name = str(c.name, 120) || SLUG;
    nameEl.textContent = name;
    var logo = sameOrigin(c.logo_url);
    if (logo) {
      logoEl.src = logo;
      logoEl.hidden = false;
    } else {
      logoEl.hidden = true;
      logoEl.removeAttribute('src');
    }
    var colors = c.colors && typeof c.colors === 'object' ? c.colors : {};
    var s = root.style; /* CSSOM: allowed by style-src 'self' */
    if (okColor(colors.primary)) {
      s.setProperty('--primary', colors.primary);
      s.setProperty('--on-primary', onColor(colors.primary));
    }
    if (okColor(colors.background)) s.setProperty('--bg', colors.background);
    if (okColor(colors.text)) s.setProperty('--text', colors.text);
    applyStrings();
    if (rendered) renderAll();
  }

  function applyStrings() {
    root.lang = lang;
    var name = config && typeof config.name === 'string' && config.name ? config.name : '';
    doc.title = name ? fmt(t('titleWith'), name) : t('title');
    logEl.setAttribute('aria-label', name ? fmt(t('logWith'), name) : t('log'));
    labelEl.textContent = t('type');
    textEl.setAttribute('placeholder', t('type'));
    sendEl.textContent = t('send');
    setConn(connState);
  }

  function setConn(s) {
    connState = s;
    root.setAttribute('data-conn', s);
    connTextEl.textContent = t(s === 'online' ? 'online' : s === 'offline' ? 'offline' : 'connecting');
    if (s === 'offline') {
      bannerEl.classList.remove('error');
      bannerEl.hidden = false;
      bannerEl.textContent = t('reconnecting');
    } else if (!bannerEl.classList.contains('error')) {
      bannerEl.hidden = true;
    }
  }

  function showLoadError(on) {
    if (on) {
      bannerEl.classList.add('error');
      bannerEl.textContent = t('loadFail');
      bannerEl.hidden = false;
    } else if (bannerEl.classList.contains('error')) {
      bannerEl.classList.remove('error');
      setConn(connState);
    }
  }

  /* ---- the transcript ---- */

  function cleanButtons(v) {
    if (!Array.isArray(v)) return null;
    var out = [];
    v.forEach(function (b) {
      if (b && typeof b.payload === 'string' && b.payload) {
        out.push({ title: str(b.title, 200) || b.payload, payload: str(b.payload, 256) });
      }
    });
    return out.length ? out : null;
  }

  function cleanList(v) {
    if (!v || typeof v !== 'object' || !Array.isArray(v.sections)) return null;
    var sections = [];
    v.sections.forEach(function (sec) {
      if (!sec || !Array.isArray(sec.rows)) return;
      var rows = [];
      sec.rows.forEach(function (r) {
        if (r && typeof r.payload === 'string' && r.payload) {
          var row = { title: str(r.title, 200) || r.payload, payload: str(r.payload, 256) };
          if (typeof r.description === 'string' && r.description) row.description = str(r.description, 300);
          rows.push(row);
        }
      });
      if (rows.length) sections.push({ title: str(sec.title, 200), rows: rows });
    });
    return sections.length ? { button: str(v.button, 100), sections: sections } : null;
  }

  function cleanCard(v) {
    if (!v || typeof v !== 'object' || typeof v.title !== 'string' || !v.title) return null;
    var c = { title: str(v.title, 200) };
    if (typeof v.subtitle === 'string' && v.subtitle) c.subtitle = str(v.subtitle, 400);
    var img = sameOrigin(v.image_url);
    if (img) c.image_url = img;
    return c;
  }

  function saveLog() { save('log', transcript); }
  function saveOutbox() { save('outbox', outbox); }

  function nearBottom() {
    return logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 80;
  }

  function scrollDown() {
    logEl.scrollTop = logEl.scrollHeight;
  }

  function renderEntry(e) {
    var mine = e.k === 'u';
    var wrap = el('div', 'msg ' + (mine ? 'user' : 'bot'));
    wrap.setAttribute('data-from', mine ? 'user' : 'bot');
    if (mine && e.m) wrap.setAttribute('data-cmid', e.m);

    var who = el('span', 'sr-only');
    var shop = config && typeof config.name === 'string' && config.name ? config.name : t('shop');
    who.textContent = (mine ? t('you') : shop) + ': ';

    if (e.t) {
      var bubble = el('div', 'bubble');
      bubble.appendChild(who);
      bubble.appendChild(doc.createTextNode(e.t)); /* newlines shown by white-space: pre-wrap */
      wrap.appendChild(bubble);
    } else {
      wrap.appendChild(who);
    }

    if (e.c) {
      var card = el('div', 'card');
      if (e.c.image_url) {
        var img = el('img');
        img.src = e.c.image_url;
        img.alt = '';
        img.loading = 'lazy';
        card.appendChild(img);
      }
      var ct = el('div', 'card-title');
      ct.textContent = e.c.title;
      card.appendChild(ct);
      if (e.c.subtitle) {
        var cs = el('div', 'card-sub');
        cs.textContent = e.c.subtitle;
        card.appendChild(cs);
      }
      wrap.appendChild(card);
    }

    if (e.b) {
      var box = el('div', 'choices');
      box.setAttribute('role', 'group');
      box.setAttribute('aria-label', t('choices'));
      e.b.forEach(function (b) {
        var btn = el('button', 'choice');
        btn.type = 'button';
        btn.setAttribute('data-payload', b.payload);
        btn.setAttribute('data-title', b.title);
        btn.textContent = b.title;
        box.appendChild(btn);
      });
      wrap.appendChild(box);
    }

    if (e.l) {
      wrap.classList.add('has-list');
      var list = el('div', 'list');
      list.setAttribute('role', 'group');
      list.setAttribute('aria-label', e.l.button || t('options'));
      e.l.sections.forEach(function (sec) {
        var rowsEl = el('div', 'list-rows');
        if (sec.title) {
          var h = el('p', 'list-title');
          h.textContent = sec.title;
          list.appendChild(h);
        }
        sec.rows.forEach(function (r) {
          var btn = el('button', 'row');
          btn.type = 'button';
          btn.setAttribute('data-payload', r.payload);
          btn.setAttribute('data-title', r.title);
          var rt = el('span', 'row-title');
          rt.textContent = r.title;
          btn.appendChild(rt);
          if (r.description) {
            var rd = el('span', 'row-desc');
            rd.textContent = r.description;
            btn.appendChild(rd);
          }
          rowsEl.appendChild(btn);
        });
        list.appendChild(rowsEl);
      });
      wrap.appendChild(list);
    }

    if (mine && (e.p || e.x)) {
      wrap.classList.add(e.x ? 'failed' : 'pending');
      var st = el('span', 'status');
      st.textContent = e.x ? t('notSent') : t('waiting');
      wrap.appendChild(st);
    }
    return wrap;
  }

  function renderAll() {
    logEl.setAttribute('aria-busy', 'true');
    while (logEl.firstChild) logEl.removeChild(logEl.firstChild);
    transcript.forEach(function (e) { logEl.appendChild(renderEntry(e)); });
    logEl.removeAttribute('aria-busy');
    rendered = true;
    scrollDown();
  }

  function addEntry(e) {
    var stick = e.k === 'u' || nearBottom();
    transcript.push(e);
    while (transcript.length > MAX_BUBBLES) {
      transcript.shift();
      var first = logEl.querySelector('.msg');
      if (first) logEl.removeChild(first);
      while (logEl.firstChild && logEl.firstChild.classList && logEl.firstChild.classList.contains('note')) {
        logEl.removeChild(logEl.firstChild);
      }
    }
    saveLog();
    logEl.appendChild(renderEntry(e));
    if (stick) scrollDown();
  }

  /* A line from the page itself (errors): not a bubble, not kept. */
  function addNote(text) {
    var last = logEl.lastChild;
    if (last && last.classList && last.classList.contains('note') && last.textContent === text) return;
    var stick = nearBottom();
    var n = el('p', 'note');
    n.textContent = text;
    logEl.appendChild(n);
    if (stick) scrollDown();
  }

  function updateUserEntry(cmid, fn) {
    for (var i = transcript.length - 1; i >= 0; i--) {
      var e = transcript[i];
      if (e.k === 'u' && e.m === cmid) {
        fn(e);
        saveLog();
        var node = logEl.querySelector('[data-cmid="' + cmid.replace(/[^A-Za-z0-9-]/g, '') + '"]');
        if (node) logEl.replaceChild(renderEntry(e), node);
        return;
      }
    }
  }

  /* ---- sending ---- */

  function newId() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === 'function') {
      try { return c.randomUUID(); } catch (e) { /* insecure context */ }
    }
    var a = new Uint8Array(16);
    if (c && c.getRandomValues) {
      c.getRandomValues(a);
    } else {
      for (var j = 0; j < 16; j++) a[j] = Math.floor(Math.random() * 256);
    }
    a[6] = (a[6] & 0x0f) | 0x40;
    a[8] = (a[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(a, function (b) { return (b < 16 ? '0' : '') + b.toString(16); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function enqueue(frame, shown) {
    frame.client_msg_id = newId();
    addEntry({ k: 'u', t: shown, m: frame.client_msg_id, p: 1 });
    outbox.push({ f: frame, s: 0, n: 0 });
    while (outbox.length > MAX_OUTBOX) {
      var dropped = outbox.shift();
      updateUserEntry(dropped.f.client_msg_id, function (e) { delete e.p; e.x = 1; });
    }
    saveOutbox();
    flush();
  }

  function sendText(text) {
    text = text.replace(/\s+$/, '').replace(/^\s+/, '');
    if (!text) return false;
    if (text.length > MAX_TEXT) text = text.slice(0, MAX_TEXT);
    enqueue({ type: 'text', text: text }, text);
    return true;
  }

  function press(payload, title) {
    enqueue({ type: 'postback', payload: payload }, title || payload);
  }

  /* Sends every message not yet sent on this socket (after the welcome only). */
  function flush() {
    if (!online || !ws) return;
    var changed = false, sent = 0;
    for (var i = 0; i < outbox.length; i++) {
      var o = outbox[i];
      if (o.s === gen) continue;
      if (sent >= BURST) {
        laterFlush(1100); /* the server takes 10 a second per connection */
        break;
      }
      if ((o.n || 0) >= MAX_TRIES) {
        outbox.splice(i--, 1);
        updateUserEntry(o.f.client_msg_id, function (e) { delete e.p; e.x = 1; });
        changed = true;
        continue;
      }
      try {
        ws.send(JSON.stringify(o.f));
      } catch (e) {
        break;
      }
      o.s = gen;
      o.n = (o.n || 0) + 1;
      sent++;
      changed = true;
      updateUserEntry(o.f.client_msg_id, function (e) { delete e.p; });
    }
    if (changed) saveOutbox();
  }

  function laterFlush(ms) {
    if (flushTimer) return;
    flushTimer = setTimeout(function () {
      flushTimer = 0;
      flush();
    }, ms);
  }

  /* A reply arrived: the oldest message sent on this socket has been answered. */
  function answered() {
    for (var i = 0; i < outbox.length; i++) {
      if (outbox[i].s === gen) {
        outbox.splice(i, 1);
        saveOutbox();
        return;
      }
    }
  }

  function settle(cmid, failed) {
    for (var i = 0; i < outbox.length; i++) {
      if (outbox[i].f.client_msg_id === cmid) {
        outbox.splice(i, 1);
        saveOutbox();
        break;
      }
    }
    updateUserEntry(cmid, function (e) {
      delete e.p;
      if (failed) e.x = 1;
    });
  }

  /* ---- the socket ---- */

  function wsUrl() {
    var p = config && typeof config.ws_path === 'string' ? config.ws_path : '';
    if (!/^\/[^/\\]/.test(p)) p = '/ws/chat/' + SLUG;
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + p;
  }

  function connect() {
    if (timer) {
      clearTimeout(timer);
      timer = 0;
    }
    if (ws) return;
    var sock;
    try {
      sock = new WebSocket(wsUrl());
    } catch (e) {
      setConn('offline');
      scheduleReconnect();
      return;
    }
    ws = sock;
    gen++;
    online = false;
    sock.onopen = function () {
      if (ws !== sock) return;
      var session = load('session', null);
      sock.send(JSON.stringify({ type: 'hello', session: typeof session === 'string' && session ? session : null }));
      clearTimeout(helloTimer);
      helloTimer = setTimeout(function () {
        if (ws === sock && !online) sock.close(4000, 'no welcome');
      }, HELLO_TIMEOUT);
    };
    sock.onmessage = function (ev) {
      if (ws !== sock || typeof ev.data !== 'string') return;
      onFrame(ev.data);
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      lost();
    };
    sock.onerror = function () { /* onclose follows */ };
  }

  function lost() {
    ws = null;
    online = false;
    if (flushTimer) {
      clearTimeout(flushTimer);
      flushTimer = 0;
    }
    clearTimeout(helloTimer);
    setConn('offline');
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (timer) return;
    var base = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, attempt));
    attempt++;
    var delay = Math.min(BACKOFF_MAX, Math.round(base * (0.75 + Math.random() * 0.5)));
    timer = setTimeout(function () {
      timer = 0;
      connect();
    }, delay);
  }

  /* The network is back, or the page is shown again: try now rather than at the timer. */
  function retryNow() {
    if (!started || ws) return;
    connect();
  }

  function onFrame(data) {
    var m;
    try {
      m = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'welcome':
        if (typeof m.session === 'string' && m.session) save('session', m.session);
        if (m.conversation_id !== undefined && m.conversation_id !== null) save('conversation', String(m.conversation_id));
        clearTimeout(helloTimer);
        online = true;
        attempt = 0;
        setConn('online');
        flush();
        break;
      case 'message':
        onMessage(m);
        break;
      case 'ack':
        if (typeof m.client_msg_id === 'string') settle(m.client_msg_id, false);
        break;
      case 'error':
        onError(m);
        break;
      default:
        break;
    }
  }

  function onMessage(m) {
    var e = { k: 'b', t: typeof m.text === 'string' ? m.text : '' };
    var b = cleanButtons(m.buttons);
    var l = cleanList(m.list);
    var c = cleanCard(m.card);
    if (b) e.b = b;
    if (l) e.l = l;
    if (c) e.c = c;
    if (m.id !== undefined && m.id !== null) {
      e.i = String(m.id);
      for (var i = transcript.length - 1; i >= 0; i--) {
        if (transcript[i].i === e.i) return; /* already shown (sent again after a resume) */
      }
    }
    if (!e.t && !e.b && !e.l && !e.c) return;
    retryDelay = 1000;
    answered();
    addEntry(e);
  }

  /* The words for an error: ours for the codes we know (in the page's language), else the
   * server's. */
  function errorText(code, message) {
    if (code === 'unavailable' || REFUSED[code]) return t(code);
    return typeof message === 'string' && message ? str(message, 500) : t('error');
  }

  function onError(m) {
    var code = typeof m.code === 'string' ? m.code : '';
    var i;
    if (!online) {
      /* refused at hello; the server closes the socket and the page tries again later */
      if (/session/.test(code)) forget('session'); /* a token it no longer takes */
      if (REFUSED[code]) attempt = Math.max(attempt, 5); /* no point in hurrying */
      addNote(errorText(code, m.message));
      return;
    }
    if (typeof m.client_msg_id === 'string' && !RETRY[code]) {
      settle(m.client_msg_id, true);
      addNote(errorText(code, m.message));
      return;
    }
    if (RETRY[code]) {
      /* not taken: what is in flight on this socket goes again shortly (the server drops,
       * with an ack, any of them it already has) */
      for (i = 0; i < outbox.length; i++) {
        var o = outbox[i];
        if (o.s === gen && (typeof m.client_msg_id !== 'string' || o.f.client_msg_id === m.client_msg_id)) {
          o.s = 0;
          updateUserEntry(o.f.client_msg_id, function (e) { e.p = 1; });
        }
      }
      saveOutbox();
      laterFlush(retryDelay);
      retryDelay = Math.min(8000, retryDelay * 2);
      return;
    }
    /* anything else answers the oldest message in flight, which will not be taken as it is */
    for (i = 0; i < outbox.length; i++) {
      if (outbox[i].s === gen) {
        settle(outbox[i].f.client_msg_id, true);
        break;
      }
    }
    addNote(errorText(code, m.message));
  }

  /* ---- start ---- */

  function greet() {
    if (transcript.length === 0 && config && typeof config.greeting === 'string' && config.greeting.trim()) {
      addEntry({ k: 'b', t: str(config.greeting, 4000), g: 1 });
    }
  }

  function ready() {
    if (started) return;
    started = true;
    if (!rendered) renderAll();
    greet();
    connect();
  }

  function fetchConfig(n) {
    fetch(BASE + '/config.json', { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (c) {
        if (!c || typeof c !== 'object') throw new Error('bad config');
        save('config', c);
        showLoadError(false);
        applyConfig(c);
        ready();
      })
      .catch(function () {
        if (config) {
          ready(); /* the copy from last time will do */
          return;
        }
        showLoadError(true);
        var wait = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, n)) * (0.75 + Math.random() * 0.5);
        setTimeout(function () { fetchConfig(n + 1); }, wait);
      });
  }

  formEl.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (sendText(textEl.value)) textEl.value = '';
    textEl.focus();
  });

  /* Keep the keyboard up on phones: a tap on Send does not take the focus from the box. */
  sendEl.addEventListener('mousedown', function (ev) { ev.preventDefault(); });

  logEl.addEventListener('click', function (ev) {
    var btn = ev.target && ev.target.closest ? ev.target.closest('button[data-payload]') : null;
    if (!btn || !logEl.contains(btn)) return;
    press(btn.getAttribute('data-payload'), btn.getAttribute('data-title') || btn.textContent);
    /* back to the text box; after a tap on a touch screen that would pop the keyboard up */
    if (ev.detail === 0 || !coarse()) textEl.focus({ preventScroll: true });
  });

  function coarse() {
    return window.matchMedia ? window.matchMedia('(pointer: coarse)').matches : false;
  }

  if (EMBED && window.parent && window.parent !== window) {
    doc.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape') {
        window.parent.postMessage({ type: 'ccgw-chat-close', slug: SLUG }, '*');
      }
    });
  }

  window.addEventListener('online', retryNow);
  doc.addEventListener('visibilitychange', function () {
    if (doc.visibilityState === 'visible') retryNow();
  });

  var cached = load('config', null);
  if (cached && typeof cached === 'object' && !Array.isArray(cached)) applyConfig(cached);
  else applyStrings();
  renderAll();
  if (!coarse()) textEl.focus({ preventScroll: true });
  /* Opened from the shop page's "Chat here" (?product=SKU): the bot shows that product at
   * once. The parameter is dropped from the address so a reload does not ask again. */
  var startSku = new URLSearchParams(location.search).get('product');
  if (startSku && startSku.length <= 60 && /^[\x20-\x7e]+$/.test(startSku)) {
    press('sku:' + startSku, startSku);
    try {
      var u = new URL(location.href);
      u.searchParams.delete('product');
      history.replaceState(null, '', u.pathname + u.search + u.hash);
    } catch (e) { /* an old browser keeps the address */ }
  }
  fetchConfig(0);
})();
