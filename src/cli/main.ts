#!/usr/bin/env node
/**
 * modelpool CLI.
 *   modelpool demo [model.gguf] [prompt]   load a model, stream a completion, print stats and memory
 *   modelpool inspect <model.gguf>         GGUF metadata without loading tensors
 *   modelpool estimate <model.gguf> [ctx]  memory a load would take (llama.cpp dry run)
 *   modelpool devices                      CPU, RAM and GPU devices
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deviceInfo, estimateMemory, inspect, loadModel } from '../engine/index.js';
import { isModelpoolError } from '../errors.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(2)} MiB`;
}

/** The embedded default: the shared tiny real model when present, else a generated one. */
async function defaultModel(): Promise<string> {
  const shared = resolve(packageRoot, '..', 'shared', 'models', 'stories260K.gguf');
  if (existsSync(shared)) return shared;
  const { cachedTestModel } = await import('../testing/model-generator.js');
  return cachedTestModel({ type: 'F16' });
}

async function demo(path: string | undefined, prompt: string): Promise<void> {
  const modelPath = path ?? (await defaultModel());
  const device = deviceInfo();
  console.log(`device: ${device.cpu.model}, ${device.cpu.cores} cores, ${mib(device.ram.free)} free; backends ${device.backends.join(', ')}`);
  const info = await inspect(modelPath);
  console.log(`model: ${modelPath}\n  ${info.architecture}, ${info.parameterCount} parameters, ${info.fileType}, context ${info.contextLength}`);
  const estimate = await estimateMemory(modelPath, { contextSize: 512 });
  const model = await loadModel(modelPath, { contextSize: 512 });
  console.log(
    `  loaded in ${model.loadMs.toFixed(1)} ms, threads ${model.threads}; memory ${mib(model.memory.total)} ` +
      `(weights ${mib(model.memory.weights)}, KV ${mib(model.memory.kvCache)}, compute ${mib(model.memory.compute)}); estimate ${mib(estimate.total)}`,
  );
  process.stdout.write(`\n${prompt}`);
  const stream = model.generate({ prompt, temperature: 0, maxTokens: 120 });
  for await (const chunk of stream) process.stdout.write(chunk);
  const r = await stream.result;
  console.log(
    `\n\n${r.promptTokens} prompt + ${r.generatedTokens} generated tokens (${r.finishReason}); ` +
      `first token ${r.timeToFirstTokenMs.toFixed(1)} ms, decode ${r.decodeTokensPerSecond.toFixed(0)} tokens/s, ` +
      `native ${r.nativeMs.toFixed(1)} ms, CPU ${r.cpuMs.toFixed(1)} ms`,
  );
  await model.dispose();
}

async function main(argv: string[]): Promise<void> {
  const [command = 'demo', ...args] = argv;
  switch (command) {
    case 'demo':
      return demo(args[0], args[1] ?? 'Once upon a time');
    case 'inspect': {
      const { metadata: _metadata, chatTemplate: _template, ...summary } = await inspect(args[0] ?? '');
      console.log(JSON.stringify(summary, null, 2));
      return;
    }
    case 'estimate': {
      const report = await estimateMemory(args[0] ?? '', args[1] ? { contextSize: Number(args[1]) } : {});
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    case 'devices':
      console.log(JSON.stringify(deviceInfo(), null, 2));
      return;
    default:
      console.error(`unknown command ${command}; try demo, inspect, estimate or devices`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(isModelpoolError(error) ? `${error.code}: ${error.message}` : error);
  process.exitCode = 1;
});

