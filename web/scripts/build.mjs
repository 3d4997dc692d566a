// build.mjs compiles the client with tsc and copies the demo page into the Go
// package that embeds it:
//
//	node scripts/build.mjs          dist/ (ES module + .d.ts) and ../demo/assets/
//	node scripts/build.mjs --check  fail when ../demo/assets/ is not what the sources build
//	node scripts/build.mjs --tests  compile the tests to .test-build/
//
// The demo's compiled files are committed, so `go run ./cmd/herald` serves the
// page without npm; --check (run by the tests) keeps them in step with src/.
//
// There is no bundler: the page loads the compiled modules as they are. A
// browser resolves only relative module paths, and the page's
// Content-Security-Policy forbids the inline import map that would map a
// package name, so the build copies each runtime dependency's own ES module
// build, unchanged, to js/vendor/ and points the compiled imports at it.
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

// vendored maps each package the client imports by name to its ES module
// build: the folder in node_modules, the entry module, and the licence that
// must travel with a copy. The page gets the folder's .mjs files in
// js/vendor/<as>/.
const vendored = {
  '@msgpack/msgpack': { dir: 'node_modules/@msgpack/msgpack', esm: 'dist.esm', entry: 'index.mjs', license: 'LICENSE', as: 'msgpack' },
};

// demoFiles builds the page into dir: index.html, style.css,
// js/{src,demo}/*.js and js/vendor/.
function demoFiles(dir) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-demo-'));
  try {
    run('-p', 'tsconfig.demo.json', '--outDir', out);
    fs.mkdirSync(path.join(dir, 'js'), { recursive: true });
    for (const sub of ['src', 'demo']) {
      for (const f of listFiles(path.join(out, sub))) {
        const to = path.join(dir, 'js', sub, f);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.writeFileSync(to, relink(fs.readFileSync(path.join(out, sub, f), 'utf8'), to, path.join(dir, 'js', 'vendor')));
      }
    }
    for (const v of Object.values(vendored)) {
      const from = path.join(web, v.dir, v.esm);
      for (const f of listFiles(from).filter((f) => f.endsWith('.mjs'))) {
        fs.mkdirSync(path.dirname(path.join(dir, 'js', 'vendor', v.as, f)), { recursive: true });
        fs.copyFileSync(path.join(from, f), path.join(dir, 'js', 'vendor', v.as, f));
      }
      fs.copyFileSync(path.join(web, v.dir, v.license), path.join(dir, 'js', 'vendor', v.as, 'LICENSE'));
    }
    for (const f of ['index.html', 'style.css']) fs.copyFileSync(path.join(web, 'demo', f), path.join(dir, f));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

// relink points the package-name imports of the compiled module file (static
// and dynamic) at the vendored copies under vendorDir, and fails on a package
// name that is not vendored: the browser could not load it. Comment lines are
// left alone.
function relink(src, file, vendorDir) {
  const spec = /(\bfrom\s*|\bimport\s*\(\s*)(['"])([^'"]+)\2/g;
  return src
    .split('\n')
    .map((line) => {
      if (/^\s*(\/\/|\*|\/\*)/.test(line)) return line;
      return line.replace(spec, (all, lead, q, name) => {
        if (name.startsWith('.') || name.startsWith('/')) return all;
        const v = vendored[name];
        if (!v) throw new Error(`${path.basename(file)} imports ${name}, which the demo build does not vendor (see vendored in build.mjs)`);
        let rel = path.relative(path.dirname(file), path.join(vendorDir, v.as, v.entry)).split(path.sep).join('/');
        if (!rel.startsWith('.')) rel = `./${rel}`;
        return `${lead}${q}${rel}${q}`;
      });
    })
    .join('\n');
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
