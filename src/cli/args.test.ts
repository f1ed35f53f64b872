import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandArgs, parseDuration, parseSize, parseWholeSeconds, UsageError } from './args.js';

describe('CLI values', () => {
  it('says how to pass a value that starts with a dash (a key id can)', () => {
    const command = { options: { 'signing-key': { type: 'string' as const } }, run: async () => 0 };
    assert.throws(
      () => parseCommandArgs(command as never, ['--signing-key', '-Ab3']),
      (e) =>
        e instanceof UsageError &&
        e.message ===
          'the value after --signing-key starts with "-", so it reads as an option: write --signing-key=VALUE',
    );
    assert.equal(parseCommandArgs(command as never, ['--signing-key=-Ab3']).values['signing-key'], '-Ab3');
  });

  it('reads durations', () => {
    assert.equal(parseDuration('90s', '--ttl'), 90);
    assert.equal(parseDuration('5m', '--ttl'), 300);
    assert.equal(parseDuration('1h', '--ttl'), 3600);
    assert.equal(parseDuration('2d', '--ttl'), 172800);
    assert.equal(parseDuration('45', '--ttl'), 45);
    assert.equal(parseDuration('500ms', '--idle-timeout'), 0.5);
    for (const bad of ['', 'm', '5x', '-5s', '1h30m', '5 m'])
      assert.throws(() => parseDuration(bad, '--ttl'), UsageError);
    assert.throws(() => parseWholeSeconds('500ms', '--ttl'), UsageError);
    assert.throws(() => parseWholeSeconds('0s', '--ttl'), UsageError);
    assert.equal(parseWholeSeconds('0s', '--clock-skew', 0), 0);
  });

  it('reads sizes', () => {
    assert.equal(parseSize('1048576', '--max-size'), 1048576);
    assert.equal(parseSize('10MiB', '--max-size'), 10 * 2 ** 20);
    assert.equal(parseSize('5GB', '--max-size'), 5e9);
    assert.equal(parseSize('0', '--size'), 0);
    for (const bad of ['', '1.5MB', '-1', '10mb', '1e6', '99999999999TiB']) {
      assert.throws(() => parseSize(bad, '--max-size'), UsageError, bad);
    }
  });
});
