// End-to-end: Prometheus (Debian's package) scrapes storage (metrics on a port of their own) and
// the issuer (/metrics on its port) while requests are made, and the series move with them;
// `promtool check metrics` finds nothing to fix in either exposition; no label carries a subject,
// a key or an object name.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { freePort } from '../helpers/storage.js';
import { eventually, startSystem } from '../helpers/system.js';

/** Prometheus scraping `targets` every second; stopped by PID when the test ends. */
async function startPrometheus(
  t: TestContext,
  targets: Array<{ job: string; target: string }>,
): Promise<{ query(expression: string): Promise<number | undefined> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  await writeFile(
    config,
    `global:\n  scrape_interval: 1s\nscrape_configs:\n${targets
      .map(({ job, target }) => `  - job_name: ${job}\n    static_configs:\n      - targets: ['${target}']\n`)
      .join('')}`,
  );
  const port = await freePort();
  const proc: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  t.after(() => {
    proc.kill('SIGKILL');
  });
  const api = `http://127.0.0.1:${port}/api/v1/query`;
  await eventually(
    async () =>
      (await fetch(`http://127.0.0.1:${port}/-/ready`).catch(() => undefined))?.ok ? true : undefined,
    20_000,
  );
  return {
    async query(expression) {
      const response = await fetch(`${api}?query=${encodeURIComponent(expression)}`);
      const body = (await response.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
      const value = body.data?.result?.[0]?.value[1];
      return value === undefined ? undefined : Number(value);
    },
  };
}

describe('metrics', () => {
  it('are scraped by Prometheus from storage and the issuer, and move as requests are made', async (t) => {
    const metricsPort = await freePort();
    const sys = await startSystem(t, {
      storageArgs: ['--metrics-port', String(metricsPort)],
      issuer: { metrics: true },
    });
    const prometheus = await startPrometheus(t, [
      { job: 'storage', target: `127.0.0.1:${metricsPort}` },
      { job: 'issuer', target: new URL(sys.served.url).host },
    ]);
    const alice = sys.client('alice');
    const uploaded = await alice.upload(new Blob(['metrics, one']), { name: 'm1.txt' });
    await (await alice.download(uploaded.key)).blob();
    const seen = (expression: string, atLeast: number) =>
      eventually(async () => {
        const value = await prometheus.query(expression);
        return value !== undefined && value >= atLeast ? value : undefined;
      }, 20_000);
    const puts = await seen('sum(valet_storage_requests_total{route="object",method="PUT"})', 1);
    const minted = await seen('sum(valet_issuer_keys_minted_total{rule="upload",op="put"})', 1);
    await seen('sum(valet_storage_sent_bytes_total{route="object"})', 12);
    await seen('sum(valet_issuer_record_store_seconds_count)', 1);
    // The gauges and the journal's figures are there too.
    await seen('sum(valet_storage_journal_flush_seconds_count)', 1);
    await seen('sum(valet_storage_journal_batch_records_sum)', 1);
    for (const gauge of [
      'valet_storage_connections_open',
      'valet_storage_events_waiting',
      'valet_storage_uploads_in_flight',
    ]) {
      await seen(gauge, 0);
    }

    for (let i = 0; i < 3; i++) await alice.upload(new Blob([`metrics, ${i}`]), { name: `m${i + 2}.txt` });
    assert.ok(
      (await seen('sum(valet_storage_requests_total{route="object",method="PUT"})', puts + 3)) >= puts + 3,
    );
    assert.ok(
      (await seen('sum(valet_issuer_keys_minted_total{rule="upload",op="put"})', minted + 3)) >= minted + 3,
    );
    const refused = await fetch(`${sys.storage.url}/o/users/alice/m1.txt`);
    assert.equal(refused.status, 401);
    await seen('sum(valet_storage_refusals_total{code="token_missing"})', 1);
    await seen('valet_storage_revocation_list_age_seconds', 0);

    // The expositions pass promtool, and name no subject, key or object.
    for (const url of [`http://127.0.0.1:${metricsPort}/metrics`, `${sys.served.url}/metrics`]) {
      const text = await (await fetch(url)).text();
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(lint.status, 0, `${url}: ${lint.stdout}${lint.stderr}`);
      assert.doesNotMatch(text, /alice|m1\.txt|users\//, `${url} names a subject or an object`);
    }
    assert.equal(
      (await fetch(`${sys.storage.url}/metrics`)).status,
      404,
      "not on storage's own port unless --metrics",
    );
  });
});
