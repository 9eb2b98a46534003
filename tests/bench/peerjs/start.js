// Starts the PeerJS server (npm package `peer`) on 127.0.0.1 for
// peertrack-bench:  node start.js [PORT]   (0 or none: any free port)
// Prints "listening on 127.0.0.1:PORT" once it accepts connections, like
// peertrackd, so scripts/bench.sh waits for the same line from every target.
'use strict';
const { PeerServer } = require('peer');

const port = Number(process.argv[2] || 0);
PeerServer({
	host: '127.0.0.1',
	port,
	path: '/',
	key: 'peerjs',
	// The default (5000) would refuse the bench's larger runs.
	concurrent_limit: 1000000,
}, (server) => {
	console.log(`listening on 127.0.0.1:${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => process.exit(0));
