import { tied } from 'tied';
import { NotAvailable, tiedExport } from './unavailable.mjs';
import { cycleSession } from './workload.mjs';

/** Runs `loop(n)` once to warm up, then times it: nanoseconds per iteration. */
function nsPerOp(loop, n) {
  loop(n);
  const start = process.hrtime.bigint();
  loop(n);
  return Number(process.hrtime.bigint() - start) / n;
}

/** Top-level property get and set through the tied Proxy, against the same data in a plain object. */
async function proxyAccess(iterations) {
  const MemorySession = await tiedExport('tied', 'MemorySession');
  const session = await MemorySession.open();
  Object.assign(session, cycleSession());
  const plain = { ...session };
  let sink = 0;
  const get = (object) => (n) => { for (let i = 0; i < n; i++) sink += object.count; };
  const set = (object) => (n) => { for (let i = 0; i < n; i++) object.count = i; };
  const figures = {
    getProxy: nsPerOp(get(session), iterations),
    getPlain: nsPerOp(get(plain), iterations),
    setProxy: nsPerOp(set(session), iterations),
    setPlain: nsPerOp(set(plain), iterations),
  };
  await tied(session).release();
  // Keeps the loops' reads observable, so the compiler cannot drop them.
  if (sink === -1) console.error(sink);
  return figures;
}

/** The serializers as a flavor would build them; base64 wraps storable, as Apache::Session::Serialize::Base64 does. */
const SERIALIZERS = {
  superjson: async () => (await tiedExport('@tied/serializers/superjson', 'superjson'))(),
  json: async () => (await tiedExport('@tied/serializers/json', 'json'))(),
  storable: async () => (await tiedExport('@tied/serializers/storable', 'storable'))(),
  'base64(storable)': async () => {
    const storable = await tiedExport('@tied/serializers/storable', 'storable');
    return (await tiedExport('@tied/serializers/base64', 'base64'))(storable());
  },
};

function timeSerializer(serializer, iterations) {
  const session = { _session_id: 'V1StGXR8_Z5jdHi6B-myT', ...cycleSession(), count: 2999, last: 2999 };
  const payload = serializer.serialize(session);
  const serializeNs = nsPerOp((n) => { for (let i = 0; i < n; i++) serializer.serialize(session); }, iterations);
  const unserializeNs = nsPerOp((n) => { for (let i = 0; i < n; i++) serializer.unserialize(payload); }, iterations);
  const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  return { serializeUs: serializeNs / 1000, unserializeUs: unserializeNs / 1000, bytes };
}

export async function measureMicro({ accessIterations, serializerIterations }) {
  const serializers = {};
  for (const [name, make] of Object.entries(SERIALIZERS)) {
    try {
      serializers[name] = timeSerializer(await make(), serializerIterations);
    } catch (error) {
      if (!(error instanceof NotAvailable)) throw error;
      serializers[name] = { unavailable: error.message };
    }
  }
  return { access: await proxyAccess(accessIterations), serializers };
}
