/**
 * Budget reservations, settled and refunded by the engine that consumed them.
 *
 * An admitted decision with USD or token budgets carries its {@link ReservedAmount}s as
 * plain data (key, amount, period end). Settling or refunding moves those counters in the
 * state store the decision was made with; what each amount counts now is kept per
 * reservation, from the first settle or refund on, so repeating either never counts twice.
 * Nothing is recorded when a decision is made: the hot path pays nothing for calls that are
 * never settled.
 *
 * A spread copy (`{ ...decision }`) shares the reservation, and with it that account. A deep
 * copy (`structuredClone`, JSON) starts a fresh one from the estimates: settle or refund the
 * decision you were given, or a spread of it.
 *
 * @module
 */

import type { Decision, ReservedAmount } from "../kernel/decision.ts";
import type { CounterAdjustment, StateStore } from "../state/types.ts";

/** Actual usage of a call, to settle its budget reservation with. */
export interface ActualUsage {
  /** What the call really cost, in USD. */
  readonly costUsd?: number;
  /** Tokens the call really used. */
  readonly tokens?: number;
}

/** Options of {@link refundReservation}. */
export interface RefundOptions {
  /**
   * The call failed: give back only the amounts whose rule says `refund_on_error` (the
   * default of a rule).
   */
  readonly onError?: boolean;
}

/** What a reservation counts in its store now. */
interface Ledger {
  /** What each amount counts now (its estimate until settled). */
  readonly applied: number[];
  /** Amounts given back: a later settle leaves them alone. */
  readonly refunded: boolean[];
}

const ledgers = new WeakMap<readonly ReservedAmount[], Ledger>();

/**
 * Corrects an admitted decision's budget reservation with what the call really used.
 * Amounts not given keep their estimate. Settling again replaces the previous amounts (it
 * does not add to them); settling an amount after it was refunded does nothing. An invalid
 * amount (negative, not finite) is ignored.
 *
 * @param state - The state store the decision was made with (`LocalDecisionClient.state`).
 *
 * @example
 * ```ts
 * const decision = await client.decide("api_budget", { cost: 0.05 });
 * const answer = await callModel();
 * await settleReservation(decision, { costUsd: answer.costUsd }, client.state);
 * ```
 */
export function settleReservation(
  decision: Decision,
  actual: ActualUsage,
  state: StateStore,
): void | Promise<void> {
  const cost = actual.costUsd === undefined ? undefined : Math.round(actual.costUsd * 1_000_000);
  const tokens = actual.tokens;
  return rebalance(decision, state, false, (r) => {
    const real = r.unit === "usd" ? cost : tokens;
    return real !== undefined && Number.isFinite(real) && real >= 0 ? real : undefined;
  });
}

/**
 * Gives an admitted decision's budget back: what it counts now (the estimate, or the
 * settled amount). With `onError`, only amounts whose rule says `refund_on_error`.
 * Refunding twice does nothing.
 *
 * @param state - The state store the decision was made with (`LocalDecisionClient.state`).
 */
export function refundReservation(
  decision: Decision,
  state: StateStore,
  options: RefundOptions = {},
): void | Promise<void> {
  const onError = options.onError === true;
  return rebalance(decision, state, true, (r) => (onError && !r.refundOnError ? undefined : 0));
}

/**
 * Moves each reserved amount to the amount `target` gives (`undefined`: leave it) and
 * applies the differences in one `adjust`.
 */
function rebalance(
  decision: Decision,
  state: StateStore,
  refunding: boolean,
  target: (r: ReservedAmount) => number | undefined,
): void | Promise<void> {
  const reservation = decision.reservation;
  if (reservation === undefined) return;
  let ledger = ledgers.get(reservation);
  if (ledger === undefined) {
    ledger = {
      applied: reservation.map((r) => r.amount),
      refunded: reservation.map(() => false),
    };
    ledgers.set(reservation, ledger);
  }
  const { applied, refunded } = ledger;
  let adjustments: CounterAdjustment[] | undefined;
  for (let i = 0; i < reservation.length; i++) {
    if (refunded[i]) continue;
    const r = reservation[i] as ReservedAmount;
    const next = target(r);
    if (next === undefined) continue;
    if (refunding) refunded[i] = true;
    const delta = next - (applied[i] as number);
    if (delta === 0) continue;
    applied[i] = next;
    adjustments ??= [];
    adjustments.push({ key: r.key, delta, expiresAtMs: r.expiresAtMs });
  }
  if (adjustments !== undefined) return state.adjust(adjustments);
}
