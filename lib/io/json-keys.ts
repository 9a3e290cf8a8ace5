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
