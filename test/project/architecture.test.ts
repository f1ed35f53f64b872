// The layout shows the roles, and stays that way: small files and functions, and imports that
// only point down the list of docs/architecture.md (token ← wire ← drivers, storage, issuer;
// sqlite ← storage, issuer; client takes token and wire types only; cli takes everything), and
// inside storage and the issuer, only between the areas the doc allows.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

const SRC = path.resolve(import.meta.dirname, '../../src');
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;

/** Source files that count: not tests, not the demo page's browser script. */
function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return full === path.join(SRC, 'web/browser') ? [] : sources(full);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [full] : [];
  });
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
}

function role(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0] as string;
}

/** What each role may import at run time, and as types only. */
const MAY_IMPORT: Record<string, { runtime: string[]; types: string[] }> = {
  token: { runtime: ['token'], types: ['token'] },
  wire: { runtime: ['token', 'wire'], types: ['token', 'wire'] },
  sqlite: { runtime: ['sqlite'], types: ['sqlite'] },
  drivers: { runtime: ['token', 'wire', 'drivers'], types: ['token', 'wire', 'drivers'] },
  storage: {
    runtime: ['token', 'wire', 'sqlite', 'storage'],
    types: ['token', 'wire', 'sqlite', 'storage'],
  },
  issuer: {
    runtime: ['token', 'wire', 'sqlite', 'drivers', 'issuer'],
    types: ['token', 'wire', 'sqlite', 'drivers', 'issuer'],
  },
  client: { runtime: ['token', 'wire', 'client'], types: ['token', 'wire', 'client'] },
  uppy: { runtime: ['token', 'wire', 'client', 'uppy'], types: ['token', 'wire', 'client', 'uppy'] },
  react: { runtime: ['token', 'wire', 'client', 'react'], types: ['token', 'wire', 'client', 'react'] },
};

/**
 * Areas inside a role (its sub-folders), and which areas of the same role each may import (as
 * values or types). A role's root files wire the areas and may import any of them. Every
 * sub-folder of a role listed here must be declared, so that a new one states its place.
 */
const AREAS: Record<string, Record<string, string[]>> = {
  storage: {
    disk: ['disk'],
    access: ['access', 'disk'],
    events: ['events', 'disk'],
    http: ['http', 'access', 'events', 'disk'],
  },
  issuer: {
    records: ['records'],
    auth: ['auth'],
    validation: ['validation'],
    domain: ['domain', 'auth', 'records', 'validation', ''],
    http: ['http', 'domain', 'auth', 'records', ''],
  },
};

/** A file's area inside its role: its first sub-folder there, or '' for the role's root. */
function area(file: string): string {
  const parts = path.relative(SRC, file).split(path.sep);
  return parts.length > 2 ? (parts[1] as string) : '';
}

