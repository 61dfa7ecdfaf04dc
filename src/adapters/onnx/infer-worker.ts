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
    session = ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' })
    sessions.set(modelPath, session)
  }
  return session
}

/** Feeds `inputName` a float32 tensor [rowCount, width]; returns the `outputName` scores, one per row. */
export default async function infer(task: InferTask): Promise<Float32Array> {
  const session = await sessionFor(task.modelPath)
  const input = new ort.Tensor('float32', task.rows, [task.rowCount, task.width])
  const output = await session.run({ [task.inputName]: input })
  const scores = output[task.outputName]
  if (!scores || scores.data.length !== task.rowCount) {
    throw Object.assign(new Error(`model output ${task.outputName} has ${scores?.data.length ?? 0} values for ${task.rowCount} rows`), { code: 'FS_ERR_INFER' })
  }
  return Float32Array.from(scores.data as Float32Array)
}
