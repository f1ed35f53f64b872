#!/usr/bin/env node
// What a maintainer runs to publish Valet to the npm registry (it is not there yet):
//
//   npm run release -- --dry-run     # everything but the upload: what would be published
//   npm run release                  # publish, from a clean main with the version not yet tagged
//
// It checks the working tree, packs exactly what `files` lists (prepack builds it) and runs
// `npm publish --provenance --access public`, which signs a provenance statement: run it from CI
// with an OIDC token (GitHub Actions' id-token: write), as npm requires for provenance. Then tag
// the release (git tag v<version>) and push the tag.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dryRun = process.argv.includes('--dry-run');
const { name, version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();

const problems = [];
if (git('status', '--porcelain') !== '') problems.push('the working tree has changes: commit or stash them');
const branch = git('rev-parse', '--abbrev-ref', 'HEAD');
if (branch !== 'main') problems.push(`releases are made from main, not ${branch}`);
if (git('tag', '--list', `v${version}`) !== '')
  problems.push(`v${version} is already tagged: raise the version`);
if (problems.length > 0) {
  const text = problems.map((p) => `  - ${p}`).join('\n');
  if (!dryRun) {
    process.stderr.write(`release: not publishing ${name}@${version}:\n${text}\n`);
    process.exit(1);
  }
  process.stderr.write(`release (dry run): a real release would stop here:\n${text}\n`);
}

const args = ['publish', '--provenance', '--access', 'public', ...(dryRun ? ['--dry-run'] : [])];
process.stderr.write(`release: npm ${args.join(' ')}\n`);
const published = spawnSync('npm', args, { cwd: root, stdio: 'inherit' });
if (published.status !== 0) process.exit(published.status ?? 1);
process.stderr.write(
  dryRun
    ? `release (dry run): ${name}@${version} would be published as listed above\n`
    : `release: ${name}@${version} published; now: git tag v${version} && git push origin v${version}\n`,
);
