import type { Transaction } from '../../core/transaction-v1.js'
import type { FeatureDefinition, WindowAggregation, WindowFeature } from '../features/feature-definition.js'
import { countAtOrBefore, fullEventsStart, logEnd, timeAt, upperBound } from './card-log.js'
import type { CardWindows } from './card-windows.js'
import { distinctSet } from './distinct-set.js'
import { eventLayoutOf, keyField, type EventLayout } from './event-layout.js'
import { columnExpression, EventColumns, fieldExpression, filterExpression, isNight } from './event-expressions.js'
import { amountOverMean, populationStddev, zscore } from './window-math.js'
import { groupIdOf, windowGroupsOf, type WindowGroup } from './window-groups.js'

/**
 * Writes every window column of a transaction's row from its card's log (before the transaction is added), at `at`
 * (default 0) of `row`: a caller keeping many rows in one array passes where this one starts.
 * `current`: the transaction's event values as `layout.fill` wrote them.
 */
export type WindowColumnsFn = (
  windows: CardWindows,
  tx: Transaction,
  current: Float64Array,
  row: Float32Array | Float64Array,
  at?: number,
) => void

export interface CompiledWindows {
  readonly columns: WindowColumnsFn
  /** The generated JavaScript, for reading and debugging (a test checks it holds no string literal). */
  readonly source: string
  readonly groups: readonly WindowGroup[]
  /** What the card log keeps per event for these windows; `layout.fill` makes the `current` the function reads. */
  readonly layout: EventLayout
}

/**
 * A column that needs no window: computed from the transaction alone, or NaN (lookups, written later). Compiled into
 * the same function, each at its own call site: one loop calling seven different functions was megamorphic.
 */
export interface PerTransactionColumn {
  readonly column: number
  readonly value: ((tx: Transaction) => number) | undefined
}

/** Which running aggregates a group's features read. */
interface Needs {
  count: boolean
  sum: boolean
  /** Σ(a − K) and Σ(a − K)², K = ref<g>, an amount of the window (see populationStddev). */
  deviations: boolean
  min: boolean
  max: boolean
  previous: boolean
}

const NEEDS: Record<Exclude<WindowAggregation, 'distinct_count'>, (keyof Needs)[]> = {
  count: ['count'],
  sum: ['sum'],
  mean: ['count', 'sum'],
  min: ['min'],
  max: ['max'],
  stddev: ['count', 'deviations'],
  zscore: ['count', 'deviations'],
  amount_over_mean: ['count', 'sum'],
  seconds_since_last: ['previous'],
}

/**
 * The window features of a definition set, compiled into one JavaScript function that writes the whole row: a single
 * backward pass over the card's events (newest first, one loop per stretch of ages: see ageBoundaries) keeps each
 * group's per-span aggregates in local variables, time-only groups count by binary search, and the other columns
 * (`perTransaction`) are written in the same call. Generic per-group code (a loop or a method call per group and
 * event, aggregates in arrays) cost several times as much per transaction, on the hot path of every record. The
 * generated code embeds only numbers and fixed identifiers, never a name or string from the definitions.
 *
 * Semantics (topology/features.ts): at event time t a window of span W and delay D covers the key's events with
 * time in (t − D − W, t − D], plus the current transaction when D = 0 and it passes the filter (and has the field).
 */
