import { z } from 'zod';
import type { FieldsOf } from '../../token/same-keys.js';
import type { GcsDriverOptions } from './index.js';

/**
 * The GCS driver's settings that a configuration file can hold (the key comes from the
 * environment, never from a file the CLI prints): `valet issuer --config`'s `gcs` block.
 */
export const gcsSettingsSchema = z
  .object({
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, '3 to 222 of a-z, 0-9, dot, dash and underscore'),
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    sessionOrigin: z.url({ protocol: /^https?$/ }).optional(),
  })
  .strict();

/** What {@link gcsSettingsSchema} holds: each field is one of {@link GcsDriverOptions}'s. */
export type GcsSettings = z.infer<typeof gcsSettingsSchema>;

// Every setting is an option of the driver, of the same type.
const settingsAreOptions: FieldsOf<GcsSettings, GcsDriverOptions> = true;
void settingsAreOptions;
