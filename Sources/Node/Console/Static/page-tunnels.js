// Tunnels: the list with state and time left, and creation (24 h, 48 h or custom) that
// shows the connect URL exactly once.
import { api } from './api.js';
import { h, heading, table, badge, time, timeLeft, field, onSubmit, errorBox, put } from './ui.js';

/** The connect URL, once: a copy button and the warning that it carries a secret. */
function secretPanel(created, onDone) {
  const url = h('input', { id: 'connect-url', readonly: true, value: created.connectUrl, 'aria-label': 'Connect URL' });
  const copied = h('span', { class: 'muted', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', id: 'copy-connect-url', onclick: async () => {
    url.select();
    try { await navigator.clipboard.writeText(created.connectUrl); copied.textContent = 'Copied.'; } catch {
      copied.textContent = document.execCommand('copy') ? 'Copied.' : 'Select the URL and copy it by hand.';
    }
  } }, 'Copy');
  const panel = h('section', { class: 'card secret', id: 'connect-panel', 'aria-labelledby': 'connect-title' },
    h('h2', { id: 'connect-title' }, `Connect URL for ${created.tunnel.name}`),
    h('p', { class: 'warning', id: 'connect-warning' },
      'This URL carries a one-time secret that lets a connector join this tunnel. It is shown only now: ',
      'Warren keeps only its hash. Give it to the connector\'s operator over a trusted channel.'),
    h('div', { class: 'copy-row' }, url, copy, copied),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', id: 'connect-done', onclick: () => { panel.remove(); onDone(); } },
        'I have saved it')));
  return panel;
}

function createForm(ctx, onCreated) {
  const custom = h('input', { name: 'custom', id: 'tunnel-custom', placeholder: 'e.g. 6h, 90m, 3d', hidden: true });
  const duration = h('select', { name: 'duration', id: 'tunnel-duration' },
    h('option', { value: '24h' }, '24 hours'), h('option', { value: '48h' }, '48 hours'),
    h('option', { value: 'custom' }, 'Custom…'));
  const customField = field('Custom duration', custom, 'A number with s, m, h or d.');
  customField.hidden = true;
  duration.addEventListener('change', () => {
    customField.hidden = custom.hidden = duration.value !== 'custom';
    custom.required = duration.value === 'custom';
  });
  const form = h('form', { id: 'tunnel-create', class: 'card inline' },
    h('h2', {}, 'New tunnel'),
    field('Name', h('input', { name: 'name', id: 'tunnel-name', required: true, maxlength: 64 })),
    field('Lifetime', duration), customField,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'tunnel-create-submit' }, 'Create tunnel')));
  onSubmit(form, async (v) => {
    const created = await api('POST', '/v1/tunnels', {
      name: v.name, duration: v.duration === 'custom' ? v.custom : v.duration });
    form.reset();
    customField.hidden = custom.hidden = true;
    onCreated(created);
  });
  return form;
}

export async function render(main, ctx) {
  const list = h('div', { id: 'tunnel-list' });
  const top = h('div', {});
  put(main, heading('Tunnels'), top, list);
  async function load() {
    try {
      const tunnels = await api('GET', '/v1/tunnels');
      tunnels.sort((a, b) => (a.state === b.state ? b.createdAt - a.createdAt : a.state === 'open' ? -1 : 1));
      list.replaceChildren(table([
        { label: 'Name', cell: (t) => h('a', { href: '#/tunnels/' + encodeURIComponent(t.id) }, t.name) },
        { label: 'State', cell: (t) => badge(t.state) },
        { label: 'Time left', cell: (t) => (t.state === 'open' ? timeLeft(t.expiresAt) : '—') },
        { label: 'Expires', cell: (t) => time(t.expiresAt) },
        { label: 'Created', cell: (t) => `${time(t.createdAt)} by ${t.owner}` },
        { label: 'Id', cell: (t) => h('code', {}, t.id) },
      ], tunnels, { id: 'tunnels', empty: 'No tunnels yet.', rowAttrs: (t) => ({ dataset: { id: t.id, state: t.state } }) }));
    } catch (err) {
      list.replaceChildren(errorBox(err));
    }
  }
  if (ctx.can('tunnels.write')) {
    top.append(createForm(ctx, (created) => {
      top.prepend(secretPanel(created, () => {}));
      document.getElementById('connect-url').focus();
      load();
    }));
  }
  await load();
}
