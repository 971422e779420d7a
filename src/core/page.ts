// One page of a list: every list capability takes a Page and answers its slice with the total before paging.

export interface Page {
  limit: number;
  offset: number;
}

/** What a list answers when the caller names no page: small enough to stay fast at 50,000 servers. */
export const DEFAULT_PAGE_SIZE = 100;
/** The largest page a caller may ask for. */
export const MAX_PAGE_SIZE = 10_000;

export interface Paged<T> {
  list: T[];
  total: number;
}

/** The page of a list held in memory (users, tokens, switches, networks, pools: short lists). */
export function pageOf<T>(all: T[], page: Page): Paged<T> {
  return { list: all.slice(page.offset, page.offset + page.limit), total: all.length };
}
