import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import infer, { type InferResult } from '../../../../src/adapters/onnx/infer-worker.js'
import {
  logisticToOnnx,
  ONNX_CONTRIBUTIONS_NAME,
  ONNX_INPUT_NAME,
  ONNX_OUTPUT_NAME,
} from '../../../../src/training/export-onnx.js'

const WIDTH = 6
// Six features, as in the replay test's short feature set, where a row of 6s came out differently alone and in pairs.
const model = {
  weights: [0.3, 0.19, 0.08, -0.03, -0.14, 0.25],
  mean: [1, 1.2, 1.4, 1.6, 1.8, 2],
  scale: [1.5, 1.6, 1.7, 1.8, 1.9, 2],
  bias: -2.1,
}

test('a row scores and explains the same bit for bit alone and at any place in a batch of any size', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fraudstream-batch-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'model.onnx')
  const names = Array.from({ length: WIDTH }, (_, j) => `f${j}`)
  writeFileSync(path, logisticToOnnx(model as never, { featureNames: names, docString: 'batch invariance' }))
  const task = {
    path,
    input: ONNX_INPUT_NAME,
    output: ONNX_OUTPUT_NAME,
    explain: { output: ONNX_CONTRIBUTIONS_NAME, k: WIDTH },
  }
  const score = async (rows: Float32Array, rowCount: number) =>
    (await infer({ models: [task], rows, rowCount, width: WIDTH })) as InferResult

  let compared = 0
  for (const value of [0, 1, 2, 3, 6, 7, 12, 40, 158.8, 999]) {
    const row = new Float32Array(WIDTH).fill(value)
    const alone = await score(row.slice(), 1)
    for (const rowCount of [2, 3, 5, 15, 16, 17, 40]) {
      const place = Math.floor(value) % rowCount
      const rows = new Float32Array(rowCount * WIDTH).map((_, i) => (i * 7) % 31)
      rows.set(row, place * WIDTH)
      const batch = await score(rows, rowCount)
      assert.equal(batch.scores[0]!.length, rowCount)
      assert.equal(batch.scores[0]![place], alone.scores[0]![0], `score of ${value} at ${place} of ${rowCount}`)
      const [a, b] = [alone.explanations[0]!, batch.explanations[0]!]
      assert.deepEqual(b.values.subarray(place * WIDTH, (place + 1) * WIDTH), a.values, `contributions of ${value}`)
      assert.deepEqual(b.features.subarray(place * WIDTH, (place + 1) * WIDTH), a.features)
      compared++
    }
  }
  assert.equal(compared, 70)
})
