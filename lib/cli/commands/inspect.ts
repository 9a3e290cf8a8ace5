// `squisher inspect FILE [--json]`: what a checkpoint holds, read without loading tensor data.
import { Command } from 'commander';
import { inspect } from '../../io';
import { allowGlobalOption } from '../allow-global';

function fmtBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

function show(v: unknown): string {
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${String(k)}: ${show(x)}`).join(', ')}}`;
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
  if (v instanceof Set) return `{${[...v].map(show).join(', ')}}`;
  return v === null ? 'None' : typeof v === 'string' ? JSON.stringify(v) : String(v);
}

export function registerInspect(program: Command): void {
  allowGlobalOption(program
    .command('inspect <file>'))
    .description('list every tensor (dotted name, dtype, shape, storage size), the other values and optimizer hyperparameters')
    .option('--json', 'machine-readable: [{"name","dtype","shape"}...] with PyTorch dtype names')
    .action((file: string, o: { json?: boolean; allowGlobal?: string[] }) => {
      const r = inspect(file, { allowGlobals: o.allowGlobal });
      if (o.json) {
        console.log(JSON.stringify(r.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape }))));
        return;
      }
      console.log(`${file}: ${r.format}, ${r.tensors.length} tensors, ${fmtBytes(r.totalStorageBytes)} of storage`);
      const w = Math.max(4, ...r.tensors.map((t) => t.name.length));
      for (const t of r.tensors) {
        const shared = t.storageBytes !== t.nbytes ? ` (views ${fmtBytes(t.storageBytes)} storage ${t.storageKey})` : '';
        console.log(`  ${t.name.padEnd(w)}  ${t.dtype.padEnd(9)} [${t.shape.join(', ')}]  ${fmtBytes(t.nbytes)}${shared}`);
      }
      if (r.values.length) {
        console.log('values:');
        for (const v of r.values) console.log(`  ${v.name} = ${show(v.value)}`);
      }
      for (const h of r.hyperparameters) {
        console.log(`hyperparameters ${h.name}: ${Object.entries(h.group).map(([k, v]) => `${k}=${show(v)}`).join(' ')}`);
      }
      if (r.objects?.length) {
        console.log('objects (allowed globals, read as data):');
        for (const x of r.objects) console.log(`  ${x.name}: ${x.cls}`);
      }
      if (r.metadata && Object.keys(r.metadata).length) console.log(`metadata: ${JSON.stringify(r.metadata)}`);
    });
}
