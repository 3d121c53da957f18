import { closeSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fsExt from 'fs-ext';
import { freshDirectory, removeDirectory } from '../lib/namespaces.mjs';
import { randomId } from '../lib/workload.mjs';

const flockWait = promisify(fsExt.flock);

/** flock(LOCK_EX): at once when free; when taken, wait off the event loop. */
async function lockExclusive(fd) {
  try {
    fsExt.flockSync(fd, 'exnb');
  } catch (error) {
    if (error.code !== 'EAGAIN' && error.code !== 'EWOULDBLOCK') throw error;
    await flockWait(fd, 'ex');
  }
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
