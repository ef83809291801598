// A real NATS client (nats.js) signing in with an nkey seed and a private inbox prefix, recording what
// the server tells it: permission errors, disconnects, reconnects.
import { connect, nkeyAuthenticator, type NatsConnection, type Msg, type Subscription } from 'nats';
import { waitFor } from './processes.js';

export interface ClientEvents {
  permissionErrors: { operation: string; subject: string }[];
  disconnects: number;
  reconnects: number;
}

export class Client {
  readonly events: ClientEvents = { permissionErrors: [], disconnects: 0, reconnects: 0 };

  private constructor(readonly nc: NatsConnection) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && s.permissionContext) this.events.permissionErrors.push({ ...s.permissionContext });
        if (s.type === 'disconnect') this.events.disconnects++;
        if (s.type === 'reconnect') this.events.reconnects++;
      }
    })();
  }

  static async connect(servers: string | string[], seed: string, inboxPrefix: string, opts: { reconnect?: boolean } = {}): Promise<Client> {
    const nc = await connect({
      servers,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
      inboxPrefix,
      reconnect: opts.reconnect ?? true,
      maxReconnectAttempts: 3,
      reconnectTimeWait: 200,
      noRandomize: true,
    });
    return new Client(nc);
  }

  /** Subscribes with a callback; the returned record collects messages and the subscription's error. */
  subscribe(subject: string, queue?: string): { sub: Subscription; msgs: Msg[]; error: () => Error | undefined } {
    const msgs: Msg[] = [];
    let error: Error | undefined;
    const sub = this.nc.subscribe(subject, {
      ...(queue && { queue }),
      callback: (err, msg) => {
        if (err) error = err;
        else msgs.push(msg);
      },
    });
    return { sub, msgs, error: () => error };
  }

  /** Waits until the server reported a permission violation for this operation and subject. */
  async permissionError(operation: 'publish' | 'subscription', subject: string, timeoutMs = 5000): Promise<void> {
    await waitFor(`a ${operation} permission error on ${subject}`, () =>
      this.events.permissionErrors.some((e) => e.operation === operation && e.subject === subject) ? true : undefined, timeoutMs);
  }

  hasPermissionError(operation: 'publish' | 'subscription', subject: string): boolean {
    return this.events.permissionErrors.some((e) => e.operation === operation && e.subject === subject);
  }

  close(): Promise<void> {
    return this.nc.isClosed() ? Promise.resolve() : this.nc.close();
  }
}
