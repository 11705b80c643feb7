// in-mem run inspector: one page over the JSON API that `inmem ui` and
// `inmem serve --ui` serve (/api/...). Plain ES2020, no framework, no
// build step. Routing is by hash: #/runs, #/run/ID[/STEP], #/compare/A/B,
// #/shared/TENANT/APP/AGENT.
//
// Invariants:
//  - Every text that comes from the database goes into the DOM through
//    textContent or an attribute value, never through innerHTML, so a
//    stored value cannot inject markup or script.
//  - Styles are set through element.style (CSSOM), never a style
//    attribute, so a Content-Security-Policy without 'unsafe-inline'
//    holds.
//  - The page never sees the token: the server sets an HttpOnly cookie
//    when /?token=T is opened, and fetch and EventSource send it.
'use strict';

// ---------------------------------------------------------------------------
// DOM helpers

// el builds an element. attrs: class, text (textContent), on<event>
// (listener), anything else an attribute (false/null/undefined: left out).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  appendAll(e, children);
  return e;
}

function appendAll(parent, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) appendAll(parent, c);
    else if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(document.createTextNode(String(c)));
  }
}

// setChildren replaces node's children; like el, it skips null and false
// and flattens arrays (replaceChildren would print them).
function setChildren(node, ...children) {
  node.replaceChildren();
  appendAll(node, children);
}

function link(href, text, attrs) {
  return el('a', Object.assign({ href, text }, attrs || {}));
}

// ---------------------------------------------------------------------------
// Formatting

function shortId(id) {
  // Run IDs are UUIDv7: the leading digits are the creation time and the
  // same for runs made close together, so the random tail tells them apart.
  return id ? '…' + id.slice(-8) : '';
}

function runLabel(r) {
  return r.name || shortId(r.id);
}

function nsText(ns) {
  ns = ns || {};
  if (!ns.tenant && !ns.app && !ns.agent) return 'default';
  return [ns.tenant, ns.app, ns.agent].map((p) => p || '-').join('/');
}

// parseTime reads an RFC 3339 time with up to nanoseconds into
// milliseconds (a float: Date.parse drops digits past the millisecond,
// and spans are often shorter than that).
function parseTime(s) {
  if (!s) return NaN;
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return Date.parse(s);
  return Date.parse(m[1] + m[3]) + (m[2] ? parseFloat('0' + m[2]) * 1000 : 0);
}

function pad2(n) {
  return String(n).padStart(2, '0');
}

function fmtTime(s) {
  const t = parseTime(s);
  if (Number.isNaN(t)) return s || '';
  const d = new Date(t);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function fmtDur(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} m ${((ms % 60000) / 1000).toFixed(0)} s`;
}

// valueNode shows a stored value: text as is, bytes that are not UTF-8 as
// their base64 (the API sends them in *_base64), marked as such.
function valueNode(text, b64, cls) {
  if (b64) return el('span', { class: `${cls || 'value'} b64`, title: 'not UTF-8: base64', text: b64 });
  return el('span', { class: cls || 'value', text: text || '' });
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many || one + 's'}`;
}

// ---------------------------------------------------------------------------
// The API

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function getJSON(path, signal) {
  const res = await fetch(path, { signal, credentials: 'same-origin', headers: { Accept: 'application/json' } });
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    if (e.name === 'AbortError') throw e;
  }
  if (!res.ok) {
    let msg = (body && body.error) || `HTTP ${res.status}`;
    if (res.status === 401) msg = 'not authorised: open the URL that `inmem ui` printed (it carries ?token=...)';
    throw new HttpError(res.status, msg);
  }
  return body;
}

function isAbort(e) {
  return e && e.name === 'AbortError';
}

const enc = encodeURIComponent;

// coalesced wraps an async refresh so that calls while one runs make it
// run once more afterwards, not once each: a busy database changes its
// version several times a second, and each refresh may be heavy (a diff).
function coalesced(fn) {
  let running = false;
  let again = false;
  return async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await fn();
      } while (again);
    } finally {
      running = false;
    }
  };
}

// ---------------------------------------------------------------------------
// Live updates: the database's visible version, from /api/watch, which
// sends it at connect and whenever it changes; the mounted page refetches
// what it shows. Every tab shares one stream through a shared worker
// (watch.js): a stream holds one of the browser's six connections to the
// server, and a stream per tab would starve the seventh tab. Without
// SharedWorker, the tab holds a stream of its own.

const live = {
  version: null,
  port: null,
  es: null,
  start() {
    // A page left for another (or put in the back-forward cache) lets go
    // of the stream; back from the cache, the stream's next message tells
    // whether the database moved on meanwhile (then the page refetches).
    window.addEventListener('pagehide', () => this.stop());
    window.addEventListener('pageshow', (e) => {
      if (e.persisted) this.connect();
    });
    this.connect();
  },
  stop() {
    if (this.port) {
      this.port.postMessage('close');
      this.port.close();
    }
    if (this.es) this.es.close();
    this.port = this.es = null;
  },
  connect() {
    this.stop();
    if (typeof SharedWorker === 'function') {
      const w = new SharedWorker('watch.js', { name: 'inmem-watch' });
      this.port = w.port;
      w.port.addEventListener('message', (m) => this.receive(m.data));
      w.port.start();
      return;
    }
    const es = (this.es = new EventSource('/api/watch'));
    es.addEventListener('open', () => this.receive({ type: 'open' }));
    es.addEventListener('error', () => this.receive({ type: 'error' }));
    es.addEventListener('version', (ev) => this.receive({ type: 'version', data: ev.data }));
  },
  receive(msg) {
    const badge = document.getElementById('live');
    if (msg.type === 'open') {
      badge.textContent = 'live';
      badge.className = 'live on';
      return;
    }
    if (msg.type === 'error') {
      badge.textContent = 'reconnecting';
      badge.className = 'live off';
      return;
    }
    let v;
    try {
      v = JSON.parse(msg.data).version;
    } catch (e) {
      return;
    }
    // The first message is delivered too: a commit may have landed
    // between the page's first fetch and the stream's connect.
    if (v === this.version) return;
    this.version = v;
    badge.title = `database version ${v}`;
    if (router.page && router.page.onVersion) router.page.onVersion(v);
  },
};

// ---------------------------------------------------------------------------
// Router

function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '').map(decodeURIComponent);
  if (parts[0] === 'run' && parts[1]) {
    const step = parts[2] !== undefined && /^\d+$/.test(parts[2]) ? Number(parts[2]) : null;
    return { page: 'run', id: parts[1], step };
  }
  if (parts[0] === 'compare' && parts[1] && parts[2]) return { page: 'compare', a: parts[1], b: parts[2] };
  if (parts[0] === 'shared') return { page: 'shared', ns: parts.slice(1).join('/') };
  return { page: 'runs' };
}

