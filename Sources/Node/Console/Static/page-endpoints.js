// Proxy endpoints: the jump points for a network scope (a VPC and/or subnets).
import { api } from './api.js';
import { h, heading, table, field, onSubmit, list, time, put } from './ui.js';

function scope(e) {
  const parts = [];
  if (e.vpc) parts.push('vpc ' + e.vpc);
  if (e.subnets.length) parts.push(e.subnets.join(', '));
  return parts.length ? parts.join(' · ') : 'no scope';
}

function createForm(ctx) {
  const form = h('form', { id: 'endpoint-create', class: 'card inline' },
    h('h2', {}, 'New proxy endpoint'),
    field('Name', h('input', { name: 'name', id: 'endpoint-name', required: true, maxlength: 64 })),
    field('Connector id', h('input', { name: 'connectorId', id: 'endpoint-connector' }), 'Optional: the connector that acts as the jump point.'),
    field('VPC', h('input', { name: 'vpc', id: 'endpoint-vpc' }), 'Optional.'),
    field('Subnets', h('input', { name: 'subnets', id: 'endpoint-subnets', placeholder: '10.1.0.0/16, 10.2.0.0/16' }), 'CIDRs, comma separated.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'endpoint-create-submit' }, 'Create endpoint')));
  onSubmit(form, async (v) => {
    const created = await api('POST', '/v1/endpoints', {
      name: v.name, connectorId: v.connectorId || undefined, vpc: v.vpc || undefined, subnets: list(v.subnets) });
    ctx.go('#/endpoints/' + encodeURIComponent(created.id));
  });
  return form;
}

export async function render(main, ctx) {
  const endpoints = await api('GET', '/v1/endpoints');
  put(main, 
    heading('Proxy endpoints'),
    table([
      { label: 'Name', cell: (e) => h('a', { href: '#/endpoints/' + encodeURIComponent(e.id) }, e.name) },
      { label: 'Scope', cell: scope },
      { label: 'Connector', cell: (e) => e.connectorId || '—' },
      { label: 'Created', cell: (e) => `${time(e.createdAt)} by ${e.createdBy}` },
      { label: 'Id', cell: (e) => h('code', {}, e.id) },
    ], endpoints, { id: 'endpoints', empty: 'No proxy endpoints yet.' }),
    ctx.can('endpoints.write') ? createForm(ctx) : null);
}
