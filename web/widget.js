/*
 * widget.js: the web chat's embed for any page, served at /chat/{slug}/widget.js with
 * {{SLUG}} and {{BASE}} filled in by the gateway:
 *   <script src="{{BASE}}/chat/{{SLUG}}/widget.js" async></script>
 * It adds a round button in the bottom-right corner that opens and closes an iframe with the
 * chat ({{BASE}}/chat/{{SLUG}}?embed=1). Its only global is window.ccgwChat; styles are set
 * through element.style; including it twice adds nothing the second time.
 */
(function () {
  'use strict';

  var SLUG = '{{SLUG}}';
  var BASE = '{{BASE}}'.replace(/\/+$/, '');
  var w = window;
  var doc = document;

  var ns = w.ccgwChat;
  if (!ns || typeof ns !== 'object') {
    ns = { widgets: {} };
    w.ccgwChat = ns;
  }
  if (!ns.widgets || typeof ns.widgets !== 'object') ns.widgets = {};
  if (ns.widgets[SLUG]) return; /* included twice */
  var widget = { slug: SLUG, open: false };
  ns.widgets[SLUG] = widget;
  if (!ns.open) {
    ns.open = function (slug) { call(slug, 'show'); };
    ns.close = function (slug) { call(slug, 'hide'); };
    ns.toggle = function (slug) { call(slug, 'toggle'); };
  }

  function call(slug, what) {
    var wd = slug ? ns.widgets[slug] : ns.widgets[Object.keys(ns.widgets)[0]];
    if (wd && typeof wd[what] === 'function') wd[what]();
  }

  var PRIMARY = '#0a7d4f';
  var SVGNS = 'http://www.w3.org/2000/svg';
  var stack = Object.keys(ns.widgets).length - 1; /* a second shop's button sits above the first */
  var phone = w.matchMedia ? w.matchMedia('(max-width: 480px)') : null;
  var button, frame, chatIcon, closeIcon;

  function css(el, props) {
    for (var k in props) {
      if (Object.prototype.hasOwnProperty.call(props, k)) el.style.setProperty(k, props[k], 'important');
    }
  }

  function icon(d) {
    var svg = doc.createElementNS(SVGNS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '28');
    svg.setAttribute('height', '28');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var p = doc.createElementNS(SVGNS, 'path');
    p.setAttribute('d', d);
    p.setAttribute('fill', 'currentColor');
    svg.appendChild(p);
    css(svg, { display: 'block', 'pointer-events': 'none' });
    return svg;
  }

  function place() {
    var bottom = 20 + stack * 72;
    css(button, { bottom: bottom + 'px', right: '20px' });
    if (!frame) return;
    if (phone && phone.matches) {
      /* a phone: nearly the whole screen, above the button (an iframe does not stretch
       * between left and right, so its size is given; % of the viewport, being fixed) */
      css(frame, {
        left: '8px', right: 'auto', top: '8px', bottom: 'auto',
        width: 'calc(100% - 16px)', height: 'calc(100% - ' + (bottom + 84) + 'px)',
        'max-width': 'none', 'max-height': 'none', 'border-radius': '12px'
      });
    } else {
      css(frame, {
        left: 'auto', top: 'auto', right: '20px', bottom: (bottom + 68) + 'px',
        width: '360px', height: '560px',
        'max-width': 'calc(100vw - 40px)', 'max-height': 'calc(100vh - ' + (bottom + 88) + 'px)',
        'border-radius': '14px'
      });
    }
  }

  function makeFrame() {
    frame = doc.createElement('iframe');
    frame.id = 'ccgw-chat-frame-' + SLUG;
    frame.title = 'Chat';
    frame.src = BASE + '/chat/' + SLUG + '?embed=1';
    frame.setAttribute('allow', 'clipboard-write');
    frame.setAttribute('referrerpolicy', 'strict-origin-when-cross-origin');
    css(frame, {
      position: 'fixed', 'z-index': '2147483000', border: '0', margin: '0', padding: '0',
      background: '#ffffff', 'box-shadow': '0 12px 40px rgba(0, 0, 0, 0.25)',
      'color-scheme': 'normal', display: 'none'
    });
    doc.body.appendChild(frame);
    button.setAttribute('aria-controls', frame.id);
    place();
  }

  function show() {
    if (!frame) makeFrame();
    css(frame, { display: 'block' });
    widget.open = true;
    button.setAttribute('aria-expanded', 'true');
    chatIcon.style.setProperty('display', 'none', 'important');
    closeIcon.style.setProperty('display', 'block', 'important');
    try { frame.focus(); } catch (e) { /* ignore */ }
  }

  function hide() {
    if (frame) css(frame, { display: 'none' });
    widget.open = false;
    button.setAttribute('aria-expanded', 'false');
    chatIcon.style.setProperty('display', 'block', 'important');
    closeIcon.style.setProperty('display', 'none', 'important');
  }

  function toggle() {
    if (widget.open) hide();
    else show();
  }

  function init() {
    if (widget.button) return;
    button = doc.createElement('button');
    button.type = 'button';
    button.id = 'ccgw-chat-button-' + SLUG;
    button.setAttribute('aria-label', 'Chat with us');
    button.setAttribute('aria-expanded', 'false');
    button.title = 'Chat with us';
    css(button, {
      position: 'fixed', 'z-index': '2147483001', width: '60px', height: '60px',
      'border-radius': '50%', border: '0', margin: '0', padding: '0',
      background: PRIMARY, color: '#ffffff', cursor: 'pointer',
      display: 'flex', 'align-items': 'center', 'justify-content': 'center',
      'box-shadow': '0 4px 14px rgba(0, 0, 0, 0.3)', 'line-height': '0'
    });
    chatIcon = icon('M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z');
    closeIcon = icon('M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z');
    closeIcon.style.setProperty('display', 'none', 'important');
    button.appendChild(chatIcon);
    button.appendChild(closeIcon);
    button.addEventListener('click', toggle);
    button.addEventListener('focus', function () {
      button.style.setProperty('outline', '3px solid #1a73e8', 'important');
      button.style.setProperty('outline-offset', '3px', 'important');
    });
    button.addEventListener('blur', function () {
      button.style.removeProperty('outline');
      button.style.removeProperty('outline-offset');
    });
    doc.body.appendChild(button);
    widget.button = button;
    widget.show = show;
    widget.hide = hide;
    widget.toggle = toggle;
    place();
    if (phone) {
      if (phone.addEventListener) phone.addEventListener('change', place);
      else if (phone.addListener) phone.addListener(place);
    }
    /* Escape inside the chat asks to close it (chat.js posts this in embed mode). */
    w.addEventListener('message', function (ev) {
      var d = ev.data;
      if (!frame || ev.source !== frame.contentWindow) return;
      if (d && d.type === 'ccgw-chat-close' && d.slug === SLUG) {
        hide();
        button.focus();
      }
    });
    doc.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && widget.open) {
        hide();
        button.focus();
      }
    });
  }

  if (doc.body) init();
  else doc.addEventListener('DOMContentLoaded', init);
})();
