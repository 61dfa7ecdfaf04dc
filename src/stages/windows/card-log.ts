/**
 * The per-card event log: its format, the reads the compiled window code makes of it, and its compaction.
 *
 * A card's log, at `base` of a page: [used length, n, time₁ … timeₙ, then events of `stride` numbers: time, amount,
 * attribute columns…], oldest first. The n time-only events are older than the attributes horizon: only count
 * windows reaching further back read them, so their amounts and attributes are dropped.
 */

/** Slots before a log's times: its used length and its count of time-only events. */
export const LOG_HEADER = 2

/**
 * One past the last slot of the log at `base`. Every index into a log derives from this or fullEventsStart: both are
 * int32 (`| 0`), or V8 keeps the doubles a page holds as doubles and converts every index computed from them (a float
 * add, a truncation and a check per access in the window pass).
 */
export function logEnd(page: Float64Array, base: number): number {
  return (base + page[base]!) | 0
}

/** Index of the first full event of the log at `base`. */
export function fullEventsStart(page: Float64Array, base: number): number {
  return (base + LOG_HEADER + page[base + 1]!) | 0
}

/** Index (in full events) of the first full event later than `value`. */
export function upperBound(page: Float64Array, base: number, stride: number, value: number): number {
  const start = fullEventsStart(page, base)
  let lo = 0
  let hi = ((logEnd(page, base) - start) / stride) | 0
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (page[start + stride * mid]! <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Time-only events `countAtOrBefore` steps over from the oldest before it bisects. */
const OLDEST_STEPS = 4

/**
 * How many events of the log (time-only and full) have a time at or before `timeMs`. The bounds of count windows
 * reaching past the attributes horizon mostly fall at the edges of the time-only events: after all of them (the
 * window's newer end, near the attributes horizon) or before all but the oldest few (its older end, near the
 * horizon, where compaction drops events). Those are settled with a few comparisons that the CPU predicts; a
 * bisection mispredicts about every other step.
 */
export function countAtOrBefore(page: Float64Array, base: number, stride: number, timeMs: number): number {
  const start = fullEventsStart(page, base)
  const timeOnly = start - base - LOG_HEADER
  if (logEnd(page, base) > start && page[start]! <= timeMs) return timeOnly + upperBound(page, base, stride, timeMs)
  if (timeOnly === 0 || page[start - 1]! <= timeMs) return timeOnly
  let lo = 0
  while (page[base + LOG_HEADER + lo]! <= timeMs) if (++lo === OLDEST_STEPS) break
  if (lo < OLDEST_STEPS) return lo
  let hi = timeOnly - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (page[base + LOG_HEADER + mid]! <= timeMs) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The time of the log's index-th event, counting the time-only events first. */
export function timeAt(page: Float64Array, base: number, stride: number, index: number): number {
  const timeOnly = page[base + 1]! | 0
  return index < timeOnly
    ? page[base + LOG_HEADER + index]!
    : page[fullEventsStart(page, base) + stride * (index - timeOnly)]!
}

/** The time of the log's newest event, -Infinity for an empty log. */
export function newestEventMs(page: Float64Array, base: number, stride: number): number {
  const start = fullEventsStart(page, base)
  const end = logEnd(page, base)
  if (end > start) return page[end - stride]!
  return start > base + LOG_HEADER ? page[start - 1]! : -Infinity
}

/**
 * Writes an event (`values`: the amount, then the attributes) into the log, which has room for it, in time order.
 * Events mostly arrive in time order: the common case appends; an out-of-order one shifts the later events.
 */
export function insertEvent(
  page: Float64Array,
  base: number,
  stride: number,
  eventTimeMs: number,
  values: ArrayLike<number>,
): void {
  const used = logEnd(page, base) - base
  let at = base + used
  if (used > fullEventsStart(page, base) - base && page[at - stride]! > eventTimeMs) {
    at = fullEventsStart(page, base) + stride * upperBound(page, base, stride, eventTimeMs)
    for (let i = base + used - 1; i >= at; i--) page[i + stride] = page[i]!
  }
  page[at] = eventTimeMs
  for (let v = 1; v < stride; v++) page[at + v] = values[v - 1]!
  page[base] = used + stride
}

/**
 * In place: drops events at or below `dropAtOrBeforeMs`, and strips events at or below `stripAtOrBeforeMs` down to
 * their time. Returns how many slots the log gave up.
 */
export function compactLog(
  page: Float64Array,
  base: number,
  stride: number,
  dropAtOrBeforeMs: number,
  stripAtOrBeforeMs: number,
): number {
  const timesStart = base + LOG_HEADER
  const start = fullEventsStart(page, base)
  const end = logEnd(page, base)
  if (
    !(start > timesStart && page[timesStart]! <= dropAtOrBeforeMs) &&
    !(end > start && page[start]! <= stripAtOrBeforeMs)
  )
    return 0
  let write = timesStart
  for (let i = timesStart; i < start; i++) if (page[i]! > dropAtOrBeforeMs) page[write++] = page[i]!
  let read = start
  for (; read < end && page[read]! <= stripAtOrBeforeMs; read += stride)
    if (page[read]! > dropAtOrBeforeMs) page[write++] = page[read]!
  const timeOnly = write - timesStart
  for (; read < end; read++) page[write++] = page[read]!
  page[base] = write - base
  page[base + 1] = timeOnly
  return end - write
}
