import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT } from './storage.js';

/** Where browser tests save their screenshots (not committed). */
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** Debian's chromium, driven by playwright-core (Playwright's own browser download cannot work here). */
export async function launchChromium(): Promise<Browser> {
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'])
    .toString()
    .trim();
  // Playwright gives every launch a fresh temporary profile, and runs headless by default.
  return chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Saves a screenshot of the page's current state under test-artifacts/. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Network conditions for {@link emulateNetwork}: upload bytes per second (default unthrottled), offline. */
export interface NetworkConditions {
  uploadThroughput?: number;
  offline?: boolean;
}

/**
 * Chromium's network emulation for one page (through the DevTools protocol): returns a function
 * that sets the conditions, as often as a test needs (slow uploads, a cut, back to normal).
 */
export async function emulateNetwork(
  context: BrowserContext,
  page: Page,
): Promise<(conditions: NetworkConditions) => Promise<void>> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  return async ({ uploadThroughput = -1, offline = false }) => {
    await cdp.send('Network.emulateNetworkConditions', {
      offline,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput,
    });
  };
}
