import type {
  ValidatedObject,
  ValidateHook,
  ValidatorVerdict,
} from '../../src/issuer/validation/validators.js';

/**
 * A validator hook that holds every upload until the test opens the gate, then answers with
 * `verdict` (default: ok): the time between is when an upload is pending, for tests to look at.
 */
export function gate(verdict: (object: ValidatedObject) => ValidatorVerdict = () => ({ ok: true })): {
  hook: ValidateHook;
  open(): void;
} {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    hook: async (object) => {
      await opened;
      return verdict(object);
    },
    open: () => open(),
  };
}
