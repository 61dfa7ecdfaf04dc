import assert from 'node:assert/strict'
import { test } from 'node:test'
import Kafka from 'node-rdkafka'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import { useMockCluster } from '../helpers/kafka.js'
import { testLogger } from '../helpers/pipeline.js'

const cluster = useMockCluster()

test('a producer stops polling before it disconnects (a poll during the native disconnect can call a destroyed client and abort)', async (t) => {
  const { log } = testLogger()
  const disconnect = Kafka.Producer.prototype.disconnect
  const pollingAtDisconnect: boolean[] = []
  Kafka.Producer.prototype.disconnect = function (
    this: Kafka.Producer & { pollInterval?: unknown },
    ...args: Parameters<typeof disconnect>
  ) {
    pollingAtDisconnect.push(this.pollInterval !== undefined)
    return disconnect.apply(this, args)
  } as typeof disconnect
  t.after(() => (Kafka.Producer.prototype.disconnect = disconnect))
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  let acked = 0
  producer.send(
    { topic: `sink-${Math.random().toString(36).slice(2)}`, key: 'k', value: Buffer.from('v') },
    () => acked++,
  )
  await producer.close()
  assert.equal(acked, 1, 'the record sent before close was acknowledged')
  assert.deepEqual(pollingAtDisconnect, [false])
})
