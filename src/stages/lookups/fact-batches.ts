import { pack } from 'msgpackr'
import type { RecordSink } from '../../core/ports.js'
import type { KeyedFact } from './lookup-facts.js'
import { hash52 } from '../windows/window-groups.js'

/** The facts partition of a table key: the same function in every producer of the topic, so a key has one owner. */
export function factsPartitionOf(key: string, partitions: number): number {
  return hash52(key) % partitions
}

/**
 * The facts of one poll, packed per facts partition: one record per partition instead of one per fact (the
 * broker's work is per record and per batch; a record of many small facts costs about what one fact costs).
 * Each fact's `onAck` runs when its record is acknowledged.
 */
export class FactBatches {
  readonly #byPartition = new Map<number, { facts: KeyedFact[]; acks: (() => void)[] }>()

  constructor(
    readonly topic: string,
    readonly partitions: number,
  ) {}

  add(fact: KeyedFact, onAck: () => void): void {
    const partition = factsPartitionOf(fact.key, this.partitions)
    let batch = this.#byPartition.get(partition)
    if (!batch) this.#byPartition.set(partition, (batch = { facts: [], acks: [] }))
    batch.facts.push(fact)
    batch.acks.push(onAck)
  }

  /** Sends what was added since the last call. */
  send(producer: RecordSink): void {
    for (const [partition, { facts, acks }] of this.#byPartition) {
      producer.send({ topic: this.topic, partition, key: null, value: pack(facts) }, () => {
        for (const ack of acks) ack()
      })
    }
    this.#byPartition.clear()
  }
}
