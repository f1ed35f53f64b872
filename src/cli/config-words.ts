// What a config file's mistakes are, in words: where a JSON syntax error is (line and column, not
// a byte position), and for a key the schema does not know, the key it most likely meant.
import type { z } from 'zod';
import { UsageError } from './args.js';

/**
 * A refusal for a file that is not JSON: its line and column, from the position JSON.parse names
 * (Node 20: "… in JSON at position 42"; later Nodes add their own "(line 3 column 5)").
 */
export function jsonSyntaxError(file: string, text: string, error: Error): UsageError {
  const reason = error.message
    .replace(/,? in JSON at position \d+.*$/s, '')
    .replace(/^JSON Parse error: /, '');
  const at = /position (\d+)/.exec(error.message);
  const position = at ? Number(at[1]) : text.length;
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return new UsageError(`${file} is not valid JSON: line ${line}, column ${column}: ${reason}`);
}

/** The candidate nearest to `word` (case aside, then by edit distance), if near enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const same = candidates.find((c) => c.toLowerCase() === lower);
  if (same) return same;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A name that only starts like a longer one ("storageSecret" for "storageSecretFile").
  return best ?? candidates.find((c) => word.length >= 4 && c.toLowerCase().startsWith(lower));
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The keys an object schema knows at `path` (record keys and array indexes walked through). */
export function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let at: unknown = schema;
  const steps = [...path];
  for (;;) {
    const def = (at as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return [];
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') {
      at = def.innerType;
    } else if (def.type === 'record') {
      if (steps.length === 0) return [];
      steps.shift();
      at = def.valueType;
    } else if (def.type === 'array') {
      if (steps.length === 0) return [];
      steps.shift();
      at = def.element;
    } else if (def.type === 'object') {
      const shape = def.shape as Record<string, unknown>;
      if (steps.length === 0) return Object.keys(shape);
      at = shape[String(steps.shift())];
    } else {
      return [];
    }
  }
}

/**
 * A config's schema failures, one per line, with the place of each and, for an unknown key, the
 * key it most likely meant.
 */
export function configIssues(schema: z.ZodType, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'the top level';
      if (issue.code === 'unrecognized_keys') {
        const known = knownKeys(schema, issue.path);
        return issue.keys
          .map((key) => {
            const meant = closest(key, known);
            return `unknown key "${key}" in ${where}${meant ? ` (did you mean "${meant}"?)` : ''}`;
          })
          .join('; ');
      }
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}
