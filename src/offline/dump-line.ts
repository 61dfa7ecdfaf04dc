import { isAscii } from 'node:buffer'
import { createReadStream } from 'node:fs'
import { createGunzip } from 'node:zlib'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../core/errors.js'

/** One line of an input file: the record's value, and where the topic had it when the line is a dump's envelope. */
export interface DumpRecord {
  readonly value: Buffer
  readonly partition?: number
  /** The record's offset in its partition, when the line is a dump's envelope that says it. */
  readonly offset?: number
  /** The record's Kafka timestamp (ms), when the dump has one. */
  readonly timestampMs?: number
}

/** How `kcat -C -J` starts each record: `{"topic":…,"partition":…,"offset":…,["tstype":…,"ts":…,]…,"payload":…}`. */
export const ENVELOPE_PREFIX = '{"topic":'
const ENVELOPE_START = Buffer.from(ENVELOPE_PREFIX)
const NEWLINE = 0x0a
const CARRIAGE_RETURN = 0x0d

/**
 * A line of a topic dump made with `kcat -C -J` (an envelope with the partition, the timestamp and the value as
 * `payload`), or a bare record value, as bytes. An envelope gives what a bare value cannot: the record's partition (no
 * partitioner to assume) and its timestamp, which the stream's decode compares the event time with. kcat writes a
 * payload's bytes into the JSON string as they are (only quotes, backslashes and control characters escaped), so a
 * msgpack value is not UTF-8: the envelope is read as latin1, one character a byte, and the value rebuilt from it
 * byte for byte. A line that starts like an envelope but is not one is passed on whole, so it fails validation and
 * is counted as invalid.
 */
export function parseDumpLine(line: Buffer): DumpRecord {
  if (!line.subarray(0, ENVELOPE_START.length).equals(ENVELOPE_START)) return { value: line }
  let envelope: unknown
  try {
    envelope = JSON.parse(line.toString('latin1'))
  } catch {
    return { value: line }
  }
  const { partition, offset, ts, payload } = envelope as {
    partition?: unknown
    offset?: unknown
    ts?: unknown
    payload?: unknown
  }
  if (!Number.isInteger(partition) || (partition as number) < 0 || !(typeof payload === 'string' || payload === null))
    return { value: line }
  // kcat leaves ts out when a record has no timestamp; 0 or less means none, as in the stream.
  const timestamped = typeof ts === 'number' && ts > 0
  return {
    value: Buffer.from(payload ?? '', 'latin1'),
    partition: partition as number,
    ...(Number.isInteger(offset) && (offset as number) >= 0 ? { offset: offset as number } : {}),
    ...(timestamped ? { timestampMs: ts } : {}),
  }
}

/**
 * The lines of a file as bytes (readline would decode them as UTF-8 and replace the bytes of a binary value). A
 * trailing carriage return is dropped, as readline drops it. A path ending in `.gz` is gunzipped as it is read, so a
 * compressed dump never has to fit on disk or in memory uncompressed.
 */
export async function* readLines(path: string): AsyncGenerator<Buffer> {
  for await (const lines of readLineBatches(path)) yield* lines
}

/**
 * readLines a chunk of the file at a time: one await per chunk rather than per line, for callers that go through
 * millions of lines.
 */
export async function* readLineBatches(path: string): AsyncGenerator<Buffer[]> {
  for await (const chunk of readLineChunks(path)) {
    const lines: Buffer[] = []
    for (let start = 0; start < chunk.length;) {
      let end = chunk.indexOf(NEWLINE, start)
      if (end < 0) end = chunk.length
      lines.push(lineOf(chunk.subarray(start, end)))
      start = end + 1
    }
    yield lines
  }
}

/**
 * How much of a file readLineChunks reads at a time (gunzip's output too, 16 KiB by default). A reader yields to the
 * event loop once a piece, and on a machine whose cores are all busy each yield gives the core away for a scheduler
 * turn or so: fewer, larger pieces keep a pass over a large file on its core.
 */
const PIECE_BYTES = 4 << 20

