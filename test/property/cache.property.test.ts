// The caches change nothing but the work: through any sequence of changes (specs edited, objects
// added and deleted, status writes that replace an object without changing its spec, keys generated
// and rotated), compile() with a MemberCache and render() with a RenderCache give exactly what they
// give without them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/auth/compile.js';
import { MemberCache } from '../../src/auth/memberCache.js';
import { render, RenderCache } from '../../src/auth/render.js';
import type { Member, Room } from '../../src/api/types.js';
import { memberArb, roomArb, worldArb } from '../support/worlds.js';
import { newUserKey } from '../support/objects.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000) / 10;
const GENERATED = Array.from({ length: 4 }, () => newUserKey().publicKey);

type Step =
  | { kind: 'editRoom' | 'editMember'; at: number; room?: Room; member?: Member }
  | { kind: 'delete' | 'statusWrite' | 'dropKey' | 'rotateKey'; at: number }
  | { kind: 'addRoom'; room: Room }
  | { kind: 'addMember'; member: Member };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('editRoom' as const), at: fc.nat(), room: roomArb }),
  fc.record({ kind: fc.constant('editMember' as const), at: fc.nat(), member: memberArb }),
  fc.record({ kind: fc.constantFrom('delete' as const, 'statusWrite' as const, 'dropKey' as const, 'rotateKey' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('addRoom' as const), room: roomArb }),
  fc.record({ kind: fc.constant('addMember' as const), member: memberArb }),
);

type Obj = Room | Member;
const keyOf = (o: Obj) => `${o.metadata.namespace}/${o.metadata.name}`;

/** As the API server stores it: a uid per object, the generation raised by every change of spec. */
function stored<T extends Obj>(o: T, generation: number, uid = `uid-${keyOf(o)}-${generation}`): T {
  return { ...o, metadata: { ...o.metadata, uid, generation } };
}

class World {
  objects: Obj[] = [];
  rooms = new Set<Obj>();
  generatedKeys = new Map<string, string>();
  private next = 1;

  constructor(rooms: Room[], members: Member[]) {
    for (const r of rooms) this.add(r, true);
    for (const m of members) this.add(m, false);
  }

  private add(o: Obj, isRoom: boolean): void {
    const i = this.objects.findIndex((x) => keyOf(x) === keyOf(o) && this.rooms.has(x) === isRoom);
    const s = stored(o, this.next++);
    if (i >= 0) this.replace(i, { ...s, metadata: { ...s.metadata, uid: this.objects[i]!.metadata.uid } });
    else this.objects.push(s);
    if (isRoom) this.rooms.add(s);
  }

  private replace(i: number, o: Obj): void {
    if (this.rooms.delete(this.objects[i]!)) this.rooms.add(o);
    this.objects[i] = o;
  }

  apply(step: Step): void {
    if (step.kind === 'addRoom') return this.add(step.room, true);
    if (step.kind === 'addMember') return this.add(step.member, false);
    if (this.objects.length === 0) return;
    const i = step.at % this.objects.length;
    const o = this.objects[i]!;
    const isRoom = this.rooms.has(o);
    switch (step.kind) {
      case 'editRoom':
      case 'editMember': {
        // The new spec of the same object: same name and uid, the next generation.
        if (isRoom !== (step.kind === 'editRoom')) return;
        const spec = isRoom ? step.room!.spec : step.member!.spec;
        return this.replace(i, { ...o, spec, metadata: { ...o.metadata, generation: this.next++ } } as Obj);
      }
      case 'delete':
        this.rooms.delete(o);
        this.objects.splice(i, 1);
        return;
      case 'statusWrite':
        // A new object with the same spec, uid and generation, as a status write leaves it.
        return this.replace(i, { ...o, status: { observedGeneration: o.metadata.generation } } as Obj);
      case 'dropKey': {
        if (isRoom) return;
        const { nkey: _, ...spec } = (o as Member).spec ?? {};
        this.replace(i, { ...o, spec, metadata: { ...o.metadata, generation: this.next++ } } as Obj);
        this.generatedKeys.set(keyOf(o), GENERATED[step.at % GENERATED.length]!);
        return;
      }
      case 'rotateKey': {
        // Of a member whose key the operator generates, if there is one.
        const keyless = this.memberList.filter((m) => m.spec?.nkey === undefined);
        const target = keyOf(keyless[step.at % Math.max(1, keyless.length)] ?? o);
        if (step.at % 3 === 0) this.generatedKeys.delete(target);
        else this.generatedKeys.set(target, GENERATED[(step.at + 1) % GENERATED.length]!);
      }
    }
  }

