// The `valet issuer --config` file: its schema, how it is read, and the issuer options it makes.
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { azureSettingsSchema } from '../drivers/azure/settings.js';
import { gcsSettingsSchema } from '../drivers/gcs/settings.js';
import { s3SettingsSchema } from '../drivers/s3/settings.js';
import type { StorageDriver } from '../drivers/types.js';
import { type OidcOptions, oidcOptionsSchema } from '../issuer/auth/oidc.js';
import { type IssuerOptions, isPostgresUrl } from '../issuer/issuer.js';
import { type Rule, ruleFields } from '../issuer/rules.js';
import { validationOptionsSchema } from '../issuer/validation/options.js';
import type { PrivateSigningJwk } from '../token/keys.js';
import { parseDuration, parseSize, UsageError } from './args.js';
import { azureDriver } from './azure.js';
import { configIssues, jsonSyntaxError } from './config-words.js';
import { gcsDriver } from './gcs.js';
import { readSecretFile } from './secrets.js';

const size = z.union([z.number().int().min(0), z.string()]);
const seconds = z.union([z.number().int().min(1), z.string()]);

/**
 * A rule in the file: the issuer's own rule fields (see `ruleFields`), checked the same way, but
 * for what JSON cannot hold (a prefix function, an authorize hook, the app's own validator) and with
 * sizes and durations as text too ("10MiB", "5m"). The issuer checks the rule as a whole when it
 * starts.
 */
const configRule = ruleFields
  .omit({ prefix: true, authorize: true, validate: true })
  .extend({
    prefix: z.string().optional(),
    validate: z
      .array(z.enum(['type', 'clamav']))
      .min(1)
      .optional(),
    maxSize: size.optional(),
    minSize: size.optional(),
    ttl: seconds.optional(),
    // How old storage's revocation list may be for the rule's keys: 'strict' or a duration.
    revocation: z.union([z.literal('strict'), seconds]).optional(),
  })
  .strict();

/** The `valet issuer --config` file. Paths are relative to the file. */
const configSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    publicUrl: z.string().optional(),
    basePath: z.string().optional(),
    storageUrl: z.string().optional(),
    // The S3 driver's own settings, and whether to add the bucket-policy statement that refuses
    // server-side copies (default true).
    s3: s3SettingsSchema.extend({ refuseCopies: z.boolean().optional() }).strict().optional(),
    azure: azureSettingsSchema.optional(),
    gcs: gcsSettingsSchema.optional(),
    signingKeys: z.array(z.string()).min(1),
    storageSecretFile: z.string(),
    database: z.string().default('issuer.sqlite'),
    // Required, but checked after the rest so that its absence gets its own explanation.
    // The issuer's own OIDC options, with the token age as a duration too ("1h").
    oidc: oidcOptionsSchema.extend({ maxTokenAge: seconds.optional() }).strict().optional(),
    rules: z.record(z.string(), configRule),
    quota: z
      .object({ maxBytes: size.optional(), maxObjects: z.number().int().min(0).optional() })
      .strict()
      .optional(),
    maxTtl: seconds.optional(),
    // How validated uploads are checked: clamd's address, and the issuer's own validation options.
    validation: validationOptionsSchema.optional(),
    admins: z.array(z.string()).optional(),
    corsOrigins: z.array(z.string()).optional(),
    trustProxy: z.boolean().optional(),
    // Prometheus metrics: at /metrics on the issuer's port, or on a port of their own.
    metrics: z.boolean().optional(),
    metricsPort: z.number().int().min(0).max(65535).optional(),
    // On SIGTERM, how long requests in flight may take (seconds or "30s"). Default 30 s.
    drain: z.union([z.number().int().min(0), z.string()]).optional(),
    logLevel: z.string().default('info'),
  })
  .strict()
  .refine((c) => [c.storageUrl, c.s3, c.azure, c.gcs].filter((s) => s !== undefined).length <= 1, {
    message: 'one store: storageUrl, s3, azure or gcs',
  });

/** A `valet issuer --config` file, as read. */
export type Config = z.infer<typeof configSchema>;

/** Reads and checks a config file: a refusal names what is wrong and where. */
export async function readConfig(file: string): Promise<CheckedConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the config ${file}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw jsonSyntaxError(file, text, error as Error);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success)
    throw new UsageError(`invalid config ${file}: ${configIssues(configSchema, parsed.error)}`);
  if (!parsed.data.oidc) {
    throw new UsageError(
      `invalid config ${file}: no "oidc" block. A config-file issuer authenticates callers with ` +
        'OpenID Connect: add "oidc": { "issuer": "https://id.example.com", "audience": "my-app" }. ' +
        'To authenticate with your app\'s own code, mount createIssuer in your app instead (README, "In your app")',
    );
  }
  return parsed.data as CheckedConfig;
}

/** A config file as {@link readConfig} returns it: with its `oidc` block. */
export type CheckedConfig = Config & { oidc: NonNullable<Config['oidc']> };

