import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Random } from '../../../../src/generator/random.js'
import { gbdtBias, gbdtContributions } from '../../../../src/training/gbdt/contributions.js'
import { trainGbdt } from '../../../../src/training/gbdt/gbdt.js'
import { gbdtToOnnx } from '../../../../src/training/gbdt/gbdt-onnx.js'
import { marginOf, type GbdtModel, type Tree } from '../../../../src/training/gbdt/trees.js'
import { assertContributions, runExported } from '../../../helpers/onnx-run.js'

function tree(
  nodes: { feature: number; threshold?: number; left?: number; right?: number; value?: number; cover: number }[],
): Tree {
  return {
    feature: Int32Array.from(nodes, (n) => n.feature),
    threshold: Float32Array.from(nodes, (n) => n.threshold ?? 0),
    left: Int32Array.from(nodes, (n) => n.left ?? -1),
    right: Int32Array.from(nodes, (n) => n.right ?? -1),
    value: Float64Array.from(nodes, (n) => n.value ?? 0),
    cover: Float64Array.from(nodes, (n) => n.cover),
  }
}

/**
 * Tree 1: x0 < 0.5 ? −1 (cover 10) : (x1 < 0.5 ? +1 (cover 15) : +3 (cover 5)).
 *   E[x1 split] = (15 + 15) / 20 = 1.5, E[root] = (−10 + 30) / 30 = 2/3.
 * Tree 2 splits twice on x1: x1 < 2 ? 0.5 (cover 30) : (x1 < 4 ? −0.5 (cover 5) : 1.5 (cover 5)).
 *   E[second split] = 0.5, E[root] = 0.5, so its first split moves nothing.
 * x2 is never split on. Base margin −2, bias = −2 + 2/3 + 0.5 = −5/6.
 */
const handBuilt: GbdtModel = {
  kind: 'gbdt',
  baseMargin: -2,
  featureNames: ['x0', 'x1', 'x2'],
  trees: [
    tree([
      { feature: 0, threshold: 0.5, left: 1, right: 2, cover: 30 },
      { feature: -1, value: -1, cover: 10 },
      { feature: 1, threshold: 0.5, left: 3, right: 4, cover: 20 },
      { feature: -1, value: 1, cover: 15 },
      { feature: -1, value: 3, cover: 5 },
    ]),
    tree([
      { feature: 1, threshold: 2, left: 1, right: 2, cover: 40 },
      { feature: -1, value: 0.5, cover: 30 },
      { feature: 1, threshold: 4, left: 3, right: 4, cover: 10 },
      { feature: -1, value: -0.5, cover: 5 },
      { feature: -1, value: 1.5, cover: 5 },
    ]),
  ],
}
const bias = -5 / 6
const byHand: [number[], number[]][] = [
  // x0 goes left in tree 1 (−1 − 2/3); tree 2's first leaf is its expectation.
  [
    [0, 0, 7],
    [-5 / 3, 0, 0, bias],
  ],
  // Tree 1 to +3: x0 1.5 − 2/3, x1 3 − 1.5.
  [
    [1, 1, 7],
    [5 / 6, 1.5, 0, bias],
  ],
  // As above, and tree 2's two x1 splits add 0 then 1.5 − 0.5.
  [
    [1, 5, 7],
    [5 / 6, 2.5, 0, bias],
  ],
  // Tree 1 left; tree 2 to −0.5: x1 gets 0 − 1.
  [
    [0, 3, 7],
    [-5 / 3, -1, 0, bias],
  ],
]

test('path contributions of a hand-built ensemble are the expectation steps along each path, in TypeScript and ONNX', async () => {
  assert.ok(Math.abs(gbdtBias(handBuilt) - bias) < 1e-12)
  const rows = byHand.map(([row]) => Float32Array.from(row))
  for (const [row, want] of byHand) {
    const got = gbdtContributions(handBuilt, row)
    want.forEach((w, j) => assert.ok(Math.abs(got[j]! - w) < 1e-12, `row ${row}, column ${j}: ${got[j]} vs ${w}`))
    assert.ok(Math.abs(got.reduce((a, b) => a + b, 0) - marginOf(handBuilt, row)) < 1e-12)
  }
  const run = await runExported(gbdtToOnnx(handBuilt, { docString: 'hand-built' }), rows)
  byHand.forEach(([, want], i) =>
    want.forEach((w, j) => assert.ok(Math.abs(run.contributions[i * 4 + j]! - w) < 1e-6, `ONNX row ${i}, column ${j}`)),
  )
  assertContributions(
    run,
    rows,
    (row) => gbdtContributions(handBuilt, row),
    (row) => marginOf(handBuilt, row),
  )
})

function dataset(n: number, seed: number): { rows: Float32Array[]; labels: boolean[] } {
  const random = new Random(seed)
  const rows: Float32Array[] = []
  const labels: boolean[] = []
  for (let i = 0; i < n; i++) {
    const amount = random.logNormal(40, 1)
    const abroad = random.chance(0.2) ? 1 : 0
    const count = Math.floor(random.next() * 20)
    const zscore = random.normal(0, 1)
    const risk = (amount > 150 && abroad ? 0.6 : 0.01) + (count > 15 ? 0.2 : 0) + (zscore > 2 ? 0.1 : 0)
    rows.push(Float32Array.from([amount, abroad, count, zscore, random.next()]))
    labels.push(random.chance(risk))
  }
  return { rows, labels }
}
const names = ['amount', 'abroad', 'count', 'zscore', 'noise']

test('the ONNX contributions output of trained trees equals gbdtContributions and sums to logit(score), on 2,000 rows', async () => {
  const { model } = trainGbdt(dataset(20_000, 11), names, { rounds: 120, maxDepth: 6, scalePosWeight: 5, seed: 4 })
  const probe = dataset(2_000, 12).rows
  for (const row of probe.slice(0, 200)) {
    const sum = gbdtContributions(model, row).reduce((a, b) => a + b, 0)
    assert.ok(Math.abs(sum - marginOf(model, row)) < 1e-9, 'in float64 the contributions add up to the margin')
  }
  const run = await runExported(gbdtToOnnx(model, { docString: 'test' }), probe)
  const { worstColumn, worstSum } = assertContributions(
    run,
    probe,
    (row) => gbdtContributions(model, row),
    (row) => marginOf(model, row),
  )
  assert.ok(worstColumn < 1e-4 && worstSum < 1e-4)
  // Not a vacuous check: the explanations differ from row to row and use more than the bias.
  const spread = new Set(probe.map((_, i) => run.contributions[i * 6]!.toFixed(3)))
  assert.ok(spread.size > 10, `amount's contribution took ${spread.size} values`)
})
