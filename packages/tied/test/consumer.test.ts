// tied as its users install it (issue 12): every published package is packed with `npm pack`, the
// tarballs are installed with `--ignore-scripts` from the local npm cache into a project outside the
// monorepo, and that project runs a script, type-checks a strict TypeScript file and `require`s
// tied. The tarballs are checked against the packaging rules of docs/packaging.md first.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testOrSkip } from '@tied/conformance/jest';
import { consumerLock, type RepoLock } from './helpers/consumer-lock.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = fileURLToPath(new URL('./consumer/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tied-consumer-'));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
const sessions = join(work, 'sessions');
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Manifest {
  [field: string]: unknown;
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  exports?: Record<string, Record<string, string>>;
  bin?: string | Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

interface Packed {
  name: string;
  filename: string;
  integrity: string;
  files: { path: string }[];
}

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
  ms: number;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

// Every workspace under packages/ that is published: http and cli are checked as soon as they exist.
const packages = readJson<{ workspaces: string[] }>(join(repo, 'package.json'))
  .workspaces.filter((workspace) => workspace.startsWith('packages/'))
  .map((workspace) => ({ workspace, dir: join(repo, workspace), manifest: readJson<Manifest>(join(repo, workspace, 'package.json')) }))
  .filter(({ manifest }) => !manifest.private);
// What a user's project imports: every package with exports. A command-only package (@tied/cli,
// which brings the database drivers) is packed and checked but not installed into that project.
const libraries = packages.filter(({ manifest }) => manifest.exports !== undefined);
const libraryNames = new Set(libraries.map(({ manifest }) => manifest.name));

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeout = 60_000): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (error.killed ? `killed after ${timeout} ms (did the process not exit?)` : (error.code ?? 1)) : 0;
      resolve({ code, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

/** Exit code plus what the process printed: what a failed expectation shows. */
const outcome = (result: Run) => ({ code: result.code, output: `${result.stdout}${result.stderr}`.trim() });

// npm as it runs this test (`npm test` sets npm_execpath), else the one on PATH. The child npm must
// not inherit the monorepo's package/lifecycle variables, or it would act on the monorepo.
const npmCommand = process.env.npm_execpath?.endsWith('.js') ? [process.execPath, process.env.npm_execpath] : ['npm'];
const npmEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_(package_|lifecycle_|config_(local_prefix|prefix|workspaces?|include_workspace_root)$)/i.test(key)),
);
const npm = (args: string[], cwd: string) => run(npmCommand[0]!, [...npmCommand.slice(1), ...args], cwd, npmEnv, 120_000);
const node = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, args, app, { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, 30_000);

const timings: Record<string, string> = {};
let packed = new Map<string, Packed>();
let installFailure: string | undefined;

beforeAll(async () => {
  mkdirSync(tarballs);
  mkdirSync(sessions);
  const pack = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tarballs, ...packages.flatMap(({ workspace }) => ['-w', workspace])], repo);
  if (pack.code !== 0) throw new Error(`npm pack failed (run \`npm run build\` first):\n${pack.stderr}`);
  packed = new Map(JSON.parse(pack.stdout).map((entry: Packed) => [entry.name, entry]));
  timings['npm pack'] = `${pack.ms} ms for ${packed.size} packages`;

  // A user's project: the tarballs and @types/node, with a lock so that it installs offline.
  const typesNode = readJson<Manifest>(join(repo, 'node_modules/@types/node/package.json')).version;
  const devDependencies = { '@types/node': typesNode };
  const tarballList = libraries.map(({ workspace, manifest }) => {
    const entry = packed.get(manifest.name)!;
    return { workspace, manifest, resolved: `../tarballs/${entry.filename}`, integrity: entry.integrity };
  });
  const lock = consumerLock(readJson<RepoLock>(join(repo, 'package-lock.json')), tarballList, devDependencies);
  mkdirSync(app);
  const dependencies = Object.fromEntries(tarballList.map(({ manifest, resolved }) => [manifest.name, `file:${resolved}`]));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'tied-consumer', private: true, dependencies, devDependencies }, null, 2));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));
  for (const file of readdirSync(fixtures)) cpSync(join(fixtures, file), join(app, file));
  // --legacy-peer-deps: peers are not installed. The database drivers are optional peers and stay
  // out either way; @tied/conformance's test runner is the one of whoever runs its suites.
  const flags = ['ci', '--ignore-scripts', '--legacy-peer-deps', '--no-audit', '--no-fund', '--loglevel=error'];
  let install = await npm([...flags, '--offline'], app);
  timings['npm ci --ignore-scripts --offline'] = `${install.ms} ms`;
  if (install.code !== 0 && /ENOTCACHED/.test(install.stderr)) {
    console.warn(`The npm cache lacks a tarball the lock needs (run \`npm ci\` in the monorepo to fill it); retrying with --prefer-offline:\n${install.stderr}`);
    install = await npm([...flags, '--prefer-offline'], app);
    timings['npm ci --ignore-scripts --prefer-offline'] = `${install.ms} ms`;
  }
  if (install.code !== 0) installFailure = `npm ci of the tarballs failed:\n${install.stderr}`;
}, 300_000);

