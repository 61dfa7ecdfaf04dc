import * as ort from 'onnxruntime-node'

export interface InferTask {
  readonly modelPath: string
  readonly inputName: string
  readonly outputName: string
  /** Row-major [rowCount × width], transferred (not copied) from the main thread. */
  readonly rows: Float32Array
  readonly rowCount: number
  readonly width: number
}

// One session per model file per worker, created on first use and kept: creating a session costs milliseconds,
// a batch costs microseconds. The map is bounded by the champion + shadow models a job serves.
const sessions = new Map<string, Promise<ort.InferenceSession>>()

function sessionFor(modelPath: string): Promise<ort.InferenceSession> {
  let session = sessions.get(modelPath)
  if (!session) {
    // One thread per session: Piscina already runs one worker per core, and ORT's default pool takes every core.
    session = ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    })
    sessions.set(modelPath, session)
  }
  return session
}

/**
 * The scorer's start-up probe, one per worker. Reaching it means this worker has loaded this module, onnxruntime's
 * native binding included. Each waits (up to `timeoutMs`) until all of them have arrived, so that no worker takes two
 * and every worker has loaded: the scorer must not terminate a worker while the binding registers.
 */
export interface WarmupTask {
  readonly warmup: SharedArrayBuffer
  readonly workers: number
  readonly timeoutMs: number
}

/** Feeds `inputName` a float32 tensor [rowCount, width]; returns the `outputName` scores, one per row. */
export default async function infer(task: InferTask | WarmupTask): Promise<Float32Array> {
  if ('warmup' in task) return warmup(task)
  const session = await sessionFor(task.modelPath)
  const input = new ort.Tensor('float32', task.rows, [task.rowCount, task.width])
  const output = await session.run({ [task.inputName]: input })
  const scores = output[task.outputName]
  if (!scores || scores.data.length !== task.rowCount) {
    throw Object.assign(
      new Error(`model output ${task.outputName} has ${scores?.data.length ?? 0} values for ${task.rowCount} rows`),
      { code: 'FS_ERR_INFER' },
    )
  }
  return Float32Array.from(scores.data as Float32Array)
}

function warmup(task: WarmupTask): Float32Array {
  const arrived = new Int32Array(task.warmup)
  Atomics.add(arrived, 0, 1)
  Atomics.notify(arrived, 0)
  const deadline = Date.now() + task.timeoutMs
  for (
    let seen = Atomics.load(arrived, 0);
    seen < task.workers && Date.now() < deadline;
    seen = Atomics.load(arrived, 0)
  ) {
    Atomics.wait(arrived, 0, seen, Math.max(1, deadline - Date.now()))
  }
  return new Float32Array(0)
}
