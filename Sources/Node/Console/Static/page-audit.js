// Audit: 20 records at a time with "Load more" (cursor paging), a start/end range,
// each record's details, and export of the filtered range as CSV or JSON lines.
import { api, download, query } from './api.js';
import { h, heading, field, details, badge, time, errorBox, showDialog, notice, put } from './ui.js';

const PAGE = 20;

/** `datetime-local` value (local time) ↔ unix ms. */
function toMillis(value) {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  if (Number.isNaN(ms)) throw new Error(`"${value}" is not a date and time`);
  return ms;
}

function showRecord(r) {
  showDialog(`Audit record #${r.seq}`, details([
    ['Sequence', String(r.seq)],
    ['Time', `${time(r.at)} (${r.at} ms)`],
    ['Actor', `${r.actor.kind}:${r.actor.name}`],
    ['Node', r.node],
    ['Source address', r.source || '—'],
    ['Action', r.action],
    ['Object', r.object || '—'],
    ['Outcome', r.outcome],
    ['Detail', r.detail || '—'],
    ['Hash', h('code', { class: 'wrap' }, r.hash)],
    ['Previous hash', h('code', { class: 'wrap' }, r.prevHash)],
  ]));
}

function row(r) {
  return h('tr', { dataset: { seq: String(r.seq) } },
    h('td', { 'data-label': '#' }, String(r.seq)),
    h('td', { 'data-label': 'Time' }, time(r.at)),
    h('td', { 'data-label': 'Actor' }, `${r.actor.kind}:${r.actor.name}`),
    h('td', { 'data-label': 'Action' }, r.action),
    h('td', { 'data-label': 'Object' }, r.object || '—'),
    h('td', { 'data-label': 'Outcome' }, badge(r.outcome)),
    h('td', { 'data-label': 'Node' }, r.node),
    h('td', { 'data-label': 'Details' },
      h('button', { type: 'button', class: 'secondary small', onclick: () => showRecord(r), 'aria-label': `Details of record ${r.seq}` }, 'Details')));
}

export async function render(main, ctx) {
  const start = h('input', { type: 'datetime-local', step: 1, name: 'start', id: 'audit-start' });
  const end = h('input', { type: 'datetime-local', step: 1, name: 'end', id: 'audit-end' });
  const tbody = h('tbody', {});
  const tableEl = h('div', { class: 'table-wrap' }, h('table', { id: 'audit' },
    h('thead', {}, h('tr', {}, ['#', 'Time', 'Actor', 'Action', 'Object', 'Outcome', 'Node', 'Details'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody));
  const count = h('p', { class: 'muted', id: 'audit-count', 'aria-live': 'polite' });
  const status = h('div', { id: 'audit-status', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', id: 'audit-more', class: 'secondary', hidden: true }, 'Load more');
  let range = {};
  let cursor = null;
  let shown = 0;

  async function loadPage(first) {
    more.disabled = true;
    status.replaceChildren();
    try {
      const page = await api('GET', '/v1/audit' + query({ ...range, after: first ? undefined : cursor, limit: PAGE }));
      if (first) { tbody.replaceChildren(); shown = 0; }
      tbody.append(...page.records.map(row));
      shown += page.records.length;
      cursor = page.nextCursor ?? null;
      more.hidden = cursor === null;
      tableEl.hidden = shown === 0;
      count.textContent = shown === 0 ? 'No audit records in this range.'
        : `${shown} record${shown === 1 ? '' : 's'} shown${cursor === null ? ' — all in this range' : ''}.`;
    } catch (err) {
      status.replaceChildren(errorBox(err));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => loadPage(false));

  async function exportAs(format) {
    status.replaceChildren(notice(`Exporting ${format.toUpperCase()}…`));
    try {
      const { blob, filename } = await download('/v1/audit/export' + query({ format, ...range }));
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: filename, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status.replaceChildren(notice(`Exported ${filename} (${blob.size} bytes).`, 'ok'));
    } catch (err) {
      status.replaceChildren(errorBox(err, 'Export failed'));
    }
  }

  const form = h('form', { id: 'audit-filter', class: 'card inline' },
    field('Start (local time, inclusive)', start), field('End (local time, exclusive)', end),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', id: 'audit-apply' }, 'Apply'),
      h('button', { type: 'button', class: 'secondary', id: 'audit-clear', onclick: () => { form.reset(); form.requestSubmit(); } }, 'Clear')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    try {
      range = { since: toMillis(start.value), until: toMillis(end.value) };
    } catch (err) { status.replaceChildren(errorBox(err)); return; }
    loadPage(true);
  });
  const exports = ctx.can('audit.export') ? [
    h('button', { type: 'button', class: 'secondary', id: 'audit-export-csv', onclick: () => exportAs('csv') }, 'Export CSV'),
    h('button', { type: 'button', class: 'secondary', id: 'audit-export-json', onclick: () => exportAs('json') }, 'Export JSON'),
  ] : [];
  put(main, heading('Audit', ...exports), form, status, count, tableEl, h('div', { class: 'actions' }, more));
  await loadPage(true);
}
