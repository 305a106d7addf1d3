/** Shared `n`/`last` pagination with an RFC 5988 Link header, as the spec describes for tags and catalog. */
import type { Page } from '../../metadata/store.js';

export async function paginate(
  page: { n?: number; last?: string },
  fetch: (p: Page) => Promise<string[]>,
  path: string,
): Promise<{ items: string[]; link: string | null }> {
  if (page.n === undefined) return { items: await fetch(page.last ? { last: page.last } : {}), link: null };
  if (page.n === 0) return { items: [], link: null };
  // Ask for one more than requested to learn whether a next page exists.
  const rows = await fetch({ n: page.n + 1, ...(page.last ? { last: page.last } : {}) });
  const items = rows.slice(0, page.n);
  if (rows.length <= page.n) return { items, link: null };
  const last = items[items.length - 1]!;
  return { items, link: `<${path}?n=${page.n}&last=${encodeURIComponent(last)}>; rel="next"` };
}
