#!/usr/bin/env node
/**
 * modelpool CLI (commander; `modelpool --help`, `modelpool <command> --help`).
 *   modelpool demo [model.gguf] [prompt]   load a model, stream a completion, print stats and memory
 *   modelpool inspect <model.gguf>         GGUF metadata without loading tensors
 *   modelpool estimate <model.gguf> [ctx]  memory a load would take (llama.cpp dry run)
 *   modelpool devices                      CPU, RAM and GPU devices
 *   modelpool serve [--host] [--port] [--model PATH[=NAME]]... [--registry FILE]
 *   modelpool ps | load | unload | swap ...   act on a running server (--server, --key)
 *   modelpool ls | add | rm | run ...         the local registry, and a completion in this process
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { deviceInfo, estimateMemory, inspect, loadModel } from '../engine/index.js';
import { isModelpoolError } from '../errors.js';
import { defaultModel, packageRoot } from './defaults.js';


function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(2)} MiB`;
}

async function demo(path: string | undefined, prompt: string): Promise<void> {
  const modelPath = path ?? (await defaultModel());
  const device = deviceInfo();
  console.log(`device: ${device.cpu.model}, ${device.cpu.cores} cores, ${mib(device.ram.free)} free; backends ${device.backends.join(', ')}`);
  const info = await inspect(modelPath);
  console.log(`model: ${modelPath}\n  ${info.architecture}, ${info.parameterCount} parameters, ${info.fileType}, context ${info.contextLength}`);
  const estimate = await estimateMemory(modelPath, { contextSize: 512 });
  const tty = process.stderr.isTTY === true;
  const model = await loadModel(modelPath, {
    contextSize: 512,
    ...(tty ? { onProgress: (p: number) => process.stderr.write(`\rloading [${'#'.repeat(Math.round(p * 30)).padEnd(30, '.')}] ${(p * 100).toFixed(0)}%`) } : {}),
  });
  if (tty) process.stderr.write('\n');
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
  const { Command, InvalidArgumentError } = await import('commander');
  const integerOption = (name: string) => (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
    return n;
  };
  const program = new Command('modelpool')
    .description('In-process model registry, pool and server over llama.cpp')
    .version(JSON.parse(readFileSync(resolve(packageRoot, 'package.json'), 'utf8')).version as string)
    .showHelpAfterError()
    // Options after a subcommand are its own (add --version 2 is not the program's --version).
    .enablePositionalOptions()
    .exitOverride((error) => {
      // Usage errors exit 2 (as most CLIs do); --help and --version exit 0.
      process.exit(error.exitCode === 0 ? 0 : 2);
    });
  program
    .command('demo')
    .description('load a model, stream a completion, print speed and memory')
    .argument('[model]', 'a GGUF file (default: the embedded model)')
    .argument('[prompt]', 'the prompt', 'Once upon a time')
    .action(async (model: string | undefined, prompt: string) => demo(model, prompt));
  program
    .command('inspect')
    .description('GGUF metadata without loading tensors, and the memory a load would take')
    .argument('<model>', 'a GGUF file')
    .option('--context <tokens>', 'context size for the memory estimate', integerOption('--context'), 2048)
    .option('--json', 'machine-readable output')
    .action(async (model: string, o: { context: number; json?: boolean }) => {
      const { metadata: _metadata, chatTemplate: _template, ...summary } = await inspect(model);
      const contextSize = Math.min(o.context, summary.contextLength || o.context);
      const estimate = await estimateMemory(model, { contextSize });
      if (o.json === true) return void console.log(JSON.stringify({ ...summary, estimate: { contextSize, ...estimate } }, null, 2));
      console.log(`${model}\n  ${summary.architecture}, ${summary.parameterCount} parameters, ${summary.fileType}, trained context ${summary.contextLength}`);
      console.log(`  memory at context ${contextSize}: ${mib(estimate.total)} (weights ${mib(estimate.weights)}, KV cache ${mib(estimate.kvCache)}, compute ${mib(estimate.compute)})`);
    });
  program
    .command('estimate')
    .description('the memory a load would take (a llama.cpp dry run)')
    .argument('<model>', 'a GGUF file')
    .argument('[context]', 'context size in tokens', integerOption('context'))
    .action(async (model: string, context: number | undefined) => {
      console.log(JSON.stringify(await estimateMemory(model, context === undefined ? {} : { contextSize: context }), null, 2));
    });
  program
    .command('quantize')
    .description('quantize a GGUF model (llama.cpp\'s quantizer, off the event loop)')
    .argument('<input>', 'a GGUF file')
    .argument('<output>', 'the file to write')
    .argument('<type>', 'Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K, F16, BF16, IQ4_NL, ...')
    .option('--threads <n>', 'threads', integerOption('--threads'))
    .option('--json', 'machine-readable output')
    .action(async (input: string, output: string, type: string, o: { threads?: number; json?: boolean }) => {
      const { quantizeModel } = await import('../engine/index.js');
      const { statSync } = await import('node:fs');
      const started = performance.now();
      const tty = process.stderr.isTTY === true && o.json !== true;
      // llama.cpp's quantizer reports no progress: a spinner says it is working.
      const frames = ['|', '/', '-', '\\'];
      let frame = 0;
      const spinner = tty ? setInterval(() => process.stderr.write(`\rquantizing ${frames[frame++ % 4]} ${((performance.now() - started) / 1000).toFixed(0)} s`), 250) : undefined;
      try {
        await quantizeModel(input, output, type as Parameters<typeof quantizeModel>[2], o.threads === undefined ? {} : { threads: o.threads });
      } finally {
        if (spinner !== undefined) {
          clearInterval(spinner);
          process.stderr.write('\n');
        }
      }
      const result = { input, output, type, ms: performance.now() - started, inputBytes: statSync(input).size, outputBytes: statSync(output).size };
      if (o.json === true) console.log(JSON.stringify(result));
      else console.log(`${output}: ${type}, ${mib(result.outputBytes)} (from ${mib(result.inputBytes)}) in ${(result.ms / 1000).toFixed(1)} s`);
    });
  program
    .command('devices')
    .description('CPU, RAM and GPU devices')
    .action(() => console.log(JSON.stringify(deviceInfo(), null, 2)));
  program
    .command('serve')
    .description("OpenAI- and Ollama-compatible server with /metrics and a dashboard, over the registry's models")
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0: a free one)', integerOption('--port'), 11435)
    .option('--model <path[=name]>', 'register a GGUF or ONNX file (repeatable)', (value: string, all: string[]) => [...all, value], [] as string[])
    .option('--registry <file>', 'SQLite registry file (default: in your data folder)')
    .option('--context-size <tokens>', 'context size of each loaded model', integerOption('--context-size'), 2048)
    .option('--json', 'print the address as JSON')
    .action(async (options: { host: string; port: number; model: string[]; registry?: string; contextSize: number; json?: boolean }) => {
      const { serve } = await import('./serve.js');
      await serve(options);
    });
  const server = (command: InstanceType<typeof Command>) =>
    command
      .option('--server <url>', 'the modelpool server', process.env.MODELPOOL_SERVER ?? 'http://127.0.0.1:11435')
      .option('--key <key>', 'an admin caller key (default: MODELPOOL_KEY)', process.env.MODELPOOL_KEY)
      .option('--json', 'machine-readable output');
  const commands = () => import('./commands.js');
  server(program.command('ps').description('models loaded by a running server: memory, state, expiry')).action(async (o) => (await commands()).ps(o));
  server(program.command('load').description('load a model in a running server').argument('<model>')).action(async (model: string, o) => (await commands()).poolAction(o, 'load', model));
  server(program.command('unload').description('unload a model from a running server').argument('<model>')).action(async (model: string, o) => (await commands()).poolAction(o, 'unload', model));
  server(program.command('swap').description("swap a running server's model to a registered version (zero downtime)").argument('<model>').argument('<version>')).action(async (model: string, version: string, o) =>
    (await commands()).poolAction(o, 'swap', model, version),
  );
  program
    .command('ls')
    .description('models in the local registry')
    .option('--registry <file>', 'SQLite registry file (default: in your data folder)')
    .option('--json', 'machine-readable output')
    .action(async (o) => (await commands()).ls(o));
  program
    .command('add')
    .description('register a GGUF or ONNX file in the local registry (a new version when the name exists)')
    .argument('<file>')
    .option('--name <name>', 'model name (default: the file name)')
    .option('--version <version>', 'version name')
    .option('--task <task...>', 'tasks it does (default: completion chat; embedding for ONNX)')
    .option('--registry <file>', 'SQLite registry file')
    .option('--json', 'machine-readable output')
    .action(async (file: string, o) => (await commands()).add(file, o));
  program
    .command('rm')
    .description('remove a model from the local registry')
    .argument('<model>')
    .option('--registry <file>', 'SQLite registry file')
    .action(async (model: string, o) => (await commands()).rm(model, o));
  program
    .command('run')
    .description('stream a completion to the terminal (a GGUF file or a registered model)')
    .argument('<model>')
    .argument('<prompt>')
    .option('--max-tokens <n>', 'tokens to generate', integerOption('--max-tokens'), 256)
    .option('--temperature <t>', 'sampling temperature', (v: string) => Number(v), 0.8)
    .option('--registry <file>', 'SQLite registry file')
    .option('--json', 'print the result as JSON instead of streaming')
    .action(async (model: string, prompt: string, o) => (await commands()).run(model, prompt, o));
  program
    .command('discover')
    .description("register the GGUF files of Ollama, LM Studio, the Hugging Face cache and node-llama-cpp (and folders given)")
    .option('--dir <folder...>', 'more folders to scan')
    .option('--registry <file>', 'SQLite registry file')
    .option('--json', 'machine-readable output')
    .action(async (o) => (await commands()).discover(o));
  program
    .command('eval')
    .description('run a task suite (JSONL) on a model; its score becomes the model\'s quality in the registry')
    .argument('<suite>', 'a suite file (see docs/api.md, modelpool/eval)')
    .argument('<model>', 'a registered model')
    .option('--concurrency <n>', 'items at once', integerOption('--concurrency'), 1)
    .option('--registry <file>', 'SQLite registry file')
    .option('--json', 'print the report as JSON')
    .action(async (suite: string, model: string, o) => (await commands()).evaluate(suite, model, o));
  program
    .command('judge')
    .description('calibrate a model as a judge against a labelled set (JSONL): agreement, confusion, rank correlation')
    .argument('<model>', 'a GGUF file')
    .argument('<labels>', 'a labelled set (see docs/api.md, modelpool/judge)')
    .option('--concurrency <n>', 'verdicts at once', integerOption('--concurrency'), 2)
    .option('--json', 'print the report as JSON')
    .action(async (model: string, labels: string, o: { concurrency: number; json?: boolean }) => {
      const { spawnSync } = await import('node:child_process');
      const args = [resolve(packageRoot, 'scripts', 'judge-calibrate.mjs'), '--model', model, '--labels', labels, '--concurrency', String(o.concurrency), ...(o.json === true ? ['--json'] : [])];
      const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
      process.exitCode = r.status ?? 1;
    });
  program
    .command('bench')
    .description('requests of one prompt, one after another: latency percentiles, first token, decode speed')
    .argument('<model>', 'a GGUF file or a registered model')
    .option('--requests <n>', 'requests', integerOption('--requests'), 20)
    .option('--max-tokens <n>', 'tokens per request', integerOption('--max-tokens'), 64)
    .option('--registry <file>', 'SQLite registry file')
    .option('--json', 'machine-readable output')
    .action(async (model: string, o) => (await commands()).bench(model, o));
  await program.parseAsync(argv, { from: 'user' });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(isModelpoolError(error) ? `${error.code}: ${error.message}` : error);
  process.exitCode = 1;
});

