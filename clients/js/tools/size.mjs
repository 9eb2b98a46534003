// size.mjs — what the client costs a page: each entry point bundled and
// minified with esbuild (a devDependency; the package itself needs no
// bundler), then gzipped (level 9). `npm run size` from clients/js;
// `--json` for a machine-readable line. docs/BENCHMARKS.md records it.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = { client: 'src/index.js', bridge: 'src/bridge.js', sw: 'src/sw.js' };
const rows = [];
for (const [name, file] of Object.entries(entries)) {
  let src;
  try { src = readFileSync(join(root, file)); } catch (_) { continue; }
  const r = await build({ entryPoints: [join(root, file)], bundle: true, minify: true, format: 'esm',
                          target: 'es2020', write: false, logLevel: 'silent' });
  const min = r.outputFiles[0].contents;
  rows.push({ entry: name, file, source: src.length, min: min.length, gzip: gzipSync(min, { level: 9 }).length });
}
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows));
} else {
  console.log("entry    file              min bytes  gzip bytes");
  for (const r of rows)
    console.log(`${r.entry.padEnd(8)} ${String(r.file).padEnd(16)} ${String(r.min).padStart(10)} ${String(r.gzip).padStart(6)}  (${(r.gzip / 1024).toFixed(1)} KiB gzip)`);
}
