// The consumer test: what a user gets from the published package. `npm pack` this repository, install the
// tarball into an empty project with only the npm registry reachable, then in a plain `node` process import
// `modelpool`, stream a generation from ../shared/models/stories260K.gguf and register a model in a SQLite
// registry file. Two cases:
//   prebuild  the tarball carries a prebuild matching this machine: no native build of modelpool at install.
//             Publishing uses `npm run build:prebuild` (CI's pack job tests those); when the checkout has no
//             prebuilds/ (as here), to stay fast, the addon it already built (build/Release/modelpool.node,
//             tuned for this CPU) is staged as that prebuild, stripped and named by the node-gyp-build
//             convention. The consumer's node_modules size is reported (target: <= 50 MB).
//   source    the tarball carries no prebuild: the addon builds from the shipped llama.cpp subset, offline.
//
//   npm run test:consumer                 # both cases
//   npm run test:consumer -- source       # one case
//   MODELPOOL_CONSUMER_KEEP=1 ...           # keep the temporary projects
// Runs on whatever `node` runs it (CI runs it on Node 24); `npm` is taken from PATH.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, lstatSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { root } from './llama-source.mjs';

const CASES = ['prebuild', 'source'];
const TARGET_MB = 50;
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : CASES;
for (const c of wanted) if (!CASES.includes(c)) throw new Error(`case must be one of ${CASES.join(', ')}, got "${c}"`);
const model = resolve(root, '..', 'shared', 'models', 'stories260K.gguf');
if (!existsSync(model)) throw new Error(`model not found at ${model} (../shared/models/stories260K.gguf from the repository root)`);
const isWindows = process.platform === 'win32';
const npm = isWindows ? 'npm.cmd' : 'npm';

const timings = [];
function timed(label, fn) {
  const start = performance.now();
  const value = fn();
  const seconds = (performance.now() - start) / 1000;
  timings.push([label, seconds]);
  console.log(`consumer-test: ${label}: ${seconds.toFixed(1)} s`);
  return value;
}
function run(cmd, args, options) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', shell: isWindows, ...options });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${options.cwd}) exited with ${result.signal ?? result.status}`);
}

/** Bytes of a file, or of the files below a folder (apparent size; links not followed, hard links once). */
const counted = new Set();
function sizeOf(path) {
  const stat = lstatSync(path);
  if (stat.isDirectory()) return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
  const id = `${stat.dev}:${stat.ino}`;
  if (stat.nlink > 1 && counted.has(id)) return 0;
  counted.add(id);
  return stat.size;
}
/** Each installed package's size (scoped ones by full name), largest first. */
function breakdown(nodeModules) {
  const rows = [];
  for (const name of readdirSync(nodeModules)) {
    if (name.startsWith('.')) continue;
    const dirs = name.startsWith('@') ? readdirSync(join(nodeModules, name)).map((n) => `${name}/${n}`) : [name];
    for (const d of dirs) rows.push([d, sizeOf(join(nodeModules, d))]);
  }
  return rows.sort((a, b) => b[1] - a[1]);
}
const mb = (bytes) => (bytes / 1e6).toFixed(1);

const work = mkdtempSync(join(tmpdir(), 'modelpool-consumer-'));
console.log(`consumer-test: Node ${process.versions.node}, working in ${work}`);

// 1. The tarball, exactly as `npm publish` would make it (prepack included).
const packDir = join(work, 'pack');
mkdirSync(packDir);
const [packed] = timed('npm pack', () =>
  JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', packDir], { cwd: root, encoding: 'utf8', shell: isWindows })),
);
const tarball = join(packDir, packed.filename);
console.log(`consumer-test: ${packed.filename}: ${mb(packed.size)} MB packed, ${mb(packed.unpackedSize)} MB unpacked, ${packed.entryCount} files`);

