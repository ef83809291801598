// compile() + render() at 1k, 10k and 50k members (1k rooms, 3 rooms each, the five access modes
// mixed in every room): time and config size, next to nats-server's own parse of the same files
// (`nats-server -t`, interleaved with the compile runs so both see the same machine).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../src/auth/compile.js';
import { DEFAULT_SHARDS, includedFiles, render, RenderCache, type Rendered } from '../src/auth/render.js';
import { binary } from '../test/support/binaries.js';
import { keyWithoutSeed } from '../src/auth/keys.js';
import { MemberCache } from '../src/auth/memberCache.js';
import type { AccessMode, Member, Room } from '../src/api/types.js';
import { report, stats } from './report.js';

const MODES: AccessMode[] = ['Publish', 'Subscribe', 'PublishSubscribe', 'Request', 'Respond'];
const NAMESPACES = 20;

export function world(memberCount: number, roomCount = 1000): { rooms: Room[]; members: Member[] } {
  const rooms: Room[] = Array.from({ length: roomCount }, (_, i) => ({
    metadata: { namespace: `team-${i % NAMESPACES}`, name: `room-${i}`, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: i % 10 === 0 ? { allowedNamespaces: [`team-${(i + 1) % NAMESPACES}`] } : {},
  }));
  const members: Member[] = Array.from({ length: memberCount }, (_, i) => {
    const ns = i % NAMESPACES;
    // Three rooms of the member's own namespace (rooms i, i+20, i+40 share its namespace). A room's
    // members are the i of one residue mod 100; the mode follows i / 100, so each room mixes all five.
    const refs = [0, 1, 2].map((k) => ({ room: `room-${(ns + NAMESPACES * ((i + k * 7) % (roomCount / NAMESPACES))) % roomCount}`, access: MODES[(Math.floor(i / 100) + k) % MODES.length]! }));
    return {
      metadata: { namespace: `team-${ns}`, name: `member-${i}`, creationTimestamp: new Date(1_700_000_000_000 + i).toISOString() },
      spec: { nkey: keyWithoutSeed(`bench member ${i}`), rooms: refs },
    };
  });
  return { rooms, members };
}

/** Writes the files as the operator's Secrets hold them and times `nats-server -t` on them. */
function serverParseMs(rendered: Rendered, dir: string): number {
  writeFileSync(join(dir, 'auth.conf'), rendered.text);
  for (const [name, text] of Object.entries(includedFiles(rendered))) writeFileSync(join(dir, name), text);
  const start = performance.now();
  const run = spawnSync(binary('nats-server'), ['-t', '-c', join(dir, 'auth.conf')], { encoding: 'utf8' });
  const ms = performance.now() - start;
  if (run.status !== 0) throw new Error(`nats-server -t refused the bench config: ${run.stderr}${run.stdout}`);
  return ms;
}

export async function benchCompile(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nro-bench-compile-'));
  try {
    for (const count of [1_000, 10_000, 50_000]) await benchAt(count, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchAt(count: number, dir: string): Promise<void> {
  {
    const { rooms, members } = world(count);
    const runs = count >= 50_000 ? 5 : 9;
    const times: number[] = [];
    const compileTimes: number[] = [];
    const renderTimes: number[] = [];
    let bytes = 0;
    let shards = 0;
    let largestFile = 0;
    // The layout the operator writes by default.
    const shardCount = DEFAULT_SHARDS;
    let accepted = 0;
    const parseTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      const compiled = compile(rooms, members);
      const compiledAt = performance.now();
      const rendered = render(compiled.model, { shardCount });
      const end = performance.now();
      times.push(end - start);
      compileTimes.push(compiledAt - start);
      renderTimes.push(end - compiledAt);
      bytes = [rendered.text, ...rendered.shards].reduce((n, t) => n + Buffer.byteLength(t), 0);
      shards = rendered.shards.length;
      largestFile = Math.max(...[rendered.text, ...rendered.shards].map((t) => Buffer.byteLength(t)));
      accepted = compiled.model.users.length;
      // Interleaved: nats-server's parse of the same files after every other compile (3 at least).
      if (i % 2 === 0 && count >= 10_000) parseTimes.push(serverParseMs(rendered, dir));
    }
    if (accepted !== count) throw new Error(`bench world is wrong: ${accepted} of ${count} members accepted`);
    const change = changeTimes(rooms, members, runs);
    const s = stats(times);
    report({
      bench: 'compile+render',
      members: count,
      rooms: rooms.length,
      roomsPerMember: 3,
      runs,
      ...s,
      usPerMember: +((s.medianMs * 1000) / count).toFixed(2),
      // Where the time goes, for whoever profiles next.
      compileMedianMs: stats(compileTimes).medianMs,
      renderMedianMs: stats(renderTimes).medianMs,
      configBytes: bytes,
      shardFiles: shards,
      largestFileBytes: largestFile,
      // What the operator does for each change: compile+render with the cache of the compile before.
      changeMedianMs: stats(change).medianMs,
      changeMaxMs: stats(change).maxMs,
      ...(parseTimes.length > 0 && {
        natsParseMedianMs: stats(parseTimes).medianMs,
        // The goal: compile+render at most 0.12x of the server's own parse of what it renders.
        ratioToNatsParse: +(s.medianMs / stats(parseTimes).medianMs).toFixed(3),
        changeRatioToNatsParse: +(stats(change).medianMs / stats(parseTimes).medianMs).toFixed(3),
      }),
    });
  }
}

/**
 * One Member changed at a time (a room reference's access rotated), compiled and rendered with the
 * MemberCache and RenderCache of the compile before, as the operator does. The last config is checked against a compile
 * without the cache: the same bytes.
 */
function changeTimes(rooms: Room[], members: Member[], runs: number): number[] {
  const cache = new MemberCache();
  const layout = { shardCount: DEFAULT_SHARDS, cache: new RenderCache() };
  let current = [...members];
  render(compile(rooms, current, { cache }).model, layout);
  const times: number[] = [];
  let rendered: Rendered | undefined;
  for (let i = 0; i < runs; i++) {
    const at = (i * 997) % current.length;
    const before = current[at]!;
    const refs = before.spec!.rooms!.map((r, k) => (k === 0 ? { ...r, access: MODES[(MODES.indexOf(r.access) + 1) % MODES.length]! } : r));
    current = current.with(at, { ...before, spec: { ...before.spec, rooms: refs } });
    const start = performance.now();
    rendered = render(compile(rooms, current, { cache }).model, layout);
    times.push(performance.now() - start);
    if (cache.computed !== 1) throw new Error(`the cache recompiled ${cache.computed} members for one change`);
  }
  const fresh = render(compile(rooms, current).model, { shardCount: DEFAULT_SHARDS });
  if (fresh.hash !== rendered!.hash) throw new Error('compile with the cache rendered another config than without it');
  return times;
}
