// peertrack browser client: the public surface (README.md, index.d.ts).
export { PeertrackClient, DEFAULTS } from './client.js';
export { PeertrackError } from './errors.js';
export { sha256hex, isHash } from './hash.js';
export { MemoryStore } from './store.js';
