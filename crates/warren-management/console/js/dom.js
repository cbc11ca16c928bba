// Building the page: an element helper, formatters, messages and confirmation.

/** Creates an element: h('a', {href: '#/x', class: 'btn', onclick: fn}, 'text', child).
 *  Attributes starting with `on` become listeners; `class`, `for`, `hidden`,
 *  `disabled`, `value`, `checked`, `selected` are handled; null/false attributes and
 *  null/false/undefined children are skipped; strings become text (never HTML). */
export function h(tag, attrs, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces `el`'s children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** 1234567 -> '1,234,567'; undefined -> '–'. */
export function fmtNum(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: 0 });
}

/** A rate per second: 0.4 -> '0.4/s', 1234 -> '1,234/s'. */
export function fmtRate(r) {
  if (r === undefined || r === null) return '–';
  const digits = Math.abs(r) < 10 ? 1 : 0;
  return Number(r).toLocaleString('en-US', { maximumFractionDigits: digits }) + '/s';
}

/** Bytes: 1536 -> '1.5 KiB'. */
export function fmtBytes(b) {
  if (b === undefined || b === null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(b);
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toLocaleString('en-US', { maximumFractionDigits: i ? 1 : 0 })} ${units[i]}`;
}

/** Milliseconds: 90061000 -> '1d 1h 1m'. */
export function fmtDuration(ms) {
  if (ms === undefined || ms === null) return '–';
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hr = Math.floor(s / 3600);
  s -= hr * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d) return `${d}d ${hr}h ${m}m`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

/** The rate in `stats[key + '_details'].rate` (RabbitMQ's message_stats shape). */
export function rateOf(stats, key) {
  return stats && stats[`${key}_details`] ? stats[`${key}_details`].rate : undefined;
}

/** The vhost shown in a URL-ish way: '/' stays '/'. */
export function vhostLabel(v) {
  return v === undefined ? '' : v;
}

let alertTimer;
/** Shows an error (an ApiError's reason, or any Error's message) in the alert bar. */
export function showError(err) {
  const text = err && (err.reason || err.message) ? err.reason || err.message : String(err);
  flash(text, 'error');
}

/** Shows a short confirmation in the alert bar ('Queue purged'). */
export function notify(text) {
  flash(text, 'ok');
}

function flash(text, kind) {
  const bar = document.getElementById('alerts');
  if (!bar) return;
  const close = h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: () => bar.replaceChildren() }, '×');
  replace(bar, h('div', { class: `alert alert-${kind}` }, h('span', { class: 'alert-text' }, text), close));
  clearTimeout(alertTimer);
  if (kind === 'ok') alertTimer = setTimeout(() => bar.replaceChildren(), 4000);
}

/** Clears the alert bar. */
export function clearAlerts() {
  const bar = document.getElementById('alerts');
  if (bar) bar.replaceChildren();
}

/** Asks for confirmation in a modal dialog; resolves true if confirmed. `typed`: the
 *  user must type this text first (for deletions). */
export function confirmAction(message, { action = 'OK', typed } = {}) {
  return new Promise((resolve) => {
    const input = typed ? h('input', { type: 'text', id: 'confirm-typed', autocomplete: 'off' }) : null;
    const ok = h('button', { type: 'submit', class: 'danger', disabled: !!typed }, action);
    const cancel = h('button', { type: 'button', onclick: () => done(false) }, 'Cancel');
    if (input) input.addEventListener('input', () => { ok.disabled = input.value !== typed; });
    const form = h('form', { method: 'dialog' },
      h('p', { id: 'confirm-text' }, message),
      input && h('p', null, h('label', { for: 'confirm-typed' }, `Type “${typed}” to confirm`), input),
      h('p', { class: 'buttons' }, ok, cancel));
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-text' }, form);
    let settled = false;
    const done = (v) => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(v);
    };
    form.addEventListener('submit', (e) => { e.preventDefault(); done(true); });
    dialog.addEventListener('cancel', () => done(false));
    document.body.append(dialog);
    dialog.showModal();
    (input || cancel).focus();
  });
}

/** A labelled form field: field('Name', h('input', {name: 'name'})) — gives the input
 *  an id and a <label for> (every input has a label). */
let fieldSeq = 0;
export function field(label, input, hint) {
  if (!input.id) input.id = `f${++fieldSeq}`;
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hint && h('small', null, hint));
}

/** A definition list of [label, value] pairs (details panels). */
export function dl(pairs) {
  return h('dl', { class: 'details' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

/** Sets `el`'s content (a string, a node or an array of them) only if it changed: a refresh leaves
 *  unchanged text alone, so nothing flickers and a selection survives. */
export function setContent(el, content) {
  if (Array.isArray(content)) {
    const fragment = document.createDocumentFragment();
    append(fragment, content);
    content = fragment;
  }
  if (content instanceof Node) {
    const probe = document.createElement(el.tagName);
    probe.append(content);
    if (probe.innerHTML !== el.innerHTML) el.replaceChildren(...probe.childNodes);
  } else {
    const text = content === undefined || content === null ? '' : String(content);
    if (el.childElementCount || el.textContent !== text) el.textContent = text;
  }
}

/** Shows [label, value] pairs in `container` as a definition list, updating the one
 *  already there in place when the labels are the same (live details panels). */
export function updateDl(container, pairs) {
  const rows = pairs.filter(Boolean);
  const list = container.querySelector(':scope > dl.details');
  const labels = list ? [...list.querySelectorAll(':scope > dt')].map((dt) => dt.textContent) : [];
  if (!list || labels.join('\n') !== rows.map(([k]) => k).join('\n')) {
    replace(container, dl(rows));
    return;
  }
  const dds = list.querySelectorAll(':scope > dd');
  rows.forEach(([, v], i) => setContent(dds[i], v));
}

/** A small badge: badge('D', 'durable'). */
export function badge(text, title, kind = '') {
  return h('abbr', { class: `badge ${kind}`.trim(), title }, text);
}

/** The hash of a console route, each segment encoded:
 *  hrefTo('queues', '/', 'q 1') -> '#/queues/%2F/q%201'. */
export function hrefTo(...segments) {
  return '#/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
}

/** A link to a console route: linkTo('q 1', 'queues', '/', 'q 1'). */
export function linkTo(text, ...segments) {
  return h('a', { href: hrefTo(...segments) }, text);
}
