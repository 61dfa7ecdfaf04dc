// The child process of publishInChild (publish-process.ts): generates and produces, so that generating a chunk of
// records never holds the event loop of the job being measured.
import { KafkaProducerSink } from '../adapters/kafka/producer-sink.js'
import { createLogger } from '../observability/logger.js'
import { publishGenerated } from './publish.js'
import type { PublishHostMessage, PublishHostStart } from './publish-process.js'
import { TransactionGenerator } from './transaction-generator.js'

const send = (message: PublishHostMessage) => process.send!(message)
/** The last message, then the channel closes: the process exits once its work is done. */
let finishing = false
const finish = (message: PublishHostMessage) => {
  finishing = true
  process.send!(message, () => process.disconnect())
}
// The parent gone before the end (its process ended, even by kill -9): stop generating.
process.on('disconnect', () => finishing || process.exit(0))
let consumed = 0
const started = new Promise<PublishHostStart>((resolve) =>
  process.on('message', (message: PublishHostStart | { kind: 'consumed'; consumed: number }) => {
    if (message.kind === 'consumed') consumed = message.consumed
    else resolve(message)
  }),
)

// Stopped by the parent (SIGTERM) or with it from a terminal (Ctrl-C reaches the whole process group): the records
// sent so far are flushed and reported, as an uninterrupted run reports all of them.
const stop = new AbortController()
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop.abort())

const options = await started
const sink = await KafkaProducerSink.connect({
  config: { 'bootstrap.servers': options.bootstrapServers, 'client.id': 'fraudstream-generator' },
  log: createLogger({ level: 'warn' }),
})
let generated = 0
const progress = setInterval(() => send({ kind: 'progress', generated }), 100)
try {
  const result = await publishGenerated({
    generator: new TransactionGenerator(options.generator),
    sink,
    topics: options.topics,
    count: options.count,
    rate: options.rate,
    recordTimestamp: options.recordTimestamp,
    signal: stop.signal,
    ...(options.maxLeadRecords !== undefined
      ? { maxLead: { records: options.maxLeadRecords, consumed: () => consumed } }
      : {}),
    onRecord: (record) => void (record.topic === 'transactions' && generated++),
  })
  clearInterval(progress)
  await sink.close()
  finish({ kind: 'done', result })
} catch (err) {
  clearInterval(progress)
  process.exitCode = 1
  finish({ kind: 'failed', message: err instanceof Error ? err.message : String(err) })
}