const router = {
  page: null,
  route: null,
  go() {
    const route = parseRoute(location.hash);
    // Moving within the run on screen (back/forward, a link to one of its
    // steps) keeps the page and only moves the step.
    if (this.page && route.page === 'run' && this.route.page === 'run' && route.id === this.route.id) {
      this.route = route;
      this.page.moveTo(route.step === null ? this.page.total : route.step, true);
      return;
    }
    if (this.page) this.page.destroy();
    this.route = route;
    const app = document.getElementById('app');
    if (route.page === 'run') this.page = new RunPage(route.id, route.step);
    else if (route.page === 'compare') this.page = new ComparePage(route.a, route.b);
    else if (route.page === 'shared') this.page = new SharedPage(route.ns);
    else this.page = new RunsPage();
    app.replaceChildren(this.page.root);
    window.scrollTo(0, 0);
    this.page.load();
  },
};

function errorBox(e) {
  return el('div', { class: 'error', role: 'alert', text: e instanceof Error ? e.message : String(e) });
}

// ---------------------------------------------------------------------------
// #/runs: the runs, filtered, a page at a time.

const STATUSES = ['active', 'paused', 'completed', 'failed', 'cancelled', 'archived'];
const RUNS_PAGE = 50;

// The filters and page survive a visit to a run and back.
const runsState = { namespace: '', status: '', tag: '', order: 'newest', after: '', back: [] };

class RunsPage {
  constructor() {
    this.ac = new AbortController();
    this.next = '';
    this.ns = el('input', { id: 'filter-namespace', type: 'search', placeholder: 'tenant/app/agent', size: 22, value: runsState.namespace });
    this.status = el('select', { id: 'filter-status' },
      el('option', { value: '', text: 'any status' }),
      STATUSES.map((s) => el('option', { value: s, text: s })));
    this.status.value = runsState.status;
    this.tag = el('input', { id: 'filter-tag', type: 'search', placeholder: 'tag', size: 12, value: runsState.tag });
    for (const input of [this.ns, this.tag]) {
      input.addEventListener('change', () => this.applyFilters());
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') this.applyFilters();
      });
    }
    this.status.addEventListener('change', () => this.applyFilters());
    this.order = el('select', { id: 'runs-order' },
      el('option', { value: 'newest', text: 'newest first' }),
      el('option', { value: 'oldest', text: 'oldest first' }));
    this.order.value = runsState.order;
    this.order.addEventListener('change', () => this.applyFilters());
    this.firstBtn = el('button', { id: 'runs-first', type: 'button', text: '« first', onclick: () => this.page('', []) });
    this.prevBtn = el('button', { id: 'runs-prev', type: 'button', text: '◀ prev', onclick: () => this.prevPage() });
    this.nextBtn = el('button', { id: 'runs-next', type: 'button', text: 'next ▶', onclick: () => this.nextPage() });
    this.info = el('span', { class: 'muted' });
    this.tbody = el('tbody');
    this.msg = el('div');
    this.onVersion = coalesced(() => this.load());
    this.root = el('section', { class: 'runs-page' },
      el('div', { class: 'toolbar' },
        el('label', {}, 'namespace ', this.ns),
        el('label', {}, 'status ', this.status),
        el('label', {}, 'tag ', this.tag),
        el('button', { type: 'button', text: 'clear', onclick: () => this.clearFilters() }),
        this.order,
        el('span', { class: 'spacer' }),
        this.info, this.firstBtn, this.prevBtn, this.nextBtn),
      this.msg,
      el('table', { class: 'grid runs', 'data-testid': 'runs' },
        el('thead', {}, el('tr', {},
          ['name', 'id', 'namespace', 'status', 'tags', 'steps', 'parent / fork', 'created'].map((h) => el('th', { text: h })))),
        this.tbody));
  }

  applyFilters() {
    runsState.namespace = this.ns.value.trim();
    runsState.status = this.status.value;
    runsState.tag = this.tag.value.trim();
    runsState.order = this.order.value;
    this.page('', []);
  }

  clearFilters() {
    this.ns.value = '';
    this.status.value = '';
    this.tag.value = '';
    this.applyFilters();
  }

  page(after, back) {
    runsState.after = after;
    runsState.back = back;
    this.load();
  }

  nextPage() {
    if (this.next) this.page(this.next, runsState.back.concat([runsState.after]));
  }

  prevPage() {
    const back = runsState.back.slice();
    const after = back.pop();
    if (after !== undefined) this.page(after, back);
  }

  async load() {
    this.ac.abort();
    this.ac = new AbortController();
    const q = new URLSearchParams({ limit: String(RUNS_PAGE), order: runsState.order });
    if (runsState.namespace) q.set('namespace', runsState.namespace);
    if (runsState.status) q.set('status', runsState.status);
    if (runsState.tag) q.set('tag', runsState.tag);
    if (runsState.after) q.set('after', runsState.after);
    try {
      const res = await getJSON(`/api/runs?${q}`, this.ac.signal);
      this.msg.replaceChildren();
      this.render(res.runs || [], res.next || '');
    } catch (e) {
      if (!isAbort(e)) this.msg.replaceChildren(errorBox(e));
    }
  }

  render(runs, next) {
    document.title = 'runs · in-mem';
    this.next = next;
    this.tbody.replaceChildren(...runs.map((r) => this.row(r)));
    if (runs.length === 0) {
      this.tbody.appendChild(el('tr', { class: 'empty' }, el('td', { colspan: 8, text: 'no runs match' })));
    }
    this.nextBtn.disabled = !next;
    this.firstBtn.disabled = !runsState.after;
    this.prevBtn.disabled = runsState.back.length === 0;
    const pageNo = runsState.back.length + (runsState.after ? 1 : 0) + 1;
    this.info.textContent = `page ${pageNo} · ${plural(runs.length, 'run')}`;
  }

  row(r) {
    const lineage = [];
    if (r.fork_of) lineage.push('fork of ', link(`#/run/${enc(r.fork_of)}/${r.fork_step || 0}`, shortId(r.fork_of)), `@${r.fork_step || 0}`);
    if (r.parent) lineage.push(lineage.length ? ' · ' : '', 'child of ', link(`#/run/${enc(r.parent)}`, shortId(r.parent)));
    const tr = el('tr', { 'data-run-id': r.id, class: 'clickable' },
      el('td', {}, link(`#/run/${enc(r.id)}`, r.name || '(unnamed)', { class: r.name ? 'run-link' : 'run-link muted' })),
      el('td', { class: 'mono', title: r.id, text: shortId(r.id) }),
      el('td', { class: 'mono', text: nsText(r.namespace) }),
      el('td', {}, statusBadge(r.status), r.cold ? el('span', { class: 'badge cold', text: 'cold', title: 'history in the cold tier' }) : null),
      el('td', {}, (r.tags || []).map((t) => el('span', { class: 'tag', text: t }))),
      el('td', { class: 'num', text: String(r.steps || 0) }),
      el('td', { class: 'small' }, lineage),
      el('td', { class: 'small', title: r.created_at || '', text: fmtTime(r.created_at) }));
    tr.addEventListener('click', (e) => {
      if (!e.target.closest('a')) location.hash = `#/run/${enc(r.id)}`;
    });
    return tr;
  }

  destroy() {
    this.ac.abort();
  }
}

function statusBadge(status) {
  return el('span', { class: `status status-${status || 'unknown'}`, text: status || '?' });
}

// ---------------------------------------------------------------------------
// #/run/ID[/STEP]: one run at one step of its history.

