// Reading Redfish JSON defensively: links, collection members, the message of an error answer.

export type Json = Record<string, unknown>;

/** The @odata.id of a link object ({"@odata.id": "/redfish/v1/…"}), if it is one. */
export function linkOf(v: unknown): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const id = (v as Json)['@odata.id'];
  return typeof id === 'string' && id.startsWith('/') ? id : undefined;
}

/** The paths of an array of links (Members, Links.ManagedBy, …); anything else gives none. */
export function memberLinks(v: unknown): string[] {
  return Array.isArray(v) ? v.map(linkOf).filter((x): x is string => x !== undefined) : [];
}

/** A property as a JSON object (or an empty one). */
export function objectOf(v: unknown): Json {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

export function stringOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function numberOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * A list of values a BMC allows, as a person reads it in one error line: its strings only, at most 10, each cut at
 * 40 characters, "and N more" for the rest (a BMC's AllowableValues can be anything, of any length).
 */
export function shownValues(values: unknown[] | undefined): string {
  const strings = (values ?? []).filter((v): v is string => typeof v === 'string');
  if (strings.length === 0) return 'none';
  const shown = strings.slice(0, 10).map((v) => (v.length > 40 ? `${v.slice(0, 40)}…` : v)).join(', ');
  return strings.length > 10 ? `${shown} and ${strings.length - 10} more` : shown;
}

/** What an error answer says: its @Message.ExtendedInfo messages, else error.message; at most 300 characters. */
export function extendedMessage(body: unknown): string | undefined {
  const err = objectOf(objectOf(body).error);
  const info = Array.isArray(err['@Message.ExtendedInfo']) ? (err['@Message.ExtendedInfo'] as unknown[]) : [];
  const parts = info.map((i) => stringOf(objectOf(i).Message)).filter((m): m is string => !!m);
  const text = parts.length ? parts.join('; ') : stringOf(err.message);
  return text ? text.replace(/\s+/g, ' ').slice(0, 300) : undefined;
}
