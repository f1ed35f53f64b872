import { useCallback, useEffect, useRef, useState } from 'react';
import type { Progress, UploadData, UploadOptions, UploadResult, ValetClient } from '../client/client.js';

/**
 * Where an upload stands. `checking`: storage has it and its rule's validators are checking it
 * (nobody may read it yet); then `done` (published) or `error` (`content_rejected`, the reason in
 * its message).
 */
export type UploadStatus = 'idle' | 'uploading' | 'checking' | 'done' | 'error' | 'cancelled';

/** The state {@link useUpload} renders from. */
export interface UploadState {
  status: UploadStatus;
  /** Bytes sent so far, while uploading (and what was sent when it ended). */
  progress: Progress | null;
  /** What storage committed, once `done`. */
  result: UploadResult | null;
  /** Why it failed, once `error`: Valet's message, with its stable code on `code` for a refusal. */
  error: (Error & { code?: string }) | null;
}

/** What {@link useUpload} returns: the state, and what to do with it. */
export interface UseUpload extends UploadState {
  /** Starts an upload (cancelling one under way); resolves with its result, or `undefined`. */
  upload(data: UploadData, options?: UploadOptions): Promise<UploadResult | undefined>;
  /** Cancels the upload under way: it is ended at storage, not kept for resuming. */
  cancel(): void;
  /** Back to `idle` (cancels an upload under way). */
  reset(): void;
}

const IDLE: UploadState = { status: 'idle', progress: null, result: null, error: null };

/**
 * One upload at a time through a Valet client, as React state: status, progress, result, error,
 * and `upload`, `cancel`, `reset`. An upload under way is cancelled when the component unmounts.
 *
 * @example
 * ```tsx
 * const { upload, status, progress, error } = useUpload(valet)
 * <input type="file" onChange={(e) => upload(e.currentTarget.files![0])} />
 * ```
 */
export function useUpload(client: ValetClient, defaults: UploadOptions = {}): UseUpload {
  const [state, setState] = useState<UploadState>(IDLE);
  const running = useRef<AbortController | null>(null);
  const latest = useRef(defaults);
  latest.current = defaults;
  useEffect(() => () => running.current?.abort(), []);

  const upload = useCallback(
    async (data: UploadData, options: UploadOptions = {}): Promise<UploadResult | undefined> => {
      running.current?.abort();
      const controller = new AbortController();
      running.current = controller;
      const mine = () => running.current === controller;
      const size = sizeOf(data);
      setState({
        status: 'uploading',
        progress: { loaded: 0, ...(size !== undefined && { total: size }) },
        result: null,
        error: null,
      });
      const merged = { keepOnAbort: false, ...latest.current, ...options };
      try {
        const result = await client.upload(data, {
          ...merged,
          signal: controller.signal,
          onProgress: (progress) => {
            if (mine()) setState((s) => ({ ...s, progress }));
            merged.onProgress?.(progress);
          },
          onValidation: (validation) => {
            if (mine() && validation.status === 'pending') setState((s) => ({ ...s, status: 'checking' }));
            merged.onValidation?.(validation);
          },
        });
        if (!mine()) return undefined;
        running.current = null;
        setState((s) => ({ status: 'done', progress: s.progress, result, error: null }));
        return result;
      } catch (error) {
        if (!mine()) return undefined;
        running.current = null;
        const cancelled = controller.signal.aborted;
        setState((s) => ({
          ...s,
          status: cancelled ? 'cancelled' : 'error',
          error: cancelled ? null : asError(error),
        }));
        return undefined;
      }
    },
    [client],
  );
  const cancel = useCallback(() => running.current?.abort(), []);
  const reset = useCallback(() => {
    const controller = running.current;
    running.current = null;
    controller?.abort();
    setState(IDLE);
  }, []);
  return { ...state, upload, cancel, reset };
}

function sizeOf(data: UploadData): number | undefined {
  if (typeof data === 'string') return new TextEncoder().encode(data).byteLength;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return typeof (data as { size?: unknown }).size === 'number' ? (data as { size: number }).size : undefined;
}

function asError(error: unknown): Error & { code?: string } {
  return error instanceof Error ? error : new Error(String(error));
}
