// One tunnel: its details, connectors, mappings (add, remove), live sessions (kill), and
// the close, confirmed first because it ends every session and cannot be undone.
import { api, query } from './api.js';
import { h, heading, table, details, badge, time, timeLeft, errorBox, notice, confirmDialog, bytes, put, add } from './ui.js';
import { mappingForm, mappingColumns } from './page-mappings.js';

async function sessionsSection(ctx, tunnelId) {
  if (!ctx.can('sessions.read')) return null;
  const box = h('section', { id: 'tunnel-sessions' }, h('h2', {}, 'Live sessions'));
  try {
    const answer = await api('GET', '/v1/sessions' + query({ tunnel: tunnelId }));
    const failed = answer.nodes.filter((n) => !n.ok);
    add(box, table([
      { label: 'Session', cell: (s) => h('code', {}, s.id) },
      { label: 'Node', cell: (s) => s.node },
      { label: 'Source', cell: (s) => s.source },
      { label: 'Target', cell: (s) => s.target },
      { label: 'Opened', cell: (s) => time(s.openedAt) },
      { label: 'In / out', cell: (s) => `${bytes(s.bytesIn)} / ${bytes(s.bytesOut)}` },
    ], answer.sessions, { empty: 'No live sessions.' }),
    failed.map((n) => notice(`Node ${n.node} did not answer: ${n.error || 'no reason given'}`, 'warn')));
  } catch (err) {
    box.append(errorBox(err, 'Sessions unavailable'));
  }
  return box;
}

export async function render(main, ctx, id) {
  const detail = await api('GET', '/v1/tunnels/' + encodeURIComponent(id));
  const t = detail.tunnel;
  const open = t.state === 'open';
  const reload = () => ctx.reload();
  const close = open && ctx.can('tunnels.write')
    ? h('button', { type: 'button', class: 'danger', id: 'tunnel-close', onclick: async () => {
      const ok = await confirmDialog({
        title: `Close tunnel ${t.name}?`,
        text: ['Closing ends every active session through this tunnel, on every node, at once.',
          'A closed tunnel can never be reopened: this cannot be undone.'],
        confirm: 'Close tunnel',
      });
      if (!ok) return;
      try {
        await api('POST', `/v1/tunnels/${encodeURIComponent(t.id)}/close`, {});
        reload();
      } catch (err) { main.prepend(errorBox(err, 'Close refused')); }
    } }, 'Close tunnel')
    : null;
  const mappings = h('section', { id: 'tunnel-mappings' }, h('h2', {}, 'Mappings'),
    table(mappingColumns(ctx, open ? reload : null, { tunnel: false }), detail.mappings,
      { id: 'mappings', empty: 'No mappings: nothing can cross this tunnel yet.' }),
    open && ctx.can('mappings.write') ? mappingForm([t], reload) : null);
  put(main, 
    h('p', { class: 'crumbs' }, h('a', { href: '#/tunnels' }, '← Tunnels')),
    heading(`Tunnel ${t.name}`, close),
    details([
      ['Id', h('code', {}, t.id)],
      ['State', h('span', { id: 'tunnel-state' }, badge(t.state))],
      ['Time left', open ? timeLeft(t.expiresAt) : '—'],
      ['Expires', time(t.expiresAt)],
      ['Created', `${time(t.createdAt)} by ${t.owner}`],
      !open ? ['Closed', `${time(t.closedAt)} by ${t.closedBy || '—'} (${t.closeReason || '—'})`] : null,
    ]),
    h('section', {}, h('h2', {}, 'Connectors'), table([
      { label: 'Name', cell: (c) => c.name },
      { label: 'Status', cell: (c) => badge(c.revoked ? 'revoked' : c.status) },
      { label: 'Node', cell: (c) => c.node || '—' },
      { label: 'Certificate expires', cell: (c) => time(c.certificateExpiresAt) },
      { label: 'Enrolled', cell: (c) => time(c.enrolledAt) },
    ], detail.connectors, { empty: 'No connector has enrolled yet.' })),
    mappings,
    await sessionsSection(ctx, t.id));
}
