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
