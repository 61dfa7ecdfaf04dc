import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  baselineOf,
  defaultWindows,
  driftLevelOf,
  maturedWindow,
  retrainAdviceOf,
  type DriftRow,
  type LabelMetrics,
} from '../../../../src/adapters/clickhouse/drift-queries.js'
import { paramDefaultsOf } from '../../../../src/cli/sql.js'

const DAY_MS = 86_400_000
const row = (feature: string, status: DriftRow['status']): DriftRow => ({
  feature,
  reference_rows: 1,
  current_rows: 1,
  psi: 0,
  ks: 0,
  status,
  reference_median: 0,
  current_median: 0,
})

test('the drift level is the worst status, and a feature without data does not raise it', () => {
  assert.equal(driftLevelOf([row('a', 'ok'), row('b', 'no_data')]), 0)
  assert.equal(driftLevelOf([row('a', 'warn'), row('b', 'ok')]), 1)
  assert.equal(driftLevelOf([row('a', 'warn'), row('b', 'alert')]), 2)
})

test('default windows: the current span up to just after the newest event, the reference span before it', () => {
  const spans = { currentSpanMs: DAY_MS, referenceSpanMs: 7 * DAY_MS }
  assert.deepEqual(defaultWindows(10 * DAY_MS, {}, spans), {
    current: { fromMs: 9 * DAY_MS + 1, toMs: 10 * DAY_MS + 1 },
    reference: { fromMs: 2 * DAY_MS + 1, toMs: 9 * DAY_MS + 1 },
  })
  const current = { fromMs: 5, toMs: 9 }
  assert.deepEqual(defaultWindows(10 * DAY_MS, { current }, spans).reference, { fromMs: 5 - 7 * DAY_MS, toMs: 5 })
  assert.deepEqual(maturedWindow(40 * DAY_MS, 30, 7), { fromMs: 3 * DAY_MS + 1, toMs: 10 * DAY_MS + 1 })
})

test('retraining is advised when recall or F1 fell below the manifest baseline by the margin', () => {
  const baseline = baselineOf({ recall_at_review: 0.6, precision_at_review: 0.4 })!
  assert.ok(Math.abs(baseline.f1 - 0.48) < 1e-12)
  const metrics = (recall: number, precision: number): LabelMetrics => ({
    window: { fromMs: 0, toMs: 1 },
    transactions: 1000,
    labelled: 100,
    frauds: 10,
    alerts: 10,
    true_positives: 5,
    recall,
    precision,
    f1: (2 * recall * precision) / (recall + precision),
  })
  assert.equal(retrainAdviceOf(metrics(0.55, 0.4), baseline, 0.1).kind, 'keep')
  const advice = retrainAdviceOf(metrics(0.45, 0.4), baseline, 0.1)
  assert.equal(advice.kind, 'retrain')
  assert.match(advice.reasons[0]!, /^recall 0\.450 < baseline 0\.600/)
  assert.equal(retrainAdviceOf(metrics(0.45, 0.4), undefined, 0.1).kind, 'unknown')
  assert.equal(retrainAdviceOf({ ...metrics(0, 0), recall: null, f1: null }, baseline, 0.1).kind, 'unknown')
  assert.equal(baselineOf({ auc_pr: 0.5 }), undefined)
})

test('a query file header declares parameter defaults: one word, or a quoted literal', () => {
  const sql = `-- Question: q?
-- Parameters:
--   {run_id:String} = live     the run
--   {model:String} = ''        '' = any
--   {note:String} = 'it''s a b'
-- {days:UInt32} = 30
SELECT {days:UInt32} -- {late:String} = x is not in the header
`
  assert.deepEqual(paramDefaultsOf(sql), { run_id: 'live', model: '', note: "it's a b", days: '30' })
})