const STEP_DEBOUNCE_MS = 90; // a slider drag settles before the AsOf is fetched
const TABLE_CAP = 1000; // rows of one AsOf table put in the DOM
const LIST_CAP = 50; // keys listed per primitive in a step's writes
const CALLS_CAP = 200; // recorded calls listed (the newest)

class RunPage {
  constructor(id, step) {
    this.id = id;
    this.total = 0;
    this.target = step; // the step asked for (slider position); null: the last
    this.shown = null; // the step the panels show
    this.gen = 0; // bumped by every step load; older responses are dropped
    this.timer = 0;
    this.ac = new AbortController(); // the page's lifetime
    this.stepAC = null; // the step load in flight
    this.runSeq = 0; // run fetches started
    this.runApplied = 0; // the newest run fetch applied
    this.run = null;
    this.build();
    this.dead = false; // destroyed: late answers change nothing
    this.onVersion = coalesced(() => this.refresh());
    this.onKey = this.onKey.bind(this);
    document.addEventListener('keydown', this.onKey);
  }

  build() {
    this.title = el('h1', { id: 'run-title', text: shortId(this.id) });
    this.status = el('span', { id: 'run-status', class: 'status' });
    this.meta = el('div', { class: 'run-meta' });
    this.lineage = el('nav', { class: 'lineage', 'data-testid': 'lineage' });
    this.compare = el('a', { id: 'compare-link', class: 'button', hidden: true, text: 'compare with parent' });
    this.replayBtn = el('button', { id: 'replay', type: 'button', text: 'replay', title: 'rebuild the run from its recorded history and compare', onclick: () => this.replay() });
    this.replayResult = el('span', { id: 'replay-result', class: 'muted' });
    this.msg = el('div');

    this.slider = el('input', { id: 'step-slider', type: 'range', min: 0, max: 0, step: 1, value: 0, 'aria-label': 'step' });
    this.slider.addEventListener('input', () => this.moveTo(Number(this.slider.value)));
    this.label = el('span', { id: 'step-label', class: 'step-label' });
    this.pending = el('span', { id: 'step-target', class: 'muted' });
    this.stepTime = el('span', { class: 'muted small' });
    this.writes = el('div', { class: 'step-writes', 'data-testid': 'step-writes' });

    this.kvFilter = el('input', { id: 'kv-filter', type: 'search', placeholder: 'key prefix', size: 14 });
    this.kvFilter.addEventListener('input', () => this.asof && this.renderKV());
    this.kv = el('tbody');
    this.kvNote = el('div', { class: 'muted small' });
    this.state = el('tbody');
    this.eventCount = el('span', { id: 'event-count', class: 'num' });
    this.chain = el('span', { id: 'chain-status' });
    this.events = el('tbody');
    this.spanCount = el('span', { id: 'span-count', class: 'num' });
    this.vectors = el('tbody');
    this.vecWritten = el('div', { class: 'small' });
    this.calls = el('div', { class: 'calls', 'data-testid': 'calls' });
    this.detail = el('div', { class: 'span-detail', 'data-testid': 'span-detail', hidden: true });
    this.waterfall = new Waterfall((span) => this.showSpan(span));

    const step = (d) => el('button', { type: 'button', class: 'step-btn', text: d < 0 ? '◀' : '▶', title: d < 0 ? 'previous step (←)' : 'next step (→)', onclick: () => this.moveTo(this.targetStep() + d) });
    this.root = el('section', { class: 'run-page' },
      el('div', { class: 'run-head' },
        el('div', { class: 'run-title-line' }, this.title, this.status,
          el('span', { class: 'spacer' }), this.compare, this.replayBtn, this.replayResult),
        this.meta, this.lineage),
      this.msg,
      el('div', { class: 'stepper' },
        step(-1), this.slider, step(+1), this.label, this.pending, this.stepTime,
        el('span', { class: 'muted small hint', text: '← → Home End' })),
      this.writes,
      el('div', { class: 'panels' },
        panel('KV', el('span', { class: 'spacer' }), this.kvFilter)
          .with(el('table', { class: 'grid', 'data-testid': 'kv' }, head('key', 'value', 'version'), this.kv), this.kvNote),
        panel('State')
          .with(el('table', { class: 'grid', 'data-testid': 'state' }, head('cell', 'value', 'version', 'updated'), this.state)),
        panel('Events', el('span', { class: 'muted' }, ' count ', this.eventCount, ' · chain ', this.chain))
          .with(el('table', { class: 'grid' }, head('seq', 'type', 'payload', 'time'), this.events)),
        panel('Vectors')
          .with(el('table', { class: 'grid', 'data-testid': 'vectors' }, head('collection', 'vectors', 'dim', 'metric'), this.vectors), this.vecWritten)),
      panel('Spans', el('span', { class: 'muted' }, ' count ', this.spanCount))
        .with(this.waterfall.root, this.detail, { wide: true }),
      panel('Recorded calls').with(this.calls, { wide: true }));
  }

  targetStep() {
    return this.target === null ? this.total : this.target;
  }

  async load() {
    try {
      await this.fetchRun();
    } catch (e) {
      if (!isAbort(e)) this.msg.replaceChildren(errorBox(e));
      return;
    }
    this.moveTo(this.targetStep(), true);
  }

  // fetchRun reads the run, its children and forks, and its step total.
  // Fetches may overlap (the first load and a live update): a response
  // older than one already applied is dropped rather than aborted, so
  // that each caller still sees a current total when it returns.
  async fetchRun() {
    const seq = ++this.runSeq;
    const res = await getJSON(`/api/runs/${enc(this.id)}`, this.ac.signal);
    if (seq < this.runApplied) return;
    this.runApplied = seq;
    this.run = res.run;
    this.renderHead(res.run, res.children || [], res.forks || []);
    this.setTotal(res.run.steps || 0);
  }

  setTotal(n) {
    this.total = n;
    this.slider.max = String(n);
    if (this.shown !== null) this.label.textContent = `step ${this.shown} of ${n}`;
  }

  // refresh: something was committed. Refetch the run; if the slider
  // was on the last step, follow the run to its new last step.
  async refresh() {
    const wasLast = this.targetStep() === this.total;
    const before = this.total;
    try {
      await this.fetchRun();
    } catch (e) {
      if (!isAbort(e)) this.msg.replaceChildren(errorBox(e));
      return;
    }
    this.msg.replaceChildren();
    if (wasLast && this.total !== before) this.moveTo(this.total, true);
  }

