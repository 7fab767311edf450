/** Edit distance, bounded: stops early once every path exceeds `limit`. */
export function levenshtein(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
      current.push(value);
      if (value < rowMin) rowMin = value;
    }
    if (rowMin > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length] ?? limit + 1;
}

function slugOf(id: string): string {
  return id.replace(/^job-\d{8}-\d{6}-/, "");
}

/**
 * Up to `max` known ids close to `wanted`: the same slug (a typo in the timestamp, or a bare name),
 * then the smallest edit distances. A caller that mistyped an id gets something to try next.
 */
export function suggestJobIds(wanted: string, known: Iterable<string>, max = 3): string[] {
  const target = wanted.trim().toLowerCase();
  const targetSlug = slugOf(target);
  const limit = Math.max(3, Math.floor(target.length / 4));
  const scored: { id: string; score: number }[] = [];
  for (const id of known) {
    const slug = slugOf(id);
    if (slug === targetSlug || (targetSlug.length >= 3 && slug.includes(targetSlug))) {
      scored.push({ id, score: slug === targetSlug ? 0 : 1 });
      continue;
    }
    const distance = levenshtein(target, id, limit);
    if (distance <= limit) scored.push({ id, score: 2 + distance });
  }
  return scored
    .sort((a, b) => a.score - b.score || b.id.localeCompare(a.id))
    .slice(0, max)
    .map((entry) => entry.id);
}
