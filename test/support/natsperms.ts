// A long-lived natsperms process (test/tools/natsperms): nats-server's own config parser answering
// "is this config valid, and what would each nkey user be allowed to do?" one line per file.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { binary } from './binaries.js';

export interface ParsedSubjectPermission {
  allow: string[] | null;
  deny: string[] | null;
}

export interface ParsedUser {
  nkey: string;
  account: string;
  publish: ParsedSubjectPermission | null;
  subscribe: ParsedSubjectPermission | null;
  responses: { max: number; expiresNanos: number } | null;
  hasPermissions: boolean;
}

/** An export or import of an account, as nats-server holds it after parsing. */
export interface ParsedLink {
  type: 'stream' | 'service';
  subject: string;
  /** Imports: the exporting account. */
  account?: string;
  /** Exports: the accounts allowed to import it. */
  accounts?: string[];
  invalid?: boolean;
}

export interface ParsedAccount {
  name: string;
  exports: ParsedLink[];
  imports: ParsedLink[];
  /** The account's JetStream limits as parsed; null when JetStream is not enabled for it. */
  jetstream: { maxMemory: number; maxFile: number; maxStreams: number; maxConsumers: number } | null;
}

export interface ParsedConfig {
  path: string;
  error?: string;
  users?: ParsedUser[];
  accounts?: ParsedAccount[];
}

export class NatsPerms {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string) => void)[] = [];

  constructor() {
    this.child = spawn(binary('natsperms'), [], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
  }

  parse(path: string): Promise<ParsedConfig> {
    return new Promise((resolve) => {
      this.waiting.push((line) => resolve(JSON.parse(line) as ParsedConfig));
      this.child.stdin.write(`${path}\n`);
    });
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

/** Does a subscription or publish subject `pattern` cover the literal subject? (NATS wildcard rules) */
export function covers(pattern: string, literal: string): boolean {
  const p = pattern.split('.');
  const s = literal.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** What nats-server decides for a literal subject given a parsed permission (client.go pubAllowedFullCheck). */
export function serverAllows(p: ParsedSubjectPermission | null, literal: string): boolean {
  if (!p) return true;
  const allow = p.allow ?? [];
  const deny = p.deny ?? [];
  let allowed = allow.length > 0 ? allow.some((a) => covers(a, literal)) : true;
  if (allowed && deny.length > 0) allowed = !deny.some((d) => covers(d, literal));
  return allowed;
}
