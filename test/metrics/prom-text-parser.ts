// A strict parser of the Prometheus text exposition format 0.0.4, for checking /metrics in tests.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class ParseError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

function parseValue(s: string, line: number): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new ParseError(line, `bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** Which family a sample name belongs to, given the declared types (histogram/summary suffixes). */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const f = families.get(name.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

function parseLabels(s: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  for (;;) {
    while (s[i] === ' ') i++;
    if (s[i] === '}') return { labels, rest: s.slice(i + 1) };
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
    if (!m) throw new ParseError(line, `bad label name at ${JSON.stringify(s.slice(i, i + 20))}`);
    const key = m[0];
    i += key.length;
    if (s[i] !== '=' || s[i + 1] !== '"') throw new ParseError(line, `expected ="…" after label ${key}`);
    i += 2;
    let v = '';
    for (;;) {
      const c = s[i];
      if (c === undefined) throw new ParseError(line, 'unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const n = s[i + 1];
        if (n === 'n') v += '\n';
        else if (n === '\\' || n === '"') v += n;
        else throw new ParseError(line, `bad escape \\${n}`);
        i += 2;
        continue;
      }
      if (c === '\n') throw new ParseError(line, 'raw newline in label value');
      v += c;
      i++;
    }
    i++;
    if (key in labels) throw new ParseError(line, `label ${key} twice`);
    if (!LABEL.test(key) || key.startsWith('__')) throw new ParseError(line, `reserved label ${key}`);
    labels[key] = v;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new ParseError(line, `expected , or } after label ${key}`);
  }
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length && !text.endsWith('\n')) throw new ParseError(0, 'the exposition must end with a newline');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current: Family | undefined;
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((raw, n) => {
    const line = n + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // other comments are allowed
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new ParseError(line, `bad metric name ${name}`);
      let f = families.get(name);
      if (f && closed.has(name)) throw new ParseError(line, `${name} declared again after other families`);
      if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
      if (current && current !== f) closed.add(current.name);
      current = f;
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new ParseError(line, `bad type ${rest}`);
        if (f.samples.length) throw new ParseError(line, `TYPE for ${name} after its samples`);
        f.type = rest as MetricType;
      } else f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(raw);
    if (!m) throw new ParseError(line, `bad sample line ${JSON.stringify(raw.slice(0, 60))}`);
    const name = m[1];
    let rest = raw.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const parts = rest.trim().split(/ +/);
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new ParseError(line, `expected " value [timestamp]" in ${JSON.stringify(raw.slice(0, 80))}`);
    const value = parseValue(parts[0], line);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new ParseError(line, `bad timestamp ${parts[1]}`);
    const f = familyOf(name, families) ?? (() => {
      const u: Family = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, u);
      return u;
    })();
    if (closed.has(f.name)) throw new ParseError(line, `samples of ${f.name} are not contiguous`);
    if (current && current !== f) closed.add(current.name);
    current = f;
    if ((f.type === 'counter' || name.endsWith('_count') || name.endsWith('_bucket')) && value < 0) throw new ParseError(line, `${name} is negative`);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (f.samples.some((s) => s.name + JSON.stringify(Object.entries(s.labels).sort()) === key)) throw new ParseError(line, `duplicate sample ${key}`);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** Buckets cumulative, `le` sorted with +Inf last, +Inf bucket equal to _count, per label set. */
function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let e = series.get(key);
    if (!e) series.set(key, (e = { buckets: [] }));
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      e.buckets.push([parseValue(le, 0), s.value]);
    } else if (s.name.endsWith('_count')) e.count = s.value;
    else if (s.name.endsWith('_sum')) e.sum = s.value;
  }
  for (const [key, e] of series) {
    if (e.count === undefined || e.sum === undefined) throw new Error(`${f.name}${key}: missing _count or _sum`);
    const les = e.buckets.map((b) => b[0]);
    if (les.at(-1) !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    for (let i = 1; i < e.buckets.length; i++) {
      if (!(e.buckets[i][0] > e.buckets[i - 1][0])) throw new Error(`${f.name}${key}: le not increasing`);
      if (e.buckets[i][1] < e.buckets[i - 1][1]) throw new Error(`${f.name}${key}: buckets not cumulative`);
    }
    if (e.buckets.at(-1)![1] !== e.count) throw new Error(`${f.name}${key}: +Inf bucket ${e.buckets.at(-1)![1]} != count ${e.count}`);
  }
}
