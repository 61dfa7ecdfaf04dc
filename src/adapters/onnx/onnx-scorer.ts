import { Piscina } from 'piscina'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { Scorer } from '../../core/ports.js'
import type { ModelRef } from '../../core/records.js'
import type { InferTask } from './infer-worker.js'
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

  constructor(readonly pkg: ModelPackage, options: { threads: number }) {
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
  }

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
    try {
      return (await this.#pool.run(task, { transferList: [rows.buffer as ArrayBuffer] })) as Float32Array
    } catch (err) {
      throw new FraudstreamError(ErrorCode.infer, `inference with ${this.model.name}@${this.model.version} failed: ${(err as Error).message}`, 'internal', false, { cause: err })
    }
  }

  async close(): Promise<void> {
    await this.#pool.destroy()
  }
}
