import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tinyPng } from '../../../../test/helpers/files.js';
import { codeOf, type RouteIssuer, routeIssuer } from '../../../../test/helpers/issuer-routes.js';
import type { CompletedUpload } from '../../api.js';
import type { Rule } from '../../rules.js';
import type { ValidateHook } from '../../validation/validators.js';

/** A hook that answers only when the test lets it, and counts its calls. */
function gate() {
  let open: (verdict: { ok: true } | { reject: string }) => void = () => {};
  let calls = 0;
  let answer = new Promise<{ ok: true } | { reject: string }>((resolve) => {
    open = resolve;
  });
  const hook: ValidateHook = async (object, read) => {
    calls++;
    // The hook reads the bytes it is shown.
    const first = await read();
    first.destroy();
    assert.equal(object.owner, 'alice');
    return answer;
  };
  return {
    hook,
    calls: () => calls,
    decide(verdict: { ok: true } | { reject: string }) {
      open(verdict);
      answer = Promise.resolve(verdict);
    },
    /** Holds the next checks again until the next decide(). */
    hold() {
      answer = new Promise((resolve) => {
        open = resolve;
      });
    },
  };
}

function rules(hook?: ValidateHook): Record<string, Rule> {
  return {
    upload: {
      op: 'put',
      prefix: 'users/{subject}/',
      maxSize: 100_000,
      contentTypes: ['text/*', 'image/*'],
      validate: hook ? ['type', hook] : ['type'],
    },
    read: { op: 'get', prefix: 'users/{subject}/' },
    share: { op: 'share', prefix: 'users/{subject}/', ttl: 3600 },
  };
}

async function put(r: RouteIssuer, name: string, body: Uint8Array, contentType: string) {
  const minted = await r.json<{
    id: string;
    url: string;
    headers: Record<string, string>;
    constraints: object;
  }>('/v1/keys', {
    user: 'alice',
    body: { op: 'put', name, content_type: contentType, size: body.byteLength },
  });
  assert.equal(minted.status, 201, JSON.stringify(minted.body));
  assert.equal((minted.body.constraints as { hold?: boolean }).hold, true, 'the key holds the upload');
  const stored = await r.memory.fetch(
    new Request(minted.body.url, { method: 'PUT', headers: minted.body.headers, body: body }),
  );
  assert.ok(stored.ok);
  const done = await r.json<Record<string, unknown>>(`/v1/keys/${minted.body.id}/complete`, {
    user: 'alice',
    body: {},
  });
  return { id: minted.body.id, done };
}

async function verdict(r: RouteIssuer, id: string) {
  return (
    await r.json<{ status: string; reason?: string; object: string }>(`/v1/keys/${id}/validation?wait=10`, {
      user: 'alice',
    })
  ).body;
}

