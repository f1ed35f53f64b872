import * as fs from 'node:fs/promises';
import path from 'node:path';
import { ValetError } from '../../token/errors.js';

/**
 * Takes a data directory's lock file (the PID of the process using it); takes it over when its
 * owner is gone (a crash). Refuses while another live process holds it.
 */
export async function takeLockFile(lockFile: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = Number.parseInt(await fs.readFile(lockFile, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new ValetError('invalid_options', `${path.dirname(lockFile)} is in use by process ${pid}`);
    }
    // The owner is gone (it crashed): take the directory over.
    await fs.rm(lockFile, { force: true });
  }
  throw new ValetError('invalid_options', `cannot lock ${path.dirname(lockFile)}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