describe('architecture', () => {
  it(`keeps every source file under ${MAX_FILE_LINES} lines`, () => {
    const long = sources()
      .map((file) => [path.relative(SRC, file), readFileSync(file, 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > MAX_FILE_LINES);
    assert.deepEqual(long, []);
  });

  it(`keeps every function under ${MAX_FUNCTION_LINES} lines`, () => {
    const long: string[] = [];
    for (const file of sources()) {
      const source = parse(file);
      const visit = (node: ts.Node) => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
          const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
          if (end - start + 1 > MAX_FUNCTION_LINES)
            long.push(`${path.relative(SRC, file)}:${start + 1} (${end - start + 1})`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    assert.deepEqual(long, []);
  });

  it('imports only down the roles', () => {
    const wrong: string[] = [];
    for (const file of sources()) {
      const allowed = MAY_IMPORT[role(file)];
      if (!allowed) continue;
      for (const statement of parse(file).statements) {
        if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
        const spec = statement.moduleSpecifier;
        if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
        const target = role(path.resolve(path.dirname(file), spec.text));
        const typeOnly = ts.isImportDeclaration(statement)
          ? statement.importClause?.isTypeOnly === true
          : statement.isTypeOnly;
        if (!(typeOnly ? allowed.types : allowed.runtime).includes(target)) {
          wrong.push(`${path.relative(SRC, file)} imports ${typeOnly ? 'types of ' : ''}${spec.text}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('lets the browser roles load only wire and token modules that import no package', () => {
    // valet/client has no runtime dependencies: what it loads of wire/ and token/ must not bring
    // one in (zod, pino…), directly or through another module.
    const seen = new Map<string, string | undefined>();
    const packageReached = (file: string): string | undefined => {
      if (seen.has(file)) return seen.get(file);
      seen.set(file, undefined);
      let found: string | undefined;
      for (const statement of parse(file).statements) {
        if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
        const typeOnly = ts.isImportDeclaration(statement)
          ? statement.importClause?.isTypeOnly === true
          : statement.isTypeOnly;
        const spec = statement.moduleSpecifier;
        if (typeOnly || !spec || !ts.isStringLiteral(spec)) continue;
        found ??= spec.text.startsWith('.')
          ? packageReached(path.resolve(path.dirname(file), spec.text).replace(/\.js$/, '.ts'))
          : `${path.relative(SRC, file)} imports ${spec.text}`;
      }
      seen.set(file, found);
      return found;
    };
    const wrong: string[] = [];
    for (const file of sources()) {
      if (!['client', 'uppy', 'react'].includes(role(file))) continue;
      for (const statement of parse(file).statements) {
        if (!ts.isImportDeclaration(statement) || statement.importClause?.isTypeOnly) continue;
        const spec = statement.moduleSpecifier;
        if (!ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
        const target = path.resolve(path.dirname(file), spec.text).replace(/\.js$/, '.ts');
        if (!['wire', 'token'].includes(role(target))) continue;
        const reached = packageReached(target);
        if (reached) wrong.push(`${path.relative(SRC, file)} loads ${spec.text}, and ${reached}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('imports only what each area of storage and the issuer may use', () => {
    const wrong: string[] = [];
    for (const [roleName, areas] of Object.entries(AREAS)) {
      const folders = readdirSync(path.join(SRC, roleName), { withFileTypes: true }).filter((e) =>
        e.isDirectory(),
      );
      for (const folder of folders) {
        if (!(folder.name in areas)) wrong.push(`${roleName}/${folder.name}/ is not declared in AREAS`);
      }
    }
    for (const file of sources()) {
      const areas = AREAS[role(file)];
      const from = area(file);
      if (!areas || from === '') continue;
      for (const statement of parse(file).statements) {
        if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
        const spec = statement.moduleSpecifier;
        if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
        const target = path.resolve(path.dirname(file), spec.text);
        if (role(target) !== role(file)) continue;
        if (!(areas[from] ?? []).includes(area(target)))
          wrong.push(`${path.relative(SRC, file)} imports ${spec.text} (${area(target) || 'the root'})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('states in docs/architecture.md the same area rules it checks', () => {
    const doc = readFileSync(path.resolve(SRC, '../docs/architecture.md'), 'utf8');
    const documented: Record<string, Record<string, string[]>> = {};
    for (const [, roleName, areaName, list] of doc.matchAll(/^\| (storage|issuer)\/(\w+) \| ([^|]+) \|$/gm)) {
      const allowed = (list as string)
        .split(',')
        .map((word) => word.trim())
        .map((word) => (word.startsWith('the ') ? '' : word));
      documented[roleName as string] = { ...documented[roleName as string], [areaName as string]: allowed };
    }
    const sorted = (table: Record<string, Record<string, string[]>>) =>
      Object.fromEntries(
        Object.entries(table).map(([r, areas]) => [
          r,
          Object.fromEntries(Object.entries(areas).map(([a, list]) => [a, [...list].sort()])),
        ]),
      );
    assert.deepEqual(sorted(documented), sorted(AREAS));
  });
});
