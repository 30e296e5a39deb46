/**
 * The program of a session worker: one worker thread owns one ONNX Runtime InferenceSession, as one
 * llama-server slot owns its sequence. onnxruntime-node's `run()` calls ONNX Runtime synchronously on
 * the thread that calls it, so a session on the main thread would block the event loop for a whole
 * batch; in a worker it blocks only the worker.
 *
 * It is plain JavaScript in a string, run with `new Worker(source, { eval: true })`: a worker file
 * beside this one would have to exist both as TypeScript (tests run the sources) and as JavaScript (lib/),
 * and a worker cannot load TypeScript. Keep it small: everything that can be done on the main thread is.
 *
 * Protocol (structured clone; typed arrays are transferred where they can be):
 *   → worker  { type: 'run', id, feeds: { name: { type, dims, data } }, fetches: [name] }
 *             { type: 'release' }
 *   ← worker  { type: 'ready', providers, failures, inputs, outputs }    the session was created
 *             { type: 'failed', message, failures }                      no attempt created a session
 *             { type: 'result', id, outputs: { name: { type, dims, data } } }
 *             { type: 'error', id, message }                             this run failed
 *             { type: 'released' }
 * Messages are handled one at a time, in order: a release never overtakes a run.
 */
export const SESSION_WORKER_SOURCE = String.raw`
'use strict';
// Dynamic imports only: an eval'd worker runs as CommonJS, or as an ES module when the process was
// started with --input-type=module (workers inherit execArgv), and import() works in both.
(async () => {
  const { parentPort, workerData } = await import('node:worker_threads');
  const { pathToFileURL } = await import('node:url');
  const describe = (error) => (error && typeof error.message === 'string' ? error.message : String(error));
  let ort;
  let session;

  async function create() {
    const module = await import(pathToFileURL(workerData.runtimePath).href);
    ort = module.default ?? module; // a CommonJS module's exports
    const failures = [];
    for (const providers of workerData.attempts) {
      try {
        session = await ort.InferenceSession.create(workerData.modelPath, { ...workerData.sessionOptions, executionProviders: providers });
        return { providers, failures };
      } catch (error) {
        failures.push({ providers, message: describe(error) });
      }
    }
    const error = new Error(failures.length > 0 ? failures[failures.length - 1].message : 'no execution provider to try');
    error.failures = failures;
    throw error;
  }

  const metadata = (list) =>
    list.map((m) => ({ name: m.name, isTensor: m.isTensor !== false, type: m.type, shape: Array.isArray(m.shape) ? [...m.shape] : [] }));

  async function run(message) {
    const feeds = {};
    for (const [name, feed] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
    const results = await session.run(feeds, message.fetches);
    const outputs = {};
    const transfer = new Set();
    for (const name of message.fetches) {
      const tensor = results[name];
      outputs[name] = { type: tensor.type, dims: [...tensor.dims], data: tensor.data };
      if (tensor.data && tensor.data.buffer instanceof ArrayBuffer) transfer.add(tensor.data.buffer);
    }
    try {
      parentPort.postMessage({ type: 'result', id: message.id, outputs }, [...transfer]);
    } catch {
      parentPort.postMessage({ type: 'result', id: message.id, outputs }); // a buffer that cannot move is copied
    }
  }

  let queue = create().then(
    ({ providers, failures }) =>
      parentPort.postMessage({ type: 'ready', providers, failures, inputs: metadata(session.inputMetadata), outputs: metadata(session.outputMetadata) }),
    (error) => parentPort.postMessage({ type: 'failed', message: describe(error), failures: error.failures || [] }),
  );

  parentPort.on('message', (message) => {
    queue = queue.then(async () => {
      if (message.type === 'run') {
        try {
          await run(message);
        } catch (error) {
          parentPort.postMessage({ type: 'error', id: message.id, message: describe(error) });
        }
      } else if (message.type === 'release') {
        try {
          if (session !== undefined) await session.release();
        } catch {}
        session = undefined;
        parentPort.postMessage({ type: 'released' });
      }
    });
  });
})();
`;
