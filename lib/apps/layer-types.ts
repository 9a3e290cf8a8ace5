// The layer type of every submodule of a TorchScript archive, read from its data.pkl without running it
// (the same parse lib/io's loadTorchScript uses): prune's default set is "Linear and Conv weights", and
// only a model knows which weights those are. Module objects are inert ScriptObjects whose class is
// __torch__.<python module path>.<Class>; their attribute dicts hold the submodules.
import { parseTorchScript } from '../io/torchscript';
import { openSource } from '../io/source';
import { ScriptObject } from '../io/values';

/** Module path ('' for the root, 'encoder.0.fc', ...) -> class name ('Linear', 'Conv2d', ...). */
export function torchScriptLayerTypes(file: string): Map<string, string> {
  const src = openSource(file);
  try {
    const root = parseTorchScript(src).archive.root as ScriptObject;
    const out = new Map<string, string>();
    const seen = new Set<ScriptObject>();
    const stack: [string, ScriptObject][] = [['', root]];
    while (stack.length) {
      const [p, obj] = stack.pop()!;
      if (seen.has(obj)) continue;
      seen.add(obj);
      out.set(p, obj.cls.name);
      if (!(obj.state instanceof Map)) continue;
      for (const [k, v] of obj.state as Map<unknown, unknown>) {
        if (typeof k === 'string' && v instanceof ScriptObject && v.cls.module.startsWith('__torch__')) stack.push([p ? `${p}.${k}` : k, v]);
      }
    }
    return out;
  } finally {
    src.close();
  }
}
