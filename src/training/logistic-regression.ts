/**
 * L2-regularised logistic regression on signed-log-transformed, standardised features, trained by full-batch Adam.
 * The transform is part of the model (and of its ONNX graph): z = (sign(x)·ln(1 + |x|) − mean) / scale. It tames
 * heavy-tailed amounts and counts and keeps the sign of features such as z-scores.
 */
export interface LogisticModel {
  readonly mean: Float64Array
  readonly scale: Float64Array
  readonly weights: Float64Array
  readonly bias: number
}

export interface TrainOptions {
  readonly epochs: number
  readonly learningRate: number
  readonly l2: number
  /** Weight of a fraud example relative to a legitimate one: lifts recall at the seed thresholds. */
  readonly positiveWeight: number
}

export function signedLog(x: number): number {
  return Math.sign(x) * Math.log1p(Math.abs(x))
}

export function transformRow(
  row: ArrayLike<number>,
  model: Pick<LogisticModel, 'mean' | 'scale'>,
  out: Float64Array,
): Float64Array {
  for (let j = 0; j < out.length; j++) out[j] = (signedLog(row[j]!) - model.mean[j]!) / model.scale[j]!
  return out
}

export function trainLogistic(
  rows: readonly Float32Array[],
  labels: readonly boolean[],
  options: TrainOptions,
): LogisticModel {
  const n = rows.length
  const width = rows[0]?.length ?? 0
  const mean = new Float64Array(width)
  const scale = new Float64Array(width)
  for (const row of rows) for (let j = 0; j < width; j++) mean[j]! += signedLog(row[j]!) / n
  for (const row of rows) for (let j = 0; j < width; j++) scale[j]! += (signedLog(row[j]!) - mean[j]!) ** 2 / n
  for (let j = 0; j < width; j++) scale[j] = Math.sqrt(scale[j]!) || 1
  const z = rows.map((row) => transformRow(row, { mean, scale }, new Float64Array(width)))

  const weights = new Float64Array(width)
  let bias = 0
  const m = new Float64Array(width + 1)
  const v = new Float64Array(width + 1)
  const gradient = new Float64Array(width + 1)
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8]
  let totalWeight = 0
  for (const y of labels) totalWeight += y ? options.positiveWeight : 1
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    gradient.fill(0)
    for (let i = 0; i < n; i++) {
      const zi = z[i]!
      let logit = bias
      for (let j = 0; j < width; j++) logit += weights[j]! * zi[j]!
      const y = labels[i] ? 1 : 0
      const weight = y ? options.positiveWeight : 1
      const error = (sigmoid(logit) - y) * weight
      for (let j = 0; j < width; j++) gradient[j]! += error * zi[j]!
      gradient[width]! += error
    }
    for (let j = 0; j <= width; j++) {
      let g = gradient[j]! / totalWeight
      if (j < width) g += options.l2 * weights[j]!
      m[j] = beta1 * m[j]! + (1 - beta1) * g
      v[j] = beta2 * v[j]! + (1 - beta2) * g * g
      const step =
        (options.learningRate * (m[j]! / (1 - beta1 ** epoch))) / (Math.sqrt(v[j]! / (1 - beta2 ** epoch)) + eps)
      if (j < width) weights[j]! -= step
      else bias -= step
    }
  }
  return { mean, scale, weights, bias }
}

export function predictLogistic(model: LogisticModel, row: ArrayLike<number>): number {
  const z = transformRow(row, model, new Float64Array(model.weights.length))
  let logit = model.bias
  for (let j = 0; j < z.length; j++) logit += model.weights[j]! * z[j]!
  return sigmoid(logit)
}

/**
 * A row's contributions to the logit: weight_j × standardised value_j for each feature, then the intercept (length
 * F + 1, summing to the logit). The TypeScript twin of the ONNX `contributions` output, for tests and reports.
 */
export function logisticContributions(model: LogisticModel, row: ArrayLike<number>): Float64Array {
  const width = model.weights.length
  const out = new Float64Array(width + 1)
  transformRow(row, model, out.subarray(0, width))
  for (let j = 0; j < width; j++) out[j]! *= model.weights[j]!
  out[width] = model.bias
  return out
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x))
}
