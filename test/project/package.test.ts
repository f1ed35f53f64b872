// The published surface: `valet/token`, `valet/storage`, `valet/issuer` and `valet/client` resolve through the exports map to
// built JavaScript with type declarations beside it, and load without tsx. Built into a
// temporary copy of the package, so the repository's own dist/ is never touched by a test run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, appendFile, cp, mkdtemp, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import ts from 'typescript';
import { ROOT, runValet } from '../helpers/storage.js';

const run = promisify(execFile);

/**
 * Every name each entry point publishes (values and types), pinned: a name added or removed is a
 * decision, made here. Internals (the file store, the used-key ledger, range parsing, row types
 * outside the record-store contract) are not part of it.
 */
const PUBLIC_NAMES: Record<string, string[]> = {
  './token': [
    'DEFAULT_CLOCK_SKEW',
    'DEFAULT_MAX_LIFETIME',
    'ERROR_STATUS',
    'ErrorCode',
    'JwkSet',
    'KEY_QUERY_PARAM',
    'KeyResolver',
    'MAX_MINT_TTL_SECONDS',
    'MAX_OBJECT_KEY_BYTES',
    'MAX_SEGMENT_BYTES',
    'MAX_TOKEN_LENGTH',
    'MintOptions',
    'OPERATIONS',
    'Operation',
    'PrivateSigningJwk',
    'PublicSigningJwk',
    'SigningKey',
    'TrustedKeys',
    'VALET_KEY_ALG',
    'VALET_KEY_TYP',
    'ValetClaims',
    'ValetError',
    'VerifiedKey',
    'VerifyOptions',
    'buildClaims',
    'codeForStatus',
    'contentTypeAllowed',
    'decodeObjectKeyPath',
    'encodeObjectKeyPath',
    'generateSigningJwk',
    'httpStatus',
    'importSigningKey',
    'isCanonicalObjectKey',
    'isMediaRange',
    'isValetError',
    'keyUrl',
    'mediaTypeEssence',
    'mintValetKey',
    'normalizeObjectKey',
    'objectPath',
    'publicJwk',
    'randomKeyId',
    'signClaims',
    'utf8Length',
    'valetClaimsSchema',
    'verifyValetKey',
    'verifyValetKeyWithKey',
  ],
  './storage': [
    'JwksSource',
    'JwksSourceOptions',
    'StorageServer',
    'StorageServerOptions',
    'createStorageServer',
  ],
  './issuer': [
    'AuthorizeContext',
    'CallerInfo',
    'CompletedUpload',
    'DEFAULT_KEY_TTL',
    'DEFAULT_SHARE_TTL',
    'EventOutcome',
    'EventRecord',
    'GrantConstraints',
    'GrantRecord',
    'Identity',
    'Issuer',
    'IssuerOptions',
    'KeyConstraints',
    'KeyRequest',
    'MintedKey',
    'ObjectRecord',
    'OidcOptions',
    'OpenObject',
    'PostgresConnection',
    'PostgresRecordStore',
    'PostgresRecordStoreOptions',
    'Quota',
    'RecordStore',
    'ReserveResult',
    'RevocationRecord',
    'Rule',
    'RuleContext',
    'RuleOperation',
    'ShareLink',
    'ShareRecord',
    'SqliteRecordStore',
    'SqliteRecordStoreOptions',
    'StoreMultipart',
    'Usage',
    'ValidateHook',
    'ValidatedObject',
    'ValidationBacklog',
    'ValidationOptions',
    'ValidationQueue',
    'ValidationRecord',
    'ValidationStatus',
    'ValidatorSpec',
    'ValidatorVerdict',
    'bearerToken',
    'createIssuer',
    'oidcAuthenticator',
    'subjectSegment',
    'toNodeListener',
  ],
  './issuer/testing': ['recordStoreContract'],
  './client': [
    'BlobLike',
    'ClientOptions',
    'Download',
    'ErrorCode',
    'Grant',
    'Me',
    'NetworkError',
    'ObjectInfo',
    'Progress',
    'ReadUrl',
    'ResumeStore',
    'SavedUpload',
    'Share',
    'UploadData',
    'UploadOptions',
    'UploadResult',
    'ValetClient',
    'ValetError',
    'createClient',
    'fileResumeStore',
    'isValetError',
    'localStorageResumeStore',
    'memoryResumeStore',
  ],
  './client/node': ['openFile'],
  './uppy': ['ValetUploadBody', 'ValetUploader', 'ValetUploaderOptions'],
  './react': [
    'DropZone',
    'DropZoneProps',
    'UploadItem',
    'UploadState',
    'UploadStatus',
    'UseUpload',
    'UseUploads',
    'UseUploadsOptions',
    'useUpload',
    'useUploads',
  ],
  './drivers': [
    'CONSTRAINTS',
    'Constraint',
    'DriverContext',
    'Enforcement',
    'EnforcementTable',
    'HeadResult',
    'MultipartUploads',
    'ResumableUploads',
    'SignOptions',
    'SignedRequest',
    'StorageDriver',
    'StoredPart',
    'TusUploads',
    'ValetStorageDriver',
    'ValetStorageDriverOptions',
  ],
  './drivers/s3': ['PresignedRequest', 'S3Driver', 'S3DriverOptions', 'safeResponseType'],
  './drivers/azure': ['AzureDriver', 'AzureDriverOptions', 'AzureTokenCredential'],
  './drivers/gcs': ['GcsCredentialOptions', 'GcsDriver', 'GcsDriverOptions'],
  './drivers/memory': ['MemoryDriver', 'MemoryDriverOptions', 'MemoryObject'],
  './drivers/testing': ['DriverUnderTest', 'driverContract'],
};

