// A real Kubernetes control plane without nodes: etcd and kube-apiserver on free loopback ports, with
// real authentication (static bearer tokens: an admin in system:masters and a non-admin user for RBAC
// tests), RBAC authorization, a service-account signing key (so TokenRequest works), self-signed serving
// certificates the kubeconfig trusts, and this project's CRDs installed and Established. Opt-in
// (`controllerManager: true`, the sandbox's choice): a real kube-controller-manager as well, so that
// namespaces really finish deleting, default ServiceAccounts appear and the garbage collector removes
// objects whose owner is gone. The test suite runs without it.
//
// No vitest imports: the sandbox script uses this too. Every process dies with the Node process that
// started it (see test/support/processes.ts); temp dirs are removed on stop(), on process exit, and,
// should a run have been SIGKILLed, by the next start (dirs whose owner process is gone).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, loadYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { binary, cacheDir } from '../support/binaries.js';
import { FatalWaitError, freePort, startProcess, waitFor, type Started } from '../support/processes.js';
import { installCrds } from './installCrds.js';
import { kubeconfigYaml, kubectl, rawGet } from './kubeAccess.js';

export type UserName = 'admin' | 'user';

/** Everything a test worker needs to talk to a control plane started elsewhere (JSON-serializable). */
export interface ControlPlaneInfo {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Kubeconfig of the admin (group system:masters). */
  kubeconfigPath: string;
  /** Kubeconfig per user: `admin` (system:masters) and `user` (no permissions until a test grants some via RBAC). */
  kubeconfigPaths: Record<UserName, string>;
  /** Bearer tokens per user. */
  tokens: Record<UserName, string>;
  /** User names and groups, as the API server sees them. */
  users: Record<UserName, { name: string; groups: string[] }>;
  /** The CA bundle that signed the API server's serving certificate. */
  caFile: string;
  /** The control plane's temp dir (certs, keys, kubeconfigs). */
  dir: string;
}

/** A handle on a running control plane: its info plus ready-made clients. */
export interface ControlPlaneClient extends ControlPlaneInfo {
  /** Admin KubeConfig. */
  kubeConfig: KubeConfig;
  kubeConfigFor(user: UserName): KubeConfig;
  /** Runs the pinned kubectl against this control plane (as admin unless `user` says otherwise). */
  kubectl(args: string[], opts?: { user?: UserName; input?: string; timeoutMs?: number }): Promise<KubectlResult>;
}

export interface ControlPlane extends ControlPlaneClient {
  /** Milliseconds from start to ready, by phase (for reports). */
  timings: Record<string, number>;
  /** Stops kube-apiserver and starts it again on the same port with the same etcd, certs and flags; resolves when /readyz is ok. */
  restartApiserver(opts?: { graceful?: boolean }): Promise<void>;
  /** Output of kube-apiserver, etcd and (when started) kube-controller-manager so far (for failure messages). */
  logs(): { apiserver: string; etcd: string; controllerManager?: string };
  /** Process ids (the apiserver's changes on restart). */
  pids(): { apiserver: number | undefined; etcd: number | undefined; controllerManager?: number | undefined };
  /** Every temp dir it made (the control plane dir, and etcd's on /dev/shm when available); stop() removes them. */
  tempDirs: string[];
  /** Kills everything and removes the temp dirs. Idempotent. */
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** CRD manifests to install (default: every crds/*.yaml of this repo); [] installs none. */
  crdFiles?: string[];
  /** Extra kube-apiserver flags. */
  apiserverArgs?: string[];
  /** Overall startup timeout. */
  timeoutMs?: number;
  /**
   * Also run kube-controller-manager (default false): started once kube-apiserver is ready, as the user
   * system:kube-controller-manager with a service account per controller, stopped by stop(). It talks
   * to the API server on 127.0.0.1 only and serves no port. Start resolves once the serviceaccount
   * controller has made `default/default`. Needs `bash test/platform/install-binaries.sh kube-controller-manager`.
   */
  controllerManager?: boolean;
  /** Extra kube-controller-manager flags (with controllerManager). */
  controllerManagerArgs?: string[];
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const DIR_PREFIX = 'nro-cp-';
const ETCD_DIR_PREFIX = 'nro-etcd-';
const SHM = '/dev/shm';
const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const CONTROLLER_MANAGER_USER = 'system:kube-controller-manager';

/** crds/*.yaml of this repo, or of $NRO_CRDS_DIR (to try CRDs generated elsewhere). */
export function defaultCrdFiles(): string[] {
  const dir = process.env.NRO_CRDS_DIR ?? join(REPO_ROOT, 'crds');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => join(dir, f));
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const timeoutMs = opts.timeoutMs ?? 60_000;
  sweepStaleDirs();

  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(dir, 'owner'), String(process.pid));
  // etcd on tmpfs when there is one: with --unsafe-no-fsync it hardly matters, but it keeps the disk quiet.
  const shmDir = canWrite(SHM) ? mkdtempSync(join(SHM, ETCD_DIR_PREFIX)) : undefined;
  if (shmDir) writeFileSync(join(shmDir, 'owner'), String(process.pid));
  const etcdDir = join(shmDir ?? dir, 'etcd');
  const dirs = shmDir ? [dir, shmDir] : [dir];
  const removeDirs = () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  process.once('exit', removeDirs);