export function compileWindows(
  definitions: readonly FeatureDefinition[],
  perTransaction: readonly PerTransactionColumn[] = [],
): CompiledWindows {
  const groups = windowGroupsOf(definitions)
  const layout = eventLayoutOf(groups)
  const index = new Map(groups.map((group, g) => [group.id, g]))
  const needs = groups.map((): Needs => ({
    count: false,
    sum: false,
    deviations: false,
    min: false,
    max: false,
    previous: false,
  }))
  const windowColumns: { column: number; feature: WindowFeature; g: number; k: number }[] = []
  definitions.forEach((d, column) => {
    if (d.kind !== 'window') return
    const g = index.get(groupIdOf(d))!
    if (d.aggregation !== 'distinct_count') for (const need of NEEDS[d.aggregation]) needs[g]![need] = true
    windowColumns.push({ column, feature: d, g, k: groups[g]!.spans.indexOf(d.spanMs) })
  })
  const indexed = groups.map((group, g) => ({ group, g }))
  const scanned = indexed.filter(({ group }) => !group.readsTimesOnly && group.spans.length > 0)
  const lines: string[] = []
  const emit = (line: string) => lines.push(line)

  emit('const atMs = tx.eventTimeMs')
  emit('const amount = tx.amount')
  for (const { group, g } of indexed) declareGroup(emit, group, g, needs[g]!, layout)

  perTransaction.forEach(({ column, value }, i) =>
    emit(`row[at + ${column}] = ${value ? `perTransaction${i}(tx)` : 'NaN'}`),
  )
  const stride = layout.valuesPerEvent + 1
  emit(`const base = ${groups.length > 0 ? 'windows.locate(tx.card_id)' : '-1'}`)
  emit('if (base >= 0) {')
  emit('  const page = windows.page')
  // Events at or below this are expired: idle eviction may or may not have dropped them yet. A late transaction
  // (the only kind whose windows reach that far) must not depend on when eviction ran.
  emit('  const expiredMs = windows.expiredAtOrBeforeMs')
  if (scanned.length > 0) {
    // Likewise for the pass: events at or below this may have lost all but their time.
    emit('  const strippedMs = windows.strippedAtOrBeforeMs')
    emit('  const start = fullEventsStart(page, base)')
    emit('  let end = logEnd(page, base)')
    emit('  // Usually the newest event is at or before the transaction; otherwise skip the later ones.')
    emit(
      `  if (end > start && page[end - ${stride}] > atMs) end = start + ${stride} * upperBound(page, base, ${stride}, atMs)`,
    )
    emit(`  let e = end - ${stride}`)
    let newerMs = 0
    for (const olderMs of ageBoundaries(scanned.map(({ group }) => group))) {
      emit(`  // events ${newerMs} to ${olderMs} ms old`)
      emit(`  const after${olderMs} = Math.max(strippedMs, atMs - ${olderMs})`)
      emit(`  for (; e >= start; e -= ${stride}) {`)
      emit('    const eventMs = page[e]')
      emit(`    if (eventMs <= after${olderMs}) break`)
      const columnsAt = lines.length
      const columns = new EventColumns()
      for (const { group, g } of scanned) {
        const k = spanSlotOf(group, newerMs, olderMs)
        if (k >= 0) scanGroup(emit, group, g, k, needs[g]!, layout, columns)
      }
      lines.splice(columnsAt, 0, ...columns.declarations().map((line) => `    ${line}`))
      emit('  }')
      // A distinct span ending here is complete: its count is the values seen so far.
      for (const { group, g } of scanned) {
        const k = group.spans.findIndex((span) => group.delayMs + span === olderMs)
        if (group.field && k >= 0 && k < group.spans.length - 1)
          emit(`  n${g}_${k} = ${distinctSet(layout.reader(group.field), g).size}`)
      }
      newerMs = olderMs
    }
  }
  for (const { group, g } of indexed) if (group.readsTimesOnly) countGroup(emit, group, g, needs[g]!, stride)
  emit('}')
  for (const { group, g } of indexed) finishGroup(emit, group, g, needs[g]!, layout)
  for (const { column, feature, g, k } of windowColumns)
    emit(`row[at + ${column}] = ${columnExpression(feature, g, k)}`)

  const body = lines.map((line) => `  ${line}`).join('\n')
  const source = `function featureRow(windows, tx, current, row, at = 0) {\n${body}\n}`
  const distinct = groups.map((group, g) =>
    group.field ? distinctSet(layout.reader(group.field), g).create() : undefined,
  )
  const perTransactionFns = Object.fromEntries(
    perTransaction.flatMap(({ value }, i) => (value ? [[`perTransaction${i}`, value]] : [])),
  )
  const helpers = {
    fullEventsStart,
    logEnd,
    upperBound,
    countAtOrBefore,
    timeAt,
    isNight,
    populationStddev,
    zscore,
    amountOverMean,
    distinct,
    ...perTransactionFns,
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see the function's comment: numbers and fixed identifiers only
  const columns = new Function(...Object.keys(helpers), `return ${source}`)(
    ...Object.values(helpers),
  ) as WindowColumnsFn
  return { columns, source, groups, layout }
}

function declareGroup(
  emit: (line: string) => void,
  group: WindowGroup,
  g: number,
  needs: Needs,
  layout: EventLayout,
): void {
  emit(
    `// group ${g}: key ${group.key}${group.filter ? `, filter ${group.filter}` : ''}${group.field ? `, distinct ${group.field}` : ''}, delay ${group.delayMs} ms, spans ${group.spans.join(', ')} ms`,
  )
  const slots = group.spans.map((_, k) => k)
  if (group.field) {
    const reader = layout.reader(group.field)
    const set = distinctSet(reader, g)
    for (const line of set.declare) emit(line)
    // The current value belongs to every span: added first, so each span's count includes it.
    const includes = includesCurrent(group, layout)
    if (includes !== 'false') emit(`if (${includes}) { ${set.add(fieldExpression(reader, 'current'))} }`)
    // n<g>_<k>: distinct values in span k, written when the pass first leaves the span.
    for (const k of slots) emit(`let n${g}_${k} = -1`)
  } else {
    for (const k of slots) {
      if (needs.count) emit(`let c${g}_${k} = 0`)
      if (needs.sum) emit(`let s${g}_${k} = 0`)
      if (needs.deviations) {
        emit(`let o${g}_${k} = 0`)
        emit(`let q${g}_${k} = 0`)
      }
      if (needs.min) emit(`let lo${g}_${k} = Infinity`)
      if (needs.max) emit(`let hi${g}_${k} = -Infinity`)
    }
    if (needs.previous) emit(`let p${g} = NaN`)
    // The deviations' reference: the current amount when the transaction is in the window, else the newest event's.
    if (needs.deviations) {
      const includes = includesCurrent(group, layout)
      emit(
        includes === 'true'
          ? `const ref${g} = amount`
          : `let ref${g} = ${includes === 'false' ? 'NaN' : `${includes} ? amount : NaN`}`,
      )
    }
  }
  if (group.key !== 'card') emit(`const key${g} = ${fieldExpression(layout.reader(keyField(group.key)), 'current')}`)
}

/**
 * Every age at which some scanned group's window starts or ends (its delay, its delay + each span), ascending. Between
 * two of them, whether a group counts an event and under which span are the same for every event: the pass runs one
 * loop per stretch with those decisions compiled in, instead of comparing each event's age with every span of every
 * group.
 */
function ageBoundaries(groups: readonly WindowGroup[]): number[] {
  const ages = new Set<number>()
  for (const group of groups) {
    if (group.delayMs > 0) ages.add(group.delayMs)
    for (const span of group.spans) ages.add(group.delayMs + span)
  }
  return [...ages].sort((a, b) => a - b)
}

/**
 * The span slot of `group` that events between `newerMs` and `olderMs` old (consecutive age boundaries) fall in, or -1
 * when outside its windows.
 */
function spanSlotOf(group: WindowGroup, newerMs: number, olderMs: number): number {
  if (newerMs < group.delayMs) return -1
  return group.spans.findIndex((span) => olderMs <= group.delayMs + span)
}

/** A group's bookkeeping for an event of the pass that is in its span slot `k` (age decided by the loop it sits in). */
function scanGroup(
  emit: (line: string) => void,
  group: WindowGroup,
  g: number,
  k: number,
  needs: Needs,
  layout: EventLayout,
  columns: EventColumns,
): void {
  emit(`    // group ${g}${group.field ? '' : `, span ${group.spans[k]} ms`}`)
  const conditions: string[] = []
  if (group.key !== 'card')
    conditions.push(`${fieldExpression(layout.reader(keyField(group.key)), columns)} === key${g}`)
  // A night filter reads the event time only: a feature set may have no codes column to read.
  if (group.filter)
    conditions.push(
      filterExpression(group.filter, group.filter === 'night' ? '0' : columns.column(layout.codesOffset), 'eventMs'),
    )
  const countsOnly =
    needs.count && !group.field && !needs.sum && !needs.deviations && !needs.min && !needs.max && !needs.previous
  if (countsOnly && conditions.length > 0) {
    // Each condition as 0 or 1, without a branch: a merchant match or a flag is as good as random from event to
    // event, so a branch on it would mispredict often.
    emit(`    c${g}_${k} += ${conditions.map((condition) => `+(${condition})`).join(' & ')}`)
    return
  }
  const indent = conditions.length > 0 ? '      ' : '    '
  if (conditions.length > 0) emit(`    if (${conditions.join(' && ')}) {`)
  if (group.field) {
    const reader = layout.reader(group.field)
    emit(`${indent}${distinctSet(reader, g).add(fieldExpression(reader, columns))}`)
  } else {
    if (needs.previous) emit(`${indent}if (p${g} !== p${g}) p${g} = eventMs`)
    // Each event is booked under the smallest span holding it; finishing adds the smaller spans into the larger.
    const a = columns.column(1)
    if (needs.count) emit(`${indent}c${g}_${k}++`)
    if (needs.sum) emit(`${indent}s${g}_${k} += ${a}`)
    if (needs.deviations) {
      if (includesCurrent(group, layout) !== 'true') emit(`${indent}if (ref${g} !== ref${g}) ref${g} = ${a}`)
      emit(`${indent}const d${g} = ${a} - ref${g}`)
      emit(`${indent}o${g}_${k} += d${g}`)
      emit(`${indent}q${g}_${k} += d${g} * d${g}`)
    }
    if (needs.min) emit(`${indent}if (${a} < lo${g}_${k}) lo${g}_${k} = ${a}`)
    if (needs.max) emit(`${indent}if (${a} > hi${g}_${k}) hi${g}_${k} = ${a}`)
  }
  if (conditions.length > 0) emit('    }')
}

/** Time-only groups: per span, the events in (t − D − W, t − D] by two binary searches over every event time. */
function countGroup(emit: (line: string) => void, group: WindowGroup, g: number, needs: Needs, stride: number): void {
  const spans = group.spans
  emit(`  // group ${g}: event times only`)
  emit(`  const end${g} = atMs - ${group.delayMs}`)
  emit(`  const upTo${g} = countAtOrBefore(page, base, ${stride}, Math.max(end${g}, expiredMs))`)
  if (needs.previous) {
    emit(`  const last${g} = upTo${g} > 0 ? timeAt(page, base, ${stride}, upTo${g} - 1) : NaN`)
    emit(`  if (last${g} > expiredMs && end${g} - last${g} < ${spans[spans.length - 1]}) p${g} = last${g}`)
  }
  // Written per span (not cumulative yet), as the pass books them.
  let newer = `upTo${g}`
  spans.forEach((span, k) => {
    emit(`  const from${g}_${k} = countAtOrBefore(page, base, ${stride}, Math.max(end${g} - ${span}, expiredMs))`)
    if (needs.count) emit(`  c${g}_${k} = ${newer} - from${g}_${k}`)
    newer = `from${g}_${k}`
  })
}

/** Whether the current transaction is in the group's windows: no delay, passes the filter, has the distinct field. */
function includesCurrent(group: WindowGroup, layout: EventLayout): string {
  if (group.delayMs > 0) return 'false'
  const conditions: string[] = []
  if (group.filter)
    conditions.push(
      filterExpression(group.filter, layout.codesOffset > 0 ? `current[${layout.codesOffset - 1}]` : '0', 'atMs'),
    )
  // Hashed optional fields are NaN when absent; coded fields always have a value.
  if (group.field && layout.reader(group.field).shift < 0)
    conditions.push(`!Number.isNaN(${fieldExpression(layout.reader(group.field), 'current')})`)
  return conditions.length === 0 ? 'true' : conditions.join(' && ')
}

function finishGroup(
  emit: (line: string) => void,
  group: WindowGroup,
  g: number,
  needs: Needs,
  layout: EventLayout,
): void {
  const spans = group.spans
  if (group.field) {
    const { size } = distinctSet(layout.reader(group.field), g)
    for (let k = 0; k < spans.length; k++) emit(`if (n${g}_${k} < 0) n${g}_${k} = ${size}`)
    return
  }
  for (let k = 1; k < spans.length; k++) {
    if (needs.count) emit(`c${g}_${k} += c${g}_${k - 1}`)
    if (needs.sum) emit(`s${g}_${k} += s${g}_${k - 1}`)
    if (needs.deviations) {
      emit(`o${g}_${k} += o${g}_${k - 1}`)
      emit(`q${g}_${k} += q${g}_${k - 1}`)
    }
    if (needs.min) emit(`if (lo${g}_${k - 1} < lo${g}_${k}) lo${g}_${k} = lo${g}_${k - 1}`)
    if (needs.max) emit(`if (hi${g}_${k - 1} > hi${g}_${k}) hi${g}_${k} = hi${g}_${k - 1}`)
  }
  const includes = includesCurrent(group, layout)
  if (includes === 'false') return
  const conditional = includes !== 'true'
  const indent = conditional ? '  ' : ''
  if (conditional) emit(`if (${includes}) {`)
  // The transaction's deviation is 0: it is the deviations' reference when it is in the window.
  for (let k = 0; k < spans.length; k++) {
    if (needs.count) emit(`${indent}c${g}_${k}++`)
    if (needs.sum) emit(`${indent}s${g}_${k} += amount`)
    if (needs.min) emit(`${indent}if (amount < lo${g}_${k}) lo${g}_${k} = amount`)
    if (needs.max) emit(`${indent}if (amount > hi${g}_${k}) hi${g}_${k} = amount`)
  }
  if (conditional) emit('}')
}
