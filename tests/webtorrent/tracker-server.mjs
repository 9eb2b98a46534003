// tracker-server.mjs — the reference WebTorrent tracker, bittorrent-tracker's
// Server (this directory's locked npm package), as the comparison target of
// peertrack-bench's wt workload (scripts/bench.sh):
//   node tracker-server.mjs [PORT]      (0 or none: any free port)
// WebSocket only (no HTTP announce, no UDP, no stats page), on 127.0.0.1;
// prints "listening on 127.0.0.1:PORT" like peertrackd, so the bench waits
// for the same line from every target.
import { Server } from 'bittorrent-tracker';

const port = Number(process.argv[2] || 0);
const server = new Server({ http: false, udp: false, ws: true, stats: false });
server.on('error', (e) => { console.error(`tracker error: ${e.message || e}`); process.exit(1); });
server.on('warning', () => {}); // per-request warnings: the bench counts replies
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${server.ws.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
