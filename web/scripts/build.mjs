// build.mjs compiles the client with tsc and copies the demo page into the Go
// package that embeds it:
//
//	node scripts/build.mjs          dist/ (ES module + .d.ts) and ../demo/assets/
//	node scripts/build.mjs --check  fail when ../demo/assets/ is not what the sources build
//	node scripts/build.mjs --tests  compile the tests to .test-build/
//
// The demo's compiled files are committed, so `go run ./cmd/herald` serves the
// page without npm; --check (run by the tests) keeps them in step with src/.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const assets = path.resolve(web, '..', 'demo', 'assets');
const tsc = path.join(web, 'node_modules', 'typescript', 'bin', 'tsc');

function run(...args) {
  execFileSync(process.execPath, [tsc, ...args], { cwd: web, stdio: 'inherit' });
}

// demoFiles builds the page into dir: index.html, style.css and js/{src,demo}/*.js.
function demoFiles(dir) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-demo-'));
  try {
    run('-p', 'tsconfig.demo.json', '--outDir', out);
    fs.mkdirSync(path.join(dir, 'js'), { recursive: true });
    for (const sub of ['src', 'demo']) {
      fs.cpSync(path.join(out, sub), path.join(dir, 'js', sub), { recursive: true });
    }
    for (const f of ['index.html', 'style.css']) fs.copyFileSync(path.join(web, 'demo', f), path.join(dir, f));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

// listFiles returns dir's files as relative paths, sorted.
function listFiles(dir, base = dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))]))
    .sort();
}

const mode = process.argv[2] ?? '';
if (mode === '--tests') {
  fs.rmSync(path.join(web, '.test-build'), { recursive: true, force: true });
  run('-p', 'tsconfig.test.json');
} else if (mode === '--check') {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-assets-'));
  try {
    demoFiles(tmp);
    const want = listFiles(tmp);
    const have = listFiles(assets);
    const stale = [...new Set([...want, ...have])].filter((f) => {
      const a = path.join(tmp, f);
      const b = path.join(assets, f);
      return !fs.existsSync(a) || !fs.existsSync(b) || !fs.readFileSync(a).equals(fs.readFileSync(b));
    });
    if (stale.length > 0) {
      console.error(`demo/assets is out of date (run npm run build in web/): ${stale.join(', ')}`);
      process.exit(1);
    }
    console.log('demo/assets is up to date');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
} else if (mode === '') {
  fs.rmSync(path.join(web, 'dist'), { recursive: true, force: true });
  run('-p', 'tsconfig.json');
  fs.rmSync(assets, { recursive: true, force: true });
  demoFiles(assets);
  console.log(`built dist/ and ${path.relative(process.cwd(), assets)}`);
} else {
  console.error('usage: node scripts/build.mjs [--check | --tests]');
  process.exit(2);
}
