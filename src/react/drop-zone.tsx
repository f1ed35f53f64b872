import { type ReactNode, useId, useState } from 'react';
import type { UploadOptions, UploadResult, ValetClient } from '../client/client.js';
import { formatBytes } from '../token/units.js';
import { useUpload } from './use-upload.js';

/** Props of {@link DropZone}. */
export interface DropZoneProps {
  client: ValetClient;
  /** The issuer rule to upload with. */
  rule?: string;
  /** The object name proposed for a file; default: the file's name. */
  name?: (file: File) => string;
  /** What the file picker offers (the input's `accept`), e.g. `image/*`. */
  accept?: string;
  /** Bind the file's SHA-256 into its key (hashed in the browser first). */
  sha256?: boolean;
  /** Called with each finished upload. */
  onUploaded?: (result: UploadResult, file: File) => void;
  /** The zone's legend; default "Upload a file". */
  children?: ReactNode;
  className?: string;
}

/**
 * A minimal drop zone: drop a file on it, or choose one with the keyboard or a click; shows
 * progress with a Cancel button, "checking…" while its rule's validators check it, the result,
 * or Valet's refusal in words. Unstyled: style it through `className` and its `data-state`
 * (`idle`, `uploading`, `checking`, `done`, `error`, `cancelled`) and `data-over` (a file is
 * dragged over it) attributes.
 */
export function DropZone(props: DropZoneProps) {
  const { client, rule, sha256, accept } = props;
  const up = useUpload(client, { ...(rule !== undefined && { rule }), ...(sha256 && { sha256 }) });
  const [over, setOver] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const id = useId();
  const start = (chosen: File) => {
    setFile(chosen);
    const options: UploadOptions = { name: props.name ? props.name(chosen) : chosen.name };
    void up.upload(chosen, options).then((result) => result && props.onUploaded?.(result, chosen));
  };
  const busy = up.status === 'uploading' || up.status === 'checking';
  const total = up.progress?.total ?? file?.size ?? 0;
  const loaded = up.progress?.loaded ?? 0;
  return (
    // The drop target groups the file input, which keyboards and screen readers use.
    <fieldset
      className={props.className}
      data-state={up.status}
      data-over={over || undefined}
      onDragOver={(event) => {
        event.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(event) => {
        event.preventDefault();
        setOver(false);
        const dropped = event.dataTransfer.files[0];
        if (dropped && !busy) start(dropped);
      }}
    >
      <legend>{props.children ?? 'Upload a file'}</legend>
      <label htmlFor={id}>Drop a file here, or choose one</label>
      <input
        id={id}
        type="file"
        accept={accept}
        disabled={busy}
        onChange={(event) => {
          const chosen = event.currentTarget.files?.[0];
          event.currentTarget.value = '';
          if (chosen) start(chosen);
        }}
      />
      {up.status === 'uploading' && (
        <>
          <progress max={total || 1} value={loaded} aria-label={`Uploading ${file?.name ?? 'the file'}`} />
          <button type="button" onClick={up.cancel}>
            Cancel
          </button>
        </>
      )}
      <p role="status">
        {statusText(up.status, file, loaded, total, up.result, up.error?.code === 'content_rejected')}
      </p>
      {up.status === 'error' && <p role="alert">{up.error?.message}</p>}
    </fieldset>
  );
}

function statusText(
  status: string,
  file: File | null,
  loaded: number,
  total: number,
  result: UploadResult | null,
  rejected: boolean,
): string {
  const name = file?.name ?? 'the file';
  if (status === 'uploading') return `Uploading ${name}: ${formatBytes(loaded)} of ${formatBytes(total)}`;
  if (status === 'checking') return `Checking ${name}… (it is stored; nobody can read it until it passes)`;
  if (status === 'done' && result)
    return `Uploaded ${name} (${formatBytes(result.size)}) as ${result.object}`;
  if (status === 'cancelled') return `Cancelled ${name}; nothing was kept.`;
  if (status === 'error') return rejected ? `${name} was rejected.` : `Could not upload ${name}.`;
  return '';
}
