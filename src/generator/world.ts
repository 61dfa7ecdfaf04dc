import type { Random } from './random.js'

/** Home countries with their currency and a weight; ~8 % of cards travel to or buy from the others. */
export const COUNTRIES: readonly (readonly [country: string, currency: string, weight: number])[] = [
  ['FR', 'EUR', 20],
  ['DE', 'EUR', 22],
  ['ES', 'EUR', 12],
  ['IT', 'EUR', 12],
  ['NL', 'EUR', 8],
  ['BE', 'EUR', 5],
  ['GB', 'GBP', 10],
  ['PL', 'PLN', 6],
  ['SE', 'SEK', 3],
  ['US', 'USD', 2],
]
const FOREIGN_FOR_FRAUD = ['US', 'BR', 'NG', 'RU', 'CN', 'IN', 'TR', 'MX', 'ID', 'VN'] as const
const currencyOf = new Map(COUNTRIES.map(([c, cur]) => [c, cur]))
export function currencyFor(country: string): string {
  return currencyOf.get(country) ?? 'USD'
}

/** Merchant categories (ISO 18245) with a typical ticket size and whether they sell online. */
const MERCHANT_TYPES: readonly { mcc: string; medianAmount: number; online: boolean; weight: number }[] = [
  { mcc: '5411', medianAmount: 35, online: false, weight: 30 }, // grocery
  { mcc: '5812', medianAmount: 28, online: false, weight: 15 }, // restaurants
  { mcc: '5541', medianAmount: 55, online: false, weight: 10 }, // fuel
  { mcc: '5311', medianAmount: 60, online: false, weight: 8 }, // department stores
  { mcc: '5912', medianAmount: 18, online: false, weight: 7 }, // pharmacies
  { mcc: '4111', medianAmount: 9, online: false, weight: 6 }, // transit
  { mcc: '6011', medianAmount: 100, online: false, weight: 4 }, // ATM
  { mcc: '5732', medianAmount: 180, online: true, weight: 4 }, // electronics
  { mcc: '5999', medianAmount: 45, online: true, weight: 8 }, // online retail
  { mcc: '4722', medianAmount: 320, online: true, weight: 2 }, // travel
  { mcc: '5816', medianAmount: 15, online: true, weight: 4 }, // digital goods
  { mcc: '7995', medianAmount: 50, online: true, weight: 2 }, // gambling
]

export interface Terminal {
  readonly terminalId: string
  readonly merchantId: string
  readonly mcc: string
  readonly country: string
  readonly online: boolean
  readonly medianAmount: number
}

export interface Customer {
  readonly customerId: string
  readonly cardId: string
  readonly homeCountry: string
  /** Typical ticket relative to the merchant's median: some people spend more everywhere. */
  readonly spendFactor: number
  readonly txPerDay: number
  /** The customer is most active around this UTC hour, with `hourSpread` hours of spread. */
  readonly peakHour: number
  readonly hourSpread: number
  readonly onlineShare: number
  readonly deviceId: string
  readonly ip: string
  /** Indices into world.terminals of the customer's usual physical shops. */
  readonly usualTerminals: readonly number[]
}

export interface World {
  readonly customers: readonly Customer[]
  readonly terminals: readonly Terminal[]
  readonly onlineTerminals: readonly number[]
  readonly physicalTerminalsByCountry: ReadonlyMap<string, readonly number[]>
  readonly foreignCountries: readonly string[]
}

export interface WorldOptions {
  readonly customers: number
  readonly merchants: number
}

export function createWorld(random: Random, options: WorldOptions): World {
  const terminals: Terminal[] = []
  for (let m = 0; m < options.merchants; m++) {
    const type = random.weighted(MERCHANT_TYPES.map((t) => [t, t.weight] as const))
    const country =
      type.online && random.chance(0.3)
        ? random.pick(['US', 'GB', 'NL', 'IE'])
        : random.weighted(COUNTRIES.map(([c, , w]) => [c, w] as const))
    const merchantId = `mer_${random.hex()}${random.hex()}`
    const terminalCount = type.online ? 1 : random.int(1, 4)
    for (let t = 0; t < terminalCount; t++) {
      terminals.push({
        terminalId: `ter_${random.hex()}${random.hex()}`,
        merchantId,
        mcc: type.mcc,
        country,
        online: type.online,
        medianAmount: type.medianAmount,
      })
    }
  }
  const onlineTerminals: number[] = []
  const physicalTerminalsByCountry = new Map<string, number[]>()
  terminals.forEach((terminal, index) => {
    if (terminal.online) onlineTerminals.push(index)
    else {
      const list = physicalTerminalsByCountry.get(terminal.country) ?? []
      list.push(index)
      physicalTerminalsByCountry.set(terminal.country, list)
    }
  })

  const customers: Customer[] = []
  for (let c = 0; c < options.customers; c++) {
    const homeCountry = random.weighted(COUNTRIES.map(([country, , w]) => [country, w] as const))
    const local = physicalTerminalsByCountry.get(homeCountry) ?? onlineTerminals
    const usualTerminals: number[] = []
    const usualCount = Math.min(local.length, random.int(4, 12))
    for (let i = 0; i < usualCount; i++) usualTerminals.push(random.pick(local))
    customers.push({
      customerId: `cus_${random.hex()}${random.hex()}`,
      cardId: `card_${random.hex()}${random.hex()}`,
      homeCountry,
      spendFactor: random.logNormal(1, 0.5),
      txPerDay: random.uniform(0.5, 4),
      peakHour: random.uniform(8, 21),
      hourSpread: random.uniform(2, 4.5),
      onlineShare: random.uniform(0.05, 0.4),
      deviceId: `dev_${random.hex()}`,
      ip: `10.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`,
      usualTerminals,
    })
  }
  return { customers, terminals, onlineTerminals, physicalTerminalsByCountry, foreignCountries: FOREIGN_FOR_FRAUD }
}
