import { partitionOf, type Partitioner } from '../adapters/kafka/partitioner.js'
import { PartitionState, type PartitionStateOptions, type ProcessedRecord } from './partition-state.js'

/**
 * The stream's state for records read outside it (`fraudstream features`, the tests' uninterrupted reference run):
 * a PartitionState per partition of the transactions topic, each record's chosen from its card_id by the producer's
 * partitioner, as Kafka placed it. Each partition has its own watermark and dedupe, so records out of order across
 * partitions are not late; records must come in topic order within each partition.
 */
export class PartitionedStates {
  readonly states: readonly PartitionState[]

  constructor(options: PartitionStateOptions, readonly partitions: number, readonly partitioner: Partitioner) {
    this.states = Array.from({ length: partitions }, () => new PartitionState(options))
  }

  /** As PartitionState.process; a record that does not decode has no card, and goes through the first partition. */
  process(value: Uint8Array | null): ProcessedRecord {
    const decoded = this.states[0]!.decode(value)
    const state = decoded.kind === 'ok' ? this.states[partitionOf(decoded.tx.card_id, this.partitions, this.partitioner)]! : this.states[0]!
    return state.processDecoded(decoded)
  }

  get budgetEvictions(): number {
    return this.states.reduce((total, state) => total + state.budgetEvictions, 0)
  }
}
