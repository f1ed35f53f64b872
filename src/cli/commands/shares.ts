import { formatDuration } from '../../token/units.js';
import { type Command, optional, parseDuration, UsageError } from '../args.js';
import { KEY_HELP, onObject } from '../names.js';
import { printJson, printLines } from '../output.js';
import { REMOTE_HELP, REMOTE_OPTIONS, remoteClient } from '../remote.js';

export const share: Command = {
  name: 'share',
  summary: 'make a download link for one of your objects',
  help: `Usage: valet share KEY --issuer URL --token TOKEN [--ttl 10m] [--json]

Creates a share link: anyone who has it can download the object until it expires or is revoked
with "valet unshare ID". ${KEY_HELP}
Prints the link on the first line and its id on the second; with --json one line
{"id","url","object","expires_at"}, as the API answers. The issuer keeps no copy of the link:
copy it now.

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
    const client = remoteClient(values);
    const { key, value: link } = await onObject(client, positionals[0] as string, (k) =>
      client.share(k, { ttl }),
    );
    if (values.json) printJson({ id: link.id, url: link.url, object: key, expires_at: link.expiresAt });
    else printLines(link.url, link.id);
    return 0;
  },
};

export const shares: Command = {
  name: 'shares',
  summary: 'list your share links that still work',
  help: `Usage: valet shares --issuer URL --token TOKEN [--json]

Lists your share links that still work: id, time left, object. Their URLs are not listed: the
issuer keeps only a hash of each. With --json one line {"shares":[{"id","object","created_at",
"expires_at"}…]}, as the API answers.

Options:
${REMOTE_HELP}
  --json               print JSON
  -h, --help           show this help`,
  options: { ...REMOTE_OPTIONS, json: { type: 'boolean' } },
  async run(values) {
    const links = await remoteClient(values).shares();
    if (values.json) {
      printJson({
        shares: links.map((l) => ({
          id: l.id,
          object: l.object,
          created_at: l.createdAt,
          expires_at: l.expiresAt,
        })),
      });
      return 0;
    }
    const now = Date.now();
    printLines(
      ...links.map((l) => {
        const left = `${formatDuration((Date.parse(l.expiresAt) - now) / 1000)} left`;
        return `${l.id}  ${left.padStart(16)}  ${l.object}`;
      }),
    );
    if (links.length === 0) process.stderr.write('no share links that still work\n');
    return 0;
  },
};

export const unshare: Command = {
  name: 'unshare',
  summary: 'revoke a share link',
  help: `Usage: valet unshare ID --issuer URL --token TOKEN [--json]

Revokes the share link with this id ("valet shares" lists them): the link stops working at
once, and a download key it already handed out stops working at storage within the revocation
delay (at most 5 s). With --json one line {"id":ID,"revoked":true}.

Options:
${REMOTE_HELP}
  --json               print JSON
  -h, --help           show this help`,
  options: { ...REMOTE_OPTIONS, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one ID');
    const id = positionals[0] as string;
    await remoteClient(values).unshare(id);
    if (values.json) printJson({ id, revoked: true });
    else printLines(`revoked ${id}`);
    return 0;
  },
};
