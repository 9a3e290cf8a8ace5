// The limits every reader applies to a file from an untrusted source, in one place so the README's
// SECURITY section and the code cannot drift apart. Each bounds work or memory linearly in the input:
// a file that needs more is refused with a CheckpointError naming the file and the limit, before the
// work is done (nothing is allocated first and checked after).

/** A zip entry may inflate to at most this many times its compressed size (plus INFLATE_SLACK bytes). */
export const MAX_INFLATE_RATIO = 100;
/** Small entries may inflate beyond the ratio up to this many bytes (tiny files compress very well). */
export const INFLATE_SLACK = 1 << 20;
/** No zip record that is parsed (data.pkl, TorchScript code) may inflate to more than this. */
export const MAX_RECORD_BYTES = 1 << 30;

/**
 * Work an unpickler may do per byte of pickle (plus UNPICKLE_WORK_BASE): every value built, copied or
 * merged by an opcode counts. Shared references (memo) cost one unit however large what they name, so
 * a "billion laughs" pickle stays linear; copies of a memoized value (OrderedDict(memo'd list) again and
 * again) are counted in full and stop at this bound.
 */
export const UNPICKLE_WORK_PER_BYTE = 16;
export const UNPICKLE_WORK_BASE = 1 << 20;

/** Nested rebuild calls (torch._tensor._rebuild_from_type_v2 inside itself): Python stops near 1000. */
export const MAX_REBUILD_DEPTH = 100;

/** Nesting of containers a writer or printer descends into (Python's pickler stops at its recursion limit). */
export const MAX_WRITE_DEPTH = 1000;
