// Run by consumer.test.ts on a Node that has require(esm) (20.19+, 22.12+): a CommonJS user of tied.
const { MemorySession, openSession, tied } = require('tied');
const { superjson } = require('@tied/serializers');

if (typeof openSession !== 'function' || typeof superjson !== 'function') throw new Error('require(tied) gave no openSession');
MemorySession.with(undefined, (session) => {
  session.visits = 1;
  return tied(session).id;
}).then((id) => console.log(JSON.stringify({ id })));
