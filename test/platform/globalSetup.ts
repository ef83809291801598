// vitest globalSetup: starts ONE control plane (etcd + kube-apiserver + CRDs) for the whole run and
// hands test files its ControlPlaneInfo through provide/inject:
//
//   import { inject } from 'vitest';
//   const cp = attachControlPlane(inject('controlPlane'));
//
// NATS servers are not started here: each test file starts its own cluster in its own namespace.
// Runs that include no test file calling inject('controlPlane') (say `vitest run test/unit`) do not
// start it. NRO_CONTROL_PLANE=1 forces it, NRO_CONTROL_PLANE=0 forbids it.
import { readFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startControlPlane, type ControlPlaneInfo } from './controlPlane.js';

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlane: ControlPlaneInfo;
  }
}

const USES_CONTROL_PLANE = /inject\(\s*['"]controlPlane['"]\s*\)/;

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!(await runNeedsControlPlane(project))) return undefined;
  const t0 = Date.now();
  const cp = await startControlPlane();
  process.stderr.write(`[platform] control plane ready in ${Date.now() - t0} ms (${JSON.stringify(cp.timings)}) at ${cp.server}\n`);
  const { server, kubeconfigPath, kubeconfigPaths, tokens, users, caFile, dir } = cp;
  project.provide('controlPlane', { server, kubeconfigPath, kubeconfigPaths, tokens, users, caFile, dir });
  return () => cp.stop();
}

async function runNeedsControlPlane(project: TestProject): Promise<boolean> {
  if (process.env.NRO_CONTROL_PLANE === '1') return true;
  if (process.env.NRO_CONTROL_PLANE === '0') return false;
  try {
    // The CLI's file filters (`vitest run test/unit`); not a public field, hence the care.
    const filters = (project.vitest as unknown as { filenamePattern?: unknown }).filenamePattern;
    const { testFiles } = await project.globTestFiles(Array.isArray(filters) ? (filters as string[]) : undefined);
    return testFiles.some((file) => USES_CONTROL_PLANE.test(readFileSync(file, 'utf8')));
  } catch {
    return true; // when in doubt, start it
  }
}
