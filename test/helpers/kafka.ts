import { after, before } from 'node:test'
import { startMockCluster, type MockCluster } from '../../src/adapters/kafka/mock-cluster.js'
import Kafka from 'node-rdkafka'

export interface ReadRecord {
  readonly partition: number
  readonly offset: number
  readonly key: string | null
  readonly value: Buffer
  /** The record's Kafka timestamp (ms). */
  readonly timestampMs: number
}

/** Every record of a topic from offset 0 to the current end of each partition, read by plain assignment (no group). */
export async function readTopic(
  bootstrapServers: string,
  topic: string,
  options: { partitions?: number } = {},
): Promise<ReadRecord[]> {
  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': bootstrapServers,
      'group.id': `reader-${Math.random()}`,
      'enable.auto.commit': false,
      'fetch.wait.max.ms': 5,
    },
    { 'auto.offset.reset': 'earliest' },
  )
  await new Promise<void>((resolve, reject) =>
    consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())),
  )
  try {
    const partitions = options.partitions ?? 4
    const ends: number[] = []
    for (let p = 0; p < partitions; p++) {
      ends.push(
        await new Promise<number>((resolve, reject) =>
          consumer.queryWatermarkOffsets(topic, p, 10_000, (err, w) => (err ? reject(err) : resolve(w.highOffset))),
        ),
      )
    }
    consumer.assign(ends.map((_, partition) => ({ topic, partition, offset: 0 })))
    consumer.setDefaultConsumeTimeout(50)
    const records: ReadRecord[] = []
    const next = ends.map(() => 0)
    const deadline = Date.now() + 60_000
    while (next.some((n, p) => n < ends[p]!)) {
      if (Date.now() > deadline)
        throw new Error(`readTopic(${topic}) timed out at ${JSON.stringify(next)} of ${JSON.stringify(ends)}`)
      const batch = await new Promise<Kafka.Message[]>((resolve, reject) =>
        consumer.consume(1000, (err, messages) => (err ? reject(err) : resolve(messages))),
      )
      for (const m of batch) {
        if (m.offset >= ends[m.partition]!) continue
        next[m.partition] = m.offset + 1
        records.push({
          partition: m.partition,
          offset: m.offset,
          key: m.key === undefined || m.key === null ? null : String(m.key),
          value: m.value ?? Buffer.alloc(0),
          timestampMs: m.timestamp ?? -1,
        })
      }
    }
    return records
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
  }
}

/** The group's committed offsets per partition (undefined where none). */
export async function committedOffsets(
  bootstrapServers: string,
  groupId: string,
  topic: string,
  partitions = 4,
): Promise<(number | undefined)[]> {
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': bootstrapServers, 'group.id': groupId, 'enable.auto.commit': false },
    {},
  )
  await new Promise<void>((resolve, reject) =>
    consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())),
  )
  try {
    const toppars = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }))
    const offsets = await new Promise<Kafka.TopicPartitionOffset[]>((resolve, reject) =>
      consumer.committed(toppars, 10_000, (err, o) => (err ? reject(err) : resolve(o))),
    )
    return toppars.map((tp) => {
      const found = offsets.find((o) => o.partition === tp.partition)
      return found && found.offset >= 0 ? found.offset : undefined
    })
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
  }
}

export async function endOffsets(bootstrapServers: string, topic: string, partitions = 4): Promise<number[]> {
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': bootstrapServers, 'group.id': `ends-${Math.random()}` },
    {},
  )
  await new Promise<void>((resolve, reject) =>
    consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())),
  )
  try {
    const ends: number[] = []
    for (let p = 0; p < partitions; p++) {
      ends.push(
        await new Promise<number>((resolve, reject) =>
          consumer.queryWatermarkOffsets(topic, p, 10_000, (err, w) => (err ? reject(err) : resolve(w.highOffset))),
        ),
      )
    }
    return ends
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
  }
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; what: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** The job's five topics under one suffix (random unless given): a test's records and offsets meet no other test's. */
export function testTopics(suffix = Math.random().toString(36).slice(2)) {
  return {
    transactions: `tx-${suffix}`,
    decisions: `decisions-${suffix}`,
    alerts: `alerts-${suffix}`,
    dlq: `dlq-${suffix}`,
    labels: `labels-${suffix}`,
  }
}

/** One librdkafka mock cluster for a test file: started before its tests, closed after them. */
export function useMockCluster(): { readonly bootstrapServers: string } {
  let cluster: MockCluster | undefined
  before(async () => {
    cluster = await startMockCluster()
  })
  after(async () => {
    await cluster?.close()
  })
  return {
    get bootstrapServers() {
      if (!cluster) throw new Error('the mock cluster starts in before(); use it inside a test')
      return cluster.bootstrapServers
    },
  }
}

/**
 * Reads the decisions topic against what was sent: every valid transaction must have a decision (missing), and the
 * decisions beyond one per transaction are counted (decisions are at-least-once: a crash or a superseded rebalance
 * repeats some), so a regression shows as a number.
 */
export async function decisionCoverage(
  bootstrapServers: string,
  topic: string,
  validIds: readonly string[],
): Promise<{ decisions: number; missing: string[]; duplicates: number }> {
  const ids = (await readTopic(bootstrapServers, topic)).map(
    (r) => (JSON.parse(r.value.toString()) as { transaction_id: string }).transaction_id,
  )
  const decided = new Set(ids)
  return {
    decisions: ids.length,
    missing: validIds.filter((id) => !decided.has(id)),
    duplicates: ids.length - decided.size,
  }
}

/**
 * Sets a group's committed offsets, as a member that crashed after processing but before its commit leaves them.
 * The helper joins the group as a member (the mock cluster refuses a simple consumer's commit to a group that has
 * had members), so the group must have no other active member.
 */
export async function setCommittedOffsets(
  bootstrapServers: string,
  groupId: string,
  topic: string,
  offsets: readonly number[],
): Promise<void> {
  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': bootstrapServers,
      'group.id': groupId,
      'enable.auto.commit': false,
      // The jobs' protocol: a group does not take members of another.
      'partition.assignment.strategy': 'cooperative-sticky',
      // Should its leave go unnoticed, the group waits this long for the helper, not the 45 s default.
      'session.timeout.ms': 6_000,
      'heartbeat.interval.ms': 500,
    },
    {},
  )
  await new Promise<void>((resolve, reject) =>
    consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())),
  )
  try {
    consumer.subscribe([topic])
    consumer.setDefaultConsumeTimeout(50)
    const deadline = Date.now() + 15_000
    while (consumer.assignments().length < offsets.length) {
      if (Date.now() > deadline) throw new Error(`setCommittedOffsets: no assignment of ${topic} in ${groupId}`)
      await new Promise<void>((resolve, reject) => consumer.consume(1, (err) => (err ? reject(err) : resolve())))
    }
    consumer.commitSync(offsets.map((offset, partition) => ({ topic, partition, offset })))
    consumer.unsubscribe()
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
  }
}
