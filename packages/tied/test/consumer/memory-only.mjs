// Run by consumer.test.ts: `import 'tied'` and a MemorySession cycle must not load a native addon
// (issue 12: no compiler, no install scripts). Prints the shared objects loaded from node_modules.
import { MemorySession } from 'tied';

await MemorySession.with(undefined, (session) => {
  session.visits = 1;
});
const loaded = process.report.getReport().sharedObjects.filter((path) => path.includes('node_modules'));
console.log(JSON.stringify(loaded));
