import type { SourceRecord } from '../../core/ports.js'
import { DeadLetterReason } from '../../core/records.js'
import type { Stage } from '../../core/stage.js'
import type { Transaction } from '../../core/transaction-v1.js'
import { decodeTransaction, type DecodeResult } from './decode-transaction.js'

export interface DecodeStageOptions {
  readonly maxRecordBytes: number
  /** How far an event_time may be ahead of its record's Kafka timestamp; unbounded without. */
  readonly maxEventTimeAheadMs?: number | undefined
}

/**
 * Bytes → Transaction v1, or the reason it is not one. With the record's Kafka timestamp, an event_time more than
 * maxEventTimeAheadMs ahead of it is invalid: the timestamp is in the log, so a replay decides as the first run did
 * (a wall-clock bound would not), and one far-future time cannot move the partition's watermark for good.
 */
export function decodeRecord(
  value: Uint8Array | null,
  recordTimestampMs: number | undefined,
  options: DecodeStageOptions,
): DecodeResult {
  const decoded = decodeTransaction(value, { maxRecordBytes: options.maxRecordBytes })
  const aheadMs = options.maxEventTimeAheadMs
  // A timestamp of 0 or less: none recorded (old message formats).
  if (decoded.kind !== 'ok' || aheadMs === undefined || recordTimestampMs === undefined || recordTimestampMs <= 0)
    return decoded
  if (decoded.tx.eventTimeMs <= recordTimestampMs + aheadMs) return decoded
  return {
    kind: 'invalid',
    reason: DeadLetterReason.eventTimeAhead,
    message: `event_time ${new Date(decoded.tx.eventTimeMs).toISOString()} is more than decode.maxEventTimeAheadMs=${aheadMs} ahead of the record's timestamp ${new Date(recordTimestampMs).toISOString()}`,
  }
}

/** The decode node: valid transactions go on, anything else to the dead-letter topic with its reason. */
export function decodeStage(name: string, options: DecodeStageOptions): Stage<SourceRecord, Transaction> {
  return {
    name,
    // Decoding keeps no state, but which records are valid decides what the later stages' state holds.
    fingerprint: `${options.maxRecordBytes}:${options.maxEventTimeAheadMs ?? 'unbounded'}`,
    process(batch, ctx) {
      for (const item of batch) {
        const decoded = decodeRecord(item.value.value, item.value.timestampMs, options)
        if (decoded.kind === 'ok') ctx.emit(item, decoded.tx)
        else
          ctx.deadLetter(item, decoded.reason, {
            code: `FS_ERR_DECODE_${decoded.reason.toUpperCase()}`,
            message: decoded.message,
          })
      }
    },
  }
}
