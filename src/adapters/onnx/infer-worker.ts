import * as ort from 'onnxruntime-node'

/** One model of a lineup, as a worker runs it. */
export interface ModelTask {
  readonly path: string
  readonly input: string
  readonly output: string
  /** The graph's contributions output ([rows × (width + 1)], the bias last) and how many top features to keep. */
  readonly explain?: { readonly output: string; readonly k: number }
}

export interface InferTask {
  readonly models: readonly ModelTask[]
  /** Row-major [rowCount × width], transferred (not copied) from the main thread. */
  readonly rows: Float32Array
  readonly rowCount: number
  readonly width: number
}

export interface InferResult {
  /** Per model of the task, in its order. */
  readonly scores: Float32Array[]
  readonly explanations: ({ features: Int32Array; values: Float32Array } | null)[]
}

/**
 * Loads a lineup's sessions, one such task per worker. Reaching the barrier means this worker has loaded this module,
 * onnxruntime's native binding and every session of `paths`; each waits (up to `timeoutMs`) until all of them have
 * arrived, so that no worker takes two: after it resolves, every worker holds the sessions, and the scorer may send
 * batches for the new lineup without any of them paying a session's creation. Sessions in neither `load` nor `keep`
 * (the lineup batches still queued were sent with) are released.
 */
export interface LoadTask {
  readonly load: readonly ModelTask[]
  readonly keep: readonly string[]
  /** Features per row: each loaded session runs one block of zero rows, so a batch never pays a session's first run. */
  readonly width: number
  readonly barrier: SharedArrayBuffer
  readonly workers: number
  readonly timeoutMs: number
}

// One session per model file per worker, created by a load task and kept until a lineup without it is loaded.
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
    // A failed creation is not cached: the next load retries it.
    session.catch(() => sessions.delete(modelPath))
    sessions.set(modelPath, session)
  }
  return session
}

/**
 * Batches run with their row count padded (zero rows) to a multiple of this. onnxruntime's element-wise kernels (Log,
 * Exp, …) compute whole SIMD packets one way and the remainder another, and the two can differ in the last bit: a
 * logistic graph gave one contribution as -0.010751273 for a row scored alone and -0.010751283 for the same row in a
 * batch of two. With rows a multiple of 16 (an AVX-512 packet of float32), every tensor [rows × k] is whole packets, so
 * a row's outputs do not depend on the batch it came in, and a replay reproduces the live scores bit for bit.
 */
export const ROW_BLOCK = 16

/** `rows` as a tensor of whole row blocks: the rows, then zeros. */
function paddedInput(rows: Float32Array, rowCount: number, width: number): ort.Tensor {
  const padded = Math.ceil(rowCount / ROW_BLOCK) * ROW_BLOCK
  if (padded === rowCount) return new ort.Tensor('float32', rows.subarray(0, rowCount * width), [rowCount, width])
  const data = new Float32Array(padded * width)
  data.set(rows.subarray(0, rowCount * width))
  return new ort.Tensor('float32', data, [padded, width])
}

/** Feeds each model the float32 tensor [rowCount, width]; returns its scores (and top contributions) per model. */
export default async function infer(task: InferTask | LoadTask): Promise<InferResult | null> {
  if ('load' in task) return load(task)
  const input = paddedInput(task.rows, task.rowCount, task.width)
  const paddedRows = input.dims[0]!
  const scores: Float32Array[] = []
  const explanations: InferResult['explanations'] = []
  for (const model of task.models) {
    const session = await sessionFor(model.path)
    const fetches = model.explain ? [model.output, model.explain.output] : [model.output]
    const output = await session.run({ [model.input]: input }, fetches)
    scores.push(checked(output[model.output], model.output, paddedRows, 1).slice(0, task.rowCount))
    explanations.push(
      model.explain
        ? topContributions(
            checked(output[model.explain.output], model.explain.output, paddedRows, task.width + 1),
            task.rowCount,
            task.width,
            model.explain.k,
          )
        : null,
    )
  }
  return { scores, explanations }
}

function checked(tensor: ort.Tensor | undefined, name: string, rows: number, width: number): Float32Array {
  if (!tensor || tensor.data.length !== rows * width) {
    throw Object.assign(
      new Error(`model output ${name} has ${tensor?.data.length ?? 0} values for ${rows} rows × ${width}`),
      { code: 'FS_ERR_INFER' },
    )
  }
  return tensor.data as Float32Array
}

/** Each row's k largest contributions by magnitude (the bias column excluded), largest first. */
function topContributions(
  contributions: Float32Array,
  rows: number,
  width: number,
  k: number,
): { features: Int32Array; values: Float32Array } {
  const features = new Int32Array(rows * k).fill(-1)
  const values = new Float32Array(rows * k)
  for (let r = 0; r < rows; r++) {
    const at = r * (width + 1)
    const out = r * k
    let kept = 0
    for (let j = 0; j < width; j++) {
      const value = contributions[at + j]!
      if (value === 0) continue
      // Insertion into the row's sorted top k: k is 3, a heap would cost more.
      let slot = kept < k ? kept++ : k
      while (slot > 0 && Math.abs(values[out + slot - 1]!) < Math.abs(value)) {
        if (slot < k) {
          values[out + slot] = values[out + slot - 1]!
          features[out + slot] = features[out + slot - 1]!
        }
        slot--
      }
      if (slot < k) {
        values[out + slot] = value
        features[out + slot] = j
      }
    }
  }
  return { features, values }
}

async function load(task: LoadTask): Promise<null> {
  const wanted = new Set([...task.load.map((m) => m.path), ...task.keep])
  for (const [path, session] of sessions) {
    if (wanted.has(path)) continue
    sessions.delete(path)
    void session.then((s) => s.release()).catch(() => {})
  }
  let failure: unknown
  try {
    const zeros = new ort.Tensor('float32', new Float32Array(ROW_BLOCK * task.width), [ROW_BLOCK, task.width])
    for (const model of task.load) {
      const session = await sessionFor(model.path)
      await session.run({ [model.input]: zeros }, model.explain ? [model.output, model.explain.output] : [model.output])
    }
  } catch (err) {
    failure = err
  }
  // Every worker arrives, even one that failed: the others must not wait for it until the timeout.
  const arrived = new Int32Array(task.barrier)
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
  if (failure !== undefined) throw failure
  return null
}
