// Duplicate keys in a safetensors header. JSON.parse keeps the last of two equal keys without a word,
// while the safetensors library refuses a header whose top level names a tensor (or __metadata__)
// twice, or whose tensor entry repeats dtype/shape/data_offsets: reading the same file two ways would
// give two answers. This scan finds such duplicates in one pass, iteratively (no recursion, however
// deep the JSON), on text JSON.parse has already accepted.

const FIELDS = new Set(['dtype', 'shape', 'data_offsets']);

interface Frame { obj: boolean; depth: number; name: string; keys: Set<string> | null; expectKey: boolean }

/** The first duplicated key the safetensors library refuses, as a path ['name'] or ['name', 'field'], else null. */
export function safetensorsDuplicateKey(text: string): string[] | null {
  const stack: Frame[] = [];
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) { // { [
      const parent = stack[stack.length - 1];
      const depth = stack.length + 1;
      // Keys are tracked where the library checks them: the top level, and each tensor entry's fields.
      const track = c === 0x7b && (depth === 1 || (depth === 2 && parent?.obj && lastKey !== '__metadata__'));
      stack.push({ obj: c === 0x7b, depth, name: depth === 2 ? lastKey : '', keys: track ? new Set() : null, expectKey: c === 0x7b });
    } else if (c === 0x7d || c === 0x5d) { // } ]
      stack.pop();
    } else if (c === 0x2c) { // ,
      const top = stack[stack.length - 1];
      if (top?.obj) top.expectKey = true;
    } else if (c === 0x22) { // a string: find its end (escapes skip the next character)
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.obj && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        top.expectKey = false;
        lastKey = key;
        if (top.keys) {
          const counts = top.depth === 1 || FIELDS.has(key);
          if (counts && top.keys.has(key)) return top.depth === 1 ? [key] : [top.name, key];
          top.keys.add(key);
        }
      }
      i = j;
    }
  }
  return null;
}

// The same blindness for any JSON document (a shard index's weight_map): JSON.parse keeps the last of two
// equal keys, so a tensor listed twice would silently load from one of its shards. Reports the first key
// that appears twice in one object, anywhere.
/** The first duplicate key: its dotted path to the object and the key; undefined when there is none. */
export function firstDuplicateKey(text: string): { path: string; key: string } | undefined {
  type Frame = { obj: boolean; keys: Set<string>; path: string; expectKey: boolean; lastKey: string };
  const stack: Frame[] = [];
  let i = 0;
  const readString = (): string => {
    const start = i; // at the opening quote
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) { i += 2; continue; } // backslash escape
      if (c === 0x22) { i++; break; }
      i++;
    }
    return JSON.parse(text.slice(start, i)) as string;
  };
  while (i < text.length) {
    const ch = text[i];
    const top = stack[stack.length - 1];
    if (ch === '"') {
      const s = readString();
      if (top && top.obj && top.expectKey) {
        if (top.keys.has(s)) return { path: top.path, key: s };
        top.keys.add(s);
        top.lastKey = s;
        top.expectKey = false;
      }
      continue;
    }
    if (ch === '{' || ch === '[') {
      const path = top ? (top.obj ? (top.path ? `${top.path}.${top.lastKey}` : top.lastKey) : top.path) : '';
      stack.push({ obj: ch === '{', keys: new Set(), path, expectKey: ch === '{', lastKey: '' });
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',' && top?.obj) {
      top.expectKey = true;
    }
    i++;
  }
  return undefined;
}
