// The strict template language of pxe-templates/: parsing, and rendering where an undefined variable is an error.
//
// Syntax (deliberately tiny; there is no expression language and nothing is ever evaluated as code):
//   {{ name }}                      the value of a variable (string or finite number only)
//   {{ item.field }}                a field of an object variable (e.g. an `each` item)
//   {{#if name}} … {{else}} … {{/if}}      truthy = true, non-empty string/array, non-zero number
//   {{#unless name}} … {{/unless}}
//   {{#each list as item}} … {{/each}}     `item` is visible inside the block only
//   {{! comment }}                  dropped from the output (templates document their variables this way)
// A block or comment tag alone on its line removes that whole line, so templates stay readable.

import { RackhandError } from '../../errors.js';

export type TemplateValue = string | number | boolean | TemplateValue[] | { [key: string]: TemplateValue };
export type TemplateVars = { readonly [key: string]: TemplateValue | undefined };

export interface RenderOptions {
  /** Template name used in error messages. */
  name?: string;
  /**
   * Called for every value about to be written to the output, with its variable path. Throwing rejects the
   * render: the boot-script renderer uses it as a last guard that no interpolated value contains whitespace.
   */
  guard?: (path: string, value: string) => void;
}

type Node =
  | { t: 'text'; text: string }
  | { t: 'var'; path: string[]; line: number }
  | { t: 'if'; negate: boolean; path: string[]; then: Node[]; else: Node[]; line: number }
  | { t: 'each'; path: string[]; as: string; body: Node[]; line: number };

export interface CompiledTemplate {
  readonly name: string;
  render(vars: TemplateVars, options?: Omit<RenderOptions, 'name'>): string;
  /** Every root variable the template can reference (each-block aliases excluded). */
  readonly variables: ReadonlySet<string>;
}

const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const PATH_RE = new RegExp(`^${IDENT}(?:\\.${IDENT})*$`);
const IDENT_RE = new RegExp(`^${IDENT}$`);

function fail(name: string, message: string, details: Record<string, unknown> = {}): never {
  throw new RackhandError('TEMPLATE_ERROR', `template ${name}: ${message}`, { template: name, ...details });
}

interface RawTag {
  kind: 'var' | 'open-if' | 'open-unless' | 'open-each' | 'else' | 'close' | 'comment';
  body: string;
  start: number; // index of "{{"
  end: number; // index just after "}}"
  line: number;
}

function lineAt(src: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index; i++) if (src.charCodeAt(i) === 10) n++;
  return n;
}

function scanTags(src: string, name: string): RawTag[] {
  const tags: RawTag[] = [];
  let pos = 0;
  for (;;) {
    const start = src.indexOf('{{', pos);
    if (start < 0) break;
    const close = src.indexOf('}}', start + 2);
    if (close < 0) fail(name, `unclosed "{{" at line ${lineAt(src, start)}`, { line: lineAt(src, start) });
    const inner = src.slice(start + 2, close);
    const line = lineAt(src, start);
    if (inner.includes('{{')) fail(name, `nested "{{" at line ${line}`, { line });
    const body = inner.trim();
    let kind: RawTag['kind'];
    if (body.startsWith('!')) kind = 'comment';
    else if (body.startsWith('#if ')) kind = 'open-if';
    else if (body.startsWith('#unless ')) kind = 'open-unless';
    else if (body.startsWith('#each ')) kind = 'open-each';
    else if (body === 'else') kind = 'else';
    else if (body.startsWith('/')) kind = 'close';
    else if (PATH_RE.test(body)) kind = 'var';
    else fail(name, `invalid tag "{{${inner}}}" at line ${line}`, { line });
    tags.push({ kind, body, start, end: close + 2, line });
    pos = close + 2;
  }
  return tags;
}

/** Mustache-style standalone lines: a block/comment tag alone on a line takes its line with it. */
function standaloneSpan(src: string, tag: RawTag): [number, number] {
  if (tag.kind === 'var') return [tag.start, tag.end];
  let a = tag.start;
  while (a > 0 && (src[a - 1] === ' ' || src[a - 1] === '\t')) a--;
  if (a > 0 && src[a - 1] !== '\n') return [tag.start, tag.end];
  let b = tag.end;
  while (b < src.length && (src[b] === ' ' || src[b] === '\t' || src[b] === '\r')) b++;
  if (b < src.length && src[b] !== '\n') return [tag.start, tag.end];
  return [a, b < src.length ? b + 1 : b];
}

function parsePath(name: string, text: string, line: number): string[] {
  if (!PATH_RE.test(text)) fail(name, `invalid variable "${text}" at line ${line}`, { line });
  return text.split('.');
}

