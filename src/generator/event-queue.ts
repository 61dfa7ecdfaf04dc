/** A binary min-heap of scheduled events: fraud episodes and labels come out in time order, ties by sequence. */
export class EventQueue<T extends { readonly timeMs: number; readonly seq: number }> {
  readonly #items: T[] = []

  get length(): number {
    return this.#items.length
  }

  peek(): T | undefined {
    return this.#items[0]
  }

  push(item: T): void {
    const q = this.#items
    q.push(item)
    let i = q.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(q[i]!, q[parent]!)) break
      ;[q[i], q[parent]] = [q[parent]!, q[i]!]
      i = parent
    }
  }

  pop(): T {
    const q = this.#items
    const top = q[0]!
    const last = q.pop()!
    if (q.length > 0) {
      q[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const rgt = l + 1
        let m = i
        if (l < q.length && before(q[l]!, q[m]!)) m = l
        if (rgt < q.length && before(q[rgt]!, q[m]!)) m = rgt
        if (m === i) break
        ;[q[i], q[m]] = [q[m]!, q[i]!]
        i = m
      }
    }
    return top
  }
}

function before(
  a: { readonly timeMs: number; readonly seq: number },
  b: { readonly timeMs: number; readonly seq: number },
): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq)
}
