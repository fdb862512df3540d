// DOM helpers. Text always goes in as text nodes (never parsed as HTML), so nothing the API
// returns can become markup; no inline style or script anywhere (the CSP forbids both).

/** h('button', {type: 'button', onclick: f}, 'Close'): an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** A page heading with optional actions on the right. */
export function heading(title, ...actions) {
  return h('div', { class: 'page-head' }, h('h1', {}, title), h('div', { class: 'actions' }, ...actions));
}

/** The loading state. */
export function loading(what = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, what);
}

/** An error state that shows the API's message (and its code). */
export function errorBox(err, prefix) {
  const text = err && err.message ? err.message : String(err);
  const code = err && err.code ? ` (${err.code}${err.status ? ', ' + err.status : ''})` : '';
  return h('div', { class: 'error', role: 'alert' }, prefix ? prefix + ': ' : '', text, code);
}

/** A note for the user (success, or an explanation). */
export function notice(text, kind = 'info') {
  return h('div', { class: 'notice ' + kind, role: 'status' }, text);
}

/**
 * A table: columns are {label, cell(row) → node|string, class?}; an empty list shows `empty`.
 * Wrapped so that a narrow window scrolls the table, not the page.
 */
export function table(columns, rows, { empty = 'Nothing here yet.', id, rowAttrs } = {}) {
  if (!rows.length) return h('p', { class: 'empty', id }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', { id },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {},
        columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(r))))))));
}

/** A definition list from [label, value] pairs. */
export function details(pairs) {
  return h('dl', { class: 'details' }, pairs.filter((p) => p).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

/** A labelled form field; `input` is an element. */
export function field(label, input, hint) {
  if (!input.id) input.id = 'f-' + Math.random().toString(36).slice(2, 9);
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hint ? h('small', {}, hint) : null);
}

/** A state badge (open, closed, ok, denied, …). */
export function badge(text) {
  return h('span', { class: 'badge badge-' + String(text).replace(/[^a-z-]/g, '') }, text);
}

/**
 * A modal confirmation (<dialog>): resolves true when confirmed. Escape or Cancel
 * resolves false. Focus starts on Cancel, so Enter never confirms by accident.
 */
export function confirmDialog({ title, text, confirm = 'Confirm', danger = true }) {
  return new Promise((resolve) => {
    const cancel = h('button', { type: 'button', class: 'secondary', id: 'confirm-cancel' }, 'Cancel');
    const ok = h('button', { type: 'button', class: danger ? 'danger' : '', id: 'confirm-ok' }, confirm);
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h('h2', { id: 'confirm-title' }, title),
      (Array.isArray(text) ? text : [text]).map((t) => h('p', {}, t)),
      h('div', { class: 'actions' }, cancel, ok));
    const done = (value) => { dialog.close(); dialog.remove(); resolve(value); };
    cancel.addEventListener('click', () => done(false));
    ok.addEventListener('click', () => done(true));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** A modal that shows `content` with a Close button. */
export function showDialog(title, content) {
  const close = h('button', { type: 'button', class: 'secondary', id: 'dialog-close' }, 'Close');
  const dialog = h('dialog', { class: 'info', 'aria-labelledby': 'dialog-title' },
    h('h2', { id: 'dialog-title' }, title), content, h('div', { class: 'actions' }, close));
  close.addEventListener('click', () => { dialog.close(); dialog.remove(); });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}

/**
 * Wires a form: on submit, disables its buttons, runs `action(values)`, and shows the API's
 * error inside the form when it fails. `values` maps each named control to its trimmed value.
 */
export function onSubmit(form, action) {
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  form.append(status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const values = {};
    for (const el of form.elements) if (el.name) values[el.name] = el.type === 'checkbox' ? el.checked : el.value.trim();
    const buttons = [...form.querySelectorAll('button')];
    buttons.forEach((b) => { b.disabled = true; });
    status.replaceChildren();
    try {
      await action(values);
    } catch (err) {
      status.replaceChildren(errorBox(err));
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
}

/** A local date and time for unix milliseconds. */
export function time(ms) {
  if (ms === undefined || ms === null) return '—';
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "23h 59m", "12m", "expired" for the time until `ms`. */
export function timeLeft(ms, now = Date.now()) {
  const s = Math.floor((ms - now) / 1000);
  if (s <= 0) return 'expired';
  const d = Math.floor(s / 86400), hr = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  return m ? `${m}m` : `${s}s`;
}

/** Bytes as B/KiB/MiB/GiB. */
export function bytes(n) {
  if (typeof n !== 'number') return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
}

/** A comma/space separated list as an array. */
export function list(text) {
  return String(text || '').split(/[\s,]+/).filter(Boolean);
}

/** Replaces `el`'s children; arrays are flattened, null/false/undefined left out. */
export function put(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Appends to `el` as `h` does (arrays flattened, nothing for null). */
export function add(el, ...children) {
  append(el, children);
  return el;
}
