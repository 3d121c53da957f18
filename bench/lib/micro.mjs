import { NotAvailable, tiedExport } from './unavailable.mjs';
import { cycleSession } from './workload.mjs';

const SAMPLES = 7;

/**
 * Nanoseconds per iteration of `loop`: one warm-up run, then the fastest of SAMPLES timed runs of
 * `n / SAMPLES` iterations — other processes only ever add time, so the fastest sample is the
 * closest to the cost itself.
 */
function nsPerOp(loop, n) {
  const perSample = Math.max(1, Math.round(n / SAMPLES));
  loop(perSample);
  let fastest = Infinity;
  for (let sample = 0; sample < SAMPLES; sample++) {
    const start = process.hrtime.bigint();
    loop(perSample);
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - start) / perSample);
  }
  return fastest;
}

// One function per case: a loop shared by the Proxy and the plain object would see both shapes
// and be compiled for both, slowing the plain case down.
let sink = 0;
function getLoop(object, n) { for (let i = 0; i < n; i++) sink += object.count; }
function getLoopPlain(object, n) { for (let i = 0; i < n; i++) sink += object.count; }
function setLoop(object, n) { for (let i = 0; i < n; i++) object.count = i; }
function setLoopPlain(object, n) { for (let i = 0; i < n; i++) object.count = i; }

/** Top-level property get and set through the tied Proxy, against the same data in a plain object. */
async function proxyAccess(iterations) {
  const MemorySession = await tiedExport('tied', 'MemorySession');
  const session = await MemorySession.open();
  Object.assign(session, cycleSession());
  const plain = { ...session };
  const figures = {
    getProxy: nsPerOp((n) => getLoop(session, n), iterations),
    getPlain: nsPerOp((n) => getLoopPlain(plain, n), iterations),
    setProxy: nsPerOp((n) => setLoop(session, n), iterations),
    setPlain: nsPerOp((n) => setLoopPlain(plain, n), iterations),
  };
  await session[Symbol.asyncDispose]();
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
