import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as ort from 'onnxruntime-node'
import { Random } from '../../../src/generator/random.js'
import { averagePrecision, trainGbdt } from '../../../src/training/gbdt/gbdt.js'
import { gbdtToOnnx } from '../../../src/training/gbdt/gbdt-onnx.js'
import { predictGbdt } from '../../../src/training/gbdt/trees.js'

/** Rows where fraud depends on an interaction (large amount AND abroad) and a threshold on a count, with noise. */
function dataset(n: number, seed: number): { rows: Float32Array[]; labels: boolean[]; risks: number[] } {
  const random = new Random(seed)
  const rows: Float32Array[] = []
  const labels: boolean[] = []
  const risks: number[] = []
  for (let i = 0; i < n; i++) {
    const amount = random.logNormal(40, 1)
    const abroad = random.chance(0.2) ? 1 : 0
    const count = Math.floor(random.next() * 20)
    const noise = random.next()
    const risk = (amount > 150 && abroad ? 0.6 : 0.01) + (count > 15 ? 0.2 : 0)
    rows.push(Float32Array.from([amount, abroad, count, noise]))
    labels.push(random.chance(risk))
    risks.push(risk)
  }
  return { rows, labels, risks }
}
const names = ['amount', 'abroad', 'count', 'noise']

test('boosted trees learn an interaction a linear model cannot, and the same seed gives the same model', () => {
  const train = dataset(20_000, 1)
  const valid = dataset(5_000, 2)
  const options = { rounds: 60, maxDepth: 3, learningRate: 0.2, seed: 7 }
  const result = trainGbdt(train, names, options, valid)
  const scores = valid.rows.map((row) => predictGbdt(result.model, row))
  const ap = averagePrecision(scores, valid.labels)
  // The best any model can do here: rank by the true risk.
  const oracle = averagePrecision(valid.risks, valid.labels)
  assert.ok(ap > oracle - 0.02, `AUC-PR ${ap.toFixed(3)}, the true risk's ${oracle.toFixed(3)}`)
  assert.equal(result.validAucPr, ap, 'the reported validation AUC-PR is the kept model’s')
  const again = trainGbdt(train, names, options, valid)
  assert.deepEqual(
    again.model.trees.map((t) => [...t.value]),
    result.model.trees.map((t) => [...t.value]),
  )
  // The noise feature carries nothing: splits go to the three that matter.
  const used = new Set(result.model.trees.flatMap((t) => [...t.feature].filter((f) => f >= 0)))
  assert.ok(used.has(0) && used.has(1) && used.has(2))
})

test('early stopping keeps the best validation round', () => {
  const train = dataset(5_000, 3)
  const valid = dataset(2_000, 4)
  const result = trainGbdt(train, names, { rounds: 400, learningRate: 0.5, earlyStoppingRounds: 10, seed: 1 }, valid)
  const best = Math.max(...result.history.map((h) => h.validAucPr!))
  assert.equal(result.validAucPr, best)
  assert.equal(result.model.trees.length, result.bestRound)
  assert.ok(result.history.length < 400, `stopped after ${result.history.length} rounds`)
})

test('the ONNX export (TreeEnsembleClassifier) scores as the TypeScript predictor does, within 1e-5 on 10,000 rows', async () => {
  const train = dataset(20_000, 5)
  const { model } = trainGbdt(train, names, { rounds: 80, maxDepth: 5, seed: 3 })
  const session = await ort.InferenceSession.create(gbdtToOnnx(model, { docString: 'test' }))
  const probe = dataset(10_000, 6).rows
  const flat = new Float32Array(probe.length * names.length)
  probe.forEach((row, i) => flat.set(row, i * names.length))
  const out = await session.run({ features: new ort.Tensor('float32', flat, [probe.length, names.length]) })
  const onnx = out['score']!.data as Float32Array
  assert.equal(onnx.length, probe.length)
  let worst = 0
  probe.forEach((row, i) => (worst = Math.max(worst, Math.abs(onnx[i]! - predictGbdt(model, row)))))
  assert.ok(worst < 1e-5, `largest difference ${worst}`)
  await session.release()
})
