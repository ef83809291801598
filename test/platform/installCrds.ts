// Installs CRDs into the test control plane and waits until each is Established and served.
import { ApiextensionsV1Api, CustomObjectsApi, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { FatalWaitError, waitFor } from '../support/processes.js';
import { messageOf, statusOf } from './kubeAccess.js';

export async function installCrds(kc: KubeConfig, crds: { file: string; crd: V1CustomResourceDefinition }[], timeoutMs: number): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  await Promise.all(
    crds.map(async ({ file: source, crd }) => {
      const name = crd.metadata!.name!;
      await waitFor(`CRD ${name} to be created`, async () => {
        try {
          await api.createCustomResourceDefinition({ body: crd });
        } catch (e) {
          const status = statusOf(e);
          // An invalid CRD (422) will not become valid by retrying: fail at once, with the API server's reasons.
          if (status !== undefined && status >= 400 && status < 500 && status !== 409 && status !== 429) {
            throw new FatalWaitError(`the API server refuses CRD ${name} (from ${source}): ${messageOf(e)}`);
          }
          if (status !== 409) throw e;
          const existing = await api.readCustomResourceDefinition({ name });
          await api.replaceCustomResourceDefinition({ name, body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata!.resourceVersion } } });
        }
        return true;
      }, timeoutMs, 50);
      await waitFor(`CRD ${name} to be Established`, async () => {
        const got = await api.readCustomResourceDefinition({ name });
        return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
      }, timeoutMs, 20);
      // Established means the handler exists; make sure the endpoint answers before anyone uses it.
      const version = crd.spec.versions.find((v) => v.served)!.name;
      await waitFor(`${name} to be served`, async () => {
        await objects.listClusterCustomObject({ group: crd.spec.group, version, plural: crd.spec.names.plural, limit: 1 });
        return true;
      }, timeoutMs, 20);
    }),
  );
}
