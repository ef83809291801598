// Probes for the tenant-escalation suite: principals (one Member's connections, one per NATS server)
// and taps (a subscription that records every message it delivers, and optionally answers it the way a
// client of that principal would). Every probe message carries a unique marker in its JSON payload, so
// a tap can tell exactly which attempt leaked into it, from whom, on which server.
import type { Msg, Subscription } from 'nats';
import { Client } from '../support/natsClient.js';
import { waitFor } from '../support/processes.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What a probe message says: the attempt's marker, who sent it, and for relays where to go next. */
export interface Payload {
  m: string;
  from?: string;
  /** A relay responder sets this as the reply subject of its answer (chains of responders). */
  next?: string;
  /** A relay responder sends these fields instead of a plain payload (e.g. CONNZ options). */
  body?: Record<string, unknown>;
  tag?: string;
  hop?: number;
  /** The server of the connection that answered (several connections of one responder answer one request). */
  srv?: number;
}

export const encode = (p: Payload | Record<string, unknown>) => enc.encode(JSON.stringify(p));

export function decode(data: Uint8Array): Payload | undefined {
  try {
    const v = JSON.parse(dec.decode(data)) as unknown;
    return v && typeof v === 'object' && typeof (v as Payload).m === 'string' ? (v as Payload) : undefined;
  } catch {
    return undefined;
  }
}

let counter = 0;
/** A marker no other attempt uses. */
export const marker = (label: string) => `esc-${label}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

export interface Seen {
  subject: string;
  reply?: string;
  text: string;
  payload?: Payload;
  /** A no-responders status (503), which the server sends itself: proves nothing reached anyone. */
  noResponders: boolean;
}

/** One subscription of one principal on one server, recording what it delivers. */
export class Tap {
  readonly seen: Seen[] = [];
  readonly sub: Subscription;
  private error: Error | undefined;

  constructor(
    readonly principal: Principal,
    readonly server: number,
    readonly subject: string,
    onMessage?: (msg: Msg, payload: Payload | undefined, tap: Tap) => void,
    queue?: string,
  ) {
    this.sub = this.client.nc.subscribe(subject, {
      ...(queue && { queue }),
      callback: (err, msg) => {
        if (err) {
          this.error = err;
          return;
        }
        const payload = decode(msg.data);
        this.seen.push({ subject: msg.subject, reply: msg.reply || undefined, text: dec.decode(msg.data), payload, noResponders: msg.headers?.code === 503 });
        onMessage?.(msg, payload, this);
      },
    });
  }

  get client(): Client {
    return this.principal.conns[this.server]!;
  }

  get label(): string {
    return `${this.principal.id} on server ${this.server} (subscription ${this.subject})`;
  }

  /** Messages carrying this marker. */
  with(m: string, from?: string): Seen[] {
    return this.seen.filter((s) => s.payload?.m === m && (from === undefined || s.payload.from === from));
  }

  /** Was this subscription refused by the server (permissions violation)? */
  refused(): boolean {
    return this.client.hasPermissionError('subscription', this.subject) || /permission/i.test(String(this.error ?? ''));
  }
}

/** A Member (or the operator's system user) with one connection to every NATS server. */
export interface Principal {
  /** `namespace/name`. */
  id: string;
  namespace: string;
  name: string;
  seed: string;
  publicKey: string;
  inbox: string;
  conns: Client[];
}

/** Publishes `payload` on `subject` from every server of `p` (reply optional); one marker per server. */
export function publishEverywhere(p: Principal, subject: string, label: string, opts: { reply?: (server: number) => string; extra?: Partial<Payload> } = {}): string[] {
  return p.conns.map((c, server) => {
    const m = marker(`${label}-s${server}`);
    c.nc.publish(subject, encode({ m, from: p.id, ...opts.extra }), opts.reply ? { reply: opts.reply(server) } : undefined);
    return m;
  });
}

/** Flushes every connection given (so everything they sent has reached their server), then waits a grace period for routes. */
export async function settle(principals: Principal[], graceMs = 400): Promise<void> {
  await Promise.all(principals.flatMap((p) => p.conns.filter((c) => !c.nc.isClosed()).map((c) => c.nc.flush().catch(() => {}))));
  await new Promise((r) => setTimeout(r, graceMs));
}

/** Waits until every tap has delivered a message with `m` (a positive control); throws naming the taps that did not. */
export async function allSee(taps: Tap[], m: string | ((tap: Tap) => boolean), what: string, timeoutMs = 8000): Promise<void> {
  const ok = (t: Tap) => (typeof m === 'string' ? t.with(m).length > 0 : m(t));
  try {
    await waitFor(what, () => (taps.every(ok) ? true : undefined), timeoutMs, 20);
  } catch {
    throw new Error(`positive control failed (the probe itself is broken, or the legitimate path does not work): ${what}; nothing on ${taps.filter((t) => !ok(t)).map((t) => t.label).join(', ')}`);
  }
}

/** Short text of a message for failure messages. */
export function describeSeen(s: Seen): string {
  const text = s.text.length > 160 ? `${s.text.slice(0, 160)}...` : s.text;
  return `${JSON.stringify(text)} on ${s.subject}`;
}
