import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('has defaults a Helm install can rely on', () => {
    const c = loadConfig([], {}, 'host');
    expect(c).toMatchObject({
      natsNamespace: 'nats',
      natsSelector: 'app.kubernetes.io/name=nats',
      authSecretName: 'nats-rooms-auth',
      authSecretKey: 'auth.conf',
      watchNamespaces: [],
      clientUrl: 'nats://nats.nats.svc:4222',
      reloadStrategy: 'reload',
      pokePods: true,
      leaderElection: true,
      operatorNamespace: 'nats',
      leaseNamespace: 'nats',
    });
    expect(c.identity).toMatch(/^host-\d+$/);
  });

  it('reads environment variables, and flags win over them', () => {
    const c = loadConfig(['--nats-namespace=flag-ns'], { NRO_NATS_NAMESPACE: 'env-ns', NRO_WATCH_NAMESPACES: 'a, b', POD_NAMESPACE: 'ops', POD_NAME: 'op-0', NRO_SUBJECT_ROOTS: 'a=services,a=legacy.x' });
    expect(c).toMatchObject({ natsNamespace: 'flag-ns', watchNamespaces: ['a', 'b'], operatorNamespace: 'ops', leaseNamespace: 'ops', identity: 'op-0', extraSubjectRoots: { a: ['services', 'legacy.x'] } });
  });

  it('reads namespace budgets: "*" for every namespace, empty fields keep the default', () => {
    const c = loadConfig(['--namespace-budgets=*=2000//,team-a=20000/100/8000000'], {});
    expect(c.budgets).toEqual({ default: { members: 2000 }, perNamespace: { 'team-a': { members: 20000, rooms: 100, bytes: 8000000 } } });
  });

  it.each([
    [['--namespace-budgets=team-a=1/2'], /--namespace-budgets/],
    [['--namespace-budgets=team-a=1/2/x'], /--namespace-budgets/],
    [['--namespace-budgets=Team=1/2/3'], /--namespace-budgets/],
    [['--nats-namespace=Bad_NS'], /--nats-namespace/],
    [['--subject-roots=a=rooms.*'], /--subject-roots/],
    [['--reload-strategy=yolo'], /--reload-strategy/],
    [['--debounce-ms=-1'], /--debounce-ms/],
    [['--no-such-flag=1'], /no-such-flag/],
    [['--default-publish=ok,bad subject'], /--default-publish/],
    [['--default-subscribe=bad subject'], /--default-subscribe/],
    [['--poke-pods=no'], /--poke-pods: "no" is not true or false/],
    [['--leader-election=0'], /--leader-election/],
    [['--debounce-ms='], /--debounce-ms: "" is not a non-negative number/],
  ])('refuses %j with a message naming the flag', (args, message) => {
    expect(() => loadConfig(args, {})).toThrow(message);
  });

  it('reads booleans as true or false only, in any case', () => {
    expect(loadConfig(['--poke-pods=FALSE', '--leader-election=false'], {})).toMatchObject({ pokePods: false, leaderElection: false });
    expect(loadConfig([], { NRO_POKE_PODS: 'True' })).toMatchObject({ pokePods: true });
  });

  it('takes an empty environment variable as unset, not as 0 or false', () => {
    const c = loadConfig([], { NRO_DEBOUNCE_MS: '', NRO_POKE_PODS: '', NRO_NATS_NAMESPACE: '' });
    expect(c).toMatchObject({ debounceMs: 100, pokePods: true, natsNamespace: 'nats' });
  });
});
