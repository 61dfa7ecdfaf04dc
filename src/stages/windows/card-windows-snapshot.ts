import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import { LOG_HEADER, logEnd } from './card-log.js'
import type { CardTable } from './card-table.js'

/** Everything a CardWindows holds, as plain data for a snapshot. */
export interface CardWindowsSnapshot {
  readonly maxEventTimeMs: number
  readonly late: number
  /** Numbers per event (time included): a snapshot of another layout cannot be loaded. */
  readonly stride: number
  /** [card_id, log] per card, each log as card-log.ts describes it (without spare capacity). */
  readonly cards: readonly (readonly [string, readonly number[]])[]
}

/** Every card of the table, in table order, as a snapshot holds them. */
export function snapshotCards(table: CardTable): (readonly [string, number[]])[] {
  const cards: (readonly [string, number[]])[] = []
  for (let slot = 0; slot <= table.mask; slot++) {
    if (!table.holdsCard(slot)) continue
    const base = table.at(slot)
    cards.push([table.idAt(slot), Array.from(table.page.subarray(base, logEnd(table.page, base)))])
  }
  return cards
}

/** Inserts the snapshot's cards into an empty table, each log checked and written whole; throws for another layout. */
export function restoreCards(table: CardTable, snapshot: CardWindowsSnapshot): void {
  if (snapshot.stride !== table.stride)
    throw new FraudstreamError(
      ErrorCode.internal,
      `snapshot stride ${snapshot.stride} does not match the event layout (${table.stride})`,
      'internal',
    )
  for (const [id, log] of snapshot.cards) {
    if (log.length !== log[0] || log[1]! < 0 || (log.length - LOG_HEADER - log[1]!) % table.stride !== 0)
      throw new FraudstreamError(ErrorCode.internal, `snapshot log of card ${id} is malformed`, 'internal')
    const slot = table.insert(id, log.length)
    table.page.set(log, table.at(slot))
    table.logResized(log.length - LOG_HEADER)
    table.noteLog(slot)
  }
}
