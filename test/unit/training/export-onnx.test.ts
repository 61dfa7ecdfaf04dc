import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Random } from '../../../src/generator/random.js'
import { logisticToOnnx } from '../../../src/training/export-onnx.js'
import { logisticContributions, predictLogistic, trainLogistic } from '../../../src/training/logistic-regression.js'
import { assertContributions, runExported } from '../../helpers/onnx-run.js'

function dataset(n: number, seed: number): { rows: Float32Array[]; labels: boolean[] } {
  const random = new Random(seed)
  const rows: Float32Array[] = []
  const labels: boolean[] = []
  for (let i = 0; i < n; i++) {
    const amount = random.logNormal(40, 1)
    const count = Math.floor(random.next() * 20)
    const zscore = random.normal(0, 1)
    const logit = -4 + Math.log1p(amount) * 0.4 + count * 0.05 + zscore * 0.8
    rows.push(Float32Array.from([amount, count, zscore, 0]))
    labels.push(random.chance(1 / (1 + Math.exp(-logit))))
  }
  return { rows, labels }
}
const names = ['amount', 'count', 'zscore', 'constant']

test('the logistic graph scores like predictLogistic and its contributions are weight × standardised value plus the intercept, on 2,000 rows', async () => {
  const model = trainLogistic(dataset(5_000, 21).rows, dataset(5_000, 21).labels, {
    epochs: 150,
    learningRate: 0.05,
    l2: 1e-4,
    positiveWeight: 3,
  })
  const probe = dataset(2_000, 22).rows
  for (const row of probe.slice(0, 200)) {
    const c = logisticContributions(model, row)
    const logit = c.reduce((a, b) => a + b, 0)
    assert.ok(Math.abs(1 / (1 + Math.exp(-logit)) - predictLogistic(model, row)) < 1e-12)
    assert.equal(c[names.length], model.bias)
  }
  const run = await runExported(logisticToOnnx(model, { featureNames: names, docString: 'test' }), probe)
  probe.forEach((row, i) =>
    assert.ok(Math.abs(run.score[i]! - predictLogistic(model, row)) < 1e-5, `score of row ${i}`),
  )
  const { worstColumn, worstSum } = assertContributions(
    run,
    probe,
    (row) => logisticContributions(model, row),
    (row) => {
      const p = predictLogistic(model, row)
      return Math.log(p / (1 - p))
    },
  )
  assert.ok(worstColumn < 1e-4 && worstSum < 1e-4)
  // A constant feature standardises to 0 and contributes nothing; the others move from row to row.
  probe.forEach((_, i) => assert.equal(run.contributions[i * 5 + 3], 0))
  assert.ok(new Set(probe.map((_, i) => run.contributions[i * 5 + 2]!.toFixed(3))).size > 10)
})