  get roomList(): Room[] {
    return this.objects.filter((o) => this.rooms.has(o)) as Room[];
  }

  get memberList(): Member[] {
    return this.objects.filter((o) => !this.rooms.has(o)) as Member[];
  }
}

describe('compile and render caches', () => {
  it('give the same verdicts, permissions and bytes as compiling afresh, through any changes', () => {
    let reused = 0;
    fc.assert(
      fc.property(worldArb, fc.array(stepArb, { minLength: 1, maxLength: 8 }), (w, steps) => {
        const world = new World(w.rooms, w.members);
        const memberCache = new MemberCache();
        const renderCache = new RenderCache();
        const layout = { ...(w.maxFileBytes !== undefined && { maxFileBytes: w.maxFileBytes }), ...(w.shardCount !== undefined && { shardCount: w.shardCount }) };
        for (const step of [undefined, ...steps]) {
          if (step) world.apply(step);
          const options = { generatedKeys: new Map(world.generatedKeys), defaultPermissions: DEFAULTS };
          const fresh = compile(world.roomList, world.memberList, options);
          const cached = compile(world.roomList, world.memberList, { ...options, cache: memberCache });
          reused += memberCache.reused;
          expect(cached).toEqual(fresh);
          const a = render(fresh.model, layout);
          const b = render(cached.model, { ...layout, cache: renderCache });
          expect([b.text, b.shards, b.hash]).toEqual([a.text, a.shards, a.hash]);
        }
      }),
      { numRuns: RUNS },
    );
    // The property means something only if results were reused.
    expect(reused).toBeGreaterThan(RUNS);
  });

  // Each input the cache follows, changed alone: the member must be compiled again.
  const at = (t: number) => new Date(1_700_000_000_000 + t * 1000).toISOString();
  const room = (ns: string, name: string, t: number, spec: Room['spec'], generation = 1) => stored<Room>({ metadata: { namespace: ns, name, creationTimestamp: at(t) }, spec }, generation, `uid-${ns}-${name}`);
  const member = (ns: string, name: string, t: number, spec: Member['spec']) => stored<Member>({ metadata: { namespace: ns, name, creationTimestamp: at(t) }, spec }, 1, `uid-${ns}-${name}`);
  const granted = (c: ReturnType<typeof compile>, key: string) => c.members.get(key)!.rooms.map((r) => `${r.room}:${r.reason}`);

  it('recompiles a member whose room changed spec, and reuses it after a status write', () => {
    const cache = new MemberCache();
    const m = member('a', 'm', 1, { nkey: GENERATED[0], rooms: [{ room: 'r', access: 'Subscribe' }] });
    compile([room('a', 'r', 0, {})], [m], { cache });
    const after = compile([room('a', 'r', 0, { subject: 'rooms.a.elsewhere' }, 2)], [m], { cache });
    expect([cache.reused, cache.computed]).toEqual([0, 1]);
    expect(after.members.get('a/m')!.permissions!.subscribe.allow).toEqual(expect.arrayContaining(['rooms.a.elsewhere']));
    expect(after.members.get('a/m')!.permissions!.subscribe.allow).not.toContain('rooms.a.r');
    compile([{ ...room('a', 'r', 0, { subject: 'rooms.a.elsewhere' }, 2), status: {} }], [m], { cache });
    expect([cache.reused, cache.computed]).toEqual([1, 0]);
  });

  it('recompiles a guest whose room stopped offering its namespace, subject and verdict unchanged', () => {
    const cache = new MemberCache();
    const guest = member('b', 'g', 1, { nkey: GENERATED[0], rooms: [{ room: 'r', namespace: 'a', access: 'Subscribe' }] });
    expect(granted(compile([room('a', 'r', 0, { allowedNamespaces: ['b'] })], [guest], { cache }), 'b/g')).toEqual(['r:Granted']);
    expect(granted(compile([room('a', 'r', 0, { allowedNamespaces: ['c'] }, 2)], [guest], { cache }), 'b/g')).toEqual(['r:RoomNotAllowed']);
  });

  it("recompiles a member whose room lost its verdict to an older room, the room's spec unchanged", () => {
    const cache = new MemberCache();
    // The younger room offers Subscribe to b on rooms.a.x; an older one offering Request on rooms.a.> is added.
    const younger = room('a', 'young', 5, { subject: 'rooms.a.x', allowedNamespaces: ['b'] });
    const m = member('a', 'm', 6, { nkey: GENERATED[0], rooms: [{ room: 'young', access: 'Subscribe' }] });
    expect(granted(compile([younger], [m], { cache }), 'a/m')).toEqual(['young:Granted']);
    const older = room('a', 'old', 1, { subject: 'rooms.a.>', allowedNamespaces: ['b'], guestAccess: 'Request' });
    expect(granted(compile([older, younger], [m], { cache }), 'a/m')).toEqual(['young:RoomRejected']);
  });

  it('recompiles a member whose import came to overlap an older one of its namespace', () => {
    const cache = new MemberCache();
    const rooms = [room('a', 'x', 0, { subject: 'rooms.a.x.*', allowedNamespaces: ['b'] }), room('a', 'y', 1, { subject: 'rooms.a.*.q', allowedNamespaces: ['b'] })];
    const joinsY = member('b', 'm', 2, { nkey: GENERATED[0], rooms: [{ room: 'y', namespace: 'a', access: 'Subscribe' }] });
    expect(granted(compile(rooms, [joinsY], { cache }), 'b/m')).toEqual(['y:Granted']);
    // Another member of b joins the older, overlapping room: b/m may no longer import y.
    const joinsX = member('b', 'n', 3, { nkey: GENERATED[1], rooms: [{ room: 'x', namespace: 'a', access: 'Subscribe' }] });
    expect(granted(compile(rooms, [joinsY, joinsX], { cache }), 'b/m')).toEqual(['y:SubjectConflict']);
  });

  it('recompiles a member whose generated key was rotated or whose credentials failed', () => {
    const cache = new MemberCache();
    const m = member('a', 'm', 1, { rooms: [] });
    const key = (c: ReturnType<typeof compile>) => [c.members.get('a/m')!.reason, c.members.get('a/m')!.publicKey];
    expect(key(compile([], [m], { cache, generatedKeys: new Map([['a/m', GENERATED[0]!]]) }))).toEqual(['Accepted', GENERATED[0]]);
    expect(key(compile([], [m], { cache, generatedKeys: new Map([['a/m', GENERATED[1]!]]) }))).toEqual(['Accepted', GENERATED[1]]);
    expect(key(compile([], [m], { cache, credentialProblems: new Map([['a/m', 'no Secret']]) }))).toEqual(['CredentialsUnavailable', undefined]);
    const message = (problem: string) => compile([], [m], { cache, credentialProblems: new Map([['a/m', problem]]) }).members.get('a/m')!.message;
    expect(message('the Secret is being written')).toBe('the Secret is being written');
  });

  it('starts afresh when the default permissions change', () => {
    const cache = new MemberCache();
    const m = member('a', 'm', 1, { nkey: GENERATED[0], rooms: [] });
    compile([], [m], { cache, defaultPermissions: { publish: ['one'] } });
    const after = compile([], [m], { cache, defaultPermissions: { publish: ['two'] } });
    expect(after.members.get('a/m')!.permissions!.publish.allow).toEqual(['two']);
  });
});

const DEFAULTS = { publish: ['shared.pub'], subscribe: ['shared.sub'] };
