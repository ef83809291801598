// `npm run story`: the seed-000 story against a running cluster (the sandbox by default): greeter
// answers on rooms.demo.greet, joe and pam ask, and pam tries to read joe's replies and is refused.
// Credentials come from the members' generated Secrets, read with the current kubeconfig.
//
// `npm run story -- --live`: pam keeps one connection open and asks greeter every second, printing
// each change of answer, until Ctrl-C: change pam's Member meanwhile and watch her live connection
// lose (or gain) the room, never reconnecting.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { connect, nkeyAuthenticator, type NatsConnection } from 'nats';
import { KubeClient } from '../src/kube/client.js';
import { paths } from '../src/kube/paths.js';
import type { Secret } from '../src/kube/types.js';
import { CREDENTIAL_KEYS } from '../src/api/metadata.js';
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
  const secret = await client.get<Secret>(`${paths.secrets('demo')}/${credentialsSecretName(name)}`);
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

const live = process.argv.includes('--live');

const greeter = await signIn('greeter');
greeter.nc.subscribe('rooms.demo.greet', {
  queue: 'greeters',
  callback: (_e, m) => m.respond(enc.encode(`hello ${dec.decode(m.data)}`)),
});
say('greeter', 'listening on rooms.demo.greet');
const joe = await signIn('joe');
const pam = await signIn('pam');
if (live) await askForever(pam.nc);
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

/** pam asks once a second on one connection and prints each change of answer (and any reconnect). */
async function askForever(nc: NatsConnection): Promise<never> {
  let reconnects = 0;
  let lastError = '';
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'reconnect') reconnects++;
      if (s.type === 'error') lastError = s.permissionContext ? `${s.permissionContext.operation} to ${s.permissionContext.subject} (${String(s.data)})` : String(s.data);
    }
  })();
  say('pam', 'asking greeter every second on one connection (Ctrl-C to stop)');
  let last = '';
  for (let asked = 1; ; asked++) {
    let answer: string;
    lastError = '';
    try {
      answer = `got "${dec.decode((await nc.request('rooms.demo.greet', enc.encode('pam'), { timeout: 1000 })).data)}"`;
    } catch (e) {
      await nc.flush().catch(() => undefined);
      answer = lastError ? `refused: ${lastError}` : `no answer: ${(e as Error).message}`;
    }
    const line = `${answer} (same connection, ${reconnects} reconnects)`;
    if (line !== last) say('pam', `${new Date().toISOString().slice(11, 19)} request ${asked}: ${line}`);
    last = line;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
