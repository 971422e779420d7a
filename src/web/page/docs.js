// The API reference at /docs: rackhand's own OpenAPI document (/api/v1/openapi.json) rendered as a page — every
// operation with its parameters, request body and answers — with no CDN and no build: it works offline.
const $ = (sel, root = document) => root.querySelector(sel);

/** Builds an element; children are nodes or text (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false && c !== '') el.append(c instanceof Node ? c : String(c));
  return el;
}

/** One line naming a schema's type: "string (uuid)", "array of object", "integer, one of 1, 2", "string or null". */
function typeOf(s) {
  if (!s || typeof s !== 'object') return 'any';
  const variants = s.anyOf || s.oneOf;
  if (variants) {
    const named = variants.map(typeOf);
    return [...new Set(named)].join(' or ');
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return `${s.type || 'value'}: ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  if (s.type === 'array') return `array of ${typeOf(s.items)}`;
  const t = Array.isArray(s.type) ? s.type.join(' or ') : s.type || (s.properties ? 'object' : 'any');
  const facts = [];
  if (s.format) facts.push(s.format);
  if (s.minimum !== undefined && s.minimum > -Number.MAX_SAFE_INTEGER) facts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) facts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) facts.push(`≤ ${s.maximum}`);
  if (s.maxLength !== undefined) facts.push(`≤ ${s.maxLength} chars`);
  return facts.length ? `${t} (${facts.join(', ')})` : t;
}

/** The schema's own fields as a nested list: name, type, required, default, description; objects and arrays open up. */
function schemaList(s, depth = 0) {
  if (!s || typeof s !== 'object' || depth > 6) return null;
  const variants = s.anyOf || s.oneOf;
  if (variants && variants.some((v) => v.properties || (v.items && v.items.properties))) {
    return h('ul', { class: 'schema' }, variants.map((v, i) => h('li', {}, h('span', { class: 'type' }, `form ${i + 1}: ${typeOf(v)}`), v.description ? ` — ${v.description}` : '', schemaList(v, depth + 1))));
  }
  if (s.type === 'array' && s.items) return schemaList(s.items, depth + 1);
  const props = s.properties;
  if (!props) return null;
  const required = new Set(s.required || []);
  return h(
    'ul',
    { class: 'schema' },
    Object.entries(props).map(([name, p]) =>
      h(
        'li',
        {},
        h('span', { class: 'name' }, name),
        ' ',
        h('span', { class: 'type' }, typeOf(p)),
        required.has(name) ? ' · required' : '',
        p.default !== undefined ? ` · default ${JSON.stringify(p.default)}` : '',
        p.description ? ` — ${p.description}` : '',
        schemaList(p, depth + 1),
      ),
    ),
  );
}

function schemaBlock(title, s) {
  if (!s) return null;
  return h('div', {}, h('h4', {}, title), h('p', { class: 'muted' }, typeOf(s), s.description ? ` — ${s.description}` : ''), schemaList(s));
}

function operation(path, method, op) {
  const params = op.parameters || [];
  const body = op.requestBody?.content?.['application/json']?.schema;
  return h(
    'details',
    { class: 'op', 'data-search': `${method} ${path} ${op.summary || ''}`.toLowerCase() },
    h('summary', {}, h('span', { class: `method method-${method}` }, method.toUpperCase()), ' ', h('span', { class: 'path' }, path), ' ', h('span', { class: 'muted' }, op.summary || '')),
    h(
      'div',
      { class: 'op-body' },
      op.security ? h('p', { class: 'muted' }, 'Needs a token: Authorization: Bearer …') : h('p', { class: 'muted' }, 'No token needed.'),
      params.length
        ? h(
            'div',
            {},
            h('h4', {}, 'Parameters'),
            h('ul', { class: 'schema' }, params.map((p) => h('li', {}, h('span', { class: 'name' }, p.name), ` in ${p.in} `, h('span', { class: 'type' }, typeOf(p.schema)), p.required ? ' · required' : '', p.schema?.description ? ` — ${p.schema.description}` : ''))),
          )
        : null,
      schemaBlock('Request body (JSON)', body),
      Object.entries(op.responses || {}).map(([status, r]) => {
        const [type, content] = Object.entries(r.content || {})[0] || [];
        return h('div', {}, h('h4', {}, `${status === 'default' ? 'Error' : status}: ${r.description}${type && type !== 'application/json' ? ` (${type})` : ''}`), content ? schemaList(content.schema) || h('p', { class: 'muted' }, typeOf(content.schema)) : null);
      }),
    ),
  );
}

function render(doc) {
  $('#docs-title').textContent = `${doc.info.title} API ${doc.info.version}`;
  $('#docs-intro').replaceChildren(
    'Every endpoint of the native API (/api/v1) and the DCImanager face, from ',
    h('a', { href: '/api/v1/openapi.json' }, 'the OpenAPI document'),
    '. Errors are {"error": {"code", "message", "details"}}. The eq module (POST /api/eq) is described in the README.',
  );
  const byTag = new Map();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags && op.tags[0]) || 'other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(path, method, op));
    }
  }
  $('#docs').replaceChildren(...[...byTag].map(([tag, ops]) => h('section', { class: 'tag-section', 'aria-labelledby': `tag-${tag}` }, h('h3', { id: `tag-${tag}` }, tag.length <= 4 ? tag.toUpperCase() : tag), ops)));
  filter();
}

function filter() {
  const q = $('#docs-q').value.trim().toLowerCase();
  let shown = 0;
  for (const op of document.querySelectorAll('.op')) {
    const hit = !q || op.dataset.search.includes(q);
    op.hidden = !hit;
    if (hit) shown++;
  }
  for (const sec of document.querySelectorAll('.tag-section')) sec.hidden = !sec.querySelector('.op:not([hidden])');
  $('#docs-count').textContent = `${shown} endpoint${shown === 1 ? '' : 's'}`;
}

$('#docs-q').addEventListener('input', filter);
$('#docs-filter').addEventListener('submit', (e) => e.preventDefault());

fetch('/api/v1/openapi.json')
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
  .then(render)
  .catch((err) => $('#docs-intro').replaceChildren(h('span', { class: 'error' }, `The OpenAPI document could not be loaded: ${err.message}`)));
