import assert from 'node:assert/strict'
import * as ort from 'onnxruntime-node'

/** Scores and contributions of an exported graph for `rows`, through onnxruntime-node as the job runs it. */
export async function runExported(
  onnx: Uint8Array,
  rows: readonly Float32Array[],
): Promise<{ score: Float32Array; contributions: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1, interOpNumThreads: 1 })
  try {
    const width = rows[0]!.length
    const flat = new Float32Array(rows.length * width)
    rows.forEach((row, i) => flat.set(row, i * width))
    const out = await session.run({ features: new ort.Tensor('float32', flat, [rows.length, width]) })
    return {
      score: out['score']!.data as Float32Array,
      contributions: out['contributions']!.data as Float32Array,
      dims: out['contributions']!.dims,
    }
  } finally {
    await session.release()
  }
}

/**
 * Checks the `contributions` contract on every row: the columns equal `expected(row)` within 1e-4, sum to the
 * TypeScript model's margin within 1e-4, and to logit of the graph's own score within 1e-4. The float32 score is
 * rounded near 1 (ORT computes a small p as 1 − v with v near 1), which blurs logit(p) by up to 2^-23 / (p(1 − p));
 * that last tolerance widens by that much and no more.
 */
export function assertContributions(
  run: Awaited<ReturnType<typeof runExported>>,
  rows: readonly Float32Array[],
  expected: (row: Float32Array) => Float64Array,
  margin: (row: Float32Array) => number,
): { worstColumn: number; worstSum: number } {
  const columns = rows[0]!.length + 1
  assert.deepEqual(run.dims, [rows.length, columns])
  let worstColumn = 0
  let worstSum = 0
  rows.forEach((row, i) => {
    const want = expected(row)
    assert.equal(want.length, columns)
    let sum = 0
    for (let j = 0; j < columns; j++) {
      const got = run.contributions[i * columns + j]!
      sum += got
      worstColumn = Math.max(worstColumn, Math.abs(got - want[j]!))
    }
    assert.ok(
      Math.abs(sum - margin(row)) <= 1e-4,
      `row ${i}: contributions sum to ${sum}, the margin is ${margin(row)}`,
    )
    const p = run.score[i]!
    const logit = Math.log(p / (1 - p))
    const slack = 2 ** -23 / (p * (1 - p))
    assert.ok(
      Math.abs(sum - logit) <= 1e-4 + slack,
      `row ${i}: contributions sum to ${sum}, logit(score) is ${logit} (score ${p})`,
    )
    worstSum = Math.max(worstSum, Math.abs(sum - margin(row)))
  })
  assert.ok(worstColumn <= 1e-4, `a contribution differs from TypeScript's by ${worstColumn}`)
  return { worstColumn, worstSum }
}
