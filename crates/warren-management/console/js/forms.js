// Form helpers the Exchanges, Connections and Admin pages share: argument tables typed
// as `key = value` lines (or JSON), reading a form, and submitting it with the button
// disabled and the API's error shown.

import { api } from './api.js';
import { h, field, showError } from './dom.js';

/** A value typed in an arguments box: numbers and true/false become JSON values. */
function typed(raw) {
  const v = raw.trim();
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (v === 'true' || v === 'false') return v === 'true';
  return v;
}

/** Parses an arguments box: a JSON object, or `key = value` lines
 *  ('x-max-length = 10' -> {"x-max-length": 10}). Throws on a malformed line. */
export function parseArgs(text) {
  const t = String(text || '').trim();
  if (!t) return {};
  if (t.startsWith('{')) {
    const v = JSON.parse(t);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('Arguments must be a JSON object');
    return v;
  }
  const out = {};
  for (const line of t.split('\n')) {
    if (!line.trim()) continue;
    const at = line.indexOf('=');
    if (at < 1) throw new Error(`“${line.trim()}” is not key = value`);
    out[line.slice(0, at).trim()] = typed(line.slice(at + 1));
  }
  return out;
}

/** A labelled arguments box (`key = value` per line, or a JSON object). */
export function argsField(name, label, placeholder = 'key = value (one per line) or a JSON object') {
  return field(label, h('textarea', { name, rows: 2, placeholder, spellcheck: 'false' }),
    'Numbers and true/false are sent as such; anything else as text.');
}

/** A labelled text input. */
export function textField(name, label, attrs = {}) {
  return field(label, h('input', { type: 'text', name, autocomplete: 'off', spellcheck: 'false', ...attrs }));
}

/** A labelled select of [value, text] pairs (or plain values). */
export function selectField(name, label, options, selected) {
  return field(label, h('select', { name }, options.map((o) => {
    const [value, text] = Array.isArray(o) ? o : [o, o];
    return h('option', { value, selected: value === selected }, text);
  })));
}

/** The vhost names the user sees (for selects). */
export async function vhostNames(signal) {
  const list = await api('/vhosts?columns=name', { signal });
  return list.map((v) => v.name);
}

/** Wires `form`'s submit: `fn(values, form)` runs with the submit button disabled;
 *  an error (API or parse) is shown and keeps the form as typed. */
export function onSubmit(form, fn) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    try {
      await fn(Object.fromEntries(new FormData(form)), form);
    } catch (err) {
      showError(err);
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

/** A small action button that names its object for screen readers (and so its HTML
 *  differs per row, which `setCell` relies on): actionButton('Delete', 'user ann', fn).
 *  An error `fn` throws is shown. */
export function actionButton(text, object, fn, kind = 'danger') {
  const onclick = () => Promise.resolve().then(fn).catch(showError);
  return h('button', { type: 'button', class: `small ${kind}`, 'aria-label': `${text} ${object}`, 'data-object': object, onclick }, text);
}
