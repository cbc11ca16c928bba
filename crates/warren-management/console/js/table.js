// Tables: sortable headers, a filter box and pagination, answered by the server
// (RabbitMQ's page/page_size/name/sort/sort_reverse list parameters), refreshed in
// place: rows and cells are reused and only changed cells are touched, so a refresh
// neither flickers nor loses the reader's place.

import { api, qs } from './api.js';
import { h, replace, fmtNum, showError, setContent } from './dom.js';

/** Page sizes offered. */
export const PAGE_SIZES = [20, 50, 100, 500];

/** Loads one page of a list endpoint with the table's state:
 *  `pagedList('/queues/%2F', state, {columns: 'name,messages'})`. Returns
 *  {items, filtered, total, pageCount}. A page past the end is retried as the last. */
export async function pagedList(apiPath, state, extra = {}, signal) {
  const query = {
    page: state.page,
    page_size: state.pageSize,
    name: state.filter,
    use_regex: state.regex ? 'true' : 'false',
    sort: state.sort,
    sort_reverse: state.reverse ? 'true' : 'false',
    pagination: 'true',
    ...extra,
  };
  let r = await api(apiPath + qs(query), { signal });
  if (r.page_count > 0 && state.page > r.page_count) {
    state.page = r.page_count;
    r = await api(apiPath + qs({ ...query, page: state.page }), { signal });
  }
  return { items: r.items, filtered: r.filtered_count, total: r.total_count, pageCount: r.page_count };
}

/** A table over a server-side list.
 *  options: {
 *    caption: accessible name of the table,
 *    columns: [{key, label, sort?: API sort key (false: not sortable), num?: right-aligned,
 *               cell: row => string | Node, title?: header tooltip}],
 *    load: (state, signal) => Promise<{items, filtered, total, pageCount}> (use pagedList),
 *    rowKey: row => unique string (default row.vhost + '/' + row.name),
 *    sort: initial sort key, pageSize: initial page size (default 100),
 *    filter: true to show the filter box (default true), empty: text when no rows,
 *    id: a prefix for element ids (default 'tbl') }
 *  Returns {el, state, reload(signal)}: put `el` in the page, call `reload` from
 *  `ctx.every` to refresh. Sorting, filtering and paging reload at once. */
