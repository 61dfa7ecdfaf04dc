import { Piscina } from 'piscina'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../../core/errors.js'
import type { Scorer } from '../../core/ports.js'
import type { ModelRef } from '../../core/records.js'
import type { InferTask, WarmupTask } from './infer-worker.js'
import type { ModelPackage } from './model-package.js'

const WORKER_URL = new URL('./infer-worker.ts', import.meta.url)

/**
 * Scores feature batches with onnxruntime-node on a Piscina pool. Each batch is one Float32Array moved to the
 * worker (transferred, not copied). `session.run` is CPU-bound, so it never runs on the event loop.
 */
export class OnnxScorer implements Scorer {
  readonly #pool: Piscina
  readonly model: ModelRef
  readonly featureNames: readonly string[]

  constructor(
    readonly pkg: ModelPackage,
    options: { threads: number },
  ) {
    this.model = { name: pkg.manifest.name, version: pkg.manifest.version }
    this.featureNames = pkg.manifest.feature_contract.names
    this.#pool = new Piscina({
      filename: WORKER_URL.href,
      minThreads: options.threads,
      maxThreads: options.threads,
      // No maxQueue: the job bounds records in flight (runtime.maxInFlight), which bounds the batches queued here.
      // The worker is TypeScript: workers do not inherit tsx's loader from a programmatic register().
      execArgv: ['--import', 'tsx'],
      // Model workers need no credentials; an explicit env keeps secrets out of them.
      env: {},
    })
    // A worker terminated while onnxruntime's binding registers, or while it creates a session, aborts the whole
    // process ("terminate called after throwing an instance of 'Napi::Error'"): close() waits for every worker to
    // have loaded (one start-up probe each) and for the batches in flight.
    const warmup: WarmupTask = { warmup: new SharedArrayBuffer(4), workers: options.threads, timeoutMs: 60_000 }
    this.#started = Promise.allSettled(Array.from({ length: options.threads }, () => this.#pool.run(warmup)))
  }

  readonly #started: Promise<unknown>
  readonly #inFlight = new Set<Promise<unknown>>()

  get queueFull(): boolean {
    return this.#pool.needsDrain
  }

  async score(rows: Float32Array, rowCount: number): Promise<Float32Array> {
    const task: InferTask = {
      modelPath: this.pkg.onnxPath,
      inputName: this.pkg.manifest.input.name,
      outputName: this.pkg.manifest.output.name,
      rows,
      rowCount,
      width: this.featureNames.length,
    }
    const running = this.#pool.run(task, { transferList: [rows.buffer as ArrayBuffer] }) as Promise<Float32Array>
    this.#inFlight.add(running)
    try {
      return await running
    } catch (err) {
      throw new FraudstreamError(
        ErrorCode.infer,
        `inference with ${this.model.name}@${this.model.version} failed: ${errorMessageOf(err)}`,
        'internal',
        false,
        { cause: err },
      )
    } finally {
      this.#inFlight.delete(running)
    }
  }

  async close(): Promise<void> {
    await this.#started
    await Promise.allSettled([...this.#inFlight])
    await this.#pool.destroy()
  }
}
