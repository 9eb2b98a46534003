// The demo site's service worker: peertrack's, on this site's manifest.
// ?timeout=MS sets how long a resource may take from peers before the
// origin serves it (the tests use it; a site would write its number here).
import { installPeertrackServiceWorker } from '/peertrack/sw.js';

const q = new URL(self.location.href).searchParams;
installPeertrackServiceWorker({
  manifestUrl: '/peertrack-manifest.json',
  ...(q.has('timeout') ? { peerTimeoutMs: Number(q.get('timeout')) } : {}),
});
