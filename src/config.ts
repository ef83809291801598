// Operator configuration from flags and environment variables (flags win). Every option has a sane
// default, so `nats-rooms-operator run` works in a cluster laid out like the Helm chart's.
import { parseArgs } from 'node:util';
import { isDnsLabel, isSubject } from './api/grammar.js';
import { DEFAULT_SHARDS } from './auth/render.js';
import { DEFAULT_JETSTREAM_LIMITS, type Budgets, type CompileOptions, type NamespaceBudget } from './auth/model.js';
import type { JetStreamLimits } from './auth/accounts.js';

export type ReloadStrategy = 'reload' | 'sidecar' | 'restart' | 'none';

export interface OperatorConfig {
  /** Namespace of the NATS servers and the auth Secret. */
  natsNamespace: string;
  /** Label selector of the NATS server Pods. */
  natsSelector: string;
  authSecretName: string;
  authSecretKey: string;
  /** Shard Secrets <auth-secret>-1..N the NATS pods mount beside the main one, for configs over one Secret. */
  authShards: number;
  /** Largest auth file put in one Secret. */
  maxSecretBytes: number;
  /** Namespaces whose Rooms and Members count; empty means all. */
  watchNamespaces: string[];
  account: string;
  extraSubjectRoots: Record<string, string[]>;
  /** What one namespace may put in the config (see compile.ts). */
  budgets: Budgets;
  /** What a namespace's account may hold in JetStream once one of its rooms is persisted. */
  jetstreamLimits: NonNullable<CompileOptions['jetstreamLimits']>;
  defaultPublish: string[];
  defaultSubscribe: string[];
  /** Written into credentials Secrets for apps to connect with. */
  clientUrl: string;
  reloadStrategy: ReloadStrategy;
  /** Annotate a NATS pod with the config hash so kubelet refreshes its Secret volume at once. */
  pokePods: boolean;
  /** How long one server may take to confirm a new config before the rollout is Degraded. */
  serverTimeoutMs: number;
  /** Servers reloaded at once after the first (the canary) confirmed a generation. */
  rolloutParallelism: number;
  healthAddr: string;
  leaderElection: boolean;
  leaseName: string;
  leaseNamespace: string;
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Namespace of the operator itself (its system-user Secret lives there). */
  operatorNamespace: string;
  systemSecretName: string;
  identity: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Quiet time and longest wait before a burst of changes is rendered. */
  debounceMs: number;
  maxDelayMs: number;
  resyncIntervalMs: number;
  /** How often persisted rooms' streams are looked at again (their state in Room status, drift). */
  streamResyncMs: number;
}

