import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.js'
import { featureContractHash } from '../../src/stages/features/feature-definition.js'
import { cardFraudTopology, describeTopology } from '../../topology/card-fraud.js'

test('the topology description is stable, so graph changes show up in review', () => {
  assert.equal(
    describeTopology(cardFraudTopology(loadConfig())),
    `topology card-fraud (27 features)
 1. transactions  source  consumer group on the transactions topic, key = card_id
 2. decode        map     JSON or msgpack → Transaction v1 (zod); failures → transactions.dlq with a reason
 3. dedupe        filter  transaction_id seen within the dedupe horizon → dropped and counted
 4. card-windows  window  card-keyed event-time windows in partition-local memory
 5. lookup-facts  sink    on-time transactions repartitioned by terminal and merchant (internal topic)
 6. labels        source  labels → the terminal and merchant they concern, into the same internal topic
 7. lookup-agg    window  second keyed stage: bucketed terminal/merchant aggregates → compacted tables topic
 8. lookups       table   every instance holds the tables; a transaction waits until they cover its window
 9. features      map     one float32 row in the model feature-contract order
10. score         infer   micro-batches to ONNX sessions on Piscina worker threads
11. decide        map     thresholds → approve | review | decline with reason codes
12. decisions     sink    Decision v1 to the decisions topic, key = card_id
13. alerts        sink    declines to the alerts topic
14. scores        sink    every score with its features into ClickHouse, batched per partition
15. commit        commit  offsets committed up to the highest offset every sink acknowledged`,
  )
})

test('the feature-contract hash ignores descriptions but not spans', () => {
  const features = cardFraudTopology(loadConfig()).features
  const reworded = features.map((f) => ({ ...f, description: 'changed' }))
  const respanned = features.map((f) => (f.kind === 'window' ? { ...f, spanMs: f.spanMs + 1 } : f))
  assert.equal(featureContractHash(reworded), featureContractHash(features))
  assert.notEqual(featureContractHash(respanned), featureContractHash(features))
})
