import { closeSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import koffi from 'koffi';
import { freshDirectory, removeDirectory } from '../lib/namespaces.mjs';
import { randomId } from '../lib/workload.mjs';

const LOCK_EX = 2;
const LOCK_NB = 4;
const flock = koffi.load(null).func('int flock(int fd, int operation)');
const flockWait = promisify(flock.async);

/** flock(LOCK_EX): at once when free; when taken, wait off the event loop (koffi's async call). */
async function lockExclusive(fd) {
  if (flock(fd, LOCK_EX | LOCK_NB) === 0) return;
  const { EAGAIN, EWOULDBLOCK } = koffi.os.errno;
  if (koffi.errno() !== EAGAIN && koffi.errno() !== EWOULDBLOCK) throw new Error(`flock failed: errno ${koffi.errno()}`);
  if (await flockWait(fd, LOCK_EX) !== 0) throw new Error(`flock failed: errno ${koffi.errno()}`);
}

/**
 * The file floor: flock(LOCK_EX) on a per-session lock file, read the JSON, write a temp file and
 * rename it over the session (atomic), close the lock file (which unlocks). Synchronous calls, as
 * local file I/O is cheaper than a trip through the libuv threadpool.
 */
export async function open({ dir }) {
  const path = (id) => join(dir, `${id}.json`);
  return {
    reset: () => freshDirectory(dir),
    drop: () => removeDirectory(dir),
    async seed(data) {
      const id = randomId();
      await writeFile(path(id), JSON.stringify(data));
      return id;
    },
    async cycle(id, i) {
      const lockFd = openSync(join(dir, `${id}.lock`), 'a');
      try {
        await lockExclusive(lockFd);
        const data = JSON.parse(readFileSync(path(id), 'utf8'));
        data.count++;
        data.last = i;
        const temp = `${path(id)}.${process.pid}.tmp`;
        writeFileSync(temp, JSON.stringify(data));
        renameSync(temp, path(id));
      } finally {
        closeSync(lockFd);
      }
    },
    async count(id) { return JSON.parse(await readFile(path(id), 'utf8')).count; },
    async close() {},
  };
}
