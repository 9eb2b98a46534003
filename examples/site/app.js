// The demo page: starts peertrack's bridge, loads the pictures and the video
// once the service worker controls the page (so they can come from peers),
// and keeps the live panel up to date.
//
// ?tracker=ws://... overrides the tracker (default: /v1 on this origin, which
// the demo's nginx proxies to peertrackd); ?timeout=MS is passed to the
// service worker (how long peers may take before the origin serves).
import { startPeertrack } from '/peertrack/bridge.js';

const q = new URLSearchParams(location.search);
const tracker = q.get('tracker') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1`;
// ?nosw=1: the site as it is without peertrack's worker (the baseline of
// docs/BENCHMARKS.md): the browser fetches everything from the origin.
const pt = startPeertrack({
  tracker,
  serviceWorker: q.has('nosw') ? null
    : '/sw.js' + (q.has('timeout') ? `?timeout=${encodeURIComponent(q.get('timeout'))}` : ''),
  scope: '/',
});
window.peertrack = pt;

// Navigation to the last picture (and the video's first frame), for the
// tests and docs/BENCHMARKS.md.
window.demoLoaded = (async () => {
  const ready = await pt.ready;
  const readyMs = performance.now();   // the worker controls the page: assets requested now
  const imgs = [...document.querySelectorAll('img[data-src]')];
  const video = document.getElementById('clip');
  const loaded = imgs.map((img) => new Promise((resolve) => {
    img.onload = () => resolve({ url: img.src, ok: img.naturalWidth > 0, ms: performance.now() });
    img.onerror = () => resolve({ url: img.src, ok: false, ms: performance.now() });
    img.src = img.dataset.src;
  }));
  const frame = new Promise((resolve) => {
    video.onloadeddata = () => resolve({ url: video.currentSrc, ok: true, ms: performance.now() });
    video.onerror = () => resolve({ url: video.currentSrc, ok: false, ms: performance.now() });
    video.src = video.dataset.src;
  });
  const images = await Promise.all(loaded);
  const vid = await frame;
  return { controlled: ready.controlled, reason: ready.reason, images, video: vid, readyMs,
           lastImageMs: Math.max(...images.map((i) => i.ms)) };
})();

// -- the panel ---------------------------------------------------------------
const $ = (id) => document.getElementById(id);
const fmt = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
let queued = false;
function render() {
  queued = false;
  const s = pt.stats();
  const c = s.client;
  $('state').textContent = c ? `${c.state}${c.id ? ` as ${c.id.slice(0, 8)}…` : ''}` : (s.leader ? 'off (no WebRTC)' : '-');
  $('role').textContent = s.leader ? 'holds the connection' : 'another tab holds the connection';
  $('peers').textContent = c ? c.peers : '-';
  $('fromPeers').textContent = fmt(s.bytes.peer);
  $('fromOrigin').textContent = fmt(s.bytes.origin);
  $('toPeers').textContent = c ? fmt(c.toPeers) : '-';
  $('badPeers').textContent = s.badPeers.length;
  const rows = Object.entries(s.resources).map(([url, r]) =>
    `<tr><td>${new URL(url).pathname.split('/').pop()}</td><td class="${r.source}">${r.source}</td>` +
    `<td>${fmt(r.bytes)}</td><td>${r.ms}</td></tr>`);
  $('resources').innerHTML = rows.join('');
}
pt.addEventListener('change', () => { if (!queued) { queued = true; requestAnimationFrame(render); } });
setInterval(render, 1000);   // the client's counters (to peers) move without a worker event
render();
