// The README's TypeScript snippets, compiled as a consumer would: against dist/'s declarations (what the
// package ships), with strict, exactOptionalPropertyTypes and the declarations themselves checked
// (skipLibCheck: false). Each ```ts block becomes its own module: its import lines on top, the rest,
// unchanged, in an async function (top-level await, no clashes between blocks). The names the snippets
// take as given (x, y, model, signal, ...) are declared in a prelude with the types they stand for.
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { tmpDir } from '../helpers/oracle';

const root = path.resolve(__dirname, '..', '..');

const PRELUDE = `
type Sq = typeof import('squisher');
declare const req: { body: Buffer };
declare const signal: AbortSignal;
declare const x: import('squisher').Tensor;
declare const y: import('squisher').Tensor;
declare const t: import('squisher').Tensor;
declare const model: import('squisher').Module;
declare const adam: import('squisher').optim.Adam;
declare const taskB: InstanceType<Sq['data']['DataLoader']>;
declare const data: InstanceType<Sq['data']['DataLoader']>;
declare const F: import('squisher').FisherDiagonal;
declare const Fa: import('squisher').FisherDiagonal;
declare const Fb: import('squisher').FisherDiagonal;
declare const trainNllSum: number;
declare const models: Parameters<Sq['distributed']['distributedMerge']>[0];
declare const fishers: Parameters<Sq['distributed']['distributedMerge']>[1];
`;

function snippets(): string[] {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
}

function consumerModule(code: string, i: number): string {
  const lines = code.split('\n');
  const imports = lines.filter((l) => /^import\s/.test(l));
  const body = lines.filter((l) => !/^import\s/.test(l));
  return `${imports.join('\n')}\nexport async function readmeSnippet${i}(): Promise<void> {\n${body.join('\n')}\n}\n`;
}

test('README has TypeScript snippets to check', () => {
  expect(snippets().length).toBeGreaterThanOrEqual(5);
});

test("every README TypeScript snippet type-checks against dist/ under strict consumer settings", () => {
  expect(fs.existsSync(path.join(root, 'dist', 'index.d.ts'))).toBe(true);
  const dir = tmpDir('squisher-consumer-');
  const files = [path.join(dir, 'prelude.d.ts')];
  fs.writeFileSync(files[0]!, PRELUDE);
  snippets().forEach((code, i) => {
    const f = path.join(dir, `snippet${i + 1}.ts`);
    fs.writeFileSync(f, consumerModule(code, i + 1));
    files.push(f);
  });
  const program = ts.createProgram(files, {
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    paths: { squisher: [path.join(root, 'dist', 'index.d.ts')] },
    typeRoots: [path.join(root, 'node_modules', '@types')],
    types: ['node'],
  });
  const diags = ts.getPreEmitDiagnostics(program).map((d) => {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return msg;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${path.basename(d.file.fileName)}:${line + 1}: ${msg}\n    ${d.file.text.split('\n')[line]?.trim()}`;
  });
  expect(diags).toEqual([]);
});

test('the published declarations name no `any` type (consumers get checked types or unknown)', () => {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) { walk(p); continue; }
      if (!e.name.endsWith('.d.ts')) continue;
      const sf = ts.createSourceFile(p, fs.readFileSync(p, 'utf8'), ts.ScriptTarget.ES2022, true);
      const visit = (n: ts.Node): void => {
        if (n.kind === ts.SyntaxKind.AnyKeyword) found.push(`${path.relative(root, p)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`);
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
  };
  walk(path.join(root, 'dist'));
  expect(found).toEqual([]);
});