// 2. One tarball per case: the packed one without prebuilds/ (source), and one with this platform's prebuild:
// the packed one as it is when the checkout has prebuilds (CI's pack job), else with a staged one.
execFileSync('tar', ['xzf', tarball, '-C', packDir]);
const unpacked = join(packDir, 'package');
const shipsPrebuild = existsSync(join(unpacked, 'prebuilds', `${process.platform}-${process.arch}`));
if (shipsPrebuild) copyFileSync(tarball, join(packDir, 'prebuild.tgz'));
rmSync(join(unpacked, 'prebuilds'), { recursive: true, force: true });
execFileSync('tar', ['czf', join(packDir, 'source.tgz'), '-C', packDir, 'package']);
if (wanted.includes('prebuild') && !shipsPrebuild) {
  const built = join(root, 'build', 'Release', 'modelpool.node');
  if (!existsSync(built)) throw new Error(`${built} not found: run npm ci (or npm run build:native) first`);
  const libc = process.platform === 'linux' ? (existsSync('/etc/alpine-release') ? '.musl' : '.glibc') : '';
  const staged = join(unpacked, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(staged, { recursive: true });
  const prebuilt = join(staged, `modelpool${libc}.node`);
  copyFileSync(built, prebuilt);
  // Published prebuilds are stripped (prebuildify --strip in scripts/prebuild.mjs); so is the staged one.
  if (process.platform === 'linux') execFileSync('strip', ['--strip-all', prebuilt]);
  execFileSync('tar', ['czf', join(packDir, 'prebuild.tgz'), '-C', packDir, 'package']);
}

// Offline apart from the npm registry: node-gyp (better-sqlite3, whose prebuilt binaries live on GitHub) takes
// Node's headers from this Node's own install instead of downloading them. ccache serves repeated builds: its
// base directory is the whole consumer project, so both the modelpool and better-sqlite3 builds compile with
// relative paths and hit objects made in other folders (the checkout's own build, earlier runs). CC/CXX put
// ccache in front of node-gyp's compiler too; they name `cc`/`c++`, the compilers CMake picks by default,
// because ccache keys on the compiler's name as well: `gcc` would miss every object of the checkout's build.
function installEnv(project) {
  const env = { ...process.env, CCACHE_BASEDIR: project, CCACHE_NOHASHDIR: 'true' };
  // The headers of the Node that runs this test (a user's npmrc may name another Node's).
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;
  const ccache = spawnSync('ccache', ['--version'], { stdio: 'ignore' }).status === 0;
  if (ccache && !isWindows && !env.CC && !env.CXX) Object.assign(env, { CC: 'ccache cc', CXX: 'ccache c++' });
  return env;
}

const smoke = `
import { readFileSync } from 'node:fs';
import { loadModel, ModelRegistry } from 'modelpool';
const [modelPath, dbPath] = process.argv.slice(2);
const model = await loadModel(modelPath, { contextSize: 256, threads: 1 });
const stream = model.generate({ prompt: 'Once upon a time', maxTokens: 24, temperature: 0 });
let text = '';
for await (const chunk of stream) text += chunk;
const { generatedTokens, finishReason } = await stream.result;
await model.dispose();
if (generatedTokens === 0 || text.length === 0) throw new Error('no text generated');
const registry = await ModelRegistry.open({ path: dbPath });
await registry.registerModel({ id: 'stories', aliases: ['stories:latest'], tasks: ['completion'],
  version: { version: '1', source: { kind: 'gguf', path: modelPath } } });
await registry.close();
const reopened = await ModelRegistry.open({ path: dbPath });
const resolved = reopened.resolve('stories:latest');
await reopened.close();
let binary = 'unknown';
try { binary = readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => /[\\/]modelpool[^\\/]*\\.node$/.test(l)).split(/\\s+/).pop(); } catch {}
console.log(JSON.stringify({ text, generatedTokens, finishReason, registered: resolved.model.id, binary }));
`;

const results = [];
for (const name of wanted) {
  const project = join(work, name);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module' }));
  writeFileSync(join(project, 'smoke.mjs'), smoke);
  timed(`${name}: npm install`, () =>
    run(npm, ['install', '--no-audit', '--no-fund', '--foreground-scripts', join(packDir, `${name}.tgz`)], {
      cwd: project,
      env: installEnv(project),
    }),
  );
  const installed = join(project, 'node_modules', 'modelpool');
  const sourceBuilt = existsSync(join(installed, 'build', 'Release', 'modelpool.node'));
  if (sourceBuilt !== (name === 'source')) {
    throw new Error(`${name}: expected ${name === 'source' ? 'a source build' : 'no source build'} in ${installed}, found the opposite`);
  }
  const out = timed(`${name}: generate + registry (plain node)`, () =>
    execFileSync(process.execPath, ['smoke.mjs', model, join(project, 'registry.db')], { cwd: project, encoding: 'utf8' }),
  );
  const smokeResult = JSON.parse(out.trim().split('\n').at(-1));
  console.log(`consumer-test: ${name}: ${JSON.stringify(smokeResult)}`);
  counted.clear();
  const rows = breakdown(join(project, 'node_modules'));
  const total = rows.reduce((sum, [, bytes]) => sum + bytes, 0);
  console.log(`consumer-test: ${name}: node_modules ${mb(total)} MB`);
  for (const [pkg, bytes] of rows.slice(0, 12)) console.log(`  ${mb(bytes).padStart(7)} MB  ${pkg}`);
  const rest = rows.slice(12).reduce((sum, [, bytes]) => sum + bytes, 0);
  console.log(`  ${mb(rest).padStart(7)} MB  ${rows.length - 12} others`);
  for (const pkg of ['modelpool', 'better-sqlite3']) {
    const dir = join(project, 'node_modules', pkg);
    counted.clear();
    console.log(`  ${pkg}: ${readdirSync(dir).map((d) => `${d} ${mb(sizeOf(join(dir, d)))}`).join(', ')}`);
  }
  results.push({ name, total });
}

console.log('consumer-test: timings');
for (const [label, seconds] of timings) console.log(`  ${seconds.toFixed(1).padStart(7)} s  ${label}`);
const prebuild = results.find((r) => r.name === 'prebuild');
if (prebuild) {
  console.log(`consumer-test: node_modules with a prebuild: ${mb(prebuild.total)} MB (target <= ${TARGET_MB} MB)`);
}
if (process.env.MODELPOOL_CONSUMER_KEEP === '1') console.log(`consumer-test: kept ${work}`);
else rmSync(work, { recursive: true, force: true });
console.log('consumer-test: passed');