  const processes: { etcd?: Started; apiserver?: Started; controllerManager?: Started } = {};
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // SIGKILL: a graceful kube-apiserver shutdown takes seconds and there is nothing to keep.
    await Promise.all([processes.controllerManager?.stop('SIGKILL'), processes.apiserver?.stop('SIGKILL'), processes.etcd?.stop('SIGKILL')]);
    removeDirs();
    process.removeListener('exit', removeDirs);
  };

  try {
    const [etcdClientPort, etcdPeerPort, apiPort] = await distinctFreePorts(3);
    const tokens: Record<UserName, string> = { admin: randomBytes(24).toString('hex'), user: randomBytes(24).toString('hex') };
    const users: Record<UserName, { name: string; groups: string[] }> = {
      admin: { name: 'admin', groups: ['system:masters'] },
      user: { name: 'user', groups: ['developers'] },
    };
    // kube-controller-manager's own identity, which the bootstrap RBAC policy knows (not one of `users`).
    const kcmToken = opts.controllerManager ? randomBytes(24).toString('hex') : undefined;
    writeFileSync(
      join(dir, 'tokens.csv'),
      [
        ...(Object.keys(users) as UserName[]).map((u) => `${tokens[u]},${users[u].name},uid-${users[u].name},"${users[u].groups.join(',')}"`),
        ...(kcmToken ? [`${kcmToken},${CONTROLLER_MANAGER_USER},uid-kube-controller-manager,""`] : []),
      ].join('\n') + '\n',
      { mode: 0o600 },
    );
    const kcmBinary = opts.controllerManager ? controllerManagerBinary() : undefined;
    // ECDSA P-256 (ES256): generated in well under a millisecond, accepted for service-account tokens.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcdArgs = [
      '--name=default',
      `--data-dir=${etcdDir}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--initial-cluster-state=new',
      // A single member on loopback: short raft ticks make the first election take ~10 ms instead of ~700 ms.
      '--heartbeat-interval=10',
      '--election-timeout=100',
      '--unsafe-no-fsync',
      '--log-level=warn',
    ];
    const server = `https://127.0.0.1:${apiPort}`;
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      // No --tls-cert-file: the API server generates a CA and a serving certificate for 127.0.0.1 here,
      // and reuses them on restart.
      `--cert-dir=${join(dir, 'certs')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      '--profiling=false',
      // On SIGTERM, end open watches within 2 s; otherwise a graceful shutdown waits 60 s for them.
      '--shutdown-watch-termination-grace-period=2s',
      ...(opts.apiserverArgs ?? []),
    ];

    // Both at once: kube-apiserver retries etcd until it answers.
    processes.etcd = startProcess(binary('etcd'), etcdArgs, { cwd: dir });
    const startApiserver = () => (processes.apiserver = startProcess(binary('kube-apiserver'), apiserverArgs, { cwd: dir }));
    startApiserver();
    const failIfExited = () => {
      for (const [name, p] of Object.entries(processes)) {
        if (p && p.child.exitCode !== null) throw new FatalWaitError(`${name} exited with ${p.child.exitCode}:\n${tail(p.output())}`);
      }
    };

    const caFile = join(dir, 'ca.crt');
    const certFile = join(dir, 'certs', 'apiserver.crt');
    await waitFor('kube-apiserver to write its serving certificate', () => {
      failIfExited();
      return existsSync(certFile) && readFileSync(certFile, 'utf8').includes('END CERTIFICATE') ? true : undefined;
    }, timeoutMs, 10);
    // apiserver.crt is the serving certificate followed by the CA that signed it: trust the CA.
    const pems = readFileSync(certFile, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
    writeFileSync(caFile, pems[pems.length - 1]!);
    timings.certs = Date.now() - t0;

    const kubeconfigPaths = {} as Record<UserName, string>;
    for (const u of Object.keys(users) as UserName[]) {
      kubeconfigPaths[u] = join(dir, `${u}.kubeconfig`);
      writeFileSync(kubeconfigPaths[u], kubeconfigYaml(server, readFileSync(caFile, 'utf8'), users[u].name, tokens[u]), { mode: 0o600 });
    }
    const info: ControlPlaneInfo = { server, kubeconfigPath: kubeconfigPaths.admin, kubeconfigPaths, tokens, users, caFile, dir };
    const client = attachControlPlane(info);

    // Install the CRDs as soon as the API server serves requests (admin is system:masters, so RBAC's
    // bootstrap need not be done); their establishment overlaps the rest of the start-up.
    await waitFor('kube-apiserver to serve requests', async () => {
      failIfExited();
      // Not /livez: it waits for the post-start hooks too, which is what this overlaps.
      const res = await rawGet(info, '/version');
      return res.status === 200 ? true : undefined;
    }, timeoutMs, 20);
    timings.serving = Date.now() - t0;
    // loadYaml, not a plain YAML parse: client-node serializes request bodies through its typed models,
    // which know `x-kubernetes-validations` only as `xKubernetesValidations` and silently drop the
    // raw key (and every other x-kubernetes-* one) from a plain object.
    const crds = (opts.crdFiles ?? defaultCrdFiles()).map((file) => ({ file, crd: loadYaml<V1CustomResourceDefinition>(readFileSync(file, 'utf8')) }));
    await installCrds(client.kubeConfig, crds, timeoutMs);
    timings.crdsEstablished = Date.now() - t0;

    const waitReady = async () => {
      await waitFor('kube-apiserver /readyz', async () => {
        failIfExited();
        const res = await rawGet(info, '/readyz');
        return res.status === 200 && res.body.startsWith('ok') ? true : undefined;
      }, timeoutMs, 20);
    };
    await waitReady();
    timings.ready = Date.now() - t0;

    if (kcmBinary && kcmToken) {
      const kcmKubeconfig = join(dir, 'kube-controller-manager.kubeconfig');
      writeFileSync(kcmKubeconfig, kubeconfigYaml(server, readFileSync(caFile, 'utf8'), CONTROLLER_MANAGER_USER, kcmToken), { mode: 0o600 });
      const kcmArgs = [
        // The API server at https://127.0.0.1:<port>: an address, so nothing is resolved.
        `--kubeconfig=${kcmKubeconfig}`,
        // Each controller as its own service account (what its bootstrap ClusterRole grants), like a real cluster.
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${join(dir, 'sa.key')}`,
        // Published as the kube-root-ca.crt ConfigMap in every namespace.
        `--root-ca-file=${caFile}`,
        '--leader-elect=false',
        // Serves nothing (no health port to authenticate callers of); were it to, only on loopback.
        '--bind-address=127.0.0.1',
        '--secure-port=0',
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        '--profiling=false',
        // Unless the caller chooses: all but the pod garbage collector, which force-deletes Pods bound to
        // a Node that does not exist, and there are no Node objects here (the kubelet stand-in serves Pods
        // bound to a made-up node name). The first mention of a controller wins, so it is not appended.
        ...(opts.controllerManagerArgs?.some((a) => a.startsWith('--controllers')) ? [] : ['--controllers=*,-pod-garbage-collector-controller']),
        ...(opts.controllerManagerArgs ?? []),
      ];
      processes.controllerManager = startProcess(kcmBinary, kcmArgs, { cwd: dir, env: loopbackOnlyEnv() });
      // Running and able to act: the serviceaccount controller has made the default namespace's ServiceAccount.
      await waitFor('kube-controller-manager to create the ServiceAccount default/default', async () => {
        failIfExited();
        const res = await rawGet(info, '/api/v1/namespaces/default/serviceaccounts/default');
        return res.status === 200 ? true : undefined;
      }, timeoutMs, 50);
      timings.controllerManager = Date.now() - t0;
    }

    return {
      ...client,
      timings,
      logs: () => ({
        apiserver: processes.apiserver?.output() ?? '',
        etcd: processes.etcd?.output() ?? '',
        ...(processes.controllerManager ? { controllerManager: processes.controllerManager.output() } : {}),
      }),
      pids: () => ({
        apiserver: processes.apiserver?.child.pid,
        etcd: processes.etcd?.child.pid,
        ...(processes.controllerManager ? { controllerManager: processes.controllerManager.child.pid } : {}),
      }),
      tempDirs: [...dirs],
      stop,
      async restartApiserver({ graceful = true } = {}) {
        if (stopped) throw new Error('the control plane is stopped');
        await processes.apiserver!.stop(graceful ? 'SIGTERM' : 'SIGKILL');
        startApiserver();
        await waitReady();
      },
    };
  } catch (e) {
    let logs = `\n--- kube-apiserver ---\n${tail(processes.apiserver?.output() ?? '')}\n--- etcd ---\n${tail(processes.etcd?.output() ?? '')}`;
    if (processes.controllerManager) logs += `\n--- kube-controller-manager ---\n${tail(processes.controllerManager.output())}`;
    await stop();
    throw e instanceof Error ? Object.assign(e, { message: e.message + logs }) : e;
  }
}

