import { invalidArgument } from '../errors.js';
import { optionalBoolean, optionalSignal } from '../validate.js';
import { native } from './native.js';
import { type NativeModel, type NativeSlot } from './native.js';
import { type EvaluateRequest, type EvaluationResult, type GenerateRequest, type GenerationResult, type GenerationStream } from '../model/types.js';
import { fromNative } from './convert.js';
import { loadModel } from './load.js';
import { models, Model } from './model.js';
import { completeWith, generateParams, startRequest } from './request.js';

// ---------------------------------------------------------------------------------------------
// ModelSlot

/**
 * The hot-swap primitive: a slot holding the model that serves. `replace()` publishes a new model
 * atomically (in C++); a request runs on the model that was current when it was accepted, and the old
 * model is freed once its last request has finished.
 */
export class ModelSlot {
  readonly #native: NativeSlot;

  constructor(model: Model) {
    if (!(model instanceof Model)) throw invalidArgument('model', 'a Model from loadModel()', model);
    try {
      this.#native = new (native().Slot)(model.nativeModel);
    } catch (error) {
      throw fromNative(error, 'DISPOSED');
    }
  }

  /** The model that serves new requests. */
  get current(): Model {
    return models.get(this.#native.current())!;
  }

  /** How many times a model was published (1 after construction). */
  get generation(): number {
    return this.#native.generation();
  }

  /**
   * Publishes `model`; returns the previous one. With `disposeOld` (default true) the previous model
   * stops taking requests at once and is freed when the requests already on it have finished.
   */
  async replace(model: Model, options: { disposeOld?: boolean } = {}): Promise<Model> {
    if (!(model instanceof Model)) throw invalidArgument('model', 'a Model from loadModel()', model);
    const disposeOld = optionalBoolean('options.disposeOld', options.disposeOld) ?? true;
    let previousNative: NativeModel;
    try {
      previousNative = this.#native.replace(model.nativeModel);
    } catch (error) {
      throw fromNative(error, 'DISPOSED');
    }
    const previous = models.get(previousNative)!;
    if (disposeOld && previous !== model) await previous.dispose();
    return previous;
  }

  generate(request: GenerateRequest): GenerationStream {
    const current = this.current;
    const params = generateParams(current.nativeModel, request, current.chat);
    const signal = optionalSignal('request.signal', request.signal);
    let owner: Model | undefined;
    const stream = startRequest(
      (p, cb) => {
        const handle = this.#native.generate(p, cb);
        owner = handle.model ? models.get(handle.model) : current;
        owner?.track(1);
        return handle;
      },
      params,
      signal,
      () => {
        owner?.track(-1);
        return owner;
      },
    );
    return stream;
  }

  complete(request: GenerateRequest): Promise<GenerationResult> {
    return completeWith(() => this.generate(request));
  }

  /** Model.evaluate() on the current model. */
  evaluate(request: EvaluateRequest): Promise<EvaluationResult> {
    return this.current.evaluate(request);
  }
}