/** The names each entry point's type declarations export, as TypeScript sees them. */
function publishedNames(
  pkgDir: string,
  exportsMap: Record<string, { types: string }>,
): Record<string, string[]> {
  const entries = Object.keys(PUBLIC_NAMES);
  const files = entries.map((entry) => path.join(pkgDir, exportsMap[entry]?.types ?? `missing ${entry}`));
  const program = ts.createProgram(files, {
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  });
  const checker = program.getTypeChecker();
  return Object.fromEntries(
    entries.map((entry, i) => {
      const source = program.getSourceFile(files[i] as string);
      const symbol = source && checker.getSymbolAtLocation(source);
      return [
        entry,
        symbol
          ? checker
              .getExportsOfModule(symbol)
              .map((s) => s.name)
              .sort()
          : [],
      ];
    }),
  );
}

describe('package', () => {
  let pkgDir: string;
  before(async () => {
    pkgDir = path.join(await mkdtemp(path.join(tmpdir(), 'valet-pkg-')), 'valet');
    await run(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        path.join(pkgDir, 'dist'),
      ],
      { cwd: ROOT },
    );
    for (const part of ['package.json', 'bin', 'src'])
      await cp(path.join(ROOT, part), path.join(pkgDir, part), { recursive: true });
    await symlink(path.join(ROOT, 'node_modules'), path.join(pkgDir, 'node_modules'));
    await run(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), pkgDir]);
  });

  it('exposes valet/token, valet/storage, valet/issuer and valet/client as built ESM with types', async () => {
    const pkg = JSON.parse(await readFile(path.join(pkgDir, 'package.json'), 'utf8'));
    assert.equal(pkg.name, 'valet');
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.bin.valet, 'bin/valet.js');
    for (const entry of [
      './token',
      './storage',
      './issuer',
      './issuer/testing',
      './client',
      './uppy',
      './react',
      './drivers',
      './drivers/s3',
      './drivers/azure',
      './drivers/gcs',
      './drivers/memory',
      './drivers/testing',
    ]) {
      await access(path.join(pkgDir, pkg.exports[entry].types));
      await access(path.join(pkgDir, pkg.exports[entry].default));
    }
    const script = `
      const token = await import('valet/token');
      const storage = await import('valet/storage');
      const issuer = await import('valet/issuer');
      const client = await import('valet/client');
      const drivers = await import('valet/drivers');
      const memory = await import('valet/drivers/memory');
      const key = await token.importSigningKey(await token.generateSigningJwk());
      const t = await token.mintValetKey(key, { op: 'get', object: 'a', subject: 's', ttl: 60 });
      const trusted = await token.TrustedKeys.fromJwks({ keys: [token.publicJwk(key.jwk)] });
      const claims = await token.verifyValetKey(t, { keys: trusted });
      console.log(JSON.stringify({ op: claims.op, create: typeof storage.createStorageServer,
        issuer: typeof issuer.createIssuer, client: typeof client.createClient,
        drivers: [new drivers.ValetStorageDriver({ url: 'http://s.test' }).name, new memory.MemoryDriver().name] }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: pkgDir });
    assert.deepEqual(JSON.parse(stdout), {
      op: 'get',
      create: 'function',
      issuer: 'function',
      client: 'function',
      drivers: ['valet', 'memory'],
    });

    // What the entry points load: every module their static imports reach, and the packages named.
    const reach = async (entries: string[]) => {
      const files = new Set<string>();
      const bare: Array<{ spec: string; from: string }> = [];
      const walk = async (file: string): Promise<void> => {
        if (files.has(file)) return;
        files.add(file);
        const text = await readFile(file, 'utf8');
        for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/g)) {
          const spec = match[1] as string;
          if (spec.startsWith('.')) await walk(path.resolve(path.dirname(file), spec));
          else bare.push({ spec, from: path.relative(pkgDir, file) });
        }
      };
      for (const entry of entries) await walk(path.join(pkgDir, pkg.exports[entry].default));
      return { files, bare };
    };
    // The AWS SDK is loaded by valet/drivers/s3 only, Azure's by valet/drivers/azure only (and the
    // GCS driver loads none, nor does any other entry point's): no other
    // entry point's static imports reach either. `pg` is loaded only when an issuer opens a
    // postgres:// database (a dynamic import): no static import reaches it.
    const sdksFrom = async (entries: string[]): Promise<string[]> => {
      const specs = new Set((await reach(entries)).bare.map((b) => b.spec));
      return [...specs]
        .filter((spec) => spec.startsWith('@aws-sdk/') || spec.startsWith('@azure/') || spec === 'pg')
        .sort();
    };
    assert.deepEqual(
      await sdksFrom(['./token', './storage', './issuer', './client', './drivers', './drivers/memory']),
      [],
    );
    assert.deepEqual(await sdksFrom(['./drivers/azure']), ['@azure/storage-blob']);
    // The GCS driver signs with node:crypto: it loads no SDK, nothing but Valet's own dependencies.
    assert.deepEqual(
      (await reach(['./drivers/gcs'])).bare.filter(
        (b) => !b.spec.startsWith('node:') && !(b.spec in pkg.dependencies),
      ),
      [],
    );
    assert.ok((await sdksFrom(['./drivers/s3'])).every((spec) => spec.startsWith('@aws-sdk/')));
    assert.ok(Object.keys(pkg.peerDependenciesMeta).every((name) => pkg.peerDependenciesMeta[name].optional));

    // valet/client has zero runtime dependencies: every module it loads is its own, token's errors,
    // or wire modules that import no package (the casing of bodies, a key's grant), shared with
    // the issuer.
    const client = await reach(['./client']);
    for (const { spec, from } of client.bare)
      assert.ok(spec.startsWith('.'), `valet/client imports ${spec} (from ${from})`);
    const loaded = [...client.files].map((f) => path.relative(path.join(pkgDir, 'dist'), f));
    assert.deepEqual(
      loaded.filter((f) => !f.startsWith('client/')).sort(),
      ['token/errors.js', 'wire/case.js', 'wire/keys.js'],
      'the client loads its own modules, token/errors and wire modules without packages only',
    );
  });

  it('publishes exactly the pinned names from each entry point', async () => {
    const pkg = JSON.parse(await readFile(path.join(pkgDir, 'package.json'), 'utf8'));
    const entries = Object.keys(pkg.exports).filter((entry) => entry !== './package.json');
    assert.deepEqual(
      entries.sort(),
      Object.keys(PUBLIC_NAMES).sort(),
      'every entry point has its names pinned',
    );
    assert.deepEqual(publishedNames(pkgDir, pkg.exports), PUBLIC_NAMES);
  });

  it('runs the build made from these very sources, whatever the file times, and the sources otherwise', async () => {
    const main = path.join(pkgDir, 'dist/cli/main.js');
    await writeFile(main, `console.log('the build');\n${await readFile(main, 'utf8')}`);
    const version = async () =>
      (await run(process.execPath, [path.join(pkgDir, 'bin/valet.js'), '--version'])).stdout;
    // Sources newer than the build (a clone checked out after the build was copied in): still the build.
    const later = new Date(Date.now() + 3600_000);
    await utimes(path.join(pkgDir, 'src/cli/main.ts'), later, later);
    assert.match(await version(), /^the build\n/);
    // A source edited since the build: the sources run (the build would be stale).
    await appendFile(path.join(pkgDir, 'src/cli/main.ts'), '\n// edited\n');
    assert.equal(
      (await version()).trim(),
      JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).version,
    );
  });

  it('runs the CLI from the sources when forced, as from a clone with no build', async () => {
    const result = await runValet(['--version'], { env: { VALET_FROM_SOURCE: '1' } });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout.trim(),
      JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).version,
    );
  });
});