export function dataTable(options) {
  const {
    caption, columns, load, rowKey = (r) => `${r.vhost}/${r.name}`, empty = 'Nothing to show.',
    id = 'tbl',
  } = options;
  const state = {
    page: 1, pageSize: options.pageSize || 100, filter: '', regex: false,
    sort: options.sort || '', reverse: false,
  };
  let lastSignal;
  const tbody = h('tbody');
  const status = h('p', { class: 'table-status', role: 'status', 'aria-live': 'polite' });
  const headers = columns.map((c) => {
    const th = h('th', { scope: 'col', class: c.num ? 'num' : null, title: c.title });
    if (c.sort === false) th.append(c.label);
    else {
      const key = c.sort || c.key;
      th.append(h('button', { type: 'button', class: 'sort', onclick: () => sortBy(key) }, c.label));
      th.dataset.sort = key;
    }
    return th;
  });
  const table = h('table', { class: 'data' }, caption && h('caption', { class: 'visually-hidden' }, caption),
    h('thead', null, h('tr', null, headers)), tbody);

  const filterInput = h('input', { type: 'search', id: `${id}-filter`, placeholder: 'Filter by name' });
  const regexBox = h('input', { type: 'checkbox', id: `${id}-regex` });
  let filterTimer;
  filterInput.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => { state.filter = filterInput.value; state.page = 1; act(); }, 250);
  });
  regexBox.addEventListener('change', () => { state.regex = regexBox.checked; state.page = 1; act(); });
  const sizeSelect = h('select', { id: `${id}-size` },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === state.pageSize }, String(n))));
  sizeSelect.addEventListener('change', () => { state.pageSize = Number(sizeSelect.value); state.page = 1; act(); });
  const pager = h('nav', { class: 'pager', 'aria-label': `${caption || 'Table'} pages` });
  const toolbar = h('div', { class: 'table-tools' },
    options.filter === false ? null : h('span', { class: 'filter' },
      h('label', { for: filterInput.id }, 'Filter'), filterInput,
      h('label', { class: 'inline', for: regexBox.id }, regexBox, ' Regex')),
    h('span', null, h('label', { for: sizeSelect.id }, 'Per page'), sizeSelect));
  const el = h('div', { class: 'table-block' }, toolbar, h('div', { class: 'table-scroll' }, table), status, pager);

  function sortBy(key) {
    if (state.sort === key) state.reverse = !state.reverse;
    else { state.sort = key; state.reverse = false; }
    state.page = 1;
    act();
  }

  function go(page) {
    state.page = page;
    act();
  }

  // A reload the user asked for: its error is shown (a page left meanwhile is not an error).
  function act() {
    reload().catch((err) => {
      if (err.name !== 'AbortError') showError(err);
    });
  }

  function renderHeaders() {
    for (const th of headers) {
      const active = th.dataset.sort && th.dataset.sort === state.sort;
      if (active) th.setAttribute('aria-sort', state.reverse ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    }
  }

  function renderRows(items) {
    fillRows(tbody, columns, items, empty, rowKey);
  }

  function renderPager(r) {
    const pages = Math.max(r.pageCount, 1);
    const btn = (label, page, disabled, current) => h('button', {
      type: 'button', disabled, 'aria-current': current ? 'page' : null,
      'aria-label': typeof label === 'number' ? `Page ${label}` : null, onclick: () => go(page),
    }, String(label));
    const nums = [];
    for (const p of new Set([1, state.page - 1, state.page, state.page + 1, pages])) {
      if (p >= 1 && p <= pages) nums.push(p);
    }
    replace(pager,
      btn('‹ Prev', state.page - 1, state.page <= 1),
      nums.map((p, i) => [i && p - nums[i - 1] > 1 ? h('span', { class: 'gap' }, '…') : null,
        btn(p, p, false, p === state.page)]),
      btn('Next ›', state.page + 1, state.page >= pages));
    const shown = r.filtered !== r.total ? `${fmtNum(r.filtered)} matching of ${fmtNum(r.total)}` : fmtNum(r.total);
    status.textContent = `Page ${state.page} of ${pages} · ${shown} total`;
    status.dataset.total = String(r.total);
    status.dataset.filtered = String(r.filtered);
  }

  async function reload(signal) {
    if (signal) lastSignal = signal;
    const r = await load(state, lastSignal);
    renderHeaders();
    renderRows(r.items);
    renderPager(r);
    return r;
  }

  return { el, state, reload };
}

/** Sets a cell's content only if it changed (no flicker, selection kept). */
export function setCell(td, content) {
  setContent(td, content);
}

/** Updates `tbody` to show `items` in place: existing rows and cells are reused (no
 *  flicker), extra rows removed, and a single "empty" row shown when there are none.
 *  With `rowKey`, each row carries its item's key as `data-key`. */
function fillRows(tbody, columns, items, empty, rowKey = null) {
  if (!items.length) {
    replace(tbody, h('tr', { class: 'empty' }, h('td', { colspan: columns.length }, empty)));
    return;
  }
  if (tbody.firstChild && tbody.firstChild.classList.contains('empty')) tbody.replaceChildren();
  items.forEach((row, i) => {
    let tr = tbody.children[i];
    if (!tr) {
      tr = h('tr', null, columns.map((c) => h('td', { class: c.num ? 'num' : null })));
      tbody.append(tr);
    }
    if (rowKey) tr.dataset.key = rowKey(row);
    columns.forEach((c, j) => setCell(tr.children[j], c.cell ? c.cell(row) : row[c.key]));
  });
  while (tbody.children.length > items.length) tbody.lastChild.remove();
}

/** A small static table (for short lists a page already has in full: consumers,
 *  bindings, listeners): rows rebuilt in place like dataTable's.
 *  staticTable({caption, columns, rowKey, empty}) -> {el, update(items)}. */
export function staticTable({ caption, columns, empty = 'Nothing to show.' }) {
  const tbody = h('tbody');
  const table = h('table', { class: 'data' }, caption && h('caption', { class: 'visually-hidden' }, caption),
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    tbody);
  return {
    el: h('div', { class: 'table-scroll' }, table),
    update(items) {
      fillRows(tbody, columns, items, empty);
    },
  };
}
