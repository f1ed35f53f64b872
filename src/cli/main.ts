import { readFileSync } from 'node:fs';
import { type Command, parseCommandArgs, UsageError } from './args.js';
import { dev } from './commands/dev.js';
import { issuer } from './commands/issuer.js';
import { jwks } from './commands/jwks.js';
import { keygen } from './commands/keygen.js';
import { mint } from './commands/mint.js';
import { ls, share, unshare } from './commands/objects.js';
import { secret } from './commands/secret.js';
import { storage } from './commands/storage.js';
import { download, upload } from './commands/transfer.js';

const COMMANDS: readonly Command[] = [
  dev,
  upload,
  download,
  ls,
  share,
  unshare,
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
    const prefix = `valet${command ? ` ${command.name}` : ''}`;
    if (error instanceof UsageError) {
      const hint = command ? `valet ${command.name} --help` : 'valet --help';
      process.stderr.write(`${prefix}: ${oneLine(error.message)} (see "${hint}")\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${prefix}: ${oneLine(message)}\n`);
    return 1;
  }
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