  // moveTo asks for step k. The slider and the pending mark move at once;
  // the panels (and #step-label, which always names the step they show)
  // follow when the step's data is in, after STEP_DEBOUNCE_MS without
  // another move unless now is set.
  moveTo(k, now) {
    if (this.dead || !Number.isFinite(k)) return;
    k = Math.max(0, Math.min(this.total, Math.round(k)));
    this.target = k;
    this.slider.value = String(k);
    this.pending.textContent = k === this.shown ? '' : `→ ${k}`;
    const hash = `#/run/${enc(this.id)}/${k}`;
    if (location.hash !== hash) history.replaceState(null, '', hash); // no hashchange: the page stays
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.loadStep(k), now ? 0 : STEP_DEBOUNCE_MS);
  }

  onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.defaultPrevented) return;
    const t = e.target;
    // The focused slider moves itself (and fires input); other fields
    // keep their keys.
    if (t === this.slider) return;
    if (t instanceof Element && t.closest('input, select, textarea, [contenteditable]')) return;
    const moves = { ArrowLeft: () => this.targetStep() - 1, ArrowRight: () => this.targetStep() + 1, Home: () => 0, End: () => this.total };
    const to = moves[e.key];
    if (!to) return;
    e.preventDefault();
    this.moveTo(to());
  }

  // loadStep fetches everything shown for step k. Two phases, each
  // dropped if a later move has started meanwhile: the AsOf with the
  // step's writes and vectors (small, they set #step-label), then the
  // spans for the waterfall (can be large; it is marked with its step).
  loadStep(k) {
    const gen = ++this.gen;
    if (this.stepAC) this.stepAC.abort();
    const ac = (this.stepAC = new AbortController());
    const base = `/api/runs/${enc(this.id)}`;
    this.root.classList.add('loading');
    const soft = (p) => p.catch((e) => {
      if (isAbort(e)) throw e;
      return { error: e };
    });
    const first = Promise.all([
      getJSON(`${base}/asof/${k}`, ac.signal),
      k > 0 ? soft(getJSON(`${base}/steps?from=${k}&limit=1`, ac.signal)) : null,
      soft(getJSON(`${base}/vectors?step=${k}`, ac.signal)),
    ]).then(([asof, steps, vecs]) => {
      if (gen !== this.gen) return;
      this.msg.replaceChildren();
      if (steps && !steps.error && steps.total > this.total) this.setTotal(steps.total);
      this.renderStep(k, asof, steps, vecs);
    });
    const second = getJSON(`${base}/spans?step=${k}`, ac.signal).then((res) => {
      if (gen !== this.gen) return;
      this.waterfall.setSpans(res.spans || [], k);
      this.renderCalls(res.spans || []);
      if (this.selected !== undefined) this.showSpan(this.waterfall.byId(this.selected));
    });
    Promise.all([first, second]).catch((e) => {
      if (isAbort(e) || gen !== this.gen) return;
      this.msg.replaceChildren(errorBox(e));
    }).finally(() => {
      if (gen === this.gen) this.root.classList.remove('loading');
    });
  }

  renderStep(k, asof, steps, vecs) {
    const step = steps && !steps.error ? (steps.steps || [])[0] : null;
    const w = (step && step.writes) || {};
    this.asof = asof;
    this.written = { kv: new Set(w.kv || []), state: new Set(w.state || []), events: new Set(w.events || []) };
    this.renderWrites(k, step, steps && steps.error);
    this.renderKV();
    this.renderState(asof.state || []);
    this.renderEvents(asof.events || {});
    this.spanCount.textContent = String((asof.spans && asof.spans.count) || 0);
    this.renderVectors(asof.vectors || [], vecs && !vecs.error ? vecs : null);
    this.stepTime.textContent = asof.time ? fmtTime(asof.time) : '';
    this.stepTime.title = asof.time || '';
    this.shown = k;
    this.label.textContent = `step ${k} of ${this.total}`;
    if (this.target === k) this.pending.textContent = '';
  }

  renderHead(run, children, forks) {
    document.title = `${runLabel(run)} · in-mem`;
    this.title.textContent = runLabel(run);
    this.title.title = run.id;
    this.status.textContent = run.status || '?';
    this.status.className = `status status-${run.status || 'unknown'}`;
    const meta = [
      kvPair('id', run.id, 'mono'),
      el('span', { class: 'pair' }, el('span', { class: 'k', text: 'namespace' }),
        link(`#/shared/${nsText(run.namespace) === 'default' ? '' : nsText(run.namespace)}`, nsText(run.namespace),
          { class: 'mono', title: "the namespace's shared scope", 'data-testid': 'shared-link' })),
      kvPair('created', fmtTime(run.created_at)),
      run.ended_at ? kvPair('ended', fmtTime(run.ended_at)) : null,
      run.cold ? kvPair('tier', 'cold') : null,
      (run.tags || []).length ? el('span', { class: 'pair' }, el('span', { class: 'k', text: 'tags' }), (run.tags || []).map((t) => el('span', { class: 'tag', text: t }))) : null,
      run.error ? kvPair('error', run.error, 'err') : null,
    ];
    for (const [k, v] of Object.entries(run.meta || {}).sort()) meta.push(kvPair(k, v, 'mono'));
    this.meta.replaceChildren(...meta.filter(Boolean));

    const items = [];
    if (run.fork_of) {
      items.push(el('span', { class: 'pair' }, 'forked from ',
        link(`#/run/${enc(run.fork_of)}/${run.fork_step || 0}`, shortId(run.fork_of), { 'data-lineage': 'parent', title: run.fork_of }),
        ` at step ${run.fork_step || 0}`));
    }
    if (run.parent) {
      items.push(el('span', { class: 'pair' }, 'child of ',
        link(`#/run/${enc(run.parent)}`, shortId(run.parent), { 'data-lineage': 'parent', title: run.parent })));
    }
    if (children.length) {
      items.push(el('span', { class: 'pair' }, 'children ', children.map((c) =>
        link(`#/run/${enc(c.id)}`, runLabel(c), { 'data-lineage': 'child', title: c.id, class: 'chip' }))));
    }
    if (forks.length) {
      items.push(el('span', { class: 'pair' }, 'forks ', forks.map((f) => el('span', { class: 'chip' },
        link(`#/run/${enc(f.id)}`, `${runLabel(f)} @${f.fork_step || 0}`, { 'data-lineage': 'fork', title: f.id }),
        ' ', link(`#/compare/${enc(run.id)}/${enc(f.id)}`, 'diff', { class: 'small' })))));
    }
    if (!items.length) items.push(el('span', { class: 'muted', text: 'no parent, children or forks' }));
    this.lineage.replaceChildren(...items);

    // Compare with the run this one came from: the run it forked, else
    // the run that spawned it.
    const other = run.fork_of || run.parent;
    this.compare.hidden = !other;
    if (other) {
      this.compare.href = `#/compare/${enc(other)}/${enc(run.id)}`;
      this.compare.textContent = run.fork_of ? 'compare with the forked run' : 'compare with parent';
    } else {
      this.compare.removeAttribute('href');
    }
  }

  renderWrites(k, step, err) {
    const parts = [el('strong', { text: `step ${k}` })];
    if (k === 0) {
      parts.push(el('span', { class: 'muted', text: this.run && this.run.fork_of ? ' the fork before its first step: the state it was forked from' : ' before the run\'s first step' }));
    } else if (err) {
      parts.push(' ', errorBox(err));
    } else if (step) {
      const w = step.writes || {};
      let any = false;
      for (const p of ['kv', 'state', 'events', 'traces', 'vectors']) {
        const list = w[p] || [];
        if (!list.length) continue;
        any = true;
        const shown = list.slice(0, LIST_CAP).map((x) => el('code', { class: 'write-item', text: x }));
        if (list.length > LIST_CAP) shown.push(el('span', { class: 'muted', text: ` +${list.length - LIST_CAP} more` }));
        parts.push(el('span', { class: 'write-group', 'data-primitive': p }, el('span', { class: 'k', text: p }), shown));
      }
      if (!any) parts.push(el('span', { class: 'muted', text: ' wrote nothing listed' }));
      parts.push(el('span', { class: 'muted small', text: ` · version ${step.version}` }));
    }
    this.writes.replaceChildren(...parts);
  }

  renderKV() {
    const all = this.asof.kv || [];
    const prefix = this.kvFilter.value;
    const list = prefix ? all.filter((e) => e.key.startsWith(prefix)) : all;
    const rows = list.slice(0, TABLE_CAP).map((e) => el('tr', { 'data-key': e.key, class: this.written.kv.has(e.key) ? 'written' : null },
      el('td', { class: 'key', text: e.key }),
      el('td', {}, valueNode(e.value, e.value_base64)),
      el('td', { class: 'num muted', text: e.version === undefined ? '' : String(e.version) })));
    if (!rows.length) rows.push(emptyRow(3, all.length ? 'no key with that prefix' : 'no keys'));
    this.kv.replaceChildren(...rows);
    this.kvNote.textContent = list.length > TABLE_CAP ? `showing ${TABLE_CAP} of ${list.length} keys: narrow with the prefix` : `${plural(all.length, 'key')}`;
  }

  renderState(cells) {
    const rows = cells.slice(0, TABLE_CAP).map((c) => el('tr', { 'data-cell': c.name, class: this.written.state.has(c.name) ? 'written' : null },
      el('td', { class: 'key', text: c.name }),
      el('td', {}, valueNode(c.value, c.value_base64), c.machine ? machineNode(c) : null),
      el('td', { class: 'num muted', text: String(c.version) }),
      el('td', { class: 'small muted', title: c.updated_at || '', text: fmtTime(c.updated_at) })));
    if (!rows.length) rows.push(emptyRow(4, 'no cells'));
    this.state.replaceChildren(...rows);
  }

  renderEvents(ev) {
    this.eventCount.textContent = String(ev.count || 0);
    const broken = ev.verified === false;
    this.chain.textContent = broken ? `broken at ${ev.first_bad}` : 'verified';
    this.chain.className = broken ? 'bad' : 'ok';
    // Newest first: the recent end of the log is what a step changed.
    const recent = (ev.recent || []).slice().reverse();
    const rows = recent.map((e) => el('tr', { 'data-seq': e.seq, class: this.written.events.has(String(e.seq)) ? 'written' : null, title: `hash ${e.hash}` },
      el('td', { class: 'num', text: String(e.seq) }),
      el('td', { class: 'key', text: e.type }),
      el('td', {}, valueNode(e.payload, e.payload_base64)),
      el('td', { class: 'small muted', title: e.time, text: fmtTime(e.time) })));
    if (!rows.length) rows.push(emptyRow(4, 'no events'));
    else if ((ev.count || 0) > recent.length) rows.push(emptyRow(4, `the last ${recent.length} of ${ev.count}`));
    this.events.replaceChildren(...rows);
  }

  renderVectors(colls, vecs) {
    const conf = new Map(((vecs && vecs.collections) || []).map((c) => [c.name, c]));
    const rows = colls.map((c) => {
      const cf = conf.get(c.collection) || {};
      return el('tr', { 'data-collection': c.collection },
        el('td', { class: 'key', text: c.collection }),
        el('td', { class: 'num count', text: String(c.count) }),
        el('td', { class: 'num muted', text: cf.dim === undefined ? '' : String(cf.dim) }),
        el('td', { class: 'muted', text: cf.metric || '' }));
    });
    if (!rows.length) rows.push(emptyRow(4, 'no collections'));
    this.vectors.replaceChildren(...rows);
    const written = (vecs && vecs.written) || [];
    setChildren(this.vecWritten, written.length ? [el('span', { class: 'muted', text: 'written at this step: ' }),
      written.slice(0, LIST_CAP).map((w) => el('code', { class: 'write-item', text: w.collection ? `${w.collection}/${w.key}` : w.key }))] : null);
  }

  renderCalls(spans) {
    const calls = spans.filter((s) => s.kind === 'llm_call' || s.kind === 'tool_call');
    if (!calls.length) {
      this.calls.replaceChildren(el('div', { class: 'muted', text: 'no recorded LLM or tool calls at this step' }));
      return;
    }
    const newest = calls.slice(-CALLS_CAP).reverse();
    const rows = newest.map((s) => {
      const g = genai(s);
      const tr = el('tr', { 'data-span-id': s.id, class: 'clickable' },
        el('td', { class: 'num', text: String(s.id) }),
        el('td', {}, kindBadge(s.kind)),
        el('td', { class: 'key', text: s.name }),
        el('td', { class: 'small', text: [g.model, g.tool, g.tokens].filter(Boolean).join(' · ') }),
        el('td', {}, valueNode(s.input, s.input_base64, 'value clamp')),
        el('td', {}, valueNode(s.output, s.output_base64, 'value clamp')));
      tr.addEventListener('click', () => this.showSpan(this.waterfall.byId(s.id), true));
      return tr;
    });
    setChildren(this.calls,
      el('table', { class: 'grid' }, head('span', 'kind', 'name', 'model / tool', 'input', 'output'), el('tbody', {}, rows)),
      calls.length > CALLS_CAP ? el('div', { class: 'muted small', text: `the newest ${CALLS_CAP} of ${calls.length}` }) : null);
  }

  // showSpan fills the span detail; reveal scrolls the waterfall to it.
  showSpan(span, reveal) {
    if (!span) {
      this.selected = undefined;
      this.detail.hidden = true;
      this.waterfall.select(undefined);
      return;
    }
    this.selected = span.id;
    this.waterfall.select(span.id);
    if (reveal) this.waterfall.reveal(span.id);
    this.detail.hidden = false;
    this.detail.replaceChildren(...spanDetail(span, this.waterfall, (s) => this.showSpan(s, true)));
  }

  async replay() {
    this.replayBtn.disabled = true;
    this.replayResult.className = 'muted';
    this.replayResult.textContent = 'replaying…';
    try {
      const r = await getJSON(`/api/runs/${enc(this.id)}/replay`, this.ac.signal);
      if (r.match) {
        this.replayResult.textContent = `match (${r.steps} steps)`;
        this.replayResult.className = 'ok';
      } else {
        const what = (r.mismatched || []).join(', ');
        this.replayResult.textContent = r.first_diff ? `differs at step ${r.first_diff}: ${what}` : `differs: ${r.reason || what}`;
        this.replayResult.className = 'bad';
      }
      this.replayResult.title = r.reason || '';
    } catch (e) {
      if (isAbort(e)) return;
      this.replayResult.textContent = `replay failed: ${e.message}`;
      this.replayResult.className = 'bad';
    } finally {
      this.replayBtn.disabled = false;
    }
  }

  destroy() {
    this.dead = true;
    clearTimeout(this.timer);
    this.ac.abort();
    if (this.stepAC) this.stepAC.abort();
    document.removeEventListener('keydown', this.onKey);
  }
}

