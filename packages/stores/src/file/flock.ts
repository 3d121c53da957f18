/**
 * flock(2), called through koffi (a foreign-function interface whose npm package ships prebuilt
 * binaries for Linux glibc/musl, macOS, the BSDs and Windows: nothing is compiled at install). koffi
 * is loaded at the first lock a file locker takes, never by importing tied, so MemorySession and the
 * server flavors load no native code.
 */
import { createRequire } from 'node:module';
import { arch, platform } from 'node:process';
import { getSystemErrorName } from 'node:util';
import { FlockUnavailableError } from './errors.js';

type Koffi = typeof import('koffi');

/** flock(2) operations: the same values on Linux, macOS and the BSDs. */
export const LOCK_SH = 1;
export const LOCK_EX = 2;
const LOCK_NB = 4;

/** Non-blocking flock: true when taken, false when another holder excludes it. */
type TryFlock = (fd: number, operation: typeof LOCK_SH | typeof LOCK_EX) => boolean;

let loaded: TryFlock | FlockUnavailableError | undefined;

/**
 * flock(fd, operation | LOCK_NB) without waiting. Throws `FlockUnavailableError` when flock cannot be
 * called on this system (decided once per process), and the system error for any other failure.
 */
export function tryFlock(fd: number, operation: typeof LOCK_SH | typeof LOCK_EX): boolean {
  loaded ??= loadFlock();
  if (loaded instanceof FlockUnavailableError) throw loaded;
  return loaded(fd, operation);
}

function loadFlock(): TryFlock | FlockUnavailableError {
  if (platform === 'win32') {
    return new FlockUnavailableError('The file locker needs flock(2), which Windows does not have: use it on Linux, macOS or a BSD, or pick a MySQL, PostgreSQL or Redis locker');
  }
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (error) {
    return new FlockUnavailableError(`The file locker calls flock(2) through the koffi package, which could not be loaded (is it installed, with its prebuilt binary for ${platform}-${arch}?): ${(error as Error).message}`, { cause: error });
  }
  const flock = findFlock(koffi);
  if (flock instanceof FlockUnavailableError) return flock;
  const { EAGAIN, EWOULDBLOCK, EINTR } = koffi.os.errno as Record<string, number>;
  return (fd, operation) => {
    for (;;) {
      if (flock(fd, operation | LOCK_NB) === 0) return true;
      const errno = koffi.errno();
      if (errno === EWOULDBLOCK || errno === EAGAIN) return false;
      if (errno === EINTR) continue;
      const code = getSystemErrorName(-errno);
      throw Object.assign(new Error(`flock(${fd}) failed: ${code}`), { code, errno: -errno, syscall: 'flock' });
    }
  };
}

/**
 * The C library's flock: first through the symbols the running process already has (dlopen(NULL)
 * finds libc's on Linux, musl and macOS), then through the C library named for this platform.
 */
function findFlock(koffi: Koffi): ((fd: number, operation: number) => number) | FlockUnavailableError {
  const muslArch = arch === 'x64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : arch;
  const libraries: (string | null)[] = [
    null,
    ...platform === 'darwin' ? ['libSystem.B.dylib', '/usr/lib/libSystem.B.dylib']
      : platform === 'linux' ? ['libc.so.6', `libc.musl-${muslArch}.so.1`, 'libc.so']
      : platform === 'freebsd' ? ['libc.so.7'] : ['libc.so'],
  ];
  const failures: string[] = [];
  for (const library of libraries) {
    try {
      return koffi.load(library).func('int flock(int fd, int operation)') as (fd: number, operation: number) => number;
    } catch (error) {
      failures.push(`${library ?? 'the running process'}: ${(error as Error).message}`);
    }
  }
  return new FlockUnavailableError(`The file locker found no flock(2) in the C library (${failures.join('; ')})`);
}
