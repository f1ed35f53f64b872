import { z } from 'zod';
import type { FieldsOf } from '../../token/same-keys.js';
import type { AzureDriverOptions } from './index.js';

/**
 * The Azure driver's settings that a configuration file can hold (the account key or connection
 * string comes from the environment, never from a file): `valet issuer --config`'s `azure` block
 * is built from this. No SDK here, so reading a config does not load the Azure SDK.
 */
export const azureSettingsSchema = z
  .object({
    container: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/, '3 to 63 of a-z, 0-9 and -'),
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    accountName: z.string().min(1).optional(),
    clockSkew: z.number().int().min(0).optional(),
    sasVersion: z.string().min(1).optional(),
  })
  .strict();

/** What {@link azureSettingsSchema} holds: each field is one of {@link AzureDriverOptions}'s. */
export type AzureSettings = z.infer<typeof azureSettingsSchema>;

// Every setting is an option of the driver, of the same type.
const settingsAreOptions: FieldsOf<AzureSettings, AzureDriverOptions> = true;
void settingsAreOptions;