// panel builds a titled box; .with(...) adds its body (an object
// {wide: true} among the arguments makes it span the full width).
function panel(title, ...extra) {
  const h = el('h2', {}, el('span', { text: title }), extra);
  const box = el('section', { class: 'panel' }, h);
  box.with = (...body) => {
    for (const b of body) {
      if (b && b.wide) box.classList.add('wide');
      else appendAll(box, [b]);
    }
    return box;
  };
  return box;
}

function head(...cols) {
  return el('thead', {}, el('tr', {}, cols.map((c) => el('th', { text: c }))));
}

function emptyRow(cols, text) {
  return el('tr', { class: 'empty' }, el('td', { colspan: cols, class: 'muted', text }));
}

function kvPair(k, v, cls) {
  return el('span', { class: 'pair' }, el('span', { class: 'k', text: k }), el('span', { class: cls || '', text: v }));
}

const KIND_SHORT = { llm_call: 'llm', tool_call: 'tool', retrieval: 'retr', decision: 'dec', thought: 'think', error: 'err', custom: 'custom' };

// machineNode shows a cell's declared state machine: the states it may
// move to from its current one, the whole table in the tooltip.
function machineNode(c) {
  const allow = c.machine.allow || {};
  const next = allow[c.value] || [];
  const table = Object.entries(allow).map(([from, to]) => `${from} → ${to.join(', ')}`).join('\n');
  return el('div', { class: 'machine small muted', 'data-testid': 'machine', title: `initial: ${c.machine.initial}\n${table}` },
    'machine · next: ',
    next.length ? next.map((s) => el('span', { class: 'tag', 'data-next': s, text: s })) : el('span', { text: 'none (final)' }));
}

