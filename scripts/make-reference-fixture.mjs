// Regenerates test/fixtures/stories260K-greedy.json with llama.cpp's own llama-simple (greedy),
// built from the same source bundle (npm run build:llama-tools first).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { root } from './llama-source.mjs';

const model = resolve(root, '..', 'shared', 'models', 'stories260K.gguf');
const prompt = 'Once upon a time';
const nPredict = 128;
const out = execFileSync(join(root, 'build', 'bin', 'llama-simple'), ['-m', model, '-n', String(nPredict), prompt], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'ignore'],
});
// llama-simple prints the prompt's pieces ("<s> Once upon a time"), each generated piece, then "\n".
const prefix = `<s> ${prompt}`;
if (!out.startsWith(prefix) || !out.endsWith('\n')) throw new Error(`unexpected llama-simple output: ${out.slice(0, 80)}`);
const text = out.slice(prefix.length, -1);
writeFileSync(
  join(root, 'test', 'fixtures', 'stories260K-greedy.json'),
  `${JSON.stringify({ tool: 'llama-simple (llama.cpp, same bundle)', model: 'stories260K.gguf', prompt, nPredict, text }, null, 2)}\n`,
);
console.log(text);
