import type { ObjectInfo } from '../../client/client.js';
import { formatBytes } from '../../token/units.js';
import { toWire } from '../../wire/case.js';
import type { ObjectBody } from '../../wire/objects.js';
import { type Command, optional, UsageError } from '../args.js';
import { KEY_HELP, onObject } from '../names.js';
import { printJson, printLines } from '../output.js';
import { REMOTE_HELP, REMOTE_OPTIONS, remoteClient } from '../remote.js';

export const ls: Command = {
  name: 'ls',
  summary: "list your objects (from the issuer's registry)",
  help: `Usage: valet ls [PREFIX] --issuer URL --token TOKEN [--limit 1000] [--after KEY] [--all] [--json]

Lists the objects you own whose full key starts with PREFIX (all of them without one), as the
issuer recorded them from storage's completion events, in key order, a page at a time: one line
per object (size, last change, key), then, when there are more, the command for the next page.
With --json one line {"objects":[{"key","size","content_type","sha256","etag","created_at",
"updated_at"}…],"next":KEY or null}, as the API answers.

Options:
${REMOTE_HELP}
  --limit N            objects per page, 1 to 1000 (default 1000)
  --after KEY          the page after this key (the "next" of the page before)
  --all                every page
  --json               print JSON
  -h, --help           show this help`,
  options: {
    ...REMOTE_OPTIONS,
    limit: { type: 'string' },
    after: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: true,
  async run(values, positionals) {
    if (positionals.length > 1) throw new UsageError('expected at most one PREFIX');
    const prefix = positionals[0];
    const limitText = optional(values, 'limit');
    const limit = limitText === undefined ? undefined : Number(limitText);
    if (limit !== undefined && (!/^\d+$/.test(limitText ?? '') || limit < 1 || limit > 1000))
      throw new UsageError('--limit must be a whole number from 1 to 1000');
    const client = remoteClient(values);
    const after = optional(values, 'after');
    const page = values.all
      ? { objects: await client.list({ ...(prefix && { prefix }) }), next: null }
      : await client.listPage({
          ...(prefix && { prefix }),
          ...(after !== undefined && { after }),
          ...(limit !== undefined && { limit }),
        });
    if (values.json) {
      printJson({ objects: page.objects.map(objectBody), next: page.next });
      return 0;
    }
    printLines(
      ...page.objects.map(
        (o) =>
          `${formatBytes(o.size).padStart(10)}  ${o.updatedAt}  ${o.object}${o.validation === 'pending' ? '  (being checked: nobody can read it yet)' : ''}`,
      ),
    );
    if (page.next !== null) {
      const words = ['valet ls', ...(prefix ? [shellWord(prefix)] : []), '--after', shellWord(page.next)];
      process.stderr.write(`more: ${words.join(' ')}\n`);
    } else if (page.objects.length === 0 && prefix && !after) {
      const first = (await client.listPage({ limit: 1 })).objects[0];
      if (first)
        process.stderr.write(
          `nothing starts with "${prefix}"; prefixes are of full keys, like ${first.object}\n`,
        );
    }
    return 0;
  },
};

export const rm: Command = {
  name: 'rm',
  summary: 'delete one of your objects',
  help: `Usage: valet rm KEY --issuer URL --token TOKEN [--json]

Deletes the object straight at storage with a key from the issuer (a delete rule must allow
it). ${KEY_HELP}
Prints the deleted key; with --json one line {"object":KEY,"deleted":true}.

Options:
${REMOTE_HELP}
  --json               print JSON
  -h, --help           show this help`,
  options: { ...REMOTE_OPTIONS, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one KEY');
    const client = remoteClient(values);
    const { key } = await onObject(client, positionals[0] as string, (k) => client.delete(k));
    if (values.json) printJson({ object: key, deleted: true });
    else printLines(`deleted ${key}`);
    return 0;
  },
};

/** An object as the API names its fields (the listing's wire shape). */
export function objectBody(o: ObjectInfo): ObjectBody {
  return toWire(o);
}

/** A word a shell reads back as it is (quoted when it needs to be). */
export function shellWord(text: string): string {
  return /^[\w./@:+-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