function kindBadge(kind) {
  return el('span', { class: `kind kind-${kind}`, title: kind, text: KIND_SHORT[kind] || kind });
}

// attr reads a span attribute from either map: strings are in attrs,
// numbers and booleans in values.
function attr(span, name) {
  if (span.attrs && span.attrs[name] !== undefined) return span.attrs[name];
  if (span.values && span.values[name] !== undefined) return span.values[name];
  return undefined;
}

// genai picks the OpenTelemetry GenAI attributes worth a glance.
function genai(span) {
  const model = attr(span, 'gen_ai.request.model') || attr(span, 'gen_ai.response.model');
  const tool = attr(span, 'gen_ai.tool.name');
  const tin = attr(span, 'gen_ai.usage.input_tokens');
  const tout = attr(span, 'gen_ai.usage.output_tokens');
  let tokens = '';
  if (tin !== undefined || tout !== undefined) tokens = `${tin ?? '?'}→${tout ?? '?'} tok`;
  return { model: model === undefined ? '' : String(model), tool: tool === undefined ? '' : String(tool), tokens };
}

function spanDetail(s, wf, select) {
  const start = parseTime(s.start);
  const end = parseTime(s.end);
  const rows = [
    ['span', String(s.id)],
    ['kind', s.kind],
    ['name', s.name],
    ['status', s.status || 'unset'],
    ['start', s.start || ''],
    ['end', s.end || '(open)'],
    ['duration', Number.isFinite(end) ? fmtDur(end - start) : ''],
  ];
  const dl = el('dl', { class: 'detail-grid' }, rows.map(([k, v]) => [el('dt', { text: k }), el('dd', { class: 'mono', text: v })]));
  if (s.parent) {
    const p = wf.byId(s.parent);
    dl.append(el('dt', { text: 'parent' }), el('dd', {},
      el('a', { href: '#', text: p ? `${s.parent} ${p.name}` : String(s.parent), onclick: (e) => {
        e.preventDefault();
        if (p) select(p);
      } })));
  }
  if ((s.tags || []).length) dl.append(el('dt', { text: 'tags' }), el('dd', {}, s.tags.map((t) => el('span', { class: 'tag', text: t }))));
  const attrs = [];
  for (const [k, v] of Object.entries(s.attrs || {})) attrs.push([k, v, 'string']);
  for (const [k, v] of Object.entries(s.values || {})) attrs.push([k, JSON.stringify(v), typeof v]);
  attrs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out = [el('h3', { text: `span ${s.id}: ${s.name}` }), dl];
  if (attrs.length) {
    out.push(el('table', { class: 'grid attrs' }, head('attribute', 'value', 'type'),
      el('tbody', {}, attrs.map(([k, v, t]) => el('tr', { 'data-attr': k },
        el('td', { class: 'key', text: k }), el('td', { class: 'value', text: v }), el('td', { class: 'muted small', text: t }))))));
  }
  out.push(el('div', { class: 'io' },
    el('div', {}, el('h4', { text: 'input' }), el('pre', { class: 'value' }, valueNode(s.input, s.input_base64, 'span-input'))),
    el('div', {}, el('h4', { text: 'output' }), el('pre', { class: 'value' }, valueNode(s.output, s.output_base64, 'span-output')))));
  return out;
}

// ---------------------------------------------------------------------------
// The span waterfall. Spans are laid out in tree order (parent before
// children, siblings by start) as rows of a fixed height in a scrolling
// box; only the rows in view (and a few around) are in the DOM, so 20,000
// spans scroll like 20.

const ROW_H = 22;
const OVERSCAN = 8;
const INDENT_PX = 12;
const WF_HEIGHT = 440; // px: the waterfall's box at most
const INDENT_MAX = 30; // deeper rows indent no further (data-depth stays exact)

class Waterfall {
  constructor(onSelect) {
    this.onSelect = onSelect;
    this.items = []; // {span, depth, start, end}
    this.index = new Map(); // span id -> position in items
    this.rows = new Map(); // position -> row element in the DOM
    this.t0 = 0;
    this.range = 1;
    this.selected = undefined;
    this.frame = 0;
    this.spacer = el('div', { class: 'wf-spacer' });
    this.axis = el('div', { class: 'wf-axis' });
    this.box = el('div', { class: 'wf-box', tabindex: 0 }, this.spacer);
    this.root = el('div', { class: 'waterfall', 'data-testid': 'waterfall', 'data-total': 0 }, this.axis, this.box);
    this.box.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.box.addEventListener('click', (e) => {
      const row = e.target.closest('.span-row');
      if (row) this.onSelect(this.byId(Number(row.dataset.spanId)));
    });
    if (window.ResizeObserver) new ResizeObserver(() => this.schedule()).observe(this.box);
  }

  byId(id) {
    const i = this.index.get(Number(id));
    return i === undefined ? undefined : this.items[i].span;
  }

