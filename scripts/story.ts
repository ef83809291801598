// `npm run story`: the seed-000 story against a running cluster (the sandbox by default): greeter
// answers on rooms.demo.greet, joe and pam ask, and pam tries to read joe's replies and is refused.
// Credentials come from the members' generated Secrets, read with the current kubeconfig.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { connect, nkeyAuthenticator, type NatsConnection } from 'nats';
import { KubeClient, paths } from '../src/controller/kube.js';
import { CREDENTIAL_KEYS, type SecretObject } from '../src/controller/credentials.js';
import { credentialsSecretName } from '../src/api/defaults.js';

// The sandbox's cluster unless KUBECONFIG says otherwise.
const sandboxKubeconfig = new URL('../.sandbox/kubeconfig', import.meta.url).pathname;
const kc = new KubeConfig();
if (!process.env.KUBECONFIG && existsSync(sandboxKubeconfig)) kc.loadFromFile(sandboxKubeconfig);
else kc.loadFromDefault();
const client = new KubeClient(kc);
const enc = new TextEncoder();
const dec = new TextDecoder();

async function signIn(name: string): Promise<{ nc: NatsConnection; inbox: string }> {
  const secret = await client.get<SecretObject>(`${paths.secrets('demo')}/${credentialsSecretName(name)}`);
  const field = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
  const inbox = field(CREDENTIAL_KEYS.inboxPrefix);
  const nc = await connect({
    servers: field(CREDENTIAL_KEYS.servers).split(','),
    authenticator: nkeyAuthenticator(enc.encode(field(CREDENTIAL_KEYS.seed))),
    inboxPrefix: inbox,
    name,
  });
  nc.closed().then(() => {});
  return { nc, inbox };
}

const say = (who: string, what: string) => console.log(`${who.padEnd(8)} ${what}`);

const greeter = await signIn('greeter');
greeter.nc.subscribe('rooms.demo.greet', {
  queue: 'greeters',
  callback: (_e, m) => m.respond(enc.encode(`hello ${dec.decode(m.data)}`)),
});
say('greeter', 'listening on rooms.demo.greet');
const joe = await signIn('joe');
const pam = await signIn('pam');
for (const [name, who] of [['joe', joe], ['pam', pam]] as const) {
  try {
    const reply = await who.nc.request('rooms.demo.greet', enc.encode(name), { timeout: 2000 });
    say(name, `got "${dec.decode(reply.data)}" on ${reply.subject.split('.').slice(0, 1)}.*`);
  } catch (e) {
    say(name, `request refused: ${(e as Error).message}`);
  }
}
(async () => {
  for await (const s of pam.nc.status()) if (s.type === 'error') say('pam', `server says: ${JSON.stringify(s.permissionContext ?? s.data)}`);
})();
for (const subject of ['_INBOX.>', `${joe.inbox}.>`]) {
  pam.nc.subscribe(subject, { callback: (err, m) => say('pam', err ? `refused: ${err.message}` : `READ ${m.subject}: this must never happen`) });
}
await pam.nc.flush();
await joe.nc.request('rooms.demo.greet', enc.encode('joe again'), { timeout: 2000 });
await new Promise((r) => setTimeout(r, 300));
say('story', "done: pam could read neither _INBOX.> nor joe's inbox");
await Promise.all([greeter, joe, pam].map((w) => w.nc.close()));
