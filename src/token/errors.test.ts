import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeForStatus, ERROR_STATUS, type ErrorCode, httpStatus, ValetError } from './errors.js';

describe('the error contract', () => {
  it('maps a status back to a code that is served with that same status', () => {
    for (const code of Object.keys(ERROR_STATUS) as ErrorCode[]) {
      const status = httpStatus(code);
      assert.equal(httpStatus(codeForStatus(status)), status, `${code} (${status})`);
    }
  });

  it('gives an answer without a code the code of its status, or of its class', () => {
    assert.equal(codeForStatus(413), 'entity_too_large');
    assert.equal(codeForStatus(409), 'offset_mismatch');
    assert.equal(codeForStatus(500), 'internal_error');
    assert.equal(codeForStatus(503), 'unavailable');
    assert.equal(codeForStatus(504), 'unavailable');
    assert.equal(codeForStatus(502), 'network_error');
    assert.equal(codeForStatus(418), 'bad_request');
  });

  it('renders a refusal as its code and message only', () => {
    const error = new ValetError('not_found', 'no such object', { cause: new Error('secret detail') });
    assert.equal(error.status, 404);
    assert.deepEqual(error.toJSON(), { error: { code: 'not_found', message: 'no such object' } });
  });
});
