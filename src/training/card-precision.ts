const DAY_MS = 24 * 60 * 60 * 1000

/** Scored transactions with their card and event time. */
export interface CardScoredRows {
  readonly scores: ArrayLike<number>
  readonly labels: readonly boolean[]
  readonly cardIds: readonly string[]
  readonly eventTimesMs: ArrayLike<number>
}

export interface CardPrecisionDay {
  /** The UTC day of event time, YYYY-MM-DD. */
  readonly day: string
  /** Cards with a transaction that day, not caught on an earlier day. */
  readonly cards: number
  /** Of them, cards with a fraud that day. */
  readonly compromised: number
  /** Compromised cards among the k ranked highest. */
  readonly hits: number
  /** hits / k. */
  readonly precision: number
  /** Cards left out because they were caught on an earlier day. */
  readonly dropped: number
}

export interface CardPrecision {
  readonly k: number
  /** Mean of the days' precision; null without days. */
  readonly mean: number | null
  readonly days: readonly CardPrecisionDay[]
}

/** What makes a card caught: a fraud scored at or above the decline threshold, or a fraud the model declined. */
export type CardCaughtBy =
  | { readonly declineThreshold: number }
  /** Per row, whether the model declined it. */
  | { readonly declined: ArrayLike<boolean> }

/**
 * Card precision@k per day, as in "Reproducible Machine Learning for Credit Card Fraud Detection" (Le Borgne et al.,
 * §4.2): investigators check k cards a day. Each day (UTC, by event time), every card is ranked by its highest score
 * that day, and the day's figure is the share of compromised cards (a fraud that day) among the top k, divided by k
 * even when fewer cards were active. A card already caught is blocked, so it is dropped from every later day: here a
 * card is caught when one of its frauds scored at or above the decline threshold (the stream declined it). The
 * figure is the mean over days. Ties between cards go to the smaller card id, so the result is reproducible. A backtest
 * gives `declined` instead: what the model decided, rules included, is what blocked the card.
 *
 * | day | card | top score | fraud | top 1 (k = 1)                     |
 * | --- | ---- | --------- | ----- | --------------------------------- |
 * | 1   | A    | 0.9       | yes   | A: hit; A caught (0.9 ≥ decline)  |
 * | 1   | B    | 0.3       | no    |                                   |
 * | 2   | A    | 0.8       | yes   | dropped: caught on day 1          |
 * | 2   | B    | 0.5       | no    | B: miss → mean (1 + 0) / 2 = 0.5  |
 */
export function cardPrecisionAtK(rows: CardScoredRows, options: CardCaughtBy & { readonly k: number }): CardPrecision {
  const byDay = new Map<number, number[]>()
  for (let i = 0; i < rows.labels.length; i++) {
    const day = Math.floor(rows.eventTimesMs[i]! / DAY_MS)
    let list = byDay.get(day)
    if (!list) byDay.set(day, (list = []))
    list.push(i)
  }
  const caught = new Set<string>()
  const days: CardPrecisionDay[] = []
  for (const day of [...byDay.keys()].sort((a, b) => a - b)) {
    const cards = new Map<string, { top: number; compromised: boolean; caught: boolean }>()
    const dropped = new Set<string>()
    for (const i of byDay.get(day)!) {
      const card = rows.cardIds[i]!
      if (caught.has(card)) {
        dropped.add(card)
        continue
      }
      const score = rows.scores[i]!
      const fraud = rows.labels[i]!
      const seen = cards.get(card)
      const caughtNow = fraud && ('declined' in options ? options.declined[i]! : score >= options.declineThreshold)
      if (!seen) cards.set(card, { top: score, compromised: fraud, caught: caughtNow })
      else {
        seen.top = Math.max(seen.top, score)
        seen.compromised ||= fraud
        seen.caught ||= caughtNow
      }
    }
    const ranked = [...cards.entries()].sort(([a, x], [b, y]) => y.top - x.top || (a < b ? -1 : a > b ? 1 : 0))
    const hits = ranked.slice(0, options.k).filter(([, c]) => c.compromised).length
    days.push({
      day: new Date(day * DAY_MS).toISOString().slice(0, 10),
      cards: cards.size,
      compromised: ranked.filter(([, c]) => c.compromised).length,
      hits,
      precision: hits / options.k,
      dropped: dropped.size,
    })
    // Blocked from the next day on: the day's own later transactions were already counted in its ranking.
    for (const [card, c] of cards) if (c.caught) caught.add(card)
  }
  const mean = days.length ? days.reduce((sum, d) => sum + d.precision, 0) / days.length : null
  return { k: options.k, mean, days }
}
