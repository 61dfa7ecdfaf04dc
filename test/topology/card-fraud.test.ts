import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.js'
import { featureContractHash } from '../../src/stages/features/feature-definition.js'
import { cardFraudTopology, describeTopology } from '../../topology/card-fraud.js'

test('the topology description is stable, so graph changes show up in review', () => {
  assert.equal(
    describeTopology(cardFraudTopology(loadConfig())),
    `topology card-fraud (21 features)
 1. transactions  source  consumer group on the transactions topic, key = card_id
 2. decode        map     JSON or msgpack → Transaction v1 (zod); failures → transactions.dlq with a reason
 3. dedupe        filter  transaction_id seen within the dedupe horizon → dropped and counted
 4. card-windows  window  card-keyed event-time windows in partition-local memory
 5. features      map     one float32 row in the model feature-contract order
 6. score         infer   micro-batches to ONNX sessions on Piscina worker threads
 7. decide        map     thresholds → approve | review | decline with reason codes
 8. decisions     sink    Decision v1 to the decisions topic, key = card_id
 9. alerts        sink    declines to the alerts topic
10. scores        sink    every score with its features into ClickHouse, batched per partition
11. commit        commit  offsets committed up to the highest offset every sink acknowledged`,
  )
})

test('the feature-contract hash ignores descriptions but not spans', () => {
  const features = cardFraudTopology(loadConfig()).features
  const reworded = features.map((f) => ({ ...f, description: 'changed' }))
  const respanned = features.map((f) => (f.kind === 'window' ? { ...f, spanMs: f.spanMs + 1 } : f))
  assert.equal(featureContractHash(reworded), featureContractHash(features))
  assert.notEqual(featureContractHash(respanned), featureContractHash(features))
})
