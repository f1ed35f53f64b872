import { z } from 'zod';
import type { FieldsOf } from '../../token/same-keys.js';
import type { S3DriverOptions } from './index.js';

/**
 * The S3 driver's settings that a configuration file can hold (credentials come from the
 * environment, never from a file): `valet issuer --config`'s `s3` block is built from this. No SDK
 * here, so reading a config does not load the AWS SDK.
 */
export const s3SettingsSchema = z
  .object({
    bucket: z.string().min(1),
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    region: z.string().min(1).optional(),
    forcePathStyle: z.boolean().optional(),
    checksums: z.boolean().optional(),
  })
  .strict();

/** What {@link s3SettingsSchema} holds: each field is one of {@link S3DriverOptions}'s, with its meaning. */
export type S3Settings = z.infer<typeof s3SettingsSchema>;

// Every setting is an option of the driver, of the same type.
const settingsAreOptions: FieldsOf<S3Settings, S3DriverOptions> = true;
void settingsAreOptions;