/**
 * The file in pieces of whole lines, each piece ending with its last line's newline (but the file's last piece, whose
 * last line may have none), gunzipped as readLines is. For callers that split the lines themselves, without a Buffer
 * per line: a piece of plain ASCII can be read as one string and its lines as slices of it.
 */
export async function* readLineChunks(path: string): AsyncGenerator<Buffer> {
  const file = createReadStream(path, { highWaterMark: PIECE_BYTES })
  const gzipped = path.endsWith('.gz')
  const input: AsyncIterable<Buffer> = gzipped ? file.pipe(createGunzip({ chunkSize: PIECE_BYTES })) : file
  // pipe() does not pass the file's errors on: a read error would leave the gunzip stream waiting forever.
  if (gzipped) file.on('error', (err) => (input as ReturnType<typeof createGunzip>).destroy(err))
  let rest: Buffer = Buffer.alloc(0)
  try {
    for await (const chunk of input) {
      let from = 0
      if (rest.length > 0) {
        // The line cut at the end of the last chunk, completed on its own: the chunk itself is not copied.
        const first = chunk.indexOf(NEWLINE) + 1
        if (first === 0) {
          rest = Buffer.concat([rest, chunk])
          continue
        }
        yield Buffer.concat([rest, chunk.subarray(0, first)])
        from = first
      }
      const end = chunk.lastIndexOf(NEWLINE) + 1
      // Copied: a slice would keep the whole chunk alive with it.
      rest = Buffer.from(chunk.subarray(Math.max(from, end)))
      if (end > from) yield chunk.subarray(from, end)
    }
  } catch (err) {
    if (!gzipped || !isZlibError(err)) throw err
    throw new FraudstreamError(
      ErrorCode.usage,
      `${path} is not a readable gzip file (${errorMessageOf(err)}): give a .gz file made by gzip, or drop the .gz suffix`,
      'input',
      false,
      { cause: err },
    )
  } finally {
    file.destroy()
  }
  if (rest.length > 0) yield rest
}

/**
 * Bytes of a file read as one string at a time: past 128 KiB a string is a large object, which a young-generation
 * collection during its piece's lines promotes to the old generation, and a pass through a large file then filled it
 * with them.
 */
const TEXT_BYTES = 64 * 1024

/**
 * Every line of the file, numbered from 1, as the range [start, end) of its piece of the file (without the newline and
 * a carriage return before it). A piece that is all ASCII (as generated and most exported files are) also comes as one
 * string, `text`, whose characters are its bytes: its lines can be read as slices of it, without a Buffer each.
 * `onLine` is awaited only when it returns a promise: a microtask per line would cost more than many a record's work.
 */
export async function forEachLine(
  path: string,
  onLine: (
    piece: Buffer,
    text: string | undefined,
    start: number,
    end: number,
    lineNumber: number,
  ) => void | Promise<void>,
): Promise<void> {
  let lineNumber = 0
  for await (const chunk of readLineChunks(path)) {
    for (let from = 0; from < chunk.length;) {
      // About TEXT_BYTES, to the end of a line.
      let to = from + TEXT_BYTES < chunk.length ? chunk.indexOf(NEWLINE, from + TEXT_BYTES) + 1 : chunk.length
      if (to === 0) to = chunk.length
      const piece = chunk.subarray(from, to)
      from = to
      const text = isAscii(piece) ? piece.toString('latin1') : undefined
      for (let start = 0; start < piece.length;) {
        let end = text === undefined ? piece.indexOf(NEWLINE, start) : text.indexOf('\n', start)
        if (end < 0) end = piece.length
        const next = end + 1
        if (end > start && piece[end - 1] === CARRIAGE_RETURN) end--
        const done = onLine(piece, text, start, end, ++lineNumber)
        if (done) await done
        start = next
      }
    }
  }
}

/** zlib's errors carry codes like Z_DATA_ERROR and Z_BUF_ERROR. */
function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('Z_')
}

/** A line without its trailing carriage return, as readline gives it. */
export function lineOf(bytes: Buffer): Buffer {
  return bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.subarray(0, -1) : bytes
}
