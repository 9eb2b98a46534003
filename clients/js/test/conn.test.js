import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection, iceRefreshDelay } from '../src/conn.js';
import { FakeClock, FakeWS, welcome } from './fakes.js';

function setup({ online = true } = {}) {
  FakeWS.made = [];
  const clock = new FakeClock();
  const log = { states: [], sessions: [], ice: [], errors: [], messages: [] };
  let onlineCb = null;
  const net = { up: () => online, watch: (cb) => { onlineCb = cb; return () => { onlineCb = null; }; } };
  const c = new Connection({ url: 'ws://127.0.0.1:1/v1', WebSocket: FakeWS, timers: clock.api, online: net, random: () => 0 }, {
    state: (s) => log.states.push(s), session: (x) => log.sessions.push(x), message: (m) => log.messages.push(m),
    ice: (s) => log.ice.push({ at: clock.now(), s }), error: (e) => log.errors.push(e), signalFailed: () => {},
  });
  const setOnline = (v) => { online = v; if (onlineCb) onlineCb(v); };
  return { c, clock, log, setOnline, ws: () => FakeWS.made[FakeWS.made.length - 1] };
}

function connect(t, id) {
  const ws = t.ws();
  ws.open();
  ws.recv(welcome(id));
  return ws;
}

test('welcome opens a fresh session', () => {
  const t = setup();
  t.c.start();
  assert.deepEqual(t.log.states, ['connecting']);
  connect(t, 'A'.repeat(24));
  assert.deepEqual(t.log.states, ['connecting', 'open']);
  assert.deepEqual(t.log.sessions, [{ id: 'A'.repeat(24), resumed: false, refused: undefined }]);
  assert.equal(t.c.id, 'A'.repeat(24));
});

test('a drop reconnects at once and resumes with the token: same id', () => {
  const t = setup();
  t.c.start();
  const ws1 = connect(t, 'A'.repeat(24));
  const token = welcome('A'.repeat(24)).resume_token;
  ws1.drop(1006);
  assert.equal(FakeWS.made.length, 2, 'the first retry goes at once');
  const ws2 = t.ws();
  ws2.open();
  ws2.recv(welcome('B'.repeat(24)));
  const r = ws2.sent[0];
  assert.equal(r.type, 'resume', 'resume is the first message');
  assert.equal(r.token, token);
  assert.equal(t.c.state, 'connecting', 'not open before the answer');
  ws2.recv({ type: 'resumed', rid: r.rid, id: 'A'.repeat(24), resume_token: 'N'.repeat(48), hashes: 3, held: 0 });
  assert.equal(t.c.id, 'A'.repeat(24));
  assert.equal(t.c.state, 'open');
  assert.deepEqual(t.log.sessions[1], { id: 'A'.repeat(24), resumed: true, refused: undefined });
  // the next drop presents the newest token
  ws2.drop(1006);
  const ws3 = t.ws(); ws3.open(); ws3.recv(welcome('C'.repeat(24)));
  assert.equal(ws3.sent[0].token, 'N'.repeat(48));
});

test('a refused resume keeps the fresh id and asks for a re-announce', () => {
  const t = setup();
  t.c.start();
  connect(t, 'A'.repeat(24)).drop(1006);
  const ws2 = t.ws(); ws2.open(); ws2.recv(welcome('B'.repeat(24)));
  ws2.recv({ type: 'error', rid: ws2.sent[0].rid, code: 'resume-expired', message: 'x' });
  return Promise.resolve().then(() => {
    assert.equal(t.c.id, 'B'.repeat(24));
    assert.equal(t.c.state, 'open');
    assert.deepEqual(t.log.sessions[1], { id: 'B'.repeat(24), resumed: false, refused: 'resume-expired' });
  });
});

test('resume-live: the old connection is not seen dropped yet, so ask again within the window', async () => {
  const t = setup();
  t.c.start();
  const token = welcome('A'.repeat(24)).resume_token;
  connect(t, 'A'.repeat(24)).drop(1006);
  const ws2 = t.ws(); ws2.open(); ws2.recv(welcome('B'.repeat(24)));
  ws2.recv({ type: 'error', rid: ws2.sent[0].rid, code: 'resume-live', message: 'x' });
  await Promise.resolve();
  assert.equal(ws2.closedWith && ws2.closedWith.code, 1000, 'the connection of the fresh id leaves with a close frame');
  assert.notEqual(t.c.state, 'open', 'the fresh id is not taken');
  assert.equal(t.log.sessions.length, 1);
  t.clock.advance(200);
  const ws3 = t.ws();
  assert.notEqual(ws3, ws2, 'asked again after a short delay');
  ws3.open(); ws3.recv(welcome('C'.repeat(24)));
  assert.equal(ws3.sent[0].type, 'resume');
  assert.equal(ws3.sent[0].token, token, 'the old token again, not the fresh one');
  ws3.recv({ type: 'resumed', rid: ws3.sent[0].rid, id: 'A'.repeat(24), resume_token: 'N'.repeat(48), hashes: 1, held: 0 });
  assert.equal(t.c.id, 'A'.repeat(24));
  assert.deepEqual(t.log.sessions[1], { id: 'A'.repeat(24), resumed: true, refused: undefined });
});

test('failed attempts back off (short, jittered) and the window ends resuming', () => {
  const t = setup();
  t.c.start();
  connect(t, 'A'.repeat(24)).drop(1006);
  t.ws().drop(1006); // the immediate retry fails
  assert.equal(t.c.state, 'offline');
  assert.equal(FakeWS.made.length, 2);
  t.clock.advance(99);
  assert.equal(FakeWS.made.length, 2);
  t.clock.advance(1);
  assert.equal(FakeWS.made.length, 3, 'after 100 ms');
  t.ws().drop(1006);
  t.clock.advance(200);
  assert.equal(FakeWS.made.length, 4, 'after 200 ms more');
  // past the 30 s window: connect fresh, no resume
  t.clock.advance(31000);
  const ws = t.ws(); ws.open(); ws.recv(welcome('D'.repeat(24)));
  assert.ok(!ws.sent.some((m) => m.type === 'resume'));
  assert.equal(t.log.sessions.at(-1).resumed, false);
});

