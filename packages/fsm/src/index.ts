// The transfer saga as a pure finite-state machine (SPEC §2). No I/O: the coordinator performs the
// actions this module names and feeds their outcomes back as events.
import type { OutcomeKind } from '@it/domain';

export const STATES = [
  'init',
  'source_pending',
  'source_done',
  'target_pending',
  // Target credited, source's withdraw not yet finalized (Funding's freeze still held). A separate state
  // so `committed` can keep its promise that both legs are final and nothing is left frozen.
  'finalizing',
  'compensating',
  'committed',
  'rolled_back',
  'failed',
] as const;
export type State = (typeof STATES)[number];

export const TERMINAL_STATES = ['committed', 'rolled_back', 'failed'] as const satisfies readonly State[];
export type TerminalState = (typeof TERMINAL_STATES)[number];
export type ActiveState = Exclude<State, TerminalState>;

/**
 * - `begin`: persist the intent to call the next service (taken from a resting state).
 * - `success` / `failed`: a definite answer from the service whose call is in flight.
 * - `pending`: the unknown outcome (timeout, 5xx, reset, malformed reply): the call may or may not have applied.
 *
 * The last three are the kinds of a service call's `Outcome`: an outcome is the event, under one name.
 */
export const EVENTS = ['begin', 'success', 'failed', 'pending'] as const satisfies readonly ('begin' | OutcomeKind)[];
export type Event = 'begin' | OutcomeKind;

export type Leg = 'source' | 'target';
export type Operation = 'withdraw' | 'deposit' | 'commit' | 'rollback';

/** What the coordinator must do next for a transfer in a given state. */
export type Action =
  | { kind: 'begin' }
  | { kind: 'call'; leg: Leg; op: Operation }
  | { kind: 'none' };

export type Transition =
  | { ok: true; to: State; anomaly?: string }
  | { ok: false; reason: string };

export function isState(value: unknown): value is State {
  return typeof value === 'string' && (STATES as readonly string[]).includes(value);
}

export function isTerminal(state: State): state is TerminalState {
  return (TERMINAL_STATES as readonly State[]).includes(state);
}

export function actionFor(state: State): Action {
  switch (state) {
    case 'init':
    case 'source_done':
      return { kind: 'begin' };
    case 'source_pending':
      return { kind: 'call', leg: 'source', op: 'withdraw' };
    case 'target_pending':
      return { kind: 'call', leg: 'target', op: 'deposit' };
    case 'finalizing':
      return { kind: 'call', leg: 'source', op: 'commit' };
    case 'compensating':
      return { kind: 'call', leg: 'source', op: 'rollback' };
    case 'committed':
    case 'rolled_back':
    case 'failed':
      return { kind: 'none' };
  }
}

const illegal = (state: State, event: Event): Transition => ({
  ok: false,
  reason: `event '${event}' is not allowed in state '${state}'`,
});

export function transition(state: State, event: Event): Transition {
  switch (state) {
    case 'init':
      return event === 'begin' ? { ok: true, to: 'source_pending' } : illegal(state, event);
    case 'source_done':
      return event === 'begin' ? { ok: true, to: 'target_pending' } : illegal(state, event);
    case 'source_pending':
      switch (event) {
        case 'success': return { ok: true, to: 'source_done' };
        // Nothing was taken from the source: the transfer ends without moving money.
        case 'failed': return { ok: true, to: 'failed' };
        // Unknown outcome: ask the same question again later, never guess.
        case 'pending': return { ok: true, to: 'source_pending' };
        case 'begin': return illegal(state, event);
      }
      break;
    case 'target_pending':
      switch (event) {
        case 'success': return { ok: true, to: 'finalizing' };
        // Only a definite refusal by the target moves money backwards.
        case 'failed': return { ok: true, to: 'compensating' };
        case 'pending': return { ok: true, to: 'target_pending' };
        case 'begin': return illegal(state, event);
      }
      break;
    case 'finalizing':
      switch (event) {
        case 'success': return { ok: true, to: 'committed' };
        case 'pending': return { ok: true, to: 'finalizing' };
        // The target is already credited, so there is nothing to compensate: retry and raise the alarm.
        case 'failed':
          return { ok: true, to: 'finalizing', anomaly: 'source refused to commit a withdraw it had accepted' };
        case 'begin': return illegal(state, event);
      }
      break;
    case 'compensating':
      switch (event) {
        case 'success': return { ok: true, to: 'rolled_back' };
        case 'pending': return { ok: true, to: 'compensating' };
        case 'failed':
          return { ok: true, to: 'compensating', anomaly: 'source refused to roll back a withdraw it had accepted' };
        case 'begin': return illegal(state, event);
      }
      break;
    case 'committed':
    case 'rolled_back':
    case 'failed':
      return illegal(state, event);
  }
}

/** What one write records: the transition, and possibly the state it passed through on the way. */
export type Write =
  | { ok: true; to: State; via?: State; anomaly?: string }
  | { ok: false; reason: string };

/**
 * The write that records `event` in `state`: the transition, and when the state it reaches has nothing to do
 * but begin the next call (`source_done`), that begin too. The outcome of one call and the intent of the next
 * are then one compare-and-set, and the intent is still durable before its call: the row goes from
 * `source_pending` to `target_pending` by way of `source_done`, which the history records.
 */
export function writeFor(state: State, event: Event): Write {
  const t = transition(state, event);
  if (!t.ok || t.anomaly || event === 'begin' || t.to === state || actionFor(t.to).kind !== 'begin') return t;
  const next = transition(t.to, 'begin');
  return next.ok ? { ok: true, to: next.to, via: t.to } : next;
}

/** The states one applied write may lead to from `state`: every transition, and every `writeFor`. */
export function writeTargets(state: State): Set<State> {
  const out = new Set<State>();
  for (const event of EVENTS) {
    for (const w of [transition(state, event), writeFor(state, event)]) if (w.ok) out.add(w.to);
  }
  return out;
}
