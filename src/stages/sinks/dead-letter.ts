import type { OutgoingRecord, RecordSink, SourceRecord } from '../../core/ports.js'
import type { DeadLetterPort } from '../../core/topology.js'
import type { DeadLetter, DeadLetterReason, SourcePosition } from '../../core/records.js'
import { redactPans } from '../decode/redact-pan.js'

/** The DLQ keeps enough of a bad record to debug it, not so much that one huge value floods the topic. */
export const MAX_RAW_BYTES_IN_DLQ = 64 * 1024

export function toDeadLetter(input: {
  raw: Uint8Array | null
  reason: DeadLetterReason
  message: string
  stage: string
  source: SourcePosition
  code?: string
}): DeadLetter {
  const raw = input.raw ?? new Uint8Array()
  const kept = raw.length > MAX_RAW_BYTES_IN_DLQ ? raw.subarray(0, MAX_RAW_BYTES_IN_DLQ) : raw
  return {
    reason: input.reason,
    stage: input.stage,
    error: { code: input.code ?? `FS_ERR_DECODE_${input.reason.toUpperCase()}`, message: input.message },
    raw: Buffer.from(redactPans(kept)).toString('base64'),
    raw_size_bytes: raw.length,
    raw_truncated: kept.length < raw.length,
    topic: input.source.topic,
    partition: input.source.partition,
    offset: input.source.offset,
  }
}

/** The dead-letter topic's record for a source record that failed `stage`, keyed as the source record was. */
export function deadLetterRecord(
  topic: string,
  record: SourceRecord,
  failure: { reason: DeadLetterReason; message: string },
  stage: string,
): OutgoingRecord {
  const letter = toDeadLetter({
    raw: record.value,
    reason: failure.reason,
    message: failure.message,
    stage,
    source: record,
  })
  return { topic, key: record.key?.toString() ?? null, value: Buffer.from(JSON.stringify(letter)) }
}

/** The topology's dead-letter port: each failed record to `topic`, with the node it failed in. */
export function deadLetterPort(
  name: string,
  options: { readonly producer: RecordSink; readonly topic: string },
): DeadLetterPort {
  return {
    name,
    what: `failed records with their reason and stage (topic ${options.topic})`,
    send({ origin, stage, reason, failure }, onAck) {
      const letter = toDeadLetter({
        raw: origin.value,
        reason,
        message: failure.message,
        code: failure.code,
        stage,
        source: origin,
      })
      options.producer.send(
        { topic: options.topic, key: origin.key?.toString() ?? null, value: Buffer.from(JSON.stringify(letter)) },
        onAck,
      )
    },
  }
}
