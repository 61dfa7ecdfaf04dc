import { partitionOf, type Partitioner } from '../adapters/kafka/partitioner.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { DecodeResult } from '../stages/decode/decode-transaction.js'
import { PartitionState, type PartitionStateOptions, type ProcessedRecord } from './partition-state.js'

/**
 * The stream's state for records read outside it (`fraudstream features`, the tests' uninterrupted reference run):
 * a PartitionState per partition of the transactions topic, each record's chosen from its card_id by the producer's
 * partitioner, as Kafka placed it. Each partition has its own watermark and dedupe, so records out of order across
 * partitions are not late; records must come in topic order within each partition.
 */
export class PartitionedStates {
  readonly states: readonly PartitionState[]

  constructor(
    options: PartitionStateOptions,
    readonly partitions: number,
    readonly partitioner: Partitioner,
  ) {
    this.states = Array.from({ length: partitions }, () => new PartitionState(options))
  }

  /**
   * As PartitionState.process. `record.partition`, when known (a topic dump says it), is used instead of the
   * partitioner; `record.timestampMs` is the record's Kafka timestamp, which decode checks the event time against. A
   * record that does not decode and has no known partition goes through the first one.
   */
  process(
    value: Uint8Array | null,
    record: { partition?: number; timestampMs?: number } = {},
    rows?: Float32Array,
    at?: number,
  ): ProcessedRecord {
    this.#checkPartition(record.partition)
    return this.processDecoded(this.states[0]!.decode(value, record.timestampMs), record.partition, rows, at)
  }

  /** `process` for a bare value read as ASCII text (PartitionState.decodeText): no partition or timestamp known. */
  processText(text: string, rows?: Float32Array, at?: number): ProcessedRecord {
    return this.processDecoded(this.states[0]!.decodeText(text), undefined, rows, at)
  }

  /** With `rows`, the feature row is written there at `at` (PartitionState.observe). */
  processDecoded(
    decoded: DecodeResult,
    partition: number | undefined,
    rows?: Float32Array,
    at?: number,
  ): ProcessedRecord {
    const state =
      partition ?? (decoded.kind === 'ok' ? partitionOf(decoded.tx.card_id, this.partitions, this.partitioner) : 0)
    return this.states[state]!.processDecoded(decoded, rows, at)
  }

  #checkPartition(partition: number | undefined): void {
    if (partition !== undefined && !(partition < this.partitions)) {
      throw new FraudstreamError(
        ErrorCode.usage,
        `a record of partition ${partition} with ${this.partitions} partitions: give the topic's partition count`,
        'input',
      )
    }
  }

  /** The least watermark over the partitions: every on-time transaction still to come is at or after it. */
  get watermarkMs(): number {
    let min = Infinity
    for (const state of this.states) if (state.windows.watermarkMs < min) min = state.windows.watermarkMs
    return min
  }

  get budgetEvictions(): number {
    return this.states.reduce((total, state) => total + state.budgetEvictions, 0)
  }
}
