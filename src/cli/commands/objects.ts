import { type Command, optional, parseDuration, UsageError } from '../args.js';
import { formatBytes, REMOTE_HELP, REMOTE_OPTIONS, remoteClient } from '../remote.js';

export const ls: Command = {
  name: 'ls',
  summary: "list your objects (from the issuer's registry)",
  help: `Usage: valet ls --issuer URL --token TOKEN [--json]

Lists the objects you own, as the issuer recorded them from storage's completion events.
One line per object (size, last change, key); with --json a JSON array.

Options:
${REMOTE_HELP}
  --json               print JSON
  -h, --help           show this help`,
  options: { ...REMOTE_OPTIONS, json: { type: 'boolean' } },
  async run(values) {
    const objects = await remoteClient(values).list();
    if (values.json) {
      process.stdout.write(`${JSON.stringify(objects)}\n`);
      return 0;
    }
    for (const o of objects)
      process.stdout.write(`${formatBytes(o.size).padStart(10)}  ${o.updatedAt}  ${o.key}\n`);
    return 0;
  },
};

export const share: Command = {
  name: 'share',
  summary: 'make a download link for one of your objects',
  help: `Usage: valet share KEY --issuer URL --token TOKEN [--ttl 10m] [--json]

Creates a share link: anyone who has it can download KEY until it expires or is revoked with
"valet unshare ID". Prints the link on the first line and its id on the second; with --json
one line {"id":…,"url":…,"expires_at":…}.

Options:
${REMOTE_HELP}
  --ttl DURATION       how long the link works (default 10m)
  --json               print JSON
  -h, --help           show this help`,
  options: { ...REMOTE_OPTIONS, ttl: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one KEY');
    const ttl = parseDuration(optional(values, 'ttl') ?? '10m', '--ttl');
    if (!Number.isInteger(ttl) || ttl < 1)
      throw new UsageError('--ttl must be a whole number of seconds, at least 1');
    const link = await remoteClient(values).share(positionals[0] as string, { ttl });
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ id: link.id, url: link.url, expires_at: link.expiresAt })}\n`
        : `${link.url}\n${link.id}\n`,
    );
    return 0;
  },
};

export const unshare: Command = {
  name: 'unshare',
  summary: 'revoke a share link',
  help: `Usage: valet unshare ID --issuer URL --token TOKEN

Revokes the share link with this id: the link stops working at once, and a download key it
already handed out stops working at storage within the revocation delay (at most 5 s).

Options:
${REMOTE_HELP}
  -h, --help           show this help`,
  options: { ...REMOTE_OPTIONS },
  positionals: true,
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one ID');
    await remoteClient(values).unshare(positionals[0] as string);
    return 0;
  },
};
