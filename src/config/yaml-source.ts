// A YAML file as the loader sees it: the parsed document (kept even when it has syntax errors,
// so the loader can still learn where the inventory lives), and the line of any path in it.
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Document } from 'yaml';

export interface Source {
  file: string;
  doc: Document;
  lines: LineCounter;
  /** false: syntax errors (or not a mapping); the content is not validated */
  ok: boolean;
}

export interface SourceError {
  line?: number;
  message: string;
}

export function readYaml(file: string, text: string): { src: Source; errors: SourceError[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const errors: SourceError[] = doc.errors.map((e) => ({ line: lines.linePos(e.pos[0]).line, message: e.message.split('\n')[0] }));
  if (!errors.length && doc.contents !== null && !isMap(doc.contents)) errors.push({ line: 1, message: 'the top level must be a mapping (key: value)' });
  return { src: { file, doc, lines, ok: errors.length === 0 }, errors };
}

/** The document as plain data ({} when empty). Only for sources without errors. */
export function contentOf(src: Source): Record<string, unknown> {
  return (src.doc.toJS() ?? {}) as Record<string, unknown>;
}

/**
 * A top-level string scalar from a document that may have syntax errors elsewhere (the
 * parser still builds the nodes it could read); undefined when it cannot be read.
 */
export function salvageString(src: Source, key: string): string | undefined {
  if (!isMap(src.doc.contents)) return undefined;
  try {
    const node = src.doc.get(key, true);
    return isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
  } catch {
    return undefined;
  }
}

export function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Line of a path: its key's line for a map entry (a missing key is reported at its parent). */
export function lineOf(src: Source, path: readonly (string | number)[]): number | undefined {
  let node: unknown = src.doc.contents;
  let line: number | undefined;
  for (const k of path) {
    let range: [number, number, number] | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) == k);
      if (!pair) break;
      range = (pair.key as { range?: [number, number, number] } | null)?.range;
      node = pair.value;
    } else if (isSeq(node) && typeof k === 'number' && k < node.items.length) {
      node = node.items[k];
      range = (node as { range?: [number, number, number] } | null)?.range;
    } else break;
    if (range) line = src.lines.linePos(range[0]).line;
  }
  return line;
}

// which keys are secret (any value type, normalised key): secret-keys.ts
export { findSecrets } from './secret-keys.js';