test('1001 (server restart): no resume, at least a second of backoff', () => {
  const t = setup();
  t.c.start();
  connect(t, 'A'.repeat(24)).drop(1001);
  assert.equal(FakeWS.made.length, 1);
  t.clock.advance(999);
  assert.equal(FakeWS.made.length, 1);
  t.clock.advance(1);
  const ws = t.ws(); ws.open(); ws.recv(welcome('B'.repeat(24)));
  assert.ok(!ws.sent.some((m) => m.type === 'resume'));
  assert.equal(t.log.sessions.at(-1).resumed, false);
});

test('policy closes (1008, 4003) stop for good with a typed error', () => {
  for (const code of [1008, 4003]) {
    const t = setup();
    t.c.start();
    connect(t, 'A'.repeat(24)).drop(code);
    assert.equal(t.c.state, 'closed');
    assert.equal(t.log.errors[0].code, 'refused');
    assert.equal(t.log.errors[0].closeCode, code);
    t.clock.advance(120000);
    assert.equal(FakeWS.made.length, 1);
  }
});

test('a silent server is declared dead, dropped without waiting, and resumed', () => {
  const t = setup();
  t.c.start();
  const ws1 = connect(t, 'A'.repeat(24));
  // heartbeat 2000: a ping every second
  t.clock.advance(1000);
  assert.equal(ws1.last('ping').type, 'ping');
  ws1.recv({ type: 'pong', rid: ws1.last('ping').rid });
  t.clock.advance(4999);
  assert.equal(FakeWS.made.length, 1, 'still alive');
  t.clock.advance(1);
  assert.equal(FakeWS.made.length, 2, 'dead after 5 s of silence (2 heartbeats + 1 s): reconnected');
  assert.equal(ws1.closedWith.code, 4000);
  const ws2 = t.ws(); ws2.open(); ws2.recv(welcome('B'.repeat(24)));
  assert.equal(ws2.sent[0].type, 'resume');
});

test('requests in flight fail with "unavailable" when the connection goes', async () => {
  const t = setup();
  t.c.start();
  const ws = connect(t, 'A'.repeat(24));
  const p = t.c.request({ type: 'lookup', hash: 'a'.repeat(64) });
  ws.drop(1006);
  await assert.rejects(p, { name: 'PeertrackError', code: 'unavailable' });
  await assert.rejects(t.c.request({ type: 'ping' }), { code: 'unavailable' });
});

test('server errors reject with their code', async () => {
  const t = setup();
  t.c.start();
  const ws = connect(t, 'A'.repeat(24));
  const p = t.c.request({ type: 'announce', hashes: ['x'] });
  ws.recv({ type: 'error', rid: ws.last('announce').rid, code: 'bad-hash', message: 'hashes[0]' });
  await assert.rejects(p, { code: 'bad-hash' });
});

test('ICE credentials are refreshed at 80% of ice_ttl_s', async () => {
  assert.equal(iceRefreshDelay(86400), 69120000);
  assert.equal(iceRefreshDelay(0), null);
  assert.equal(iceRefreshDelay(undefined), null);
  assert.equal(iceRefreshDelay(1), 1000, 'never sooner than a second');
  assert.equal(iceRefreshDelay(1e9), 0x7fffffff, 'fits setTimeout');
  const t = setup();
  t.c.start();
  const ws = connect(t, 'A'.repeat(24)); // ice_ttl_s 100
  const keepAlive = () => { for (const m of ws.sent) if (m.type === 'ping' && !m.answered) { m.answered = true; ws.recv({ type: 'pong', rid: m.rid }); } };
  for (let i = 0; i < 79; i++) { t.clock.advance(1000); keepAlive(); }
  assert.equal(ws.last('refresh-ice'), undefined);
  t.clock.advance(1000); keepAlive();
  const r = ws.last('refresh-ice');
  assert.ok(r, 'asked at 80 s');
  ws.recv({ type: 'ice-servers', rid: r.rid, ice_servers: [{ urls: ['turn:127.0.0.1:3478'], username: 'u', credential: 'c' }], ice_ttl_s: 10 });
  await Promise.resolve();
  assert.equal(t.log.ice.at(-1).s[0].urls[0], 'turn:127.0.0.1:3478');
  for (let i = 0; i < 8; i++) { t.clock.advance(1000); keepAlive(); }
  assert.equal(ws.sent.filter((m) => m.type === 'refresh-ice').length, 2, 'and again at 80% of the new ttl');
});

test('offline: no attempt until the browser is back online', () => {
  const t = setup({ online: false });
  t.c.start();
  assert.equal(t.c.state, 'offline');
  assert.equal(FakeWS.made.length, 0);
  t.clock.advance(60000);
  assert.equal(FakeWS.made.length, 0);
  t.setOnline(true);
  assert.equal(FakeWS.made.length, 1);
  assert.equal(t.c.state, 'connecting');
});

test('close() says goodbye with 1000 and stops', () => {
  const t = setup();
  t.c.start();
  const ws = connect(t, 'A'.repeat(24));
  t.c.close();
  assert.equal(ws.closedWith.code, 1000);
  assert.equal(t.c.state, 'closed');
  t.clock.advance(60000);
  assert.equal(FakeWS.made.length, 1);
});
