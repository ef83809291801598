// What a reconcile has to do, decided without I/O: whether the rendered config fits its Secrets,
// where each object's permissions stand, the status each object should have, and which rejections
// still need a Warning Event. The reconciler (reconciler.ts) carries it out.
import type { Member, Room } from '../api/types.js';
import { objectKey, type AuthModel, type Compiled, type MemberResult } from '../auth/model.js';
import type { Rendered } from '../auth/render.js';
import type { RolloutResult } from '../reload/rollout.js';
import type { StreamOutcome } from '../jetstream/streamKeeper.js';
import { memberStatus, roomStatus, sameStatus, type Enforcement } from './status.js';
import { flat } from '../strings.js';

/** Per member, what its entry in the config amounts to (see fingerprints()). */
export type Fingerprints = ReadonlyMap<string, string>;

/**
 * What a member's entry in the config amounts to: equal fingerprints, equal enforcement. Its account's
 * exports and imports count too: they are what connects the member's rooms to other namespaces.
 */
export function fingerprints(model: AuthModel): Map<string, string> {
  const accounts = new Map(model.accounts.map((a) => [a.name, JSON.stringify(a)]));
  const out = new Map<string, string>();
  for (const user of model.users) {
    const accountJson = accounts.get(user.account);
    const frozen = Object.isFrozen(user.permissions);
    let known = frozen ? knownFingerprints.get(user.permissions) : undefined;
    if (!known || known.publicKey !== user.publicKey || known.accountJson !== accountJson) {
      known = { publicKey: user.publicKey, accountJson, fingerprint: flat(JSON.stringify([user.publicKey, user.permissions, accountJson])) };
      if (frozen) knownFingerprints.set(user.permissions, known);
    }
    out.set(user.member, known.fingerprint);
  }
  return out;
}

/**
 * Per frozen permissions (which a MemberCache hands from one compile to the next), the fingerprint
 * last made of them and what else it was made of (the key, the account's JSON): an unchanged member
 * costs no JSON at all, and the same string comes back, which the status memo compares at once.
 */
const knownFingerprints = new WeakMap<object, { publicKey: string; accountJson: string | undefined; fingerprint: string }>();

export interface SecretLimits {
  maxSecretBytes: number;
  authShards: number;
}

/** Why the rendered config cannot be written, if it cannot. */
export function sizeProblem(rendered: Rendered, limits: SecretLimits): string | undefined {
  const { maxSecretBytes } = limits;
  const main = Buffer.byteLength(rendered.text);
  if (rendered.shards.length === 0 && main > maxSecretBytes) {
    return `the auth config would be ${main} bytes, more than --max-secret-bytes=${maxSecretBytes}, and --auth-shards=${limits.authShards} allows no shard Secrets`;
  }
  // A shard's Secret holds its users and its guard.
  const largest = Math.max(0, ...rendered.shards.map((s, i) => Buffer.byteLength(s) + Buffer.byteLength(rendered.guards[i] ?? '')));
  if (largest > maxSecretBytes) {
    return `a shard of the auth config would be ${largest} bytes, more than --max-secret-bytes=${maxSecretBytes}: raise --auth-shards (and mount as many shard Secrets in the NATS pods)`;
  }
  if (main > maxSecretBytes) return `the main auth file would be ${main} bytes, more than --max-secret-bytes=${maxSecretBytes}`;
  return undefined;
}

export const renderedBytes = (rendered: Rendered) => [rendered.text, ...rendered.shards, ...rendered.guards].reduce((n, t) => n + Buffer.byteLength(t), 0);

export const NOT_VERIFIED: Enforcement = {
  state: 'NotVerified',
  message: 'the config is in the Secret; with reload strategy "none" nothing confirms that the servers enforce it',
};

/**
 * Where one member's permissions stand: enforced when every server confirmed a generation with its
 * current entry; otherwise what the rollout says (no rollout: nothing can confirm it).
 */
export function enforcementOf(result: MemberResult, fingerprint: string | undefined, enforcedFingerprint: string | undefined, outcome: RolloutResult | undefined): Enforcement {
  if (!outcome) return NOT_VERIFIED;
  if (result.accepted && fingerprint !== undefined && enforcedFingerprint === fingerprint) return ENFORCED;
  if (outcome.state === 'Degraded') return { state: 'Degraded', message: outcome.message };
  return { state: 'RollingOut', message: outcome.message };
}

export interface WantedStatus {
  plural: 'rooms' | 'members';
  object: Room | Member;
  /** Undefined when the object already has the status it should have. */
  status: object | undefined;
  /** Nothing changed since the last call decided it (see StatusMemo): leave any pending write alone. */
  unchanged?: true;
}

export interface StatusInputs {
  rooms: readonly Room[];
  members: readonly Member[];
  compiled: Compiled;
  /** Fingerprints of the config now written. */
  current: Fingerprints;
  /** Fingerprints of the last generation every server confirmed. */
  enforced: Fingerprints;
  outcome: RolloutResult | undefined;
  /** Per persisted room, how its stream stands (absent: not kept yet since the config changed). */
  streams?: ReadonlyMap<string, StreamOutcome>;
  /** RFC 3339, seconds. */
  now: string;
  /** What the last calls found (see StatusMemo); kept by the caller, updated here. */
  memo?: StatusMemo;
}

