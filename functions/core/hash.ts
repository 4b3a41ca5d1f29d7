// FNV-1a, 32 bits: a stable, fast string hash for spreading keys over shuffle buckets and index
// partitions. Not for security; stable across releases (changing it would move every key).
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