const OPTIONS = {
  'nats-namespace': { env: 'NRO_NATS_NAMESPACE', def: 'nats', help: 'namespace of the NATS servers and the auth Secret' },
  'nats-selector': { env: 'NRO_NATS_SELECTOR', def: 'app.kubernetes.io/name=nats', help: 'label selector of the NATS server Pods' },
  'auth-secret': { env: 'NRO_AUTH_SECRET', def: 'nats-rooms-auth', help: 'name of the Secret the operator writes the auth config to' },
  'auth-secret-key': { env: 'NRO_AUTH_SECRET_KEY', def: 'auth.conf', help: 'key of the config in that Secret' },
  'auth-shards': { env: 'NRO_AUTH_SHARDS', def: String(DEFAULT_SHARDS), help: 'shard Secrets <auth-secret>-1..N the NATS pods mount (projected, optional) for configs larger than one Secret' },
  'max-secret-bytes': { env: 'NRO_MAX_SECRET_BYTES', def: '1000000', help: 'largest auth file put in one Secret (a Secret holds 1 MiB)' },
  'watch-namespaces': { env: 'NRO_WATCH_NAMESPACES', def: '', help: 'comma-separated namespaces whose Rooms and Members count (default: all)' },
  account: { env: 'NRO_ACCOUNT', def: 'ROOMS', help: "prefix of the NATS accounts: namespace N's members live in <account>_N" },
  'namespace-budgets': {
    env: 'NRO_NAMESPACE_BUDGETS',
    def: '',
    help: "what one namespace may put in the config, ns=members/rooms/bytes[,...]; ns '*' sets every namespace's; an empty field keeps the default (10000/5000/4000000)",
  },
  'jetstream-limits': {
    env: 'NRO_JETSTREAM_LIMITS',
    def: '',
    help:
      "JetStream limits of a namespace's account, ns=memory/file/streams/consumers[,...] (bytes, bytes, counts); ns '*' sets every namespace's; " +
      `an empty field keeps the default (${DEFAULT_JETSTREAM_LIMITS.maxMemory}/${DEFAULT_JETSTREAM_LIMITS.maxFile}/${DEFAULT_JETSTREAM_LIMITS.maxStreams}/${DEFAULT_JETSTREAM_LIMITS.maxConsumers})`,
  },
  'subject-roots': { env: 'NRO_SUBJECT_ROOTS', def: '', help: 'extra subject roots, ns=subject[,ns=subject...]; rooms.<ns> is always a root' },
  'default-publish': { env: 'NRO_DEFAULT_PUBLISH', def: '', help: 'comma-separated subjects every member may publish to' },
  'default-subscribe': { env: 'NRO_DEFAULT_SUBSCRIBE', def: '', help: 'comma-separated subjects every member may subscribe to' },
  'client-url': { env: 'NRO_CLIENT_URL', def: '', help: 'NATS URL written into credentials Secrets (default nats://nats.<nats-namespace>.svc:4222)' },
  'reload-strategy': { env: 'NRO_RELOAD_STRATEGY', def: 'reload', help: 'reload | sidecar | restart | none' },
  'poke-pods': { env: 'NRO_POKE_PODS', def: 'true', help: 'annotate each NATS pod with the config hash so kubelet delivers the Secret at once' },
  'server-timeout-ms': { env: 'NRO_SERVER_TIMEOUT_MS', def: '120000', help: 'how long one server may take to confirm a config before the rollout is Degraded' },
  'rollout-parallelism': {
    env: 'NRO_ROLLOUT_PARALLELISM',
    def: '1',
    help: 'servers reloaded at once once the first server (the canary) enforces a generation; more than 1 suits clusters of 5+ servers with cores to spare',
  },
  'health-addr': { env: 'NRO_HEALTH_ADDR', def: ':8080', help: 'address of /healthz, /readyz and /metrics' },
  'leader-election': { env: 'NRO_LEADER_ELECTION', def: 'true', help: 'elect a leader with a Lease, so several replicas are safe' },
  'lease-name': { env: 'NRO_LEASE_NAME', def: 'nats-rooms-operator', help: 'name of the leader election Lease' },
  'operator-namespace': { env: 'POD_NAMESPACE', def: '', help: 'namespace of the operator (default: the NATS namespace)' },
  'lease-namespace': { env: 'NRO_LEASE_NAMESPACE', def: '', help: 'namespace of the Lease (default: the operator namespace)' },
  'system-secret': { env: 'NRO_SYSTEM_SECRET', def: 'nats-rooms-operator-system', help: "Secret (in the operator namespace) holding the operator's NATS system-account seed" },
  'lease-duration-seconds': { env: 'NRO_LEASE_DURATION_SECONDS', def: '15', help: 'how long a lease lasts without renewal before another replica takes over' },
  'renew-deadline-ms': { env: 'NRO_RENEW_DEADLINE_MS', def: '10000', help: 'how long the leader keeps trying to renew before it gives up leading' },
  'retry-period-ms': { env: 'NRO_RETRY_PERIOD_MS', def: '2000', help: 'how often the lease is renewed or tried' },
  identity: { env: 'POD_NAME', def: '', help: 'this replica in leader election (default: hostname and pid)' },
  'log-level': { env: 'NRO_LOG_LEVEL', def: 'info', help: 'debug | info | warn | error' },
  'debounce-ms': { env: 'NRO_DEBOUNCE_MS', def: '100', help: 'quiet time before a burst of changes is rendered' },
  'max-delay-ms': { env: 'NRO_MAX_DELAY_MS', def: '3000', help: 'longest a change waits for a burst to end' },
  'resync-interval-ms': { env: 'NRO_RESYNC_INTERVAL_MS', def: '300000', help: 'periodic full reconcile, the safety net' },
  'stream-resync-ms': { env: 'NRO_STREAM_RESYNC_MS', def: '30000', help: "how often persisted rooms' streams are looked at again (state in Room status, settings drift)" },
} as const;

type OptionName = keyof typeof OPTIONS;

