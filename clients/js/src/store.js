// store.js — where seeded bytes live. The default keeps them in memory; a
// page may pass any object of the same shape (bridge.js passes one backed by
// the Cache API). Every method may return a promise.
//   get(hash) -> Uint8Array | undefined   put(hash, bytes)   delete(hash)   keys() -> hash[]
export class MemoryStore {
  constructor() { this.map = new Map(); }
  get(hash) { return this.map.get(hash); }
  put(hash, bytes) { this.map.set(hash, bytes); }
  delete(hash) { this.map.delete(hash); }
  keys() { return [...this.map.keys()]; }
}
