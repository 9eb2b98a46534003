// harness.mjs — what the browser test drivers share: children whose output
// lines can be awaited, a daemon on 127.0.0.1, the Debian package's headless
// Chromium through playwright-core, and cleanup of everything started.
// Drivers run inside lib.sh's network and PID namespaces (only `lo`).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumOptions } from '../lib/chromium.mjs';

export const sha = (b) => createHash('sha256').update(b).digest('hex');

export class Harness {
  constructor(name) {
    this.name = name;
    this.BIN = process.env.PT_BIN;
    this.CHROMIUM = process.env.PT_CHROMIUM || '/usr/bin/chromium';
    this.work = mkdtempSync(join(tmpdir(), 'peertrack-browser-'));
    this.children = new Set();
    this.browsers = [];
    this.servers = [];
    this.daemon = null;
  }

  log(...a) { console.error(`browser ${this.name}:`, ...a); }

  async cleanup() {
    for (const b of this.browsers) await b.close().catch(() => {});
    this.browsers = [];
    for (const c of this.children) c.kill('SIGKILL');
    for (const s of this.servers) s.close();
    // Chromium may still be writing its profile as it dies: retry.
    if (!process.env.PT_KEEP) rmSync(this.work, { recursive: true, force: true, maxRetries: 5 });
  }

  async fail(msg) {
    if (this.failing) return;
    this.failing = true;
    this.log(`FAIL: ${msg}`);
    if (this.daemon) this.log(`daemon output:\n${this.daemon.dump()}`);
    await this.cleanup();
    process.exit(1);
  }

  // A child whose output lines can be awaited: proc.line(re, ms).
  start(name, cmd, args, env = process.env) {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.children.add(p);
    const lines = [], waiters = [];
    const feed = (stream, tag) => {
      let buf = '';
      stream.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 1);
          lines.push(`${tag} ${l}`);
          if (process.env.PT_VERBOSE) this.log(`${name} ${tag}: ${l}`);
          for (const w of [...waiters]) if (w.re.test(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
        }
      });
    };
    feed(p.stdout, 'out');
    feed(p.stderr, 'err');
    p.exited = new Promise((resolve) => p.on('exit', (code, sig) => { this.children.delete(p); resolve(code ?? sig); }));
    p.line = (re, ms) => {
      const seen = lines.find((l) => re.test(l.slice(4)));
      if (seen) return Promise.resolve(seen.slice(4));
      return new Promise((resolve, reject) => {
        const w = { re, resolve };
        waiters.push(w);
        setTimeout(() => reject(new Error(`${name}: no line ${re} in ${ms} ms:\n${lines.join('\n')}`)), ms);
      });
    };
    p.dump = () => lines.join('\n');
    return p;
  }

  // peertrackd on 127.0.0.1 (`port` 0: any) with `conf` lines added.
  async startDaemon(pagePort, extra = '', port = 0) {
    const conf = join(this.work, 'peertrack.conf');
    // Browsers send their page's origin; peertrack-peer sends http://127.0.0.1.
    writeFileSync(conf, `state_dir = ${this.work}\nheartbeat_ms = 2000\ntimeout_ms = 10000\n` +
      `allowed_origins = http://127.0.0.1:${pagePort} http://127.0.0.1\n` + extra);
    const d = this.daemon = this.start('daemon', join(this.BIN, 'peertrackd'), ['--listen', `127.0.0.1:${port}`, '-c', conf]);
    const l = await d.line(/listening on 127\.0\.0\.1:\d+/, 10000);
    this.daemonPort = Number(l.match(/listening on 127\.0\.0\.1:(\d+)/)[1]);
    return `ws://127.0.0.1:${this.daemonPort}/v1`;
  }

  // SIGTERM, a clean exit, and (in a sanitized build) no report.
  async stopDaemon() {
    const d = this.daemon;
    this.daemon = null;
    d.kill('SIGTERM');
    const code = await exitWithin(d, 5000);
    if (code !== 0) throw new Error(`daemon exit on SIGTERM: ${code}\n${d.dump()}`);
    if (/ERROR: \w+Sanitizer|runtime error:/.test(d.dump())) throw new Error(`sanitizer report from the daemon:\n${d.dump()}`);
  }

  // peertrackctl against the running daemon's admin socket.
  async ctl(...args) {
    const c = this.start('peertrackctl', join(this.BIN, 'peertrackctl'),
      ['--socket', join(this.work, 'admin.sock'), ...args]);
    const code = await exitWithin(c, 10000);
    if (code !== 0) throw new Error(`peertrackctl ${args.join(' ')}: exit ${code}\n${c.dump()}`);
    return c.dump().split('\n').map((l) => l.slice(4)).join('\n');
  }

  // The one Chromium of the test; each page gets a context of its own (its
  // own cookies, storage and cache: another visitor).
  async launch() {
    if (this.browsers.length) return this.browsers[0];
    const userDir = mkdtempSync(join(this.work, 'chromium-'));
    const b = await chromium.launch(chromiumOptions(this.CHROMIUM, userDir));
    this.browsers.push(b);
    return b;
  }

  // peertrack-peer, with its own sanitizer settings in a sanitized build.
  startPeer(name, args) {
    const env = { ...process.env };
    if (process.env.PT_PEER_ASAN_OPTIONS) env.ASAN_OPTIONS = process.env.PT_PEER_ASAN_OPTIONS;
    if (process.env.PT_PEER_LSAN_OPTIONS) env.LSAN_OPTIONS = process.env.PT_PEER_LSAN_OPTIONS;
    return this.start(name, join(this.BIN, 'peertrack-peer'), args, env);
  }

  // Runs `body` under a deadline; exits 0 on success, 1 with the reason.
  async run(ms, body) {
    if (!this.BIN) { console.error('PT_BIN (absolute) is required'); process.exit(2); }
    const deadline = setTimeout(() => this.fail(`took longer than ${ms / 1000} s`), ms);
    process.on('SIGTERM', () => this.fail('terminated'));
    process.on('SIGINT', () => this.fail('interrupted'));
    try {
      await body();
      for (const b of this.browsers) await b.close();
      this.browsers = [];
      if (this.daemon) await this.stopDaemon();
      clearTimeout(deadline);
      await this.cleanup();
      this.log('ok');
      process.exit(0);
    } catch (e) {
      await this.fail(e.stack || String(e));
    }
  }
}

export async function exitWithin(p, ms) {
  let timer;
  const code = await Promise.race([p.exited, new Promise((r) => { timer = setTimeout(() => r('hung'), ms); })]);
  clearTimeout(timer);
  return code;
}

// Polls `probe` (async, -> truthy when done) every `every` ms, at most `ms`.
export async function until(what, ms, probe, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
