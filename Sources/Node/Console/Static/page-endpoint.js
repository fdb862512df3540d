// One proxy endpoint: overview with its forwarding rules, a scope tab (associate,
// unassociate, batch unassociate), and a delete that explains a has_rules refusal.
import { api } from './api.js';
import { h, heading, table, details, field, onSubmit, errorBox, notice, confirmDialog, list, time, badge, put } from './ui.js';

/** Tabs over panels; the selected one is kept in the URL (#/endpoints/ID/scope) without a re-render. */
function tabs(pairs, selected, base) {
  const bar = h('div', { role: 'tablist', class: 'tabs' });
  const panels = [];
  const first = pairs.findIndex(([name]) => name === selected);
  pairs.forEach(([name, label, panel], j) => {
    const chosen = j === Math.max(first, 0);
    const tab = h('button', { type: 'button', role: 'tab', id: 'tab-' + name, 'aria-controls': 'panel-' + name,
      'aria-selected': String(chosen) }, label);
    panel.id = 'panel-' + name;
    panel.setAttribute('role', 'tabpanel');
    panel.setAttribute('aria-labelledby', tab.id);
    panel.hidden = !chosen;
    tab.addEventListener('click', () => {
      for (const b of bar.children) b.setAttribute('aria-selected', String(b === tab));
      for (const p of panels) p.hidden = p !== panel;
      history.replaceState(null, '', base + '/' + name);
    });
    bar.append(tab);
    panels.push(panel);
  });
  return [bar, ...panels];
}

function scopePanel(ctx, e, reload) {
  const writable = ctx.can('endpoints.write');
  const items = [...(e.vpc ? [{ kind: 'vpc', value: e.vpc }] : []), ...e.subnets.map((s) => ({ kind: 'subnet', value: s }))];
  const body = (items) => ({
    vpc: items.find((i) => i.kind === 'vpc')?.value, subnets: items.filter((i) => i.kind === 'subnet').map((i) => i.value) });
  const status = h('div', { 'aria-live': 'polite' });
  async function unassociate(selected) {
    status.replaceChildren();
    try {
      await api('POST', `/v1/endpoints/${encodeURIComponent(e.id)}/unassociate`, body(selected));
      reload();
    } catch (err) { status.replaceChildren(errorBox(err, 'Unassociate refused')); }
  }
  const columns = [
    writable ? { label: 'Select', cell: (i) => h('input', { type: 'checkbox', class: 'scope-pick', 'aria-label': `Select ${i.value}`,
      dataset: { kind: i.kind, value: i.value } }) } : null,
    { label: 'Kind', cell: (i) => i.kind },
    { label: 'Scope', cell: (i) => h('code', {}, i.value) },
    writable ? { label: 'Actions', cell: (i) => h('button', { type: 'button', class: 'secondary small',
      onclick: () => unassociate([i]) }, 'Unassociate') } : null,
  ].filter(Boolean);
  const panel = h('div', {},
    table(columns, items, { id: 'scope', empty: 'No scope: this endpoint matches no address.' }), status);
  if (writable && items.length) {
    panel.append(h('div', { class: 'actions' }, h('button', { type: 'button', id: 'scope-batch', class: 'secondary', onclick: () => {
      const picked = [...panel.querySelectorAll('.scope-pick:checked')].map((c) => ({ kind: c.dataset.kind, value: c.dataset.value }));
      if (!picked.length) { status.replaceChildren(notice('Select the scopes to unassociate first.', 'warn')); return; }
      unassociate(picked);
    } }, 'Unassociate selected')));
  }
  if (writable) {
    const form = h('form', { id: 'scope-associate', class: 'card inline' }, h('h3', {}, 'Associate'),
      e.vpc ? null : field('VPC', h('input', { name: 'vpc', id: 'scope-vpc' })),
      field('Subnets', h('input', { name: 'subnets', id: 'scope-subnets', placeholder: '10.3.0.0/16' }), 'CIDRs, comma separated.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'scope-associate-submit' }, 'Associate')));
    onSubmit(form, async (v) => {
      await api('POST', `/v1/endpoints/${encodeURIComponent(e.id)}/associate`, { vpc: v.vpc || undefined, subnets: list(v.subnets) });
      reload();
    });
    panel.append(form);
  }
  return panel;
}

export async function render(main, ctx, id, tab = 'overview') {
  const { endpoint: e, forwards } = await api('GET', '/v1/endpoints/' + encodeURIComponent(id));
  const base = '#/endpoints/' + encodeURIComponent(e.id);
  const reload = () => { history.replaceState(null, '', base + '/scope'); ctx.reload(); };
  const status = h('div', { id: 'endpoint-status', 'aria-live': 'polite' });
  const del = ctx.can('endpoints.write') ? h('button', { type: 'button', class: 'danger', id: 'endpoint-delete', onclick: async () => {
    const ok = await confirmDialog({ title: `Delete endpoint ${e.name}?`, confirm: 'Delete',
      text: 'Its scope stops routing through it. An endpoint with forwarding rules cannot be deleted.' });
    if (!ok) return;
    try {
      await api('DELETE', '/v1/endpoints/' + encodeURIComponent(e.id));
      ctx.go('#/endpoints');
    } catch (err) {
      status.replaceChildren(err.code === 'has_rules'
        ? errorBox(err, `Refused: ${forwards.length} forwarding rule${forwards.length === 1 ? ' still uses' : 's still use'} this endpoint — remove ${forwards.length === 1 ? 'it' : 'them'} first`)
        : errorBox(err, 'Delete refused'));
    }
  } }, 'Delete endpoint') : null;
  const overview = h('div', {},
    details([
      ['Id', h('code', {}, e.id)],
      ['Connector', e.connectorId || '—'],
      ['VPC', e.vpc || '—'],
      ['Subnets', e.subnets.length ? e.subnets.join(', ') : '—'],
      ['Created', `${time(e.createdAt)} by ${e.createdBy}`],
    ]),
    h('h2', {}, 'Forwarding rules'),
    table([
      { label: 'Kind', cell: (f) => badge(f.kind) },
      { label: 'Listen port', cell: (f) => String(f.listenPort) },
      { label: 'Target', cell: (f) => h('code', {}, f.target) },
      { label: 'Id', cell: (f) => h('code', {}, f.id) },
    ], forwards, { id: 'forwards', empty: 'No forwarding rules.' }));
  put(main, 
    h('p', { class: 'crumbs' }, h('a', { href: '#/endpoints' }, '← Proxy endpoints')),
    heading(`Endpoint ${e.name}`, del),
    status,
    ...tabs([['overview', 'Overview', overview], ['scope', 'Scope', scopePanel(ctx, e, reload)]], tab, base));
}