/** Clients for a control plane started elsewhere (by globalSetup, say). */
export function attachControlPlane(info: ControlPlaneInfo | undefined): ControlPlaneClient {
  if (!info) {
    throw new Error(
      "no control plane: test/platform/globalSetup.ts starts one only for runs that include a test file calling inject('controlPlane')",
    );
  }
  const configs = new Map<UserName, KubeConfig>();
  const kubeConfigFor = (user: UserName) => {
    let kc = configs.get(user);
    if (!kc) {
      kc = new KubeConfig();
      kc.loadFromFile(info.kubeconfigPaths[user]);
      configs.set(user, kc);
    }
    return kc;
  };
  return {
    ...info,
    kubeConfig: kubeConfigFor('admin'),
    kubeConfigFor,
    kubectl: (args, opts = {}) => kubectl(info.kubeconfigPaths[opts.user ?? 'admin'], args, opts),
  };
}

/** The cached kube-controller-manager (not among install-binaries.sh's defaults; scripts/ensure-deps.sh builds it). */
function controllerManagerBinary(): string {
  const path = join(cacheDir(), 'bin', 'current', 'kube-controller-manager');
  if (!existsSync(path)) {
    throw new Error(`kube-controller-manager is not installed at ${path}: run \`bash test/platform/install-binaries.sh kube-controller-manager\` (scripts/ensure-deps.sh does this for you)`);
  }
  return path;
}

/**
 * This process's environment without what could send kube-controller-manager's requests anywhere but
 * the loopback address in its kubeconfig: no proxy variables, no in-cluster API server address.
 */
function loopbackOnlyEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(https?_proxy|all_proxy|no_proxy|kubernetes_service_host|kubernetes_service_port.*)$/i.test(k)),
  );
}


async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function canWrite(dir: string): boolean {
  try {
    rmSync(mkdtempSync(join(dir, 'nro-probe-')), { recursive: true });
    return true;
  } catch {
    return false;
  }
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** Removes temp dirs left by control planes and NATS clusters whose process is gone (a SIGKILLed run cannot clean up). */
function sweepStaleDirs(): void {
  for (const [base, prefix] of [[tmpdir(), DIR_PREFIX], [tmpdir(), 'nro-nats-'], [SHM, ETCD_DIR_PREFIX]] as const) {
    let entries: string[];
    try {
      entries = readdirSync(base).filter((e) => e.startsWith(prefix));
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(base, entry);
      try {
        const owner = Number(readFileSync(join(path, 'owner'), 'utf8'));
        if (owner && !alive(owner)) rmSync(path, { recursive: true, force: true });
      } catch {
        // no owner file (yet): leave it alone
      }
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
