// `squisher inspect FILE [--json]`: what a checkpoint holds, read without loading tensor data.
//
// Everything printed comes from the file, so it is made safe for a terminal first: control characters
// (C0, DEL, C1, and the bidirectional overrides that reorder text) in names and strings are shown as
// escapes, never sent raw; nested values are shown to a bounded depth and length, and a value that
// contains itself is shown once, so a hostile file cannot make the printer loop, overflow or flood.
import { Command } from 'commander';
import { inspect } from '../../io';
import { allowGlobalOption } from '../allow-global';

function fmtBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

// C0 controls, DEL, C1 controls, and the Unicode bidi embedding/override/isolate marks.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `s` with every terminal control character written as an escape (\x1b, \u202e). */
export function safeText(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/** JSON text with the characters JSON.stringify leaves raw (DEL, C1, bidi marks) escaped as \uXXXX. */
function safeJson(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const MAX_DEPTH = 6;
const MAX_ITEMS = 16;
const MAX_CHARS = 400;

/** A one-line, bounded rendering of a value: depth, items per container and length are capped; cycles show as '<cycle>'. */
function show(root: unknown): string {
  const seen = new Set<object>();
  let budget = 4 * MAX_ITEMS; // values rendered in all: shared sub-values cannot multiply the work
  const go = (v: unknown, depth: number): string => {
    if (--budget < 0) return '...';
    if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
      if (seen.has(v)) return '<cycle>';
      if (depth >= MAX_DEPTH) return '...';
      seen.add(v);
      try {
        const items = v instanceof Map ? [...v].slice(0, MAX_ITEMS + 1).map(([k, x]) => `${go(k, depth + 1)}: ${go(x, depth + 1)}`)
          : Array.isArray(v) ? v.slice(0, MAX_ITEMS + 1).map((x) => go(x, depth + 1))
          : v instanceof Set ? [...v].slice(0, MAX_ITEMS + 1).map((x) => go(x, depth + 1)) : null;
        if (items === null) return safeText(String(v));
        const size = v instanceof Map || v instanceof Set ? v.size : (v as unknown[]).length;
        if (size > MAX_ITEMS) items.splice(MAX_ITEMS, 1, `... ${size - MAX_ITEMS} more`);
        const body = items.join(', ');
        return Array.isArray(v) ? `[${body}]` : `{${body}}`;
      } finally {
        seen.delete(v);
      }
    }
    if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
    return v === null ? 'None' : typeof v === 'string' ? safeText(JSON.stringify(v)) : safeText(String(v));
  };
  const s = go(root, 0);
  return s.length > MAX_CHARS ? `${s.slice(0, MAX_CHARS)}...` : s;
}

/** A value as plain JSON data, with the same bounds as show(): Maps become objects (non-string keys as their
 *  rendering), Sets arrays, bytes `{ bytes: n }`, bigints strings; deep, long or cyclic parts are cut. */
function jsonValue(root: unknown): unknown {
  const seen = new Set<object>();
  let budget = 4 * MAX_ITEMS;
  const go = (v: unknown, depth: number): unknown => {
    if (--budget < 0) return '...';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    if (v === null || typeof v !== 'object') return v === undefined ? null : v;
    if (Buffer.isBuffer(v)) return { bytes: v.length };
    if (seen.has(v)) return '<cycle>';
    if (depth >= MAX_DEPTH) return '...';
    seen.add(v);
    try {
      if (v instanceof Map) {
        const o: Record<string, unknown> = {};
        for (const [k, x] of [...v].slice(0, MAX_ITEMS)) o[typeof k === 'string' ? k : show(k)] = go(x, depth + 1);
        if (v.size > MAX_ITEMS) o['...'] = `${v.size - MAX_ITEMS} more`;
        return o;
      }
      if (Array.isArray(v) || v instanceof Set) {
        const all = [...(v as Iterable<unknown>)];
        const out = all.slice(0, MAX_ITEMS).map((x) => go(x, depth + 1));
        if (all.length > MAX_ITEMS) out.push(`... ${all.length - MAX_ITEMS} more`);
        return out;
      }
      return show(v);
    } finally {
      seen.delete(v);
    }
  };
  return go(root, 0);
}

export function registerInspect(program: Command): void {
  allowGlobalOption(program
    .command('inspect <file>'))
    .description('list every tensor (dotted name, dtype, shape, storage size), the other values and optimizer hyperparameters')
    .option('--json', 'machine-readable, on stdout: {file, format, totalStorageBytes, tensors: [{name, dtype, shape, nbytes, storageBytes, ...}], values, hyperparameters, objects, metadata}')
    .action((file: string, o: { json?: boolean; allowGlobal?: string[] }) => {
      const r = inspect(file, { allowGlobals: o.allowGlobal });
      if (o.json) {
        // Every field the text output shows (README: names, dtypes, shapes, storage sizes, values, hyperparameters).
        console.log(safeJson({
          file: r.file, format: r.format, totalStorageBytes: r.totalStorageBytes,
          tensors: r.tensors,
          values: r.values.map((v) => ({ name: v.name, value: jsonValue(v.value) })),
          hyperparameters: r.hyperparameters.map((h) => ({ name: h.name, group: jsonValue(new Map(Object.entries(h.group))) })),
          ...(r.objects?.length ? { objects: r.objects.map((x) => ({ name: x.name, cls: String(x.cls) })) } : {}),
          ...(r.metadata ? { metadata: r.metadata } : {}),
        }));
        return;
      }
      const shards = r.shards ? ` (${r.shards.length} shards listed in ${safeText(r.file)})` : '';
      console.log(`${safeText(file)}: ${r.format}${shards}, ${r.tensors.length} tensors, ${fmtBytes(r.totalStorageBytes)} of storage`);
      let w = 4; // a loop, not Math.max(...names): a spread of 130k arguments overflows the stack
      for (const t of r.tensors) if (t.name.length > w) w = Math.min(t.name.length, 120);
      for (const t of r.tensors) {
        const shared = t.storageBytes !== t.nbytes ? ` (views ${fmtBytes(t.storageBytes)} storage ${safeText(t.storageKey ?? '')})` : '';
        console.log(`  ${safeText(t.name).padEnd(w)}  ${t.dtype.padEnd(9)} [${t.shape.join(', ')}]  ${fmtBytes(t.nbytes)}${shared}${t.shard ? `  ${safeText(t.shard)}` : ''}`);
      }
      if (r.values.length) {
        console.log('values:');
        for (const v of r.values) console.log(`  ${safeText(v.name)} = ${show(v.value)}`);
      }
      for (const h of r.hyperparameters) {
        console.log(`hyperparameters ${safeText(h.name)}: ${Object.entries(h.group).map(([k, v]) => `${safeText(k)}=${show(v)}`).join(' ')}`);
      }
      if (r.objects?.length) {
        console.log('objects (allowed globals, read as data):');
        for (const x of r.objects) console.log(`  ${safeText(x.name)}: ${safeText(String(x.cls))}`);
      }
      if (r.metadata && Object.keys(r.metadata).length) console.log(`metadata: ${safeJson(r.metadata)}`);
    });
}
