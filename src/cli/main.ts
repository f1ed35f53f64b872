import { readFileSync } from 'node:fs';
import { NetworkError } from '../client/errors.js';
import { isValetError, type ValetError } from '../token/errors.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';
import { dev } from './commands/dev.js';
import { issuer } from './commands/issuer.js';
import { jwks } from './commands/jwks.js';
import { keygen } from './commands/keygen.js';
import { mint } from './commands/mint.js';
import { ls, rm } from './commands/objects.js';
import { revoke } from './commands/revoke.js';
import { secret } from './commands/secret.js';
import { share, shares, unshare } from './commands/shares.js';
import { storage } from './commands/storage.js';
import { download, upload } from './commands/transfer.js';
import { CliError, hintOf } from './output.js';

const COMMANDS: readonly Command[] = [
  dev,
  upload,
  download,
  ls,
  rm,
  share,
  shares,
  unshare,
  revoke,
  issuer,
  storage,
  keygen,
  secret,
  jwks,
  mint,
];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: valet <command> [options]

Valet: narrow, short-lived keys for direct uploads and downloads (the Valet Key pattern).

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "valet <command> --help" for a command's options.`;
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    process.stdout.write(`${topic ? topic.help : overview()}\n`);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new UsageError(`unknown command "${name}"`);
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help) {
      process.stdout.write(`${command.help}\n`);
      return 0;
    }
    return (await command.run(values, positionals)) ?? 0;
  } catch (error) {
    const failure = describeFailure(error, command);
    if (rest.includes('--json')) {
      // For scripts: one JSON line on stderr, the same shape as the API's errors.
      process.stderr.write(
        `${JSON.stringify({ error: { code: failure.code, message: failure.message } })}\n`,
      );
    } else {
      process.stderr.write(`valet${command ? ` ${command.name}` : ''}: ${failure.message}${failure.hint}\n`);
    }
    // Interrupted (Ctrl-C): exit now, whatever the aborted step left running (a file being read).
    if (failure.code === 'interrupted') process.exit(failure.status);
    return failure.status;
  }
}

/** What a failure says: its code, one line, a hint for people, and the exit status. */
function describeFailure(
  error: unknown,
  command: Command | undefined,
): { code: string; message: string; hint: string; status: number } {
  if (error instanceof UsageError) {
    const help = command ? `valet ${command.name} --help` : 'valet --help';
    return { code: 'usage_error', message: oneLine(error.message), hint: ` (see "${help}")`, status: 2 };
  }
  const message = oneLine(error instanceof Error ? error.message : String(error));
  if (isValetError(error)) {
    const hint = hintOf(error) || networkHint(error);
    return { code: error.code, message, hint, status: 1 };
  }
  if (error instanceof CliError)
    return { code: error.code, message, hint: hintOf(error), status: error.status };
  const errno = error as NodeJS.ErrnoException & { port?: number; address?: string };
  if (errno.code === 'EADDRINUSE') {
    const where =
      errno.port !== undefined
        ? `port ${errno.port}${errno.address ? ` on ${errno.address}` : ''}`
        : 'the port';
    return {
      code: 'port_in_use',
      message: `${where} is already in use`,
      hint: ` (is another valet or server running there? ${portAdvice(command)})`,
      status: 1,
    };
  }
  return { code: 'error', message, hint: hintOf(error), status: 1 };
}

/** What to check when a server did not answer: the issuer the CLI was pointed at, or storage. */
function networkHint(error: ValetError): string {
  if (error.code !== 'network_error') return '';
  if (error instanceof NetworkError && error.target === 'storage') {
    return " (is storage running there? The issuer's keys point at the storage URL it was given: storageUrl, or valet dev's)";
  }
  return ' (is it running? --issuer or $VALET_ISSUER names the issuer)';
}

/** How to choose another port for this command: its --port flag, or the config file's `port`. */
function portAdvice(command: Command | undefined): string {
  if (command && 'port' in command.options) return 'choose another port with --port';
  if (command?.name === 'issuer') return 'choose another port with "port" in the config file';
  return 'choose another port';
}

/** Every failure is one line on stderr: multi-line messages (validation reports) are joined. */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.replace(/^\s*[✖→]\s*/, '').trim())
    .filter(Boolean)
    .join('; ');
}

process.exitCode = await main(process.argv.slice(2));
