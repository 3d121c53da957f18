// One backend of the scale part in a fresh process (node --expose-gc, for the memory footprint):
// `node bench/lib/scale-child.mjs '<task JSON>'`. Progress goes to stderr; the answer is one JSON
// line on stdout: { result }, { unavailable } or { error }.
import { fileScale, memoryScale } from './scale-local.mjs';
import { serverScale } from './scale-server.mjs';
import { NotAvailable } from './unavailable.mjs';

const { backend, sizes, dir } = JSON.parse(process.argv[2]);
const log = (line) => process.stderr.write(`scale  ${line}\n`);

let answer;
try {
  const result = backend === 'memory' ? await memoryScale(sizes.memory, log)
    : backend === 'file' ? await fileScale(sizes.file, dir, log)
      : await serverScale(backend, sizes.server, log);
  answer = { result };
} catch (error) {
  answer = error instanceof NotAvailable ? { unavailable: error.message } : { error: String(error?.stack ?? error) };
}
process.stdout.write(`${JSON.stringify(answer)}\n`);
// Whatever a flavor keeps open (a cached pool, a timer) must not keep the answer waiting.
process.exit(0);
