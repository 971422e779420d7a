// Types of ensure-anchors.mjs for the TypeScript benches.
export function ensureAnchors(commands: Record<string, string>): void;
