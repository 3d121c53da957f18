// The package-lock.json of the consumer project of consumer.test.ts: the packed tarballs, and every
// package they need at the version, integrity and place the monorepo's own lock gives it. With it
// `npm ci --offline` installs from the npm cache alone: `npm ci` in the monorepo cached those
// tarballs, but not the registry metadata that resolving a version range without a lock needs.

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

export interface RepoLock {
  packages: Record<string, LockEntry>;
}

export interface Tarball {
  /** The package's name and manifest fields, as packed. */
  manifest: LockEntry & { name: string; version: string };
  /** Where the package lives in the monorepo, e.g. `packages/core`. */
  workspace: string;
  /** The tarball, relative to the consumer project. */
  resolved: string;
  integrity: string;
}

const MANIFEST_FIELDS = ['version', 'license', 'dependencies', 'optionalDependencies', 'peerDependencies', 'peerDependenciesMeta', 'engines', 'bin'] as const;
// Flags that say how the monorepo reached a package; npm works them out again for the consumer.
const REPO_FLAGS = new Set(['dev', 'optional', 'devOptional', 'peer', 'extraneous', 'inBundle']);

/**
 * The lock for a project that depends on `tarballs` (as `file:` specs) and on `devDependencies`.
 * Peer dependencies are not followed (the consumer installs with --legacy-peer-deps: the optional
 * drivers stay out, and @tied/conformance's jest is the user's own).
 */
export function consumerLock(repoLock: RepoLock, tarballs: Tarball[], devDependencies: Record<string, string>): object {
  const byWorkspace = new Map(tarballs.map((tarball) => [tarball.workspace, tarball]));
  const packages: Record<string, LockEntry> = {
    '': {
      name: 'tied-consumer',
      dependencies: Object.fromEntries(tarballs.map(({ manifest, resolved }) => [manifest.name, `file:${resolved}`])),
      devDependencies,
    },
  };

  /** Where node would find `name` from the monorepo location `from`: nearest node_modules up. */
  const locate = (from: string, name: string): string => {
    for (let dir = from; ; dir = dir.includes('/') ? dir.slice(0, dir.lastIndexOf('/')) : '') {
      const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
      if (repoLock.packages[candidate]) return candidate;
      if (!dir) throw new Error(`package-lock.json has no ${name} for ${from || 'the root'}: run npm install in the monorepo`);
    }
  };

  /** The consumer's path for a monorepo lock path: a workspace becomes node_modules/<its name>. */
  const consumerPath = (repoPath: string): string => {
    for (const [workspace, tarball] of byWorkspace) {
      if (repoPath === workspace || repoPath.startsWith(`${workspace}/`)) return `node_modules/${tarball.manifest.name}${repoPath.slice(workspace.length)}`;
    }
    return repoPath;
  };

  const visit = (repoPath: string, dependencies: Record<string, string>) => {
    for (const name of Object.keys(dependencies)) {
      let found = locate(repoPath, name);
      const link = repoLock.packages[found]!;
      if (link.link && typeof link.resolved === 'string') found = link.resolved;
      const target = consumerPath(found);
      if (packages[target] || byWorkspace.has(found)) continue;
      const entry: LockEntry = Object.fromEntries(Object.entries(repoLock.packages[found]!).filter(([field]) => !REPO_FLAGS.has(field)));
      packages[target] = entry;
      visit(found, { ...entry.dependencies, ...entry.optionalDependencies });
    }
  };

  for (const tarball of tarballs) {
    const fields = Object.fromEntries(MANIFEST_FIELDS.filter((field) => tarball.manifest[field] !== undefined).map((field) => [field, tarball.manifest[field]]));
    packages[`node_modules/${tarball.manifest.name}`] = { ...fields, resolved: `file:${tarball.resolved}`, integrity: tarball.integrity };
  }
  for (const tarball of tarballs) visit(tarball.workspace, { ...tarball.manifest.dependencies, ...tarball.manifest.optionalDependencies });
  visit('', devDependencies);
  return { name: 'tied-consumer', lockfileVersion: 3, requires: true, packages };
}
