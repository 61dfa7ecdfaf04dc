/** One line of an input file: the record's value, and where the topic had it when the line is a dump's envelope. */
export interface DumpRecord {
  readonly value: Buffer
  readonly partition?: number
  /** The record's Kafka timestamp (ms), when the dump has one. */
  readonly timestampMs?: number
}

/** How `kcat -C -J` starts each record: `{"topic":…,"partition":…,"offset":…,"tstype":…,"ts":…,…,"payload":…}`. */
const ENVELOPE_START = '{"topic":'

/**
 * A line of a topic dump made with `kcat -C -J` (an envelope with the partition, the timestamp and the value as
 * `payload`), or a bare record value. An envelope gives what a bare value cannot: the record's partition (no
 * partitioner to assume) and its timestamp, which the stream's decode compares the event time with. A line that
 * starts like an envelope but is not one is passed on whole, so it fails validation and is counted as invalid.
 */
export function parseDumpLine(line: string): DumpRecord {
  if (!line.startsWith(ENVELOPE_START)) return { value: Buffer.from(line) }
  let envelope: unknown
  try {
    envelope = JSON.parse(line)
  } catch {
    return { value: Buffer.from(line) }
  }
  const { partition, ts, tstype, payload } = envelope as { partition?: unknown; ts?: unknown; tstype?: unknown; payload?: unknown }
  if (!Number.isInteger(partition) || (partition as number) < 0 || !(typeof payload === 'string' || payload === null)) return { value: Buffer.from(line) }
  const timestamped = typeof ts === 'number' && ts > 0 && tstype !== 'none'
  return { value: Buffer.from(payload ?? ''), partition: partition as number, ...(timestamped ? { timestampMs: ts } : {}) }
}
