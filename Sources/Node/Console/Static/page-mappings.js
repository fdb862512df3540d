// Mappings: which application may cross which tunnel, from which side (expose: an app on
// the connector's side at a gateway listener; publish: the other way round).
import { api } from './api.js';
import { h, heading, table, field, onSubmit, errorBox, confirmDialog, badge, list, time, put } from './ui.js';

/** Table columns; `onChange` set adds a Remove button (when the role may). */
export function mappingColumns(ctx, onChange, { tunnel = true, names = {} } = {}) {
  const cols = [
    tunnel ? { label: 'Tunnel', cell: (m) => h('a', { href: '#/tunnels/' + encodeURIComponent(m.tunnelId) }, names[m.tunnelId] || m.tunnelId) } : null,
    { label: 'Kind', cell: (m) => badge(m.kind) },
    { label: 'Target', cell: (m) => h('code', {}, m.target) },
    { label: 'Listen port', cell: (m) => String(m.listenPort) },
    { label: 'Allowed sources', cell: (m) => (m.allow.length ? m.allow.join(', ') : 'any') },
    { label: 'Added', cell: (m) => time(m.createdAt) },
  ].filter(Boolean);
  if (onChange && ctx.can('mappings.write')) {
    cols.push({ label: 'Actions', cell: (m) => h('button', { type: 'button', class: 'secondary small', onclick: async (e) => {
      const ok = await confirmDialog({ title: 'Remove mapping?', confirm: 'Remove',
        text: `${m.kind} ${m.target} on port ${m.listenPort} stops being reachable; its open sessions end.` });
      if (!ok) return;
      try { await api('DELETE', '/v1/mappings/' + encodeURIComponent(m.id)); onChange(); } catch (err) {
        e.target.closest('td').append(errorBox(err));
      }
    } }, 'Remove') });
  }
  return cols;
}

/** The add form for the given (open) tunnels. */
export function mappingForm(tunnels, onAdded) {
  const tunnelSelect = h('select', { name: 'tunnelId', id: 'mapping-tunnel', required: true },
    tunnels.map((t) => h('option', { value: t.id }, `${t.name} (${t.id})`)));
  const form = h('form', { id: 'mapping-add', class: 'card inline' },
    h('h2', {}, 'Add a mapping'),
    tunnels.length > 1 ? field('Tunnel', tunnelSelect) : h('input', { type: 'hidden', name: 'tunnelId', value: tunnels[0]?.id }),
    field('Kind', h('select', { name: 'kind', id: 'mapping-kind' },
      h('option', { value: 'expose' }, 'expose — an app beside the connector'),
      h('option', { value: 'publish' }, 'publish — an app beside the gateway'))),
    field('Target', h('input', { name: 'target', id: 'mapping-target', required: true, placeholder: 'host:port' })),
    field('Listen port', h('input', { name: 'listenPort', id: 'mapping-port', type: 'number', min: 1, max: 65535, required: true })),
    field('Allowed sources', h('input', { name: 'allow', id: 'mapping-allow', placeholder: '10.0.0.0/8, 192.0.2.7/32' }),
      'CIDRs, comma separated; empty allows any source.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'mapping-add-submit' }, 'Add mapping')));
  onSubmit(form, async (v) => {
    await api('POST', '/v1/mappings', {
      tunnelId: v.tunnelId, kind: v.kind, target: v.target, listenPort: Number(v.listenPort), allow: list(v.allow) });
    onAdded();
  });
  return form;
}

export async function render(main, ctx) {
  const [mappings, tunnels] = await Promise.all([api('GET', '/v1/mappings'), api('GET', '/v1/tunnels')]);
  const names = Object.fromEntries(tunnels.map((t) => [t.id, t.name]));
  const open = tunnels.filter((t) => t.state === 'open');
  const reload = () => ctx.reload();
  put(main, 
    heading('Mappings'),
    table(mappingColumns(ctx, reload, { names }), mappings, { id: 'mappings', empty: 'No mappings yet.' }),
    ctx.can('mappings.write')
      ? (open.length ? mappingForm(open, reload) : h('p', { class: 'empty' }, 'Open a tunnel to add mappings to it.'))
      : null);
}
