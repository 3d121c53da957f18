import { tiedTarget } from '../lib/tied-target.mjs';
import { freshDirectory, removeDirectory } from '../lib/namespaces.mjs';
import { tiedExport } from '../lib/unavailable.mjs';

/** tied's FileSession, its directory pointed at this target's by $TIED_DIRECTORY (read when tied loads). */
export async function open({ dir }) {
  process.env.TIED_DIRECTORY = dir;
  const FileSession = await tiedExport('tied', 'FileSession');
  return tiedTarget({
    open: (id, options) => FileSession.open(id, options),
    reset: () => freshDirectory(dir),
    drop: () => removeDirectory(dir),
  });
}