describe('validated uploads (memory store)', () => {
  it('keeps an upload unreadable, unshared and pending until its validators pass it', async (t) => {
    const g = gate();
    const heard: CompletedUpload[] = [];
    const r = await routeIssuer({ onUploadComplete: (u) => void heard.push(u) }, rules(g.hook));
    t.after(() => r.issuer.close());
    const { id, done } = await put(r, 'cat.png', tinyPng(), 'image/png');
    assert.equal(done.status, 200);
    assert.equal(done.body.validation, 'pending');
    const object = 'users/alice/cat.png';
    const read = await r.json('/v1/keys', { user: 'alice', body: { op: 'get', object } });
    assert.equal(read.status, 409);
    assert.equal(codeOf(read.body), 'object_pending');
    const link = await r.json('/v1/shares', { user: 'alice', body: { object, ttl: 60 } });
    assert.equal(codeOf(link.body), 'object_pending');
    const listing = await r.json<{ objects: Array<{ object: string; validation?: string }> }>('/v1/objects', {
      user: 'alice',
    });
    assert.deepEqual(
      listing.body.objects.map((o) => [o.object, o.validation]),
      [[object, 'pending']],
    );
    const bobs = await r.json<{ objects: unknown[] }>('/v1/objects', { user: 'bob' });
    assert.deepEqual(bobs.body.objects, []);
    const waiting = await r.json<{ status: string }>(`/v1/keys/${id}/validation`, { user: 'alice' });
    assert.equal(waiting.body.status, 'pending');
    assert.equal((await r.json(`/v1/keys/${id}/validation`, { user: 'bob' })).status, 404, "not bob's");
    assert.equal(heard.length, 0, 'the app hears of it with its verdict');

    g.decide({ ok: true });
    assert.deepEqual(await verdict(r, id), { object, status: 'published' });
    assert.equal((await r.json('/v1/keys', { user: 'alice', body: { op: 'get', object } })).status, 201);
    assert.equal((await r.json('/v1/shares', { user: 'alice', body: { object, ttl: 60 } })).status, 201);
    const listed = await r.json<{ objects: Array<{ validation?: string }> }>('/v1/objects', {
      user: 'alice',
    });
    assert.equal(listed.body.objects[0]?.validation, undefined);
    assert.equal(heard.length, 1);
    assert.equal(heard[0]?.status, 'published');
    assert.equal(heard[0]?.object, object);
    assert.equal(g.calls(), 1);
  });

  it('opens no link made before while the same bytes, uploaded again, are checked', async (t) => {
    const g = gate();
    g.decide({ ok: true });
    const r = await routeIssuer({}, rules(g.hook));
    t.after(() => r.issuer.close());
    const first = await put(r, 'same.png', tinyPng(), 'image/png');
    assert.equal((await verdict(r, first.id)).status, 'published');
    const link = await r.json<{ url: string }>('/v1/shares', {
      user: 'alice',
      body: { object: 'users/alice/same.png', ttl: 60 },
    });
    assert.equal((await r.call(new URL(link.body.url).pathname)).status, 302, 'the link works');
    // The same bytes again (the same ETag), held this time until the test decides.
    g.hold();
    const again = await put(r, 'same.png', tinyPng(), 'image/png');
    assert.equal(again.done.body.validation, 'pending');
    const opened = await r.call(new URL(link.body.url).pathname);
    assert.equal(opened.status, 409, 'no key through the old link while the new version is checked');
    assert.equal(codeOf(await opened.json()), 'object_pending');
    g.decide({ ok: true });
    assert.equal((await verdict(r, again.id)).status, 'published');
  });

  it('rejects HTML declared image/png: removed, uncounted, the reason in words', async (t) => {
    const heard: CompletedUpload[] = [];
    const r = await routeIssuer({ onUploadComplete: (u) => void heard.push(u) }, rules());
    t.after(() => r.issuer.close());
    const html = Buffer.from('<html><script>steal()</script></html>');
    const { id, done } = await put(r, 'fake.png', html, 'image/png');
    // Decided already, or not yet: either way the verdict is the same.
    if (done.status !== 200) assert.equal(codeOf(done.body), 'content_rejected');
    const v = await verdict(r, id);
    assert.equal(v.status, 'rejected');
    assert.match(v.reason ?? '', /not image\/png.*\(type check\)/);
    assert.equal(r.memory.objects.has('users/alice/fake.png'), false, 'removed from the store');
    const listing = await r.json<{ objects: unknown[] }>('/v1/objects', { user: 'alice' });
    assert.deepEqual(listing.body.objects, []);
    const me = await r.json<{ quota: { used_bytes: number; used_objects: number } }>('/v1/me', {
      user: 'alice',
    });
    assert.deepEqual([me.body.quota.used_bytes, me.body.quota.used_objects], [0, 0], 'not counted');
    assert.equal(heard[0]?.status, 'rejected');
    assert.match(heard[0]?.reason ?? '', /not image\/png/);
    const again = await r.json(`/v1/keys/${id}/complete`, { user: 'alice', body: {} });
    assert.equal(codeOf(again.body), 'content_rejected', 'completing again says it was rejected');
  });

  it('retries a validator that fails, never publishing without its answer', async (t) => {
    let calls = 0;
    const flaky: ValidateHook = async () => {
      calls++;
      if (calls === 1) throw new Error('the scanner is down');
      return { ok: true };
    };
    const r = await routeIssuer({}, rules(flaky));
    t.after(() => r.issuer.close());
    const { id } = await put(r, 'a.txt', Buffer.from('words'), 'text/plain');
    const first = await r.json<{ status: string }>(`/v1/keys/${id}/validation?wait=1`, { user: 'alice' });
    assert.equal(first.body.status, 'pending', 'no answer is no verdict');
    assert.deepEqual(await verdict(r, id), { object: 'users/alice/a.txt', status: 'published' });
    assert.equal(calls, 2);
    const validation = await r.issuer.records.validations?.get(id);
    assert.equal(validation?.attempts, 1);
    assert.equal(validation?.lastError, 'the scanner is down');
  });

  it('runs at most `concurrency` validations at once, and says in readiness and metrics what waits', async (t) => {
    let running = 0;
    let most = 0;
    let open = () => {};
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    const slow: ValidateHook = async () => {
      running++;
      most = Math.max(most, running);
      await opened;
      running--;
      return { ok: true };
    };
    const r = await routeIssuer({ validation: { concurrency: 1, stuckAfter: 1 } }, rules(slow));
    t.after(() => r.issuer.close());
    const ids = [];
    for (const name of ['a.txt', 'b.txt', 'c.txt'])
      ids.push((await put(r, name, Buffer.from(name), 'text/plain')).id);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(most, 1, 'one at a time');
    const ready = await r.json<{
      checks: Record<string, { status: string; problem?: string; pending?: number }>;
    }>('/readyz');
    assert.equal(ready.body.checks.validation?.status, 'degraded', 'an upload waited past stuckAfter');
    assert.match(ready.body.checks.validation?.problem ?? '', /3 upload\(s\) wait for their verdict/);
    const metrics = (await r.issuer.metrics()).text;
    assert.match(metrics, /^valet_issuer_validations_pending 3$/m);
    assert.match(metrics, /^valet_issuer_validation_oldest_seconds [1-9]/m);
    open();
    for (const id of ids) assert.equal((await verdict(r, id)).status, 'published');
    assert.equal(most, 1);
    assert.match(
      (await r.issuer.metrics()).text,
      /^valet_issuer_validations_total\{outcome="published"\} 3$/m,
    );
    const after = await r.json<{ checks: Record<string, { status: string }> }>('/readyz');
    assert.equal(after.body.checks.validation?.status, 'ok');
  });

  it('refuses, at creation, what cannot validate', async () => {
    await assert.rejects(
      routeIssuer({}, { scan: { op: 'put', validate: ['clamav'] } }),
      /set validation.clamd to clamd's HOST:PORT/,
    );
    await assert.rejects(
      routeIssuer({ validation: { clamd: 'nowhere' } }, { scan: { op: 'put', validate: ['clamav'] } }),
      /validation.clamd: clamd must be HOST:PORT or an absolute socket path/,
    );
    await assert.rejects(
      routeIssuer({}, { r: { op: 'get', validate: ['type'] } }),
      /validate applies to put rules only/,
    );
  });
});
