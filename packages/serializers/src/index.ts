export { superjson } from './superjson.js';
export { json } from './json.js';