  setSpans(spans, step) {
    this.items = treeOrder(spans);
    this.index = new Map(this.items.map((it, i) => [it.span.id, i]));
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const it of this.items) {
      if (it.start < t0) t0 = it.start;
      if (it.end > t1) t1 = it.end;
    }
    this.t0 = Number.isFinite(t0) ? t0 : 0;
    this.range = Number.isFinite(t1) && t1 > this.t0 ? t1 - this.t0 : 1;
    this.root.dataset.total = String(this.items.length);
    this.root.dataset.step = String(step);
    this.spacer.style.height = `${this.items.length * ROW_H}px`;
    // A few spans need no tall empty box; many scroll within WF_HEIGHT.
    this.box.style.height = `${Math.min(WF_HEIGHT, Math.max(this.items.length, 2) * ROW_H + 2)}px`;
    this.renderAxis();
    // Positions now mean other spans: rebuild the rows in view.
    for (const row of this.rows.values()) row.remove();
    this.rows.clear();
    this.render();
  }

  renderAxis() {
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
      const t = el('span', { class: 'tick', text: this.items.length ? fmtDur(f * this.range) || '0' : '' });
      t.style.left = `${f * 100}%`;
      return t;
    });
    this.axis.replaceChildren(
      el('span', { class: 'wf-label', text: this.items.length ? plural(this.items.length, 'span') : 'no spans at this step' }),
      el('span', { class: 'wf-track' }, ticks),
      el('span', { class: 'wf-attrs', text: 'model · tokens' }));
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const n = this.items.length;
    const top = this.box.scrollTop;
    const h = this.box.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(n, Math.ceil((top + h) / ROW_H) + OVERSCAN);
    for (const [i, row] of this.rows) {
      if (i < first || i >= last) {
        row.remove();
        this.rows.delete(i);
      }
    }
    for (let i = first; i < last; i++) {
      if (this.rows.has(i)) continue;
      const row = this.row(i);
      this.spacer.appendChild(row);
      this.rows.set(i, row);
    }
  }

  row(i) {
    const { span, depth, start, end } = this.items[i];
    const g = genai(span);
    const label = el('span', { class: 'wf-label', title: `${span.kind} ${span.name}` }, kindBadge(span.kind), el('span', { class: 'span-name', text: span.name }));
    label.style.paddingLeft = `${4 + Math.min(depth, INDENT_MAX) * INDENT_PX}px`;
    const bar = el('span', { class: `span-bar kind-${span.kind}${span.end ? '' : ' open'}${span.status === 'error' ? ' failed' : ''}`, title: fmtDur(end - start) });
    bar.style.left = `${((start - this.t0) / this.range) * 100}%`;
    bar.style.width = `${Math.max(((end - start) / this.range) * 100, 0)}%`;
    const attrs = el('span', { class: 'wf-attrs' },
      g.model ? el('span', { class: 'attr-model', text: g.model }) : null,
      g.tool ? el('span', { class: 'attr-tool', text: g.tool }) : null,
      g.tokens ? el('span', { class: 'attr-tokens', text: g.tokens }) : null);
    const row = el('div', { class: `span-row${span.id === this.selected ? ' selected' : ''}`, 'data-span-id': span.id, 'data-depth': depth },
      label, el('span', { class: 'wf-track' }, bar), attrs);
    row.style.top = `${i * ROW_H}px`;
    return row;
  }

  select(id) {
    this.selected = id;
    for (const row of this.rows.values()) row.classList.toggle('selected', Number(row.dataset.spanId) === id);
  }

  reveal(id) {
    const i = this.index.get(Number(id));
    if (i === undefined) return;
    const y = i * ROW_H;
    if (y < this.box.scrollTop || y + ROW_H > this.box.scrollTop + this.box.clientHeight) {
      this.box.scrollTop = y - this.box.clientHeight / 2;
    }
    this.render();
  }
}

// treeOrder flattens spans into depth-first order: parents before their
// children, siblings by start time (then ID). A span whose parent is not
// in the list is a root. Iterative, so a chain 20,000 deep is fine.
function treeOrder(spans) {
  const byId = new Map();
  const kids = new Map();
  const items = spans.map((span) => {
    const start = parseTime(span.start);
    let end = parseTime(span.end);
    if (!Number.isFinite(end) || end < start) end = start;
    const it = { span, depth: 0, start: Number.isFinite(start) ? start : 0, end: Number.isFinite(end) ? end : 0 };
    byId.set(span.id, it);
    return it;
  });
  const roots = [];
  for (const it of items) {
    const p = it.span.parent;
    if (p && p !== it.span.id && byId.has(p)) {
      if (!kids.has(p)) kids.set(p, []);
      kids.get(p).push(it);
    } else {
      roots.push(it);
    }
  }
  const order = (a, b) => a.start - b.start || a.span.id - b.span.id;
  const out = [];
  const seen = new Set();
  const stack = roots.sort(order).reverse().map((it) => [it, 0]);
  while (stack.length) {
    const [it, depth] = stack.pop();
    if (seen.has(it.span.id)) continue; // a cycle cannot happen, but must not hang the page
    seen.add(it.span.id);
    it.depth = depth;
    out.push(it);
    const ch = kids.get(it.span.id);
    if (ch) {
      ch.sort(order);
      for (let i = ch.length - 1; i >= 0; i--) stack.push([ch[i], depth + 1]);
    }
  }
  // Spans on a parent cycle were never reached from a root: list them last.
  for (const it of items) if (!seen.has(it.span.id)) out.push(it);
  return out;
}

// ---------------------------------------------------------------------------
// #/compare/A/B: what differs between two runs, and where B forked from A.

const PRIMITIVES = ['kv', 'state', 'events', 'traces', 'vectors'];
const DIFF_CAP = 500; // items listed per primitive and change

class ComparePage {
  constructor(a, b) {
    this.a = a;
    this.b = b;
    this.ac = new AbortController();
    this.head = el('div', { class: 'compare-head' }, el('h1', { text: 'compare' }));
    this.timelines = el('div', { class: 'timelines' });
    this.diff = el('div', { class: 'diff', 'data-testid': 'diff' });
    this.msg = el('div');
    this.root = el('section', { class: 'compare-page' }, this.head, this.msg, this.timelines, this.diff);
    this.onVersion = coalesced(() => this.load());
  }

  async load() {
    this.ac.abort();
    this.ac = new AbortController();
    try {
      const res = await getJSON(`/api/diff?a=${enc(this.a)}&b=${enc(this.b)}`, this.ac.signal);
      this.msg.replaceChildren();
      this.render(res);
    } catch (e) {
      if (!isAbort(e)) this.msg.replaceChildren(errorBox(e));
    }
  }

  render(res) {
    const { a, b, diff } = res;
    this.head.replaceChildren(
      el('h1', {}, 'compare ', link(`#/run/${enc(a.id)}`, runLabel(a), { class: 'run-a' }), ' → ', link(`#/run/${enc(b.id)}`, runLabel(b), { class: 'run-b' })),
      el('a', { href: `#/compare/${enc(b.id)}/${enc(a.id)}`, class: 'button small', text: 'swap' }),
      el('span', { class: 'muted small', text: ' added: only in B · removed: only in A · changed: before is A, after is B' }));
    document.title = `${runLabel(a)} → ${runLabel(b)} · in-mem`;
    this.timelines.replaceChildren(...timelines(a, b));
    const sections = [];
    if (diff.same) sections.push(el('div', { class: 'same', text: 'the two runs hold the same data' }));
    for (const p of PRIMITIVES) sections.push(diffSection(p, diff[p] || {}));
    this.diff.replaceChildren(...sections);
  }

  destroy() {
    this.ac.abort();
  }
}

// #/shared/NS: a namespace's shared scope, the long-lived memory outside
// any run: its KV entries and vector collections. It keeps no steps.

