import type { AzureDriver, AzureDriverOptions } from '../drivers/azure/index.js';
import type { AzureSettings } from '../drivers/azure/settings.js';
import { UsageError } from './args.js';

/** The `azure` block of `valet issuer --config`, and what `valet dev --storage azure` takes. */
export type AzureCliOptions = AzureSettings;

/**
 * The Azure driver for the CLI. Credentials come from the environment, never from a file the CLI
 * prints or logs: `AZURE_STORAGE_CONNECTION_STRING` (as the portal and Azurite show it), or
 * `AZURE_STORAGE_KEY` with `accountName`. The SDK is an optional peer dependency, loaded only here.
 */
export async function azureDriver(options: AzureCliOptions, what: string): Promise<AzureDriver> {
  const connectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  const accountKey = process.env.AZURE_STORAGE_KEY;
  const extra = {
    ...(options.clockSkew !== undefined && { clockSkew: options.clockSkew }),
    ...(options.sasVersion !== undefined && { sasVersion: options.sasVersion }),
  };
  let driverOptions: AzureDriverOptions;
  if (connectionString) {
    driverOptions = { container: options.container, connectionString, ...extra };
  } else if (accountKey && options.accountName) {
    driverOptions = {
      container: options.container,
      accountName: options.accountName,
      accountKey,
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      ...extra,
    };
  } else {
    throw new UsageError(
      `${what} needs AZURE_STORAGE_CONNECTION_STRING in the environment (or AZURE_STORAGE_KEY with an account name)`,
    );
  }
  const { AzureDriver } = await import('../drivers/azure/index.js').catch((error: Error) => {
    throw new UsageError(
      `${what} needs the package @azure/storage-blob (npm install @azure/storage-blob): ${error.message}`,
    );
  });
  return new AzureDriver(driverOptions);
}
