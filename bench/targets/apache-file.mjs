import { freshDirectory, removeDirectory } from '../lib/namespaces.mjs';
import { tiedTarget } from '../lib/tied-target.mjs';
import { tiedExport } from '../lib/unavailable.mjs';

/** tied/apache's File flavor: Perl's file layout and lock files, hex ids, Storable; `File.open(id, { directory, lockDirectory })`. */
export async function open({ dir }) {
  const File = await tiedExport('tied/apache', 'File');
  const args = { directory: dir, lockDirectory: dir };
  return tiedTarget({
    open: (id, options) => File.open(id, { ...args, ...options }),
    reset: () => freshDirectory(dir),
    drop: () => removeDirectory(dir),
  });
}