/**
 * Per cached object, the inputs its status was last computed from and the stored status it was
 * compared with. An object whose inputs and stored status are both unchanged is not computed again:
 * a reconcile's status work follows what changed, not the member count (at 10,000 members every
 * status cost 120-200 ms). Keyed by the object itself (the reflectors hand out the same object while
 * it is unchanged): a gone one is forgotten with it.
 */
export class StatusMemo {
  private entries = new WeakMap<object, MemoEntry>();
  get(object: Room | Member): MemoEntry | undefined {
    return this.entries.get(object);
  }
  set(object: Room | Member, entry: MemoEntry): void {
    this.entries.set(object, entry);
  }
  clear(): void {
    this.entries = new WeakMap();
  }
}

interface MemoEntry {
  inputs: unknown[];
  stored: unknown;
}

const ENFORCED: Enforcement = Object.freeze({ state: 'Enforced' });

/** The status every Room and Member should have. A room is ready when every member granted it is. */
export function wantedStatuses(i: StatusInputs): WantedStatus[] {
  const out: WantedStatus[] = [];
  // Per room, the first member granted it whose permissions are not enforced yet.
  const roomPending = new Map<string, Enforcement>();
  for (const member of i.members) {
    const key = objectKey(member);
    const result = i.compiled.members.get(key)!;
    const enforcement = enforcementOf(result, i.current.get(key), i.enforced.get(key), i.outcome);
    if (result.accepted && enforcement.state !== 'Enforced') {
      for (const r of result.rooms) if (r.granted && !roomPending.has(`${r.namespace}/${r.room}`)) roomPending.set(`${r.namespace}/${r.room}`, enforcement);
    }
    // What the status is made of: the spec (generation), the verdict, the entry in the config (its
    // fingerprint: key, permissions, account), where its enforcement stands.
    const inputs = [member.metadata.generation, result.reason, result.message, result.keySource, i.current.get(key), enforcement.state, 'message' in enforcement ? enforcement.message : undefined];
    out.push(remembered(i.memo, 'members', member, inputs, () => memberStatus(member, result, enforcement, i.now)));
  }
  for (const room of i.rooms) {
    const key = objectKey(room);
    const enforcement: Enforcement = roomPending.get(key) ?? (i.outcome ? ENFORCED : NOT_VERIFIED);
    const result = i.compiled.rooms.get(key)!;
    const stream = i.streams?.get(key);
    const inputs = [room.metadata.generation, result.reason, result.message, result.memberCount, result.subject, result.stream, enforcement.state, 'message' in enforcement ? enforcement.message : undefined, stream && JSON.stringify(stream)];
    out.push(remembered(i.memo, 'rooms', room, inputs, () => roomStatus(room, result, enforcement, i.now, stream)));
  }
  return out;
}

/** The wanted status, computed only when the object's inputs or its stored status changed since the memo's entry. */
function remembered(memo: StatusMemo | undefined, plural: WantedStatus['plural'], object: Room | Member, inputs: unknown[], status: () => object): WantedStatus {
  const last = memo?.get(object);
  if (last && last.stored === object.status && last.inputs.every((v, n) => v === inputs[n])) return { plural, object, status: undefined, unchanged: true };
  memo?.set(object, { inputs, stored: object.status });
  return want(plural, object, status());
}

const want = (plural: WantedStatus['plural'], object: Room | Member, status: object): WantedStatus => ({ plural, object, status: sameStatus(status, object.status) ? undefined : status });

export interface Rejection {
  kind: 'Room' | 'Member';
  object: Room | Member;
  reason: string;
  message: string;
}

/**
 * Rejections users have not been told of: an object rejected, or rejected for a new reason, that
 * neither its stored status nor an Event already sent (`reported`, by kind/namespace/name) shows.
 * Updates `reported`: accepted and vanished objects are forgotten, new rejections remembered.
 */
export function untoldRejections(rooms: readonly Room[], members: readonly Member[], compiled: Compiled, reported: Map<string, string>): Rejection[] {
  const out: Rejection[] = [];
  // The rejected objects present: a reported key not among them was accepted or is gone, and is forgotten.
  // Accepted objects build no key (at 50,000 members the keys and a set of them cost about 100 ms).
  const rejected = new Set<string>();
  const consider = (kind: Rejection['kind'], object: Room | Member, result: { accepted: boolean; reason: string; message: string }) => {
    if (result.accepted) return;
    const key = `${kind}/${objectKey(object)}`;
    rejected.add(key);
    const previous = object.status?.conditions?.find((c) => c.type === 'Accepted');
    const alreadyShown = previous?.status === 'False' && previous.reason === result.reason;
    if (alreadyShown || reported.get(key) === result.reason) return;
    reported.set(key, result.reason);
    out.push({ kind, object, reason: result.reason, message: result.message });
  };
  for (const m of members) consider('Member', m, compiled.members.get(objectKey(m))!);
  for (const r of rooms) consider('Room', r, compiled.rooms.get(objectKey(r))!);
  for (const key of reported.keys()) if (!rejected.has(key)) reported.delete(key);
  return out;
}
