import { unpack } from 'msgpackr'
import type { ZodError, ZodType } from 'zod'
import { knownValidLabel, LabelV1Schema, type Label } from '../../core/label-v1.js'
import { DeadLetterReason } from '../../core/records.js'
import {
  eventTimeMsOf,
  knownValidTransaction,
  TransactionV1Schema,
  type Transaction,
  type TransactionV1,
} from '../../core/transaction-v1.js'

export type Invalid = { readonly kind: 'invalid'; readonly reason: DeadLetterReason; readonly message: string }
export type DecodeResult = { readonly kind: 'ok'; readonly tx: Transaction } | Invalid
export type LabelDecodeResult = { readonly kind: 'ok'; readonly label: Label } | Invalid

export interface DecodeOptions {
  /** Larger values are dead-lettered before parsing, so one huge record cannot stall the partition. */
  readonly maxRecordBytes: number
}

const OPEN_BRACE = 0x7b
const isWhitespace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d

/** msgpack maps start with fixmap (0x80–0x8f), map16 (0xde) or map32 (0xdf). */
const isMsgpackMap = (b: number) => (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf

const invalid = (reason: DeadLetterReason, message: string): Invalid => ({ kind: 'invalid', reason, message })

/**
 * bytes → Transaction v1. JSON and msgpack are told apart by their first byte; anything else is `malformed`.
 * Never throws: every failure is a dead-letter reason with a message that names the offending field.
 */
export function decodeTransaction(bytes: Uint8Array | null | undefined, options: DecodeOptions): DecodeResult {
  return withEventTime(decodeWith(TransactionV1Schema, bytes, options, knownValidTransaction))
}

/**
 * decodeTransaction for a value already read as a string of ASCII characters, one a byte (a line of a file read as
 * text): the same result as for its bytes, without making them. The caller checks that it is ASCII.
 */
export function decodeTransactionText(text: string, options: DecodeOptions): DecodeResult {
  return withEventTime(decodeTextWith(TransactionV1Schema, text, options, knownValidTransaction))
}

function withEventTime(decoded: { kind: 'ok'; value: TransactionV1 } | Invalid): DecodeResult {
  if (decoded.kind === 'invalid') return decoded
  // The value is a new object of the schema's (or knownValidTransaction's) making: completed in place, not copied.
  const tx = decoded.value as TransactionV1 & { eventTimeMs: number }
  tx.eventTimeMs = eventTimeMsOf(tx.event_time)
  return { kind: 'ok', tx }
}

/** bytes → Label v1, with the same reasons as transactions. */
export function decodeLabel(bytes: Uint8Array | null | undefined, options: DecodeOptions): LabelDecodeResult {
  return withLabelTimes(decodeWith(LabelV1Schema, bytes, options, knownValidLabel))
}

/** decodeLabel for a value read as ASCII text, as decodeTransactionText is for transactions. */
export function decodeLabelText(text: string, options: DecodeOptions): LabelDecodeResult {
  return withLabelTimes(decodeTextWith(LabelV1Schema, text, options, knownValidLabel))
}

function withLabelTimes(
  decoded: { kind: 'ok'; value: Omit<Label, 'reportedAtMs' | 'transactionTimeMs'> } | Invalid,
): LabelDecodeResult {
  if (decoded.kind === 'invalid') return decoded
  // The validated value is a new object of decode's own: its times are added to it rather than copied with it (a
  // spread of the label's keys cost more than the parse).
  const label = decoded.value as { -readonly [K in keyof Label]: Label[K] }
  label.reportedAtMs = eventTimeMsOf(label.reported_at)
  label.transactionTimeMs = label.transaction_time === undefined ? undefined : eventTimeMsOf(label.transaction_time)
  return { kind: 'ok', label: label as Label }
}

function decodeWith<T>(
  schema: ZodType<T>,
  bytes: Uint8Array | null | undefined,
  options: DecodeOptions,
  /** The schema's result for a record it would pass, worked out faster; undefined leaves it to the schema. */
  knownValid?: (value: Readonly<Record<string, unknown>>) => T | undefined,
): { kind: 'ok'; value: T } | Invalid {
  if (!bytes || bytes.length === 0) return invalid(DeadLetterReason.empty, 'empty message value')
  if (bytes.length > options.maxRecordBytes) return tooLarge(bytes.length, options)
  let first = 0
  while (first < bytes.length && isWhitespace(bytes[first]!)) first++
  const lead = bytes[first]
  let parsed: unknown
  try {
    if (lead === OPEN_BRACE)
      parsed = JSON.parse(
        (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString(
          'utf8',
        ),
      )
    else if (lead !== undefined && isMsgpackMap(lead)) parsed = unpack(bytes)
    else return invalid(DeadLetterReason.malformed, 'value is neither a JSON object nor a msgpack map')
  } catch (err) {
    return invalid(DeadLetterReason.malformed, `cannot parse value: ${(err as Error).message}`)
  }
  return validated(schema, parsed, knownValid)
}

/** decodeWith for ASCII text (see decodeTransactionText): a character is a byte, and only JSON can be ASCII. */
function decodeTextWith<T>(
  schema: ZodType<T>,
  text: string,
  options: DecodeOptions,
  knownValid?: (value: Readonly<Record<string, unknown>>) => T | undefined,
): { kind: 'ok'; value: T } | Invalid {
  if (text.length === 0) return invalid(DeadLetterReason.empty, 'empty message value')
  if (text.length > options.maxRecordBytes) return tooLarge(text.length, options)
  let first = 0
  while (first < text.length && isWhitespace(text.charCodeAt(first))) first++
  if (text.charCodeAt(first) !== OPEN_BRACE)
    return invalid(DeadLetterReason.malformed, 'value is neither a JSON object nor a msgpack map')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    return invalid(DeadLetterReason.malformed, `cannot parse value: ${(err as Error).message}`)
  }
  return validated(schema, parsed, knownValid)
}

function tooLarge(bytes: number, options: DecodeOptions): Invalid {
  return invalid(DeadLetterReason.tooLarge, `value of ${bytes} bytes exceeds maxRecordBytes=${options.maxRecordBytes}`)
}

/** A parsed value through the schema (or the quicker check that knows what the schema would say). */
function validated<T>(
  schema: ZodType<T>,
  parsed: unknown,
  knownValid?: (value: Readonly<Record<string, unknown>>) => T | undefined,
): { kind: 'ok'; value: T } | Invalid {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return invalid(DeadLetterReason.malformed, 'value is not an object')
  }
  const known = knownValid?.(parsed as Record<string, unknown>)
  if (known !== undefined) return { kind: 'ok', value: known }
  const result = schema.safeParse(parsed)
  if (!result.success) return describeSchemaError(result.error, parsed as Record<string, unknown>)
  return { kind: 'ok', value: result.data }
}

/** The first issue decides the reason; the message lists every issue so one look at the DLQ says what to fix. */
function describeSchemaError(error: ZodError, input: Record<string, unknown>): Invalid {
  const issues = error.issues
  // A PAN outranks every other issue: it is the one reason that obliges the sender to act under PCI DSS.
  const first = issues.find(isPanIssue) ?? issues[0]!
  const field = String(first.path[0] ?? '')
  let reason: DeadLetterReason = DeadLetterReason.invalidValue
  if (first.code === 'invalid_type') {
    reason =
      Object.hasOwn(input, field) && input[field] !== undefined
        ? DeadLetterReason.wrongType
        : DeadLetterReason.missingField
  } else if (first.code === 'invalid_value') {
    reason = DeadLetterReason.unknownEnum
  } else if (isPanIssue(first)) {
    reason = DeadLetterReason.panInCardId
  }
  const message = issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
  return invalid(reason, message)
}

function isPanIssue(issue: ZodError['issues'][number]): boolean {
  return issue.code === 'custom' && (issue.params as { fraudstream?: string } | undefined)?.fraudstream === 'pan'
}