class SharedPage {
  constructor(ns) {
    this.ns = ns;
    this.ac = new AbortController();
    this.input = el('input', { id: 'shared-namespace', type: 'search', placeholder: 'tenant/app/agent (empty: default)', size: 30, value: ns });
    const go = () => { location.hash = `#/shared/${this.input.value.trim()}`; };
    this.input.addEventListener('change', go);
    this.input.addEventListener('keydown', (e) => { if (e.key === 'Enter') go(); });
    this.kv = el('tbody');
    this.kvInfo = el('span', { class: 'muted small' });
    this.vectors = el('tbody');
    this.msg = el('div');
    this.root = el('section', { class: 'shared-page' },
      el('div', { class: 'toolbar' }, el('label', {}, 'shared scope of namespace ', this.input)),
      this.msg,
      el('div', { class: 'panels' },
        panel('KV', this.kvInfo).with(el('table', { class: 'grid', 'data-testid': 'shared-kv' }, head('key', 'value', 'version'), this.kv)),
        panel('Vectors').with(el('table', { class: 'grid', 'data-testid': 'shared-vectors' }, head('collection', 'vectors', 'dim', 'metric'), this.vectors))));
    this.onVersion = coalesced(() => this.load());
  }

  async load() {
    this.ac.abort();
    this.ac = new AbortController();
    document.title = `shared ${this.ns || 'default'} · in-mem`;
    try {
      const res = await getJSON(`/api/shared?namespace=${enc(this.ns)}`, this.ac.signal);
      this.msg.replaceChildren();
      this.render(res);
    } catch (e) {
      if (!isAbort(e)) this.msg.replaceChildren(errorBox(e));
    }
  }

  render(res) {
    this.kvInfo.textContent = res.kv_count > res.kv.length ? `the first ${res.kv.length} of ${res.kv_count}` : plural(res.kv_count, 'key');
    setChildren(this.kv, res.kv.length ? res.kv.map((e) => el('tr', { 'data-key': e.key },
      el('td', { class: 'mono', text: e.key }),
      el('td', {}, valueNode(e.value, e.value_base64)),
      el('td', { class: 'num', text: e.version }))) : emptyRow(3, 'no keys'));
    setChildren(this.vectors, res.collections.length ? res.collections.map((c) => el('tr', { 'data-collection': c.name },
      el('td', { class: 'mono', text: c.name }),
      el('td', { class: 'num count', text: c.count }),
      el('td', { class: 'num', text: c.dim }),
      el('td', { text: c.metric }))) : emptyRow(4, 'no collections'));
  }

  destroy() {
    this.ac.abort();
  }
}

// timelines draws each run as a bar of its steps on one scale. A fork's
// bar starts where it forked, and .fork-mark marks that step on both.
function timelines(a, b) {
  let fork = null; // {base: 'a'|'b', step}
  if (b.fork_of === a.id) fork = { base: 'a', step: b.fork_step || 0 };
  else if (a.fork_of === b.id) fork = { base: 'b', step: a.fork_step || 0 };
  const offset = (side) => (fork && fork.base !== side ? fork.step : 0);
  const runs = { a, b };
  const scale = Math.max(1, ...['a', 'b'].map((s) => offset(s) + (runs[s].steps || 0)));
  return ['a', 'b'].map((side) => {
    const r = runs[side];
    const off = offset(side);
    const steps = r.steps || 0;
    const bar = el('div', { class: 'tl-bar', title: `${steps} steps` });
    bar.style.left = `${(off / scale) * 100}%`;
    bar.style.width = `${(steps / scale) * 100}%`;
    // One tick per step while they are wide enough to see.
    if (steps > 0 && steps <= 200) bar.style.backgroundSize = `${100 / steps}% 100%`;
    else bar.classList.add('dense');
    const track = el('div', { class: 'tl-track', title: 'click: open the run at that step' }, bar);
    if (fork) {
      const m = el('div', { class: 'fork-mark', title: `fork at step ${fork.step}`, 'data-step': fork.step });
      m.style.left = `${(fork.step / scale) * 100}%`;
      track.appendChild(m);
    }
    track.addEventListener('click', (e) => {
      const box = track.getBoundingClientRect();
      const pos = Math.round(((e.clientX - box.left) / box.width) * scale) - off;
      location.hash = `#/run/${enc(r.id)}/${Math.max(0, Math.min(steps, pos))}`;
    });
    let note = `${plural(steps, 'step')}`;
    if (fork && fork.base === side) note += ` · forked at step ${fork.step}`;
    if (fork && fork.base !== side) note += ` · a fork of the other at step ${fork.step}`;
    return el('div', { class: 'timeline', 'data-testid': `timeline-${side}` },
      el('div', { class: 'tl-label' }, el('strong', { text: side.toUpperCase() + ' ' }), link(`#/run/${enc(r.id)}`, runLabel(r)),
        el('span', { class: 'muted small', text: ` ${note}` })),
      track);
  });
}

function diffSection(p, d) {
  const added = d.added || [];
  const removed = d.removed || [];
  const changed = d.changed || [];
  const n = added.length + removed.length + changed.length;
  const items = [];
  const cap = (list, f) => {
    for (const x of list.slice(0, DIFF_CAP)) items.push(f(x));
    if (list.length > DIFF_CAP) items.push(el('div', { class: 'muted small', text: `+${list.length - DIFF_CAP} more` }));
  };
  cap(added, (k) => el('div', { class: 'diff-item added', 'data-diff-key': k, 'data-change': 'added' },
    el('span', { class: 'sign', text: '+' }), el('span', { class: 'key', text: k })));
  cap(removed, (k) => el('div', { class: 'diff-item removed', 'data-diff-key': k, 'data-change': 'removed' },
    el('span', { class: 'sign', text: '−' }), el('span', { class: 'key', text: k })));
  cap(changed, (c) => el('div', { class: 'diff-item changed', 'data-diff-key': c.key, 'data-change': 'changed' },
    el('span', { class: 'sign', text: '~' }), el('span', { class: 'key', text: c.key }),
    el('div', { class: 'before-after' },
      el('span', { class: 'muted small', text: 'A ' }), valueNode(c.before, c.before_base64, 'value before'),
      el('span', { class: 'muted small', text: ' B ' }), valueNode(c.after, c.after_base64, 'value after'))));
  const counts = n ? `+${added.length} −${removed.length} ~${changed.length}` : 'same';
  return el('section', { class: `diff-section${n ? '' : ' nodiff'}`, 'data-primitive': p },
    el('h3', {}, el('span', { text: p }), el('span', { class: 'muted small', text: ` ${counts}` })),
    items);
}

// ---------------------------------------------------------------------------

async function showInfo() {
  try {
    const info = await getJSON('/api/info');
    const box = document.getElementById('db-info');
    box.textContent = `${info.dir || ''}${info.read_only ? ' · read-only' : ''}`;
    box.title = `version ${info.version}`;
  } catch (e) {
    // The page still works without it; a 401 shows on the page itself.
  }
}

window.addEventListener('hashchange', () => router.go());
window.addEventListener('DOMContentLoaded', () => {
  router.go();
  live.start();
  showInfo();
});
