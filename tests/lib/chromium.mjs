// chromium.mjs — how every test launches the Debian package's headless
// Chromium through playwright-core (tests/browser/harness.mjs,
// tests/webtorrent/*.mjs). No imports: each caller passes the options to
// its own playwright-core (each test directory installs its own).
//
// chromiumOptions(executablePath, userDir, extra) — chromium.launch()'s
// options. These flags are the whole command line (ignoreDefaultArgs): the
// pipe is how playwright talks to the browser; loopback candidates and no
// mDNS hiding, so WebRTC connects over 127.0.0.1; `extra` flags are added.
export function chromiumOptions(executablePath, userDir, extra = []) {
  return {
    executablePath,
    ignoreDefaultArgs: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           `--user-data-dir=${userDir}`, '--allow-loopback-in-peer-connection',
           '--disable-features=WebRtcHideLocalIpsWithMdns', '--use-fake-ui-for-media-stream',
           '--use-fake-device-for-media-stream', ...extra, '--remote-debugging-pipe', 'about:blank'],
  };
}