/** The issuer's options from a config file (paths relative to its directory). */
export async function issuerOptions(config: CheckedConfig, dir: string): Promise<IssuerOptions> {
  const at = (p: string) => path.resolve(dir, p);
  const signingKeys: PrivateSigningJwk[] = [];
  for (const [i, keyFile] of config.signingKeys.entries()) {
    signingKeys.push(await readKeyFile(at(keyFile), `signingKeys[${i}]`));
  }
  const store: { storageUrl: string } | { driver: StorageDriver } = config.s3
    ? { driver: await s3Driver(config.s3) }
    : config.azure
      ? { driver: await azureDriver(config.azure, 'an "azure" config') }
      : config.gcs
        ? { driver: await gcsDriver(config.gcs, 'a "gcs" config') }
        : config.storageUrl !== undefined
          ? { storageUrl: config.storageUrl }
          : noStore();
  return {
    signingKeys,
    ...store,
    storageSecret: await readSecretFile(at(config.storageSecretFile)).catch((error: Error) => {
      throw new UsageError(`storageSecretFile: ${error.message} ("npx valet secret --out FILE" makes one)`);
    }),
    // A file is relative to the config's folder; a postgres:// URL is used as it is.
    database: isPostgresUrl(config.database) ? config.database : at(config.database),
    oidc: oidcFrom(config.oidc),
    rules: rulesFrom(config.rules),
    ...(config.quota && {
      quota: {
        ...(config.quota.maxBytes !== undefined && {
          maxBytes: toBytes(config.quota.maxBytes, 'quota.maxBytes'),
        }),
        ...(config.quota.maxObjects !== undefined && { maxObjects: config.quota.maxObjects }),
      },
    }),
    ...(config.maxTtl !== undefined && { maxTtl: toSeconds(config.maxTtl, 'maxTtl') }),
    ...(config.validation && { validation: config.validation }),
    ...(config.publicUrl !== undefined && { publicUrl: config.publicUrl }),
    ...(config.basePath !== undefined && { basePath: config.basePath }),
    ...(config.admins && { admins: config.admins }),
    ...(config.corsOrigins && { corsOrigins: config.corsOrigins }),
    ...(config.trustProxy !== undefined && { trustProxy: config.trustProxy }),
    ...(config.metrics !== undefined && { metrics: config.metrics }),
  };
}

function noStore(): never {
  throw new UsageError(
    'the config names no store: add "storageUrl" (Valet storage, e.g. "http://127.0.0.1:9000"), an "s3", "azure" or "gcs" block',
  );
}

/** A signing key file named by `field` of the config; a refusal names the field and the fix. */
async function readKeyFile(file: string, field: string): Promise<PrivateSigningJwk> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError(
      `${field}: cannot read the signing key file ${file} (${code}); paths are relative to the config ` +
        'file, and "npx valet keygen --out FILE" makes a key',
    );
  }
  try {
    return JSON.parse(text) as PrivateSigningJwk;
  } catch {
    throw new UsageError(`${field}: ${file} is not a JSON key (make one with "npx valet keygen --out FILE")`);
  }
}

function oidcFrom(config: NonNullable<Config['oidc']>): OidcOptions {
  const { maxTokenAge, ...rest } = config;
  return {
    ...rest,
    ...(maxTokenAge !== undefined && { maxTokenAge: toSeconds(maxTokenAge, 'oidc.maxTokenAge') }),
  };
}

function rulesFrom(config: Config['rules']): Record<string, Rule> {
  const rules: Record<string, Rule> = {};
  for (const [name, r] of Object.entries(config)) {
    const { maxSize, minSize, ttl, revocation, ...rest } = r;
    rules[name] = {
      ...rest,
      ...(maxSize !== undefined && { maxSize: toBytes(maxSize, `rules.${name}.maxSize`) }),
      ...(minSize !== undefined && { minSize: toBytes(minSize, `rules.${name}.minSize`) }),
      ...(ttl !== undefined && { ttl: toSeconds(ttl, `rules.${name}.ttl`) }),
      ...(revocation !== undefined && {
        revocation: revocation === 'strict' ? 'strict' : toSeconds(revocation, `rules.${name}.revocation`),
      }),
    };
  }
  return rules;
}

async function s3Driver(s3: NonNullable<Config['s3']>): Promise<StorageDriver> {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new UsageError(
      'an "s3" config needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment',
    );
  }
  // The AWS SDK is an optional peer dependency, loaded only for an S3 config.
  const { S3Driver } = await import('../drivers/s3/index.js');
  const { refuseCopies: _, ...options } = s3;
  return new S3Driver({ ...options, credentials: { accessKeyId, secretAccessKey } });
}

function toBytes(value: number | string, field: string): number {
  return typeof value === 'number' ? value : parseSize(value, field);
}

/** A duration in whole seconds from a number or a string ("30s", "5m"); `field` names it. */
export function toSeconds(value: number | string, field: string): number {
  const s = typeof value === 'number' ? value : parseDuration(value, field);
  if (!Number.isInteger(s) || s < 1) throw new UsageError(`${field} must be a whole number of seconds`);
  return s;
}
