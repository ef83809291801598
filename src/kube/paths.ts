// API paths of the resources the operator uses; its own group and version come from api/types.ts.
import { GROUP, VERSION } from '../api/types.js';

const namespaced = (prefix: string, plural: string) => (ns?: string) => (ns ? `${prefix}/namespaces/${ns}/${plural}` : `${prefix}/${plural}`);
const own = `/apis/${GROUP}/${VERSION}`;

export const paths = {
  rooms: namespaced(own, 'rooms'),
  members: namespaced(own, 'members'),
  secrets: namespaced('/api/v1', 'secrets'),
  pods: (ns: string) => namespaced('/api/v1', 'pods')(ns),
  events: (ns: string) => namespaced('/api/v1', 'events')(ns),
  leases: (ns: string) => namespaced('/apis/coordination.k8s.io/v1', 'leases')(ns),
  statefulSets: (ns: string) => namespaced('/apis/apps/v1', 'statefulsets')(ns),
};