export function usage(): string {
  const lines = Object.entries(OPTIONS).map(([name, o]) => `  --${name.padEnd(20)} ${o.help}${o.def ? ` (default ${o.def})` : ''} [$${o.env}]`);
  return `usage: nats-rooms-operator run [options]\n\n${lines.join('\n')}\n`;
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env, hostname = 'operator'): OperatorConfig {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' as const }])),
    strict: true,
  });
  // An empty environment variable counts as unset (charts often render `value: ""`); an empty flag does not.
  const get = (name: OptionName): string => (values[name] as string | undefined) ?? (env[OPTIONS[name].env] || undefined) ?? OPTIONS[name].def;
  const fail = (name: OptionName, why: string): never => {
    throw new Error(`--${name}: ${why}`);
  };

  const natsNamespace = get('nats-namespace');
  if (!isDnsLabel(natsNamespace)) fail('nats-namespace', `${natsNamespace} is not a namespace name`);
  const watchNamespaces = list(get('watch-namespaces'));
  for (const ns of watchNamespaces) if (!isDnsLabel(ns)) fail('watch-namespaces', `${ns} is not a namespace name`);
  const extraSubjectRoots: Record<string, string[]> = {};
  for (const pair of list(get('subject-roots'))) {
    const [ns, root] = pair.split('=', 2);
    if (!ns || !root || !isDnsLabel(ns) || !isSubject(root) || root.includes('*') || root.includes('>')) {
      fail('subject-roots', `${pair} is not namespace=literal.subject`);
    }
    (extraSubjectRoots[ns!] ??= []).push(root!);
  }
  const budgets: Budgets = { perNamespace: {} };
  for (const pair of list(get('namespace-budgets'))) {
    const [ns, spec] = pair.split('=', 2);
    const fields = spec?.split('/') ?? [];
    if (!ns || (ns !== '*' && !isDnsLabel(ns)) || fields.length !== 3 || fields.some((f) => f !== '' && !/^[0-9]+$/.test(f))) {
      fail('namespace-budgets', `${pair} is not namespace=members/rooms/bytes (whole numbers; an empty field keeps the default)`);
    }
    const budget: NamespaceBudget = {};
    (['members', 'rooms', 'bytes'] as const).forEach((what, i) => {
      if (fields[i] !== '') budget[what] = Number(fields[i]);
    });
    if (ns === '*') budgets.default = budget;
    else (budgets.perNamespace as Record<string, NamespaceBudget>)[ns!] = budget;
  }
  const jetstreamLimits: OperatorConfig['jetstreamLimits'] = { perNamespace: {} };
  for (const pair of list(get('jetstream-limits'))) {
    const [ns, spec] = pair.split('=', 2);
    const fields = spec?.split('/') ?? [];
    if (!ns || (ns !== '*' && !isDnsLabel(ns)) || fields.length !== 4 || fields.some((f) => f !== '' && !/^[0-9]{1,15}$/.test(f))) {
      fail('jetstream-limits', `${pair} is not namespace=memory/file/streams/consumers (whole numbers; an empty field keeps the default)`);
    }
    const limits: Partial<JetStreamLimits> = {};
    (['maxMemory', 'maxFile', 'maxStreams', 'maxConsumers'] as const).forEach((what, i) => {
      if (fields[i] !== '') limits[what] = Number(fields[i]);
    });
    if (ns === '*') jetstreamLimits.default = limits;
    else (jetstreamLimits.perNamespace as Record<string, Partial<JetStreamLimits>>)[ns!] = limits;
  }
  const defaultPublish = list(get('default-publish'));
  const defaultSubscribe = list(get('default-subscribe'));
  for (const s of defaultPublish) if (!isSubject(s)) fail('default-publish', `${s} is not a NATS subject`);
  for (const s of defaultSubscribe) if (!isSubject(s)) fail('default-subscribe', `${s} is not a NATS subject`);
  const reloadStrategy = get('reload-strategy') as ReloadStrategy;
  if (!['reload', 'sidecar', 'restart', 'none'].includes(reloadStrategy)) fail('reload-strategy', `${reloadStrategy} is not one of reload, sidecar, restart, none`);
  const logLevel = get('log-level') as OperatorConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) fail('log-level', `${logLevel} is not a level`);
  const number = (name: OptionName) => {
    const text = get(name).trim();
    const n = Number(text);
    return text !== '' && Number.isFinite(n) && n >= 0 ? n : fail(name, `${JSON.stringify(get(name))} is not a non-negative number`);
  };
  const wholeAtLeastOne = (name: OptionName) => {
    const n = number(name);
    return Number.isInteger(n) && n >= 1 ? n : fail(name, `${JSON.stringify(get(name))} is not a whole number of at least 1`);
  };
  const boolean = (name: OptionName) => {
    const text = get(name).trim().toLowerCase();
    if (text === 'true') return true;
    if (text === 'false') return false;
    return fail(name, `${JSON.stringify(get(name))} is not true or false`);
  };
  return {
    natsNamespace,
    natsSelector: get('nats-selector'),
    authSecretName: get('auth-secret'),
    authSecretKey: get('auth-secret-key'),
    authShards: number('auth-shards'),
    maxSecretBytes: number('max-secret-bytes'),
    watchNamespaces,
    account: get('account'),
    extraSubjectRoots,
    budgets,
    jetstreamLimits,
    defaultPublish,
    defaultSubscribe,
    clientUrl: get('client-url') || `nats://nats.${natsNamespace}.svc:4222`,
    reloadStrategy,
    pokePods: boolean('poke-pods'),
    serverTimeoutMs: number('server-timeout-ms'),
    rolloutParallelism: wholeAtLeastOne('rollout-parallelism'),
    healthAddr: get('health-addr'),
    leaderElection: boolean('leader-election'),
    leaseName: get('lease-name'),
    operatorNamespace: get('operator-namespace') || natsNamespace,
    leaseNamespace: get('lease-namespace') || get('operator-namespace') || natsNamespace,
    systemSecretName: get('system-secret'),
    leaseDurationSeconds: number('lease-duration-seconds'),
    renewDeadlineMs: number('renew-deadline-ms'),
    retryPeriodMs: number('retry-period-ms'),
    identity: get('identity') || `${hostname}-${process.pid}`,
    logLevel,
    debounceMs: number('debounce-ms'),
    maxDelayMs: number('max-delay-ms'),
    resyncIntervalMs: number('resync-interval-ms'),
    streamResyncMs: number('stream-resync-ms'),
  };
}
