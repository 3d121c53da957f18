export { superjson } from './superjson.js';
export { json } from './json.js';
export { storable } from './storable.js';
export { base64 } from './base64.js';
