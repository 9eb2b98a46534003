// errors.js — the one error type the client throws or emits. `code` is
// stable (match on it); `message` is for humans.
//
//   no-holder    nobody else holds the hash (lookup answered [])
//   timeout      fetchFromPeers ran out of its budget
//   unavailable  no tracker connection, or no WebRTC in this context, or
//                fetchFromPeers: the tracker could reach none of the holders
//                (cluster mode, its Redis down: signals answered unavailable)
//   aborted      the caller's AbortSignal fired
//   all-failed   every holder was tried and none delivered verified bytes
//   bad-hash     seed(): the bytes do not hash to the given hash, or a hash
//                is not 64 lowercase hex characters
//   closed       the client was closed
//   refused      the tracker closed us with a code that forbids retrying
//                (1007, 1008, 1009, 4001, 4003): .closeCode says which
//   store        (error event) verified bytes could not be kept or announced
//   <server>     any error code of the tracker (docs/PROTOCOL.md "Errors")
export class PeertrackError extends Error {
  constructor(code, message, extra) {
    super(message || code);
    this.name = 'PeertrackError';
    this.code = code;
    if (extra) Object.assign(this, extra);
  }
}