afterAll(() => {
  console.log(`consumer test on Node ${process.version}:\n${Object.entries(timings).map(([what, figure]) => `  ${what}: ${figure}`).join('\n')}`);
});

/** Import specifiers of a JS or .d.ts file, comments left out. */
function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const patterns = [/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  return patterns.flatMap((pattern) => [...code.matchAll(pattern)].map((match) => match[1]!));
}

const packageNameOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

describe.each(packages)('the tarball of $manifest.name', ({ dir, manifest }) => {
  const shipped = () => {
    const entry = packed.get(manifest.name);
    if (!entry) throw new Error(`${manifest.name} was not packed`);
    return new Set(entry.files.map(({ path }) => path));
  };

  test('holds the MIT LICENSE, the README and the manifest, and nothing but dist/, docs/ and its bin besides', () => {
    const files = [...shipped()];
    const bins = Object.values(typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : (manifest.bin ?? {})).map((path) => posix.normalize(path));
    expect(manifest.license).toBe('MIT');
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(files.filter((path) => !/^(dist|docs)\//.test(path) && !['LICENSE', 'README.md', 'package.json', ...bins].includes(path))).toEqual([]);
    expect(files.filter((path) => path.includes('.tsbuildinfo'))).toEqual([]);
  });

  test('ships no stale build output: every file in dist/ comes from a file in src/ (else delete dist/ and build)', () => {
    const orphans = [...shipped()]
      .filter((path) => path.startsWith('dist/'))
      .filter((path) => !existsSync(join(dir, path.replace(/^dist\//, 'src/').replace(/(\.d)?\.js(\.map)?$|\.d\.ts$/, '.ts'))));
    expect(orphans).toEqual([]);
  });

  test('source maps carry their sources (sourcesContent), since src/ is not shipped', () => {
    const maps = [...shipped()].filter((path) => path.endsWith('.map'));
    const without = maps.filter((path) => {
      const map = readJson<{ sources: string[]; sourcesContent?: unknown[] }>(join(dir, path));
      return map.sourcesContent?.length !== map.sources.length || !map.sourcesContent.every((text) => typeof text === 'string');
    });
    expect(without).toEqual([]);
  });

  test('ships every file its code imports, and imports only node builtins, itself and its declared dependencies', () => {
    const files = shipped();
    const declared = new Set([manifest.name, ...Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies })]);
    const problems: string[] = [];
    for (const path of [...files].filter((file) => /\.(js|d\.ts)$/.test(file))) {
      for (const specifier of importsOf(readFileSync(join(dir, path), 'utf8'))) {
        if (specifier.startsWith('.')) {
          const target = posix.join(posix.dirname(path), specifier);
          const candidates = path.endsWith('.d.ts') ? [target.replace(/\.js$/, '.d.ts'), target] : [target];
          if (!candidates.some((candidate) => files.has(candidate))) problems.push(`${path} imports ${specifier}, which is not shipped`);
        } else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier) && !declared.has(packageNameOf(specifier))) {
          problems.push(`${path} imports ${specifier}, which is not in dependencies or peerDependencies`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test('every exports entry has types first and a default condition last (require(esm) needs default), and points at shipped files', () => {
    const files = shipped();
    // A package with no exports is a command only (its bin), which nothing imports.
    if (manifest.exports === undefined) return expect(manifest.bin).toBeDefined();
    const problems = Object.entries(manifest.exports).flatMap(([subpath, conditions]) => {
      const keys = Object.keys(conditions);
      const wrong = keys[0] === 'types' && keys.at(-1) === 'default' ? [] : [`${subpath}: conditions ${keys.join(', ')}`];
      const missing = Object.values(conditions).filter((target) => !files.has(target.replace(/^\.\//, '')));
      return [...wrong, ...missing.map((target) => `${subpath}: ${target} is not shipped`)];
    });
    expect(problems).toEqual([]);
  });

  test('its README links only to absolute https URLs and to its own headings (a registry page cannot follow a relative link)', () => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8').replace(/```[\s\S]*?```/g, '');
    const links = [...readme.matchAll(/\]\(([^)\s]+)[^)]*\)/g)].map((match) => match[1]!);
    expect(links.filter((link) => !/^(https:\/\/|#)/.test(link))).toEqual([]);
  });

  test('its README says it is ESM-only and from which Node version require() loads it', () => {
    if (manifest.exports === undefined) return; // a command only: nothing to import or require
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/ESM[- ]only/i);
    expect(readme).toMatch(/20\.19/);
    expect(readme).toMatch(/22\.12/);
  });
});

describe('a project outside the monorepo, with the tarballs installed with --ignore-scripts', () => {
  const installed = () => {
    if (installFailure) throw new Error(installFailure);
  };

  test('has no database driver installed (so the type check below proves none is needed)', () => {
    installed();
    // Resolved as node would from the project, so a node_modules above it (a temp dir inside a
    // checkout) would show too.
    const resolvable = (name: string) => {
      try {
        return createRequire(join(app, 'package.json')).resolve(`${name}/package.json`) !== '';
      } catch (error) {
        return (error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND';
      }
    };
    expect(['mysql2', 'pg', 'ioredis', '@types/pg'].filter(resolvable)).toEqual([]);
  });

  test('a .mjs script opens, writes, reopens and deletes a default session, then exits', async () => {
    installed();
    const result = await node(['session.mjs'], { TIED_DIRECTORY: sessions });
    expect(outcome(result)).toEqual({ code: 0, output: expect.stringMatching(/^\{"importMs"/) });
    const { importMs, id } = JSON.parse(result.stdout) as { importMs: number; id: string };
    timings["import('tied') in a fresh process"] = `${Math.round(importMs)} ms`;
    timings['session.mjs (import, 3 opens, delete, exit)'] = `${result.ms} ms`;
    expect(readdirSync(sessions)).not.toContain(id);
  });

  test("import 'tied' and a MemorySession load no native addon", async () => {
    installed();
    const result = await node(['memory-only.mjs'], { TIED_DIRECTORY: sessions });
    expect(outcome(result)).toEqual({ code: 0, output: '[]' });
  });

  test('a strict NodeNext TypeScript file type-checks with no driver and no skipLibCheck, then runs', async () => {
    installed();
    const tsc = join(repo, 'node_modules/typescript/bin/tsc');
    // --skipDefaultLibCheck skips TypeScript's own lib.*.d.ts only (a third of the time); tied's
    // .d.ts files and @types/node are still checked.
    const check = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false', '--skipDefaultLibCheck'], app);
    timings['tsc -p (strict, NodeNext)'] = `${check.ms} ms`;
    // tsc's own diagnostics, file by file, are the failure message.
    expect(outcome(check)).toEqual({ code: 0, output: '' });
    const ran = await node(['out/check.mjs'], { TIED_DIRECTORY: sessions });
    expect(outcome(ran)).toEqual({ code: 0, output: '{"owner":"Ann","count":2}' });
  }, 180_000);

  const requireEsm = (process.features as { require_module?: boolean }).require_module === true;
  testOrSkip(requireEsm ? undefined : `Node ${process.version} cannot require() an ES module (it can from 20.19 and 22.12)`)(
    "require('tied') works in a .cjs file",
    async () => {
      installed();
      const result = await node(['require.cjs'], { TIED_DIRECTORY: sessions });
      expect(outcome(result)).toEqual({ code: 0, output: expect.stringMatching(/^\{"id":"[\w-]+"\}$/) });
    },
  );

  // Every ```js block of these READMEs that imports something is a whole script, meant to be pasted
  // into a .mjs file and run on Node 20 (a block without an import is a fragment).
  const readmes: [string, string][] = [
    ['the root README', 'README.md'],
    ['the tied README', 'packages/tied/README.md'],
    ['the @tied/core README', 'packages/core/README.md'],
  ];
  const examples = readmes.flatMap(([readme, path]) =>
    [...readFileSync(join(repo, path), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)]
      .map((match, index) => ({ readme, example: index + 1, code: match[1]! }))
      .filter(({ code }) => importsOf(code).length > 0),
  );

  test('the READMEs have examples to run', () => {
    expect(examples.map(({ readme }) => readme)).toEqual(expect.arrayContaining(['the root README', 'the tied README', 'the @tied/core README']));
  });

  // An example that imports a package the project does not have (express, …) is shown as skipped.
  for (const { readme, example, code } of examples) {
    const missing = importsOf(code).map(packageNameOf).filter((name) => !name.startsWith('.') && !name.startsWith('node:') && !builtinModules.includes(name) && !libraryNames.has(name));
    const reason = missing.length > 0 ? `it imports ${missing.join(', ')}, which the consumer project does not install` : undefined;
    testOrSkip(reason)(`\`\`\`js example ${example} of ${readme} runs as written on this Node`, async () => {
      installed();
      const script = join(app, `${readme.replace(/\W+/g, '-')}-${example}.mjs`);
      writeFileSync(script, code);
      const result = await node([script], { TIED_DIRECTORY: sessions });
      // The exit code, with what the script printed when it is not 0.
      expect(result.code === 0 ? 0 : outcome(result)).toBe(0);
    });
  }
});