/** Parses a template once; the result renders any number of variable sets. */
export function compileTemplate(source: string, name = '<inline>'): CompiledTemplate {
  const tags = scanTags(source, name);
  const root: Node[] = [];
  type Frame = { node: Node & { t: 'if' | 'each' }; kind: 'if' | 'unless' | 'each'; inElse: boolean };
  const stack: Frame[] = [];
  const variables = new Set<string>();
  const current = (): Node[] => {
    const top = stack[stack.length - 1];
    if (!top) return root;
    if (top.node.t === 'each') return top.node.body;
    return top.inElse ? top.node.else : top.node.then;
  };
  const aliases = (): Set<string> =>
    new Set(stack.flatMap((f) => (f.node.t === 'each' ? [f.node.as] : [])));
  const use = (path: string[]) => {
    if (!aliases().has(path[0])) variables.add(path[0]);
  };

  let pos = 0;
  for (const tag of tags) {
    const [a, b] = standaloneSpan(source, tag);
    if (a > pos) current().push({ t: 'text', text: source.slice(pos, a) });
    pos = Math.max(pos, b);
    const { line } = tag;
    switch (tag.kind) {
      case 'comment':
        break;
      case 'var': {
        const path = parsePath(name, tag.body, line);
        use(path);
        current().push({ t: 'var', path, line });
        break;
      }
      case 'open-if':
      case 'open-unless': {
        const negate = tag.kind === 'open-unless';
        const path = parsePath(name, tag.body.slice(negate ? 8 : 4).trim(), line);
        use(path);
        const node: Node & { t: 'if' } = { t: 'if', negate, path, then: [], else: [], line };
        current().push(node);
        stack.push({ node, kind: negate ? 'unless' : 'if', inElse: false });
        break;
      }
      case 'open-each': {
        const m = /^#each\s+(\S+)\s+as\s+(\S+)$/.exec(tag.body);
        if (!m) fail(name, `"{{#each LIST as ITEM}}" expected at line ${line}`, { line });
        const path = parsePath(name, m[1], line);
        if (!IDENT_RE.test(m[2])) fail(name, `invalid each alias "${m[2]}" at line ${line}`, { line });
        use(path);
        const node: Node & { t: 'each' } = { t: 'each', path, as: m[2], body: [], line };
        current().push(node);
        stack.push({ node, kind: 'each', inElse: false });
        break;
      }
      case 'else': {
        const top = stack[stack.length - 1];
        if (!top || top.kind === 'each' || top.inElse) fail(name, `unexpected {{else}} at line ${line}`, { line });
        top.inElse = true;
        break;
      }
      case 'close': {
        const kind = tag.body.slice(1).trim();
        const top = stack.pop();
        if (!top) fail(name, `unexpected {{/${kind}}} at line ${line}`, { line });
        if (top.kind !== kind) {
          fail(name, `{{/${kind}}} at line ${line} closes {{#${top.kind}}} from line ${top.node.line}`, { line });
        }
        break;
      }
    }
  }
  if (stack.length > 0) {
    const top = stack[stack.length - 1];
    fail(name, `{{#${top.kind}}} from line ${top.node.line} is never closed`, { line: top.node.line });
  }
  if (pos < source.length) root.push({ t: 'text', text: source.slice(pos) });

  return {
    name,
    variables,
    render(vars, options = {}) {
      const out: string[] = [];
      run(root, [vars as Record<string, unknown>], out, name, options.guard);
      return out.join('');
    },
  };
}

type Scope = Record<string, unknown>;

function lookup(scopes: Scope[], path: string[], name: string, line: number): unknown {
  const dotted = path.join('.');
  let value: unknown;
  let found = false;
  for (let i = scopes.length - 1; i >= 0; i--) {
    if (Object.prototype.hasOwnProperty.call(scopes[i], path[0])) {
      value = scopes[i][path[0]];
      found = true;
      break;
    }
  }
  if (!found || value === undefined) {
    fail(name, `undefined variable "${path[0]}" at line ${line}`, { variable: dotted, line });
  }
  for (const key of path.slice(1)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) ||
        !Object.prototype.hasOwnProperty.call(value, key) || (value as Scope)[key] === undefined) {
      fail(name, `undefined variable "${dotted}" at line ${line}`, { variable: dotted, line });
    }
    value = (value as Scope)[key];
  }
  return value;
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  if (typeof v === 'boolean') return v;
  return v !== null && typeof v === 'object';
}

function run(nodes: Node[], scopes: Scope[], out: string[], name: string, guard: RenderOptions['guard']): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.text);
        break;
      case 'var': {
        const v = lookup(scopes, n.path, name, n.line);
        const dotted = n.path.join('.');
        let s: string;
        if (typeof v === 'string') s = v;
        else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
        else fail(name, `variable "${dotted}" at line ${n.line} is a ${Array.isArray(v) ? 'list' : typeof v}, not text`, { variable: dotted, line: n.line });
        if (guard) {
          try {
            guard(dotted, s);
          } catch (e) {
            fail(name, `variable "${dotted}" at line ${n.line} rejected: ${(e as Error).message}`, { variable: dotted, line: n.line });
          }
        }
        out.push(s);
        break;
      }
      case 'if': {
        const v = lookup(scopes, n.path, name, n.line);
        run(truthy(v) !== n.negate ? n.then : n.else, scopes, out, name, guard);
        break;
      }
      case 'each': {
        const list = lookup(scopes, n.path, name, n.line);
        if (!Array.isArray(list)) {
          fail(name, `{{#each}} at line ${n.line} needs a list, "${n.path.join('.')}" is not`, { variable: n.path.join('.'), line: n.line });
        }
        for (const item of list) run(n.body, [...scopes, { [n.as]: item }], out, name, guard);
        break;
      }
    }
  }
}

/** Renders a template source once; see compileTemplate for reuse. */
export function render(template: string, vars: TemplateVars, options: RenderOptions = {}): string {
  return compileTemplate(template, options.name).render(vars, { guard: options.guard });
}
