// API paths of the resources the operator uses; its own group and version come from api/types.ts.
import { GROUP, VERSION } from '../api/types.js';

const namespaced = (prefix: string, plural: string) => (ns?: string) => (ns ? `${prefix}/namespaces/${ns}/${plural}` : `${prefix}/${plural}`);
const own = `/apis/${GROUP}/${VERSION}`;

export const paths = {
  rooms: namespaced(own, 'rooms'),
  members: namespaced(own, 'members'),
  secrets: namespaced('/api/v1', 'secrets'),
  pods: namespaced('/api/v1', 'pods') as (ns: string) => string,
  events: namespaced('/api/v1', 'events') as (ns: string) => string,
  leases: namespaced('/apis/coordination.k8s.io/v1', 'leases') as (ns: string) => string,
  statefulSets: namespaced('/apis/apps/v1', 'statefulsets') as (ns: string) => string,
};
