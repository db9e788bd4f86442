/*! Switchboard website widget — docs/widget.md. Plain ES2017, no dependencies.
 * Embed: <script src="https://chat.example.com/widget.js" data-inbox="1" async></script>
 * All DOM is built with createElement/textContent inside a closed shadow root: text from
 * customers, agents, names and file names is never parsed as HTML. */
(() => {
  'use strict';
  const W = window, D = document;
  if ((W.Switchboard && W.Switchboard.widget) || D.querySelector('switchboard-widget')) return; // loaded twice

  const script = D.currentScript || (() => {
    const all = D.querySelectorAll('script[src*="widget.js"]');
    for (let i = all.length - 1; i >= 0; i--) if (all[i].dataset.inbox) return all[i];
    return all[all.length - 1];
  })();
  if (!script || !script.src) return;
  const src = new URL(script.src, D.baseURI);
  const BASE = src.origin + src.pathname.replace(/\/?[^/]*$/, ''); // the directory widget.js is served from
  const WS_URL = BASE.replace(/^http/, 'ws') + '/api/v1/ws';
  const INBOX = parseInt(script.dataset.inbox, 10);
  if (!(INBOX > 0)) { console.warn('Switchboard widget: data-inbox is missing or invalid.'); return; }
  const TITLE = (script.dataset.title || '').trim().slice(0, 80);
  const COLOR = script.dataset.color && W.CSS && CSS.supports('color', script.dataset.color) ? script.dataset.color : '#2457d6';
  const TOUCH = W.matchMedia && matchMedia('(pointer: coarse)').matches;
  const MAX_BODY = 10000;
  const API = '/api/v1/widget';

  let ui = null, root = null, draft = null;
  let queued = null; // open/close called before the UI exists
  W.Switchboard = { widget: 1, open: () => (ui ? open(true) : (queued = 'open')), close: () => (ui ? close() : (queued = 'close')) };

  // ---- storage (localStorage, namespaced by server and inbox; memory when storage is blocked) ----
  const NS = 'switchboard:' + BASE + ':inbox:' + INBOX + ':';
  const mem = {};
  const store = (area) => ({
    get: (k) => { try { return W[area].getItem(NS + k); } catch (e) { return k in mem ? mem[k] : null; } },
    set: (k, v) => { try { W[area].setItem(NS + k, v); } catch (e) { mem[k] = v; } },
    del: (k) => { try { W[area].removeItem(NS + k); } catch (e) { delete mem[k]; } },
  });
  const local = store('localStorage'), session = store('sessionStorage');

  // ---- state ----
  const S = {
    token: local.get('token'), inbox: null, inboxError: null,
    convs: new Map(),      // id -> Conversation
    current: null,         // the conversation shown at the bottom (live or ended); null = a new chat
    fresh: false,          // the visitor pressed "Start a new chat"
    pos: 0, wantWs: false, unread: 0, isOpen: false,
    queue: null, names: new Map(), files: new Map(), creating: null, visitorP: null, typingAt: 0,
  };
  const sections = new Map(); // conversation id -> {el, list, byId, seqs, contig, loading, again}
  const pending = new Map();  // client_id -> {cid, body, file, el, meta, state, timer, viaWs}
  let evs = 0; // counts conversation states received (events, lists): conv.ev orders them against a POST's answer
  const isLive = (c) => !!c && c.status !== 'ended' && c.status !== 'failed';
  const liveCurrent = () => (isLive(S.current) ? S.current : null);
  // An open ticket (R7) goes on in writing
  const writable = (c) => isLive(c) || !!c && !c.parent_id && (c.ticket_status === 'unassigned' || c.ticket_status === 'assigned');
  const curr = () => (writable(S.current) ? S.current : null);

  // ---- HTTP ----
  class ApiError extends Error { constructor(status, code, msg) { super(msg); this.status = status; this.code = code; } }
  async function request(method, path, body, opts) {
    opts = opts || {};
    const headers = { Accept: 'application/json' };
    const tok = S.token, authed = opts.auth !== false;
    if (authed) {
      if (!tok) throw new ApiError(401, 'unauthorized', 'Your chat session has ended. Please try again.');
      headers.Authorization = 'Bearer ' + tok;
    }
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
    let res;
    try {
      res = await fetch(BASE + path, { method, headers, body: payload, credentials: 'omit', cache: 'no-store', mode: 'cors' });
    } catch (e) {
      throw new ApiError(0, 'network', "Can't reach the chat server. Check your connection and try again.");
    }
    if (res.status === 401 && authed) {
      if (S.token === tok) dropVisitor();
      throw new ApiError(401, 'unauthorized', 'Your chat session has ended. Please try again.');
    }
    if (!res.ok) {
      let code = 'http_' + res.status, msg = '';
      try { const j = await res.json(); if (j && j.error) { code = j.error.code || code; msg = j.error.message || ''; } } catch (e) { /* not JSON */ }
      if (!msg) msg = res.status === 413 ? 'That file is too large.' : res.status === 415 ? 'That type of file is not allowed.'
        : res.status === 429 ? 'Too many requests. Please wait a moment.' : 'Something went wrong (' + res.status + '). Please try again.';
      throw new ApiError(res.status, code, msg);
    }
    if (opts.raw) return res;
    return res.status === 204 ? null : res.json();
  }
  const convPath = (id, rest) => API + '/conversations/' + encodeURIComponent(id) + (rest || '');

  function ensureVisitor() {
    if (S.token) return Promise.resolve();
    if (!S.visitorP) {
      S.visitorP = request('POST', API + '/visitors', { inbox_id: INBOX }, { auth: false }).then((res) => {
        S.token = res.token; local.set('token', res.token); S.visitorP = null; S.wantWs = true; connect();
      }, (e) => { S.visitorP = null; throw e; });
    }
    return S.visitorP;
  }

  // A 401 means the token is gone: forget the visitor; the next action creates a new one.
  function dropVisitor() {
    S.token = null; local.del('token'); local.del('seen');
    S.pos = 0; S.convs.clear(); S.current = null; S.fresh = false; S.queue = null;
    if (ws) { const s = ws; ws = null; wsState = 'idle'; s.close(); }
    sections.forEach((sec) => sec.el.remove()); sections.clear();
    if (ui) { showDraft(); render(); }
  }

  // ---- DOM helpers ----
  function h(tag, props) {
    const el = D.createElement(tag);
    for (const k in props || {}) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k === 'class') el.className = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (let i = 2; i < arguments.length; i++) { const c = arguments[i]; if (c != null && c !== false) el.append(c); }
    return el;
  }
  const ICONS = {
    chat: 'M6 4h12a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2h-8l-5 4v-4H6a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
    close: 'M6 6l12 12M18 6L6 18',
    down: 'M6 9l6 6 6-6',
    clip: 'M20.5 11.5l-8.2 8.2a5 5 0 0 1-7.1-7.1l8.5-8.5a3.4 3.4 0 0 1 4.8 4.8l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8',
    send: 'M4 12l16-8-6 16-2.5-6.5z',
  };
  function icon(name) {
    const NSV = 'http://www.w3.org/2000/svg';
    const svg = D.createElementNS(NSV, 'svg'), p = D.createElementNS(NSV, 'path');
    svg.setAttribute('viewBox', '0 0 24 24'); svg.setAttribute('aria-hidden', 'true'); svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'ic ic-' + name); p.setAttribute('d', ICONS[name]); svg.append(p);
    return svg;
  }
  const fmtTime = (t) => { const d = new Date(t); return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); };
  const fmtDate = (t) => { const d = new Date(t); return isNaN(d) ? '' : d.toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' }) + ', ' + fmtTime(t); };
  const fmtSize = (n) => (n >= 1048576 ? (n / 1048576).toFixed(1) + ' MB' : n >= 1024 ? Math.round(n / 1024) + ' KB' : n > 0 ? n + ' B' : '');

  // Formatting by the workspace's rules (web/workspace_format.go), built as elements and text nodes: **bold**,
  // *italic*, _italic_, `code`, ``` blocks, "- "/"1. " lists, [text](https://…) and bare http(s) links.
  const SPACE = /[^\S\ufeff]|\x85/; // Go's unicode.IsSpace
  let WORD = /^[a-z\d\xaa-\uffff]/i; // a letter or digit; \p{} is ES2018, so not a literal
  try { WORD = new RegExp('^[\\p{L}\\p{Nd}]', 'u'); } catch (e) { /* older engine */ }
  const trim = (s) => s.replace(/^([^\S\ufeff]|\x85)+|([^\S\ufeff]|\x85)+$/g, '');
  // Absolute http(s) URLs with a host, as Go's url.Parse reads them, without spaces, quotes or controls.
  const safeURL = (u) => !/[\0- "'<>`\x7f]/.test(u) && !/%(?![\da-f]{2})/i.test(u.replace(/^([^#?]*)\?[^#]*/, '$1'))
    && /^https?:\/\/([\w.~!$&'()*+,;=:%@-]*@)?(?=[^/?#])(\[[\da-f:.]*:[\da-f:.]*(%25[^\]]*)?\]|([^/?#@\\^{|}[:%]|%([89a-f]|25))*)(:\d*)?([/?#]|$)/i.test(u);
  const link = (href, text) => h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow ugc', text });
  function inline(s, out) {
    let prev = ' ', e, m; // emphasis opens only after a space, bracket or quote (not in snake_case)
    while (s) {
      const c = s[0];
      if (c === '`') {
        if ((e = s.indexOf('`', 1)) > 1) { out.append(h('code', { text: s.slice(1, e) })); s = s.slice(e + 1); prev = c; continue; }
      } else if (s.startsWith('**')) {
        if ((e = s.indexOf('**', 2)) > 2) { inline(s.slice(2, e), out.appendChild(h('strong'))); s = s.slice(e + 2); prev = c; continue; }
      } else if ((c === '*' || c === '_') && (SPACE.test(prev) || '([{"\''.includes(prev)) && s.length > 1 && s[1] !== c) {
        if ((e = s.indexOf(c, 1)) > 1 && !SPACE.test(s[1]) && !SPACE.test(s[e - 1]) && !WORD.test(s.slice(e + 1))) {
          inline(s.slice(1, e), out.appendChild(h('em'))); s = s.slice(e + 1); prev = '_'; continue;
        }
      } else if (c === '[') {
        if ((e = s.indexOf('](')) > 0 && (m = s.indexOf(')', e + 2)) > 0 && safeURL(s.slice(e + 2, m))) {
          out.append(link(s.slice(e + 2, m), s.slice(1, e))); s = s.slice(m + 1); prev = ')'; continue;
        }
      } else if (/^https?:\/\//.test(s)) {
        e = s.search(/[^\S\ufeff]|[\x85<>"]/);
        e = s.slice(0, e < 0 ? s.length : e).replace(/[.,;:!?)']+$/, '');
        if (safeURL(e)) { out.append(link(e, e)); s = s.slice(e.length); prev = '/'; continue; }
      }
      e = s.slice(1).search(/[`*_[h]/) + 1 || s.length; // plain text up to what may start markup
      out.append(s.slice(0, e)); prev = s[e - 1]; s = s.slice(e);
    }
  }
  function format(body) {
    const out = D.createDocumentFragment(), lines = body.replace(/\r\n/g, '\n').split('\n');
    let list = null, kind = '', para = false; // the open <ul>/<ol>; whether the last line was text (then <br>)
    for (let i = 0; i < lines.length; i++) {
      const t = trim(lines[i]);
      if (t.startsWith('```')) {
        let j = i + 1;
        while (j < lines.length && !trim(lines[j]).startsWith('```')) j++;
        if (j < lines.length || j > i + 1) {
          list = null; out.append(h('pre', null, h('code', { text: lines.slice(i + 1, j).join('\n') }))); para = false; i = j; continue;
        }
      }
      const m = /^([-*]|(\d{1,4})\.) /.exec(t);
      if (m) {
        const k = m[2] ? 'ol' : 'ul';
        if (!list || kind !== k) out.append(list = h(kind = k));
        inline(t.slice(m[0].length), list.appendChild(h('li'))); para = false; continue;
      }
      list = null;
      if (para) out.append(h('br'));
      inline(lines[i], out); para = true;
    }
    out.normalize(); // one text node per run of text
    return out;
  }

  // ---- styles (constant text; the only dynamic values are custom properties set through CSSOM) ----
  const CSS_TEXT = `
.sb{all:initial;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif,"Apple Color Emoji","Segoe UI Emoji";font-size:14px;line-height:1.4;color:var(--fg);
--bg:#fff;--fg:#1d2330;--muted:#5b6472;--line:#dadfe6;--them:#eef0f4;--err:#b3261e;--focus:#1a56db}
@media (prefers-color-scheme:dark){.sb{--bg:#1b1e25;--fg:#e8eaef;--muted:#a6aebb;--line:#373d49;--them:#2a2f3a;--err:#ff8a80;--focus:#8ab4ff}}
.sb *,.sb *::before,.sb *::after{box-sizing:border-box}
.sb [hidden]{display:none!important}
:where(.sb) button{font:inherit;color:inherit;cursor:pointer}
.sb :focus{outline:none}.sb :focus-visible{outline:2px solid var(--focus);outline-offset:2px}
.ic{width:20px;height:20px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
.ic-chat,.ic-send{fill:currentColor;stroke:none}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:56px;height:56px;border-radius:50%;border:0;padding:0;display:flex;align-items:center;justify-content:center;background:var(--accent);color:var(--on-accent);box-shadow:0 4px 14px rgba(0,0,0,.25)}
.launcher .ic{width:28px;height:28px}.open .launcher .ic-chat,.sb:not(.open) .launcher .ic-down{display:none}
.badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#c62828;color:#fff;border:2px solid #fff;font-size:12px;font-weight:700;line-height:18px;text-align:center}
.panel{position:fixed;right:20px;bottom:88px;z-index:2147483001;width:370px;height:min(640px,calc(100vh - 108px));display:flex;flex-direction:column;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.25);overflow:hidden}
@media (prefers-reduced-motion:no-preference){.panel{animation:sb-in .16s ease-out}@keyframes sb-in{from{opacity:0;transform:translateY(8px)}}}
.head{display:flex;align-items:center;gap:8px;padding:12px 8px 12px 16px;background:var(--accent);color:var(--on-accent)}
.head :focus-visible{outline-color:currentColor}
.titles{flex:1;min-width:0}
.title{margin:0;font-size:16px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.sub{margin:0;font-size:12px;opacity:.92}
.iconbtn{width:36px;height:36px;flex:none;border:0;border-radius:8px;padding:0;background:transparent;display:flex;align-items:center;justify-content:center}
.iconbtn:hover{background:rgba(127,127,127,.18)}
.actions{display:flex;gap:8px;flex-wrap:wrap;padding:8px 12px;border-bottom:1px solid var(--line)}
.pill{border:1px solid var(--line);background:var(--bg);border-radius:999px;padding:4px 12px;font-size:13px}
.pill:hover{border-color:var(--muted)}.pill.danger{color:var(--err)}
.banner{padding:6px 12px;font-size:13px;background:#fff4d6;color:#5c4300;border-bottom:1px solid #f0d58a}
.log{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:12px;display:flex;flex-direction:column;gap:4px}
.list{display:flex;flex-direction:column;gap:4px}
.divider{align-self:stretch;text-align:center;color:var(--muted);font-size:12px;margin:10px 0 4px}
.earlier{align-self:center;margin-bottom:8px}
.msg{display:flex;flex-direction:column;max-width:85%}
.msg.me{align-self:flex-end;align-items:flex-end}.msg.them{align-self:flex-start;align-items:flex-start}
.msg.sys{align-self:center;max-width:100%;text-align:center;color:var(--muted);font-size:12px}
.author{font-size:12px;color:var(--muted);margin:6px 4px 2px}
.bubble{padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;background:var(--them)}
.me .bubble{background:var(--accent);color:var(--on-accent);border-bottom-right-radius:4px}
.them .bubble{border-bottom-left-radius:4px}
.sys .bubble{background:transparent;padding:2px 8px}
.bubble a{color:inherit;text-decoration:underline}
.bubble ul,.bubble ol{margin:2px 0;padding-left:20px}.bubble pre{margin:4px 0;padding:8px;white-space:pre-wrap}
.bubble code{font:.92em ui-monospace,Menlo,Consolas,monospace;padding:0 3px}.bubble code,.bubble pre{background:rgba(127,127,127,.18);border-radius:4px}.bubble pre code{background:none;padding:0}
.meta{font-size:11px;color:var(--muted);margin:2px 4px;display:flex;gap:8px;align-items:center}
.failed .meta{color:var(--err)}.failed .bubble{opacity:.75}
.meta button{border:0;background:none;padding:0;text-decoration:underline;color:inherit;font-size:11px}
.file{display:flex;flex-direction:column;gap:6px}
.filebtn{display:flex;align-items:center;gap:6px;border:0;background:none;padding:0;text-align:left;text-decoration:underline}
.filebtn .ic{flex:none;width:16px;height:16px}
.thumb{max-width:100%;max-height:220px;border-radius:8px;display:block}
.card{align-self:stretch;border:1px solid var(--line);border-radius:10px;padding:12px;margin:8px 0;display:flex;flex-direction:column;gap:8px}
.card p{margin:0}
.card label{display:flex;flex-direction:column;gap:2px;font-size:13px}
.field,.input{font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:8px 10px}
.row{display:flex;gap:8px;justify-content:flex-end}
.primary{border:0;border-radius:8px;padding:8px 14px;background:var(--accent);color:var(--on-accent);font-weight:600}
.secondary{border:1px solid var(--line);border-radius:8px;padding:8px 14px;background:var(--bg)}
.err{color:var(--err);font-size:13px;margin:0}
.status,.typing{padding:0 14px;font-size:12px;color:var(--muted);min-height:0}
.status:not(:empty){padding-top:6px}.typing:not(:empty){padding-top:4px;font-style:italic}
.alert{margin:6px 12px 0;color:var(--err);font-size:13px}
.composer{display:flex;align-items:flex-end;gap:6px;padding:8px;border-top:1px solid var(--line);margin-top:6px;padding-bottom:calc(8px + env(safe-area-inset-bottom))}
.input{flex:1;resize:none;min-height:40px;max-height:120px;line-height:1.4}
.composer .iconbtn{height:40px;width:40px;color:var(--muted)}
.composer .send{background:var(--accent);color:var(--on-accent)}
.composer .send:hover{background:var(--accent);filter:brightness(1.08)}
.ended{display:flex;justify-content:center;padding:12px;border-top:1px solid var(--line);margin-top:6px;padding-bottom:calc(12px + env(safe-area-inset-bottom))}
.sr{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.dropping .log{outline:2px dashed var(--accent);outline-offset:-6px}
@media (max-width:480px){.panel{top:0;left:0;right:0;bottom:0;width:100%;height:100%;border:0;border-radius:0}
.sb.open .launcher{display:none}.input,.field{font-size:16px}}`;

  // ---- UI ----

  function buildUI() {
    const host = D.createElement('switchboard-widget');
    root = host.attachShadow({ mode: 'closed' });
    try { const sheet = new CSSStyleSheet(); sheet.replaceSync(CSS_TEXT); root.adoptedStyleSheets = [sheet]; } // not subject to the page's style-src
    catch (e) { root.append(h('style', { text: CSS_TEXT })); }
    const u = {};
    u.wrap = h('div', { class: 'sb' });
    u.wrap.style.setProperty('--accent', COLOR);
    u.wrap.style.setProperty('--on-accent', textOn(COLOR));
    u.badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true });
    u.launcher = h('button', { type: 'button', class: 'launcher', 'aria-expanded': 'false', 'aria-controls': 'sb-panel', 'aria-label': 'Open chat', onclick: () => (S.isOpen ? close() : open(true)) }, icon('chat'), icon('down'), u.badge);
    u.title = h('h2', { class: 'title', id: 'sb-title', text: TITLE || 'Chat' });
    u.sub = h('p', { class: 'sub', hidden: true });
    u.closeBtn = h('button', { type: 'button', class: 'iconbtn', 'aria-label': 'Close chat', title: 'Close', onclick: () => close() }, icon('close'));
    u.human = h('button', { type: 'button', class: 'pill', text: 'Talk to a human', onclick: askHuman });
    u.end = h('button', { type: 'button', class: 'pill danger', text: 'End chat', onclick: endChat });
    u.actions = h('div', { class: 'actions', hidden: true }, u.human, u.end);
    u.banner = h('div', { class: 'banner', role: 'status', hidden: true });
    u.earlier = h('button', { type: 'button', class: 'pill earlier', hidden: true, onclick: loadEarlier });
    u.sections = h('div', { class: 'list' });
    u.draft = h('div', { class: 'list' });
    u.pending = h('div', { class: 'list' });
    u.log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages', tabindex: '0' }, u.earlier, u.sections, u.draft, u.pending);
    u.typing = h('div', { class: 'typing', 'aria-hidden': 'true' });
    u.status = h('div', { class: 'status', role: 'status' });
    u.alert = h('div', { class: 'alert', role: 'alert' });
    u.file = h('input', { type: 'file', hidden: true, tabindex: '-1', onchange: () => { Array.from(u.file.files || []).forEach((f) => sendFile(f)); u.file.value = ''; } });
    u.attach = h('button', { type: 'button', class: 'iconbtn', 'aria-label': 'Attach a file', title: 'Attach a file', onclick: () => {
      if (!curr()) return flash('Send a message first, then you can attach files.');
      u.file.click();
    } }, icon('clip'));
    u.input = h('textarea', { class: 'input', rows: '1', 'aria-label': 'Message', placeholder: 'Write a message…', maxlength: String(MAX_BODY), enterkeyhint: TOUCH ? 'enter' : 'send' });
    u.input.value = local.get('draft') || '';
    u.input.addEventListener('input', onInput);
    u.input.addEventListener('keydown', onKey);
    u.input.addEventListener('paste', (e) => {
      const files = e.clipboardData && Array.from(e.clipboardData.files || []);
      if (files && files.length && curr()) { e.preventDefault(); files.forEach((f) => sendFile(f)); }
    });
    u.send = h('button', { type: 'submit', class: 'iconbtn send', 'aria-label': 'Send message', title: 'Send' }, icon('send'));
    u.composer = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); submit(); } }, u.attach, u.file, u.input, u.send);
    u.startNew = h('button', { type: 'button', class: 'primary', text: 'Start a new chat', onclick: startNew });
    u.ended = h('div', { class: 'ended', hidden: true }, u.startNew);
    u.panel = h('div', { class: 'panel', id: 'sb-panel', role: 'dialog', 'aria-labelledby': 'sb-title', tabindex: '-1', hidden: true },
      h('div', { class: 'head' }, h('div', { class: 'titles' }, u.title, u.sub), u.closeBtn),
      u.actions, u.banner, u.log, u.typing, u.status, u.alert, u.composer, u.ended);
    u.panel.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); close(); } });
    u.panel.addEventListener('dragover', (e) => { if (curr() && hasFiles(e)) { e.preventDefault(); u.wrap.classList.add('dropping'); } });
    u.panel.addEventListener('dragleave', (e) => { if (e.target === u.panel || !u.panel.contains(e.relatedTarget)) u.wrap.classList.remove('dropping'); });
    u.panel.addEventListener('drop', (e) => {
      u.wrap.classList.remove('dropping');
      if (!curr() || !hasFiles(e)) return;
      e.preventDefault(); Array.from(e.dataTransfer.files).forEach((f) => sendFile(f));
    });
    u.wrap.append(u.launcher, u.panel);
    root.append(u.wrap);
    D.body.append(host);
    ui = u;
    showDraft();
    autosize();
    render();
  }
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).indexOf('Files') >= 0;

  // Pick white or near-black text for the brand colour, whichever contrasts more (WCAG).
  function textOn(color) {
    let rgb = [36, 87, 214];
    try {
      const x = h('canvas', { width: '1', height: '1' }).getContext('2d');
      x.fillStyle = color; x.fillRect(0, 0, 1, 1); rgb = Array.from(x.getImageData(0, 0, 1, 1).data).slice(0, 3);
    } catch (e) { /* keep the default */ }
    const L = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    const lum = 0.2126 * L[0] + 0.7152 * L[1] + 0.0722 * L[2];
    return (1.05 / (lum + 0.05)) >= ((lum + 0.05) / 0.0615) ? '#ffffff' : '#111418';
  }

  function open(focus) {
    if (!ui) return;
    S.isOpen = true; S.wantWs = true; session.set('open', '1');
    ui.panel.hidden = false; ui.wrap.classList.add('open');
    ui.launcher.setAttribute('aria-expanded', 'true');
    S.unread = 0; markSeen(); render(); fitViewport();
    boot().then(() => connect());
    scrollDown(true);
    if (focus) {
      const target = !ui.composer.hidden && !TOUCH ? ui.input : !ui.ended.hidden ? ui.startNew : ui.panel;
      setTimeout(() => target.focus(), 30);
    }
  }
  function close() {
    if (!ui || !S.isOpen) return;
    const inside = root.activeElement != null;
    S.isOpen = false; session.del('open');
    ui.panel.hidden = true; ui.wrap.classList.remove('open');
    ui.launcher.setAttribute('aria-expanded', 'false');
    render();
    if (inside) ui.launcher.focus();
  }

  // ---- boot: inbox settings, then the visitor's conversations ----
  let bootP = null;
  function boot() {
    if (!bootP) {
      bootP = (async () => {
        S.inboxError = null;
        try {
          S.inbox = await request('GET', API + '/inboxes/' + INBOX, undefined, { auth: false });
        } catch (e) {
          S.inboxError = e.status === 404 ? 'This chat is not available.' : e.message; bootP = null; draft = null; showDraft(); render(); return;
        }
        if (S.token) { try { await loadConversations(); } catch (e) { if (e.status !== 401) flash(e.message); } }
        showDraft(); render();
      })();
    }
    return bootP;
  }

  async function loadConversations() {
    const res = await request('GET', API + '/conversations');
    const items = (res && res.items || []).filter((c) => !c.inbox_id || c.inbox_id === INBOX);
    items.forEach((c) => { c.ev = ++evs; S.convs.set(c.id, c); });
    const live = items.find(isLive);
    if (live) adopt(live);
    else if (S.current) S.current = S.convs.get(S.current.id) || S.current;
    else if (!S.fresh && items[0] && !S.creating && !pending.size) adopt(items[0]);
    if (S.current) await loadMessages(S.current.id);
    render();
  }
  const olderIds = () => {
    const shown = Array.from(sections.keys()), min = shown.length ? Math.min.apply(null, shown) : Infinity;
    return Array.from(S.convs.keys()).filter((id) => id < min).sort((a, b) => b - a);
  };

  async function loadMessages(id) {
    const sec = sections.get(id);
    if (!sec) return;
    if (sec.loading) { sec.again = true; return sec.loading; }
    sec.loading = (async () => {
      try {
        do {
          sec.again = false;
          for (;;) {
            const after = sec.contig;
            const res = await request('GET', convPath(id, '/messages?after=' + after + '&limit=100'));
            const items = res && res.items || [];
            items.forEach((m) => addMessage(m, false));
            if (items.length < 100 || sec.contig === after) { // everything the server has is here now
              items.forEach((m) => { if (m.seq > sec.contig) sec.contig = m.seq; });
              break;
            }
          }
        } while (sec.again);
      } finally { sec.loading = null; }
    })();
    return sec.loading;
  }

  async function loadEarlier() {
    const id = olderIds()[0];
    if (id == null) return;
    const log = ui.log, before = log.scrollHeight - log.scrollTop;
    makeSection(S.convs.get(id), true);
    try { await loadMessages(id); } catch (e) { flash(e.message); }
    log.scrollTop = log.scrollHeight - before; // keep what the visitor was looking at in place
    render();
  }

  // ---- sections (one per displayed conversation) and the new-chat draft ----
  function makeSection(conv, prepend) {
    const list = h('div', { class: 'list' });
    const el = h('section', { 'aria-label': 'Conversation of ' + fmtDate(conv.created_at) },
      h('div', { class: 'divider', text: fmtDate(conv.created_at) }), list);
    const sec = { id: conv.id, el, list, byId: new Map(), seqs: new Set(), contig: 0, loading: null, again: false, endMark: null };
    sections.set(conv.id, sec);
    if (prepend) ui.sections.prepend(el); else ui.sections.append(el);
    return sec;
  }

  function adopt(conv) {
    S.convs.set(conv.id, conv);
    if (S.current && S.current.id === conv.id) { S.current = conv; return; }
    S.current = conv; S.fresh = false;
    if (!sections.has(conv.id)) {
      const sec = makeSection(conv, false);
      if (draft && draft.greeting && isLive(conv)) sec.list.append(draft.greeting); // keep the greeting above the first message
    }
    draft = null; ui.draft.textContent = '';
    if (writable(conv)) { S.wantWs = true; connect(); }
  }

  function showDraft() {
    if (!ui || S.current || draft) return;
    if (!S.inbox && !S.inboxError) return; // wait for boot
    draft = {};
    ui.draft.textContent = '';
    if (S.inboxError) {
      ui.draft.append(h('div', { class: 'card' }, h('p', { class: 'err', text: S.inboxError }),
        h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', text: 'Try again', onclick: () => { draft = null; boot().then(() => connect()); } }))));
      return;
    }
    const text = S.inbox.open ? S.inbox.greeting : (S.inbox.out_of_hours_message || "We're away right now. Leave us a message and we'll get back to you.");
    if (text) {
      draft.greeting = h('div', { class: 'msg them' }, h('div', { class: 'author', text: S.inbox.name || TITLE || 'Support' }), h('div', { class: 'bubble', text }));
      ui.draft.append(draft.greeting);
    }
    if (!local.get('profile') && !S.convs.size) ui.draft.append(prechat());
  }

  // Optional pre-chat form: name and e-mail, skippable; never grants access to anything.
  function prechat() {
    const name = h('input', { class: 'field', type: 'text', name: 'name', autocomplete: 'name', maxlength: '100' });
    const email = h('input', { class: 'field', type: 'email', name: 'email', autocomplete: 'email', maxlength: '200' });
    const err = h('p', { class: 'err', role: 'alert' });
    const save = h('button', { type: 'submit', class: 'primary', text: 'Save' });
    const form = h('form', { class: 'card', 'aria-label': 'Introduce yourself (optional)' },
      h('p', { text: 'Introduce yourself (optional), so we can follow up if we get cut off.' }),
      h('label', null, 'Name', name), h('label', null, 'E-mail', email), err,
      h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', text: 'Skip', onclick: () => done() }), save));
    const done = () => { local.set('profile', '1'); form.remove(); ui.input.focus(); };
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = { name: name.value.trim(), email: email.value.trim() };
      if (!body.name && !body.email) return done();
      save.disabled = true; err.textContent = '';
      try { await ensureVisitor(); await request('PATCH', API + '/me', body); done(); }
      catch (x) { err.textContent = x.message; } finally { save.disabled = false; }
    });
    form.flush = () => { // a message was sent with the form still open: save what was typed, quietly
      const body = { name: name.value.trim(), email: email.value.trim() };
      local.set('profile', '1'); form.remove();
      if (body.name || body.email) ensureVisitor().then(() => request('PATCH', API + '/me', body)).catch(() => {});
    };
    draft.prechat = form;
    return form;
  }

  function startNew() {
    S.current = null; S.fresh = true; S.queue = null; draft = null;
    showDraft(); render(); scrollDown(true); ui.input.focus();
  }

  // ---- messages ----
  function addMessage(m, live) {
    if (!m || !m.id || (m.thread && m.thread !== 'public')) return;
    const learned = m.sender === 'agent' && m.author_id && m.author_name && S.names.get(m.author_id) !== m.author_name;
    if (learned) S.names.set(m.author_id, m.author_name);
    if (m.attachment && m.attachment_id) S.files.set(m.attachment_id, m.attachment);
    const sec = sections.get(m.conversation_id);
    const p = m.client_id && pending.get(m.client_id);
    if (p) settle(p);
    if (!sec) { if (!S.convs.has(m.conversation_id)) refreshSoon(); return; }
    if (sec.byId.has(m.id)) return;
    const near = nearBottom();
    const el = renderMessage(m);
    let after = null; // insert by seq
    for (let c = sec.list.lastElementChild; c; c = c.previousElementSibling) {
      if (c.dataset.seq && Number(c.dataset.seq) < m.seq) { after = c; break; }
    }
    if (after) after.after(el); else if (sec.list.firstElementChild && !sec.list.firstElementChild.dataset.seq) sec.list.firstElementChild.after(el); else sec.list.prepend(el);
    groupAuthor(el);
    if (el.nextElementSibling) groupAuthor(el.nextElementSibling);
    sec.byId.set(m.id, el); sec.seqs.add(m.seq);
    while (sec.seqs.has(sec.contig + 1)) sec.contig++;
    if (live && m.seq > sec.contig) loadMessages(m.conversation_id).catch(() => {}); // a gap: fetch what is missing
    if (m.sender !== 'customer' && S.current && m.conversation_id === S.current.id) {
      if (m.sender === 'agent') clearTyping();
      const seen = seenSeq(m.conversation_id);
      if (!S.isOpen && writable(S.current) && m.seq > seen) { S.unread++; render(); }
    }
    if (learned) render(); // "<agent> joined the chat"
    if (S.isOpen) markSeen();
    scrollDown(near || !!p);
  }

  function renderMessage(m) {
    const kind = m.sender === 'customer' ? 'me' : m.sender === 'system' ? 'sys' : 'them';
    const who = kind === 'me' ? 'You' : kind === 'sys' ? 'Notice' : m.author_name || (m.sender === 'bot' ? 'Assistant' : 'Agent');
    const bubble = h('div', { class: 'bubble' }, h('span', { class: 'sr', text: who + ', ' + fmtTime(m.created_at) + ': ' }));
    const meta = m.attachment_id && (S.files.get(m.attachment_id) || null);
    if (m.attachment_id) bubble.append(renderFile(m.attachment_id, meta, m.body));
    if (m.body && !(m.attachment_id && (!meta || meta.file_name === m.body))) bubble.append(kind === 'sys' ? m.body : format(m.body));
    const el = h('div', { class: 'msg ' + kind, 'data-seq': m.seq, 'data-author': kind === 'them' ? who : '' },
      kind === 'them' ? h('div', { class: 'author', 'aria-hidden': 'true', text: who }) : null,
      bubble, h('div', { class: 'meta', 'aria-hidden': 'true' }, h('time', { datetime: m.created_at, text: fmtTime(m.created_at) })));
    return el;
  }
  function groupAuthor(el) { // hide the name on consecutive messages of the same author
    const a = el.querySelector('.author'), prev = el.previousElementSibling;
    if (a) a.hidden = !!(prev && prev.dataset.author === el.dataset.author && prev.classList.contains('them'));
  }

  // Attachments are fetched with the bearer token and shown through blob: URLs. Only raster images are
  // displayed inline; anything else is offered as a download and never opened in the page's origin.
  const IMG = /^image\/(png|jpeg|gif|webp|bmp)$/;
  const IMG_EXT = /\.(png|jpe?g|gif|webp|bmp)$/i;
  const blobs = new Map();
  function fetchFile(id) {
    if (!blobs.has(id)) {
      blobs.set(id, request('GET', API + '/attachments/' + encodeURIComponent(id), undefined, { raw: true })
        .then((res) => res.blob()).catch((e) => { blobs.delete(id); throw e; }));
    }
    return blobs.get(id);
  }
  function renderFile(id, meta, body) {
    const name = (meta && meta.file_name) || body || 'Attachment';
    const size = meta && fmtSize(meta.size);
    const btn = h('button', { type: 'button', class: 'filebtn', 'aria-label': 'Download ' + name }, icon('clip'), h('span', { text: name + (size ? ' (' + size + ')' : '') }));
    btn.addEventListener('click', () => download(id, name));
    const box = h('div', { class: 'file' }, btn);
    if (IMG.test(meta && meta.content_type || '') || IMG_EXT.test(name)) {
      fetchFile(id).then((blob) => {
        if (!IMG.test(blob.type)) return;
        const img = h('img', { class: 'thumb', alt: name });
        img.src = URL.createObjectURL(new Blob([blob], { type: blob.type }));
        box.prepend(img);
      }).catch(() => {});
    }
    return box;
  }
  async function download(id, name) {
    try {
      const blob = await fetchFile(id);
      const url = URL.createObjectURL(new Blob([blob], { type: 'application/octet-stream' }));
      const a = h('a', { href: url, download: name, hidden: true });
      ui.wrap.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) { flash(e.message); }
  }

  // ---- sending ----
  const newCid = () => { const a = new Uint8Array(12); crypto.getRandomValues(a); return 'w-' + Array.from(a, (b) => (b < 16 ? '0' : '') + b.toString(16)).join(''); };

  function submit() {
    const body = ui.input.value;
    if (!body.trim()) return;
    if (new TextEncoder().encode(body).length > MAX_BODY) return flash('Your message is too long. Please shorten it.');
    if (draft && draft.prechat && draft.prechat.isConnected) draft.prechat.flush();
    ui.input.value = ''; local.del('draft'); autosize();
    const p = makePending({ cid: newCid(), body });
    sendPending(p);
  }

  function makePending(p) {
    const bubble = h('div', { class: 'bubble' }, h('span', { class: 'sr', text: 'You: ' }));
    if (p.file) bubble.append(h('div', { class: 'file' }, h('span', { class: 'filebtn' }, icon('clip'), h('span', { text: p.file.name }))));
    else bubble.append(format(p.body));
    p.meta = h('div', { class: 'meta' });
    p.el = h('div', { class: 'msg me' }, bubble, p.meta);
    pending.set(p.cid, p);
    ui.pending.append(p.el);
    scrollDown(true);
    return p;
  }
  function setState(p, state, err) {
    p.state = state; p.meta.textContent = '';
    p.el.classList.toggle('failed', state === 'failed');
    if (state === 'sending') { p.meta.append(p.file ? 'Uploading…' : 'Sending…'); return; }
    const final = err && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 408 && err.status !== 429;
    p.meta.append(h('span', { role: 'alert', text: 'Not sent' + (err && err.message ? ': ' + err.message : '.') }));
    if (!final) p.meta.append(h('button', { type: 'button', text: 'Retry', 'aria-label': 'Retry sending', onclick: () => { p.again = false; sendPending(p); } }));
    p.meta.append(h('button', { type: 'button', text: 'Remove', 'aria-label': 'Remove unsent message', onclick: () => { settle(p); ui.input.focus(); } }));
  }
  function settle(p) { clearTimeout(p.timer); pending.delete(p.cid); p.el.remove(); }
  function fail(p, err) { if (pending.get(p.cid) === p) { clearTimeout(p.timer); p.viaWs = false; setState(p, 'failed', err); } }

  function sendPending(p) {
    setState(p, 'sending');
    (p.file ? upload(p) : deliver(p)).catch((err) => {
      if (err.status === 401 && !p.again) { p.again = true; return sendPending(p); } // the old visitor is gone: start afresh
      fail(p, err);
    });
  }

  async function deliver(p) {
    await ensureVisitor();
    // No live chat: the server opens one, or puts the message in the visitor's ticket (routing/tickets.go)
    let conv = liveCurrent();
    if (!conv && S.creating) { try { await S.creating; } catch (e) { /* try ourselves */ } conv = liveCurrent(); }
    if (!conv) {
      const run = request('POST', API + '/conversations', { inbox_id: INBOX, body: p.body, client_id: p.cid }), mark = evs;
      S.creating = run;
      let res;
      try { res = await run; } finally { if (S.creating === run) S.creating = null; }
      const known = S.convs.get(res.conversation.id); // what came meanwhile (it became a ticket) is newer
      adopt(known && known.ev > mark ? known : res.conversation);
      if (res.message && (!res.message.client_id || res.message.client_id === p.cid)) addMessage(res.message, false);
      loadMessages(res.conversation.id).catch(() => {});
      render();
      if (!pending.has(p.cid)) return;
      conv = res.conversation;
    }
    if (wsReady()) {
      p.viaWs = true;
      wsSend({ type: 'send', conversation_id: conv.id, thread: 'public', body: p.body, client_id: p.cid });
      clearTimeout(p.timer);
      p.timer = setTimeout(() => fail(p, { message: 'no answer from the server.' }), 10000);
      return;
    }
    const m = await request('POST', convPath(conv.id, '/messages'), { body: p.body, client_id: p.cid });
    addMessage(m, false); settle(p);
  }

  function sendFile(file) { sendPending(makePending({ cid: newCid(), file })); }
  async function upload(p) {
    await ensureVisitor();
    const conv = curr();
    if (!conv) throw new ApiError(409, 'no_conversation', 'Send a message first, then you can attach files.');
    const fd = new FormData();
    fd.append('client_id', p.cid); fd.append('file', p.file, p.file.name);
    const res = await request('POST', convPath(conv.id, '/attachments'), fd);
    if (res.attachment) S.files.set(res.attachment.id, res.attachment);
    addMessage(res.message, false); settle(p);
  }

  async function askHuman() {
    const c = liveCurrent(); if (!c) return;
    ui.human.disabled = true;
    try { onConversation(await request('POST', convPath(c.id, '/human'))); } catch (e) { flash(e.message); }
    ui.human.disabled = false;
  }
  let endArmed = 0;
  async function endChat() {
    const c = liveCurrent(); if (!c) return;
    if (!endArmed) { // two steps, so a stray tap does not end the chat
      ui.end.textContent = 'Confirm: end chat';
      endArmed = setTimeout(() => { endArmed = 0; ui.end.textContent = 'End chat'; }, 4000);
      return;
    }
    clearTimeout(endArmed); endArmed = 0; ui.end.textContent = 'End chat'; ui.end.disabled = true;
    try { onConversation(await request('POST', convPath(c.id, '/end'))); } catch (e) { flash(e.message); }
    ui.end.disabled = false;
  }

  // ---- composer ----
  function onKey(e) {
    if (e.key !== 'Enter' || e.isComposing || e.keyCode === 229) return;
    if (e.ctrlKey || e.metaKey || (!e.shiftKey && !e.altKey && !TOUCH)) { e.preventDefault(); submit(); }
  }
  function onInput() {
    autosize();
    local.set('draft', ui.input.value);
    const c = liveCurrent(), now = Date.now();
    if (c && ui.input.value && wsReady() && now - S.typingAt > 3000) { S.typingAt = now; wsSend({ type: 'typing', conversation_id: c.id }); }
  }
  function autosize() { const t = ui.input; t.style.height = 'auto'; t.style.height = Math.min(t.scrollHeight + 2, 120) + 'px'; }

  // ---- rendering of the chrome around the messages ----
  let flashTimer = 0;
  function flash(msg) { if (!ui) return; ui.alert.textContent = msg; clearTimeout(flashTimer); flashTimer = setTimeout(() => { ui.alert.textContent = ''; }, 10000); }
  const setText = (el, t) => { if (el.textContent !== t) el.textContent = t; };

  function render() {
    if (!ui) return;
    const c = S.current, live = isLive(c), ended = !!c && !writable(c);
    setText(ui.title, TITLE || (S.inbox && S.inbox.name) || 'Chat');
    const away = S.inbox && !S.inbox.open && !live;
    ui.sub.hidden = !away; setText(ui.sub, away ? 'Away right now · leave a message' : '');
    ui.actions.hidden = !live;
    ui.human.hidden = !(live && c.status === 'bot' && !c.ticket_status);
    const moveFocus = ended && !ui.composer.hidden && root.activeElement && ui.composer.contains(root.activeElement);
    ui.composer.hidden = ended;
    ui.ended.hidden = !ended;
    if (moveFocus) ui.startNew.focus();
    ui.input.disabled = !!S.inboxError;
    ui.input.placeholder = away ? 'Leave us a message…' : 'Write a message…';
    setText(ui.status, statusText());
    const older = olderIds().length;
    ui.earlier.hidden = !older; setText(ui.earlier, 'Show earlier conversations (' + older + ')');
    sections.forEach((sec) => { // "Chat ended" marks at the end of ended conversations
      const conv = S.convs.get(sec.id);
      if (conv && !writable(conv) && !sec.endMark) {
        const near = nearBottom();
        sec.el.append(sec.endMark = h('div', { class: 'divider', text: 'Chat ended' + (conv.ended_at ? ' · ' + fmtDate(conv.ended_at) : '') }));
        scrollDown(near);
      }
      else if (conv && writable(conv) && sec.endMark) { sec.endMark.remove(); sec.endMark = null; }
    });
    ui.badge.hidden = S.isOpen || !S.unread;
    setText(ui.badge, S.unread > 99 ? '99+' : String(S.unread));
    ui.launcher.setAttribute('aria-label', S.isOpen ? 'Close chat' : S.unread ? 'Open chat, ' + S.unread + ' unread message' + (S.unread > 1 ? 's' : '') : 'Open chat');
  }

  function statusText() {
    const c = S.current;
    if (!c) return '';
    if (c.ticket_status && writable(c)) return "We'll reply here as soon as we can.";
    switch (c.status) {
      case 'waiting': {
        const q = S.queue && S.queue.conversation_id === c.id && S.queue.position > 0 ? S.queue : null;
        if (!q) return 'Waiting for an agent…';
        const sec = q.expected_wait_sec;
        return 'You are number ' + q.position + ' in the queue' + (sec > 0 ? ', about ' + (sec < 60 ? 'a minute' : Math.round(sec / 60) + ' min') : '') + '.';
      }
      case 'assigning': return 'Connecting you to an agent…';
      case 'assigned': { const n = c.assignee_id != null && S.names.get(c.assignee_id); return n ? n + ' joined the chat' : 'An agent joined the chat'; }
      case 'transferring': return 'Transferring you to another agent…';
      case 'ended': case 'failed': return 'Chat ended';
      default: return '';
    }
  }

  function onConversation(conv) {
    if (!conv || !conv.id || (conv.inbox_id && conv.inbox_id !== INBOX)) return;
    conv.ev = ++evs;
    S.convs.set(conv.id, conv);
    if (S.current && S.current.id === conv.id) S.current = conv;
    else if (isLive(conv) && !liveCurrent() && (!S.current || conv.id > S.current.id)) { adopt(conv); loadMessages(conv.id).catch(() => {}); }
    if (S.queue && S.queue.conversation_id === conv.id && conv.status !== 'waiting') S.queue = null;
    if (!isLive(conv)) clearTyping();
    render();
  }

  let typingTimer = 0;
  function showTyping(d) {
    if (!d || d.sender !== 'agent' || !S.current || d.conversation_id !== S.current.id) return;
    setText(ui.typing, (d.name || 'Agent') + ' is typing…');
    clearTimeout(typingTimer); typingTimer = setTimeout(clearTyping, 5000);
  }
  function clearTyping() { clearTimeout(typingTimer); if (ui) setText(ui.typing, ''); }

  const nearBottom = () => ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 80;
  function scrollDown(force) { if (ui && force) requestAnimationFrame(() => { ui.log.scrollTop = ui.log.scrollHeight; }); }
  function seenSeq(id) { const v = (local.get('seen') || '').split(':'); return Number(v[0]) === id ? Number(v[1]) || 0 : 0; }
  function markSeen() {
    if (!S.isOpen || D.hidden || !S.current) return;
    const sec = sections.get(S.current.id);
    if (sec && sec.contig > seenSeq(S.current.id)) local.set('seen', S.current.id + ':' + sec.contig);
    if (S.unread) { S.unread = 0; render(); }
  }
  let refreshTimer = 0;
  function refreshSoon() { clearTimeout(refreshTimer); refreshTimer = setTimeout(() => loadConversations().catch(() => {}), 300); }

  // ---- WebSocket: hello/ready/resync, resume from the highest pos, back-off with jitter ----
  let ws = null, wsState = 'idle', attempt = 0, retryTimer = 0, bannerTimer = 0, lastRx = 0;
  const wsReady = () => !!ws && wsState === 'ready' && ws.readyState === 1;
  const wsSend = (f) => ws.send(JSON.stringify(f));

  function connect() {
    if (ws || !S.token || !S.wantWs) return;
    clearTimeout(retryTimer);
    let sock;
    try { sock = new WebSocket(WS_URL); } catch (e) { return down(); }
    ws = sock; wsState = 'connecting';
    const after = S.pos;
    sock.addEventListener('open', () => sock.send(JSON.stringify({ type: 'hello', token: S.token, after })));
    sock.addEventListener('message', (ev) => {
      if (ws !== sock) return;
      lastRx = Date.now();
      let f; try { f = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(f, after);
    });
    sock.addEventListener('close', (ev) => { if (ws === sock) { ws = null; wsState = 'idle'; down(ev.code); } });
  }

  function onFrame(f, after) {
    switch (f.type) {
      case 'ready': case 'resync':
        wsState = 'ready'; attempt = 0; up();
        if (f.type === 'resync') S.pos = f.pos || 0; else S.pos = Math.max(S.pos, f.pos || 0);
        if (f.type === 'resync' || !after) loadConversations().catch(() => {}); // fresh start or too far behind: reload over REST
        break;
      case 'event':
        if (f.pos) { if (f.pos <= S.pos) return; S.pos = f.pos; }
        if (f.event === 'message') addMessage(f.data, true);
        else if (f.event === 'conversation') onConversation(f.data);
        else if (f.event === 'typing') showTyping(f.data);
        else if (f.event === 'queue' && f.data) { S.queue = f.data; render(); }
        break;
      case 'ack': {
        const p = pending.get(f.client_id);
        if (f.message) addMessage(f.message, false);
        if (p) settle(p);
        break;
      }
      case 'error':
        if (f.client_id && pending.has(f.client_id)) fail(pending.get(f.client_id), f);
        else if (f.code === 'unauthorized') dropVisitor();
        break;
      case 'reconnect': if (ws) ws.close(); break;
      default: break; // pong and anything newer
    }
  }

  function down(code) {
    // sends that were in flight over the socket go again over REST, with the same client_id
    pending.forEach((p) => { if (p.viaWs && p.state === 'sending') { clearTimeout(p.timer); p.viaWs = false; sendPending(p); } });
    if (code === 4401) { dropVisitor(); return; }
    if (!bannerTimer) bannerTimer = setTimeout(() => { if (ui && !wsReady() && S.token) { ui.banner.textContent = 'Reconnecting…'; ui.banner.hidden = false; } }, 5000);
    const base = Math.min(30000, 1000 * Math.pow(2, attempt++));
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, base / 2 + Math.random() * base / 2);
  }
  function up() { clearTimeout(bannerTimer); bannerTimer = 0; if (ui) ui.banner.hidden = true; }
  function reconnectNow() { attempt = 0; clearTimeout(retryTimer); if (!ws) connect(); }

  setInterval(() => { // application-level heartbeat: notice dead connections the browser does not
    if (!wsReady()) return;
    if (Date.now() - lastRx > 60000) ws.close(); else wsSend({ type: 'ping' });
  }, 25000);
  W.addEventListener('online', reconnectNow);
  let hiddenAt = 0;
  D.addEventListener('visibilitychange', () => {
    if (D.hidden) { hiddenAt = Date.now(); return; }
    markSeen();
    if (hiddenAt && Date.now() - hiddenAt > 60000 && S.token && bootP) { reconnectNow(); loadConversations().catch(() => {}); }
  });

  // Phones: the open panel is full-screen and follows the visual viewport (on-screen keyboard).
  function fitViewport() {
    if (!ui) return;
    const vv = W.visualViewport, small = W.innerWidth <= 480;
    ui.panel.style.height = S.isOpen && vv && small ? vv.height + 'px' : '';
    ui.panel.style.top = S.isOpen && vv && small ? vv.offsetTop + 'px' : '';
  }
  if (W.visualViewport) { visualViewport.addEventListener('resize', fitViewport); visualViewport.addEventListener('scroll', fitViewport); }
  W.addEventListener('resize', fitViewport);

  function init() {
    buildUI();
    if (queued === 'open' || session.get('open') === '1') open(queued === 'open');
    else if (S.token) { // a returning visitor: load quietly so the unread badge works
      const later = W.requestIdleCallback || ((fn) => setTimeout(fn, 1500));
      later(() => boot().then(() => { if (curr()) connect(); }));
    }
  }
  if (D.body) init(); else D.addEventListener('DOMContentLoaded', init);
})();
