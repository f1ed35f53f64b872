// A TypeScript app using every entry point of the installed package: the types resolve, and a
// mistake is caught (the test checks that a wrong call fails to compile, too).
import { type ClientOptions, createClient, type UploadResult } from 'valet/client';
import { openFile } from 'valet/client/node';
import { type StorageDriver, ValetStorageDriver } from 'valet/drivers';
import { AzureDriver, type AzureDriverOptions } from 'valet/drivers/azure';
import { GcsDriver, type GcsDriverOptions } from 'valet/drivers/gcs';
import { MemoryDriver } from 'valet/drivers/memory';
import { S3Driver, type S3DriverOptions } from 'valet/drivers/s3';
import { driverContract } from 'valet/drivers/testing';
import { createIssuer, type Issuer, type IssuerOptions, type Rule, toNodeListener } from 'valet/issuer';
import { recordStoreContract } from 'valet/issuer/testing';
import { createStorageServer, type StorageServerOptions } from 'valet/storage';
import { type ErrorCode, generateSigningJwk, mintValetKey, type ValetClaims } from 'valet/token';

const rules: Record<string, Rule> = { upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 1024 } };
const options: IssuerOptions = {
  signingKeys: [await generateSigningJwk()],
  driver: new MemoryDriver() satisfies StorageDriver,
  storageSecret: 's'.repeat(43),
  database: ':memory:',
  authenticate: () => 'someone',
  rules,
};
const issuer: Issuer = await createIssuer(options);
const listener: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void =
  toNodeListener(issuer);
const clientOptions: ClientOptions = { issuer: 'http://127.0.0.1:8080', getToken: () => 't' };
const upload: (data: Blob) => Promise<UploadResult> = (data) => createClient(clientOptions).upload(data);
const code: ErrorCode = 'token_expired';
const claims: Pick<ValetClaims, 'op'> = { op: 'get' };
const s3: S3DriverOptions = { bucket: 'b', credentials: { accessKeyId: 'a', secretAccessKey: 's' } };
const azure: AzureDriverOptions = { container: 'uploads', accountName: 'acct', accountKey: 'a2V5' };
const gcs: GcsDriverOptions = {
  bucket: 'uploads',
  credentials: { accessId: 'GOOG1EXAMPLE0000', secret: 's' },
};
const storage: Pick<StorageServerOptions, 'dataDir'> = { dataDir: '/tmp' };
export const used = [
  listener,
  upload,
  code,
  claims,
  s3,
  azure,
  gcs,
  storage,
  openFile,
  ValetStorageDriver,
  S3Driver,
  AzureDriver,
  GcsDriver,
  driverContract,
  recordStoreContract,
  createStorageServer,
  mintValetKey,
];
await issuer.close();
