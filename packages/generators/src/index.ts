export { nanoid } from './nanoid.js';
export { hex } from './hex.js';
export { uuid } from './uuid.js';
