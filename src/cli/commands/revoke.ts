import { type Command, optional, UsageError } from '../args.js';
import { printJson, printLines } from '../output.js';
import { REMOTE_HELP, REMOTE_OPTIONS, remoteClient } from '../remote.js';

export const revoke: Command = {
  name: 'revoke',
  summary: 'admins: revoke a key, every key of a subject, or a signing key',
  help: `Usage: valet revoke (--key ID | --subject SUBJECT [--before TIME] | --signing-key KID)
                    --issuer URL --token TOKEN [--json]

Revokes, at the issuer, one valet key (its id, the "jti" a key carries and the issuer records),
every key issued to a subject up to now (or up to TIME, an ISO 8601 date), or every key a
signing key signed (its "kid"). Storage refuses them within its revocation delay (at most 5 s).
Only the issuer's admins may (the token's subject is in the issuer's "admins").
With --json one line {"revoked":{"kind","value"}}, as the API answers.

Options:
${REMOTE_HELP}
  --key ID             one key
  --subject SUBJECT    every key of this subject
  --before TIME        with --subject: keys issued up to this time (default now)
  --signing-key KID    every key this signing key signed
  --json               print JSON
  -h, --help           show this help`,
  options: {
    ...REMOTE_OPTIONS,
    key: { type: 'string' },
    subject: { type: 'string' },
    before: { type: 'string' },
    'signing-key': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    const given = (['key', 'subject', 'signing-key'] as const).filter(
      (f) => optional(values, f) !== undefined,
    );
    if (given.length !== 1) throw new UsageError('give exactly one of --key, --subject and --signing-key');
    const flag = given[0] as 'key' | 'subject' | 'signing-key';
    const kind = flag === 'signing-key' ? 'signing_key' : flag;
    const value = optional(values, flag) as string;
    const beforeText = optional(values, 'before');
    if (beforeText !== undefined && kind !== 'subject') throw new UsageError('--before goes with --subject');
    const before = beforeText === undefined ? undefined : Date.parse(beforeText);
    if (before !== undefined && !Number.isFinite(before))
      throw new UsageError(`--before: "${beforeText}" is not a date (example: 2026-11-29T10:00:00Z)`);
    await remoteClient(values).revoke(kind, value, before === undefined ? {} : { before });
    if (values.json) printJson({ revoked: { kind, value } });
    else printLines(`revoked ${kind.replace('_', ' ')} ${value}`);
    return 0;
  },
};
