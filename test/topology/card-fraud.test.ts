import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.js'
import { featureContractHash } from '../../src/stages/features/feature-definition.js'
import { describeCardFraud } from '../../topology/card-fraud.js'
import { cardFraudFeatures } from '../../topology/features.js'

test('the topology description is stable, so graph changes show up in review', () => {
  assert.equal(
    describeCardFraud(loadConfig(), cardFraudFeatures).text,
    `topology card-fraud (27 features)
 1. transactions  source  consumer group, key = card_id, per-partition order (topic transactions)
 2. decode        map     JSON or msgpack → Transaction v1 (zod); failures → dead letters with a reason
 3. dedupe        filter  transaction_id seen within the dedupe horizon → dropped, counted
 4. card-windows  window  card-keyed event-time windows in partition-local memory → the row of 27 features (lookup columns still empty)
 5. lookups       lookup  facts to the lookup aggregators; waits until the terminal/merchant tables cover the window, then fills them
 6. pre-rules     map     allow/block/watch lists and pre-model rules (topics fraudstream.lists, fraudstream.rules); a forced decision skips inference
 7. score         infer   champion, challenger and shadow models on Piscina worker threads; failures and missed deadlines → fallback; settled ones pass by (batches of ≤ 256, one per poll)
 8. decide        map     the deciding model's thresholds, then the post-model rules → approve | review | decline with reasons, rules and top features; declines and reviews raise alerts
 9. decisions     sink    Decision v1, key = card_id (topic decisions)
10. alerts        sink    declines at once (topic alerts; past 100/s only those scoring ≥ 0.9), reviews and the rest in per-partition digests (topic alerts.digest)
11. scores        sink    every score with its features into ClickHouse, batched across partitions, one dedup token a batch
12. dead-letters  dlq     failed records with their reason and stage (topic transactions.dlq)
13. commit        commit  per partition, up to the highest offset every sink acknowledged
beside it:
 1. lookup-agg    task    labels and lookup facts → terminal/merchant aggregates → compacted fraudstream.lookup-tables (consumer group fraudstream.lookups)`,
  )
})

test('the feature-contract hash ignores descriptions but not spans', () => {
  const features = cardFraudFeatures
  const reworded = features.map((f) => ({ ...f, description: 'changed' }))
  const respanned = features.map((f) => (f.kind === 'window' ? { ...f, spanMs: f.spanMs + 1 } : f))
  assert.equal(featureContractHash(reworded), featureContractHash(features))
  assert.notEqual(featureContractHash(respanned), featureContractHash(features))
})
