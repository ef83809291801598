#!/usr/bin/env bash
# `npm run e2e`: the product the way users run it, on a real single-node Kubernetes started on this
# machine (cluster.sh), with the operator image built from the repository's Dockerfile (images.sh).
#
#   1. helm install of helm/nats-rooms-operator: bundled NATS (a real StatefulSet of 3, its Services)
#      and the operator as a Deployment of 2 replicas (built image, ServiceAccount token, RBAC, leader
#      election, probes)
#   2. kubectl apply -R -f examples/ and kubectl wait --for=condition=Ready on every Member and Room
#   3. the seed-000 story as a Job with the nats CLI, credentials mounted from the members'
#      credentials Secrets, server reached through their nats-url (test/e2e/kind/story.sh)
#   4. a live change: pam Request -> Subscribe, Ready on the new generation, the story's `changed`
#      phase, and no NATS container restarted or replaced
#  4b. a running subscriber (test/e2e/node/live-client.cjs, in a pod) loses its room: the server's
#      permissions error arrives on the same connection; a new room works on it once Ready; no
#      disconnect, no NATS container restarted
#   5. a Member deleted: the real garbage collector removes its credentials Secret
#   6. a ResourceQuota on count/members.natsrooms.io refuses a Member past the quota
#   7. faults, each followed by convergence and the story again (nothing lost, nothing widened):
#      a NATS pod gone when a rollout reaches it (node cordoned: Degraded naming it, later servers
#      untouched; uncordoned: the StatefulSet brings it back and all converge); the leader operator pod
#      deleted mid-rollout (the standby takes the Lease and finishes); reloadStrategy=restart
#      (helm upgrade) rolling the real StatefulSet
#   8. the official NATS chart (2.14.2, rendered with the README's attach values:
#      official-nats-chart/rendered-attach.yaml, its image swapped for the local one) with the operator
#      reinstalled as nats.bundled=false; the story passes against those servers
# E2E_UNTIL=install stops after step 1 (bench/nodeBench.ts uses it with E2E_KEEP=1).
# Then everything is stopped and the machine checked for leftovers. Each check prints one line;
# the run ends with `N passed, N failed`.
#
# Needs root, cgroups and network namespaces; where one is missing it prints a SKIPPED banner and
# exits 0 (E2E_REQUIRED=1: exit 1). E2E_KEEP=1 leaves the cluster running (stop it with
# `bash test/e2e/node/cluster.sh down`).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
HERE=$ROOT/test/e2e/node
export NRO_NODE_STATE=${NRO_NODE_STATE:-/tmp/nro-node}
STATE=$NRO_NODE_STATE
T_START=$SECONDS
NS=nats-rooms-operator
RELEASE=nats-rooms-operator
NATS_SELECTOR="app.kubernetes.io/name=nats,app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=nats"
OP_SELECTOR="app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=operator"

log() { printf '\n\033[1m[e2e %s +%ss] %s\033[0m\n' "$(date +%H:%M:%S)" "$((SECONDS - T_START))" "$*"; }
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok    $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL  $*"; }
# check DESCRIPTION CMD...: one check; passes when CMD succeeds.
check() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$what"; else fail "$what"; printf '%s\n' "$out" | tail -15 | sed 's/^/      /'; fi
}
summary() { echo; echo "$PASSED passed, $FAILED failed"; }

# ---------------------------------------------------------------- can it run here?
missing=()
[[ "$(id -u)" == 0 ]] || missing+=("root (uid 0): kubelet, containerd and the CNI bridge need it")
if ! grep -qE '^cgroup2? ' /proc/mounts && ! grep -qE ' /sys/fs/cgroup/(memory|pids) cgroup ' /proc/mounts; then
  missing+=("cgroups (no cgroup or cgroup2 mount in /proc/mounts)")
fi
if [[ "$(id -u)" == 0 ]] && ! unshare --net true 2>/dev/null; then missing+=("network namespaces (unshare --net failed)"); fi
grep -qw overlay /proc/filesystems || missing+=("the overlay filesystem (containerd's snapshotter)")
command -v go >/dev/null || missing+=("go (builds kubelet and the other binaries)")
command -v apt-get >/dev/null || command -v containerd >/dev/null || missing+=("apt-get (installs containerd, runc, the CNI plugins, buildah, debootstrap)")
if ((${#missing[@]})); then
  {
    echo
    echo "################################################################################"
    if [[ "${E2E_REQUIRED:-0}" == 1 ]]; then echo "#  E2E (real node) FAILED: E2E_REQUIRED=1 but it cannot run here; nothing was tested."
    else echo "#  E2E (real node) SKIPPED: nothing was tested."; fi
    for m in "${missing[@]}"; do echo "#    missing: $m"; done
    echo "#  On a machine with Docker, test/e2e/kind/run.sh runs the same story on kind."
    echo "################################################################################"
    echo
  } >&2
  [[ "${E2E_REQUIRED:-0}" == 1 ]] && { echo "0 passed, 1 failed"; exit 1; }
  exit 0
fi

# One node per machine: its bridge, addresses and state directory are fixed.
exec 7>"/tmp/nro-node.lock"
if ! flock -n 7; then echo "[e2e] another real-node run holds /tmp/nro-node.lock; waiting" >&2; flock 7; fi

# ---------------------------------------------------------------- dependencies
log "installing what the node needs (packages when missing, binaries and images when not cached)"
bash "$HERE/deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
BIN_NAMES=(etcd kube-apiserver kubectl nats-server nats helm kubelet kube-controller-manager kube-scheduler kube-proxy coredns)
BIN=$(NRO_REQUIRE_NATSCLI=1 bash "$ROOT/test/platform/install-binaries.sh" "${BIN_NAMES[@]}" | tail -1) || { echo "0 passed, 1 failed"; exit 1; }
log "binaries ready (+$((SECONDS - T_START))s)"
IMAGES=$(mktemp -d /tmp/nro-e2e-images.XXXXXX)
bash "$HERE/images.sh" "$IMAGES" "$BIN" || { rm -rf "$IMAGES"; echo "0 passed, 1 failed"; exit 1; }
export KUBECONFIG=$STATE/admin.kubeconfig
k() { "$BIN/kubectl" --request-timeout=30s "$@"; }
helm() { "$BIN/helm" "$@"; }

# ---------------------------------------------------------------- teardown
diagnostics() {
  log "diagnostics"
  k get nodes,pods -A -o wide
  k -n demo get rooms,members -o wide
  k -n "$NS" logs -l "$OP_SELECTOR" --tail=60 --prefix
  k -n "$NS" logs -l "$NATS_SELECTOR" --tail=20 --prefix
  k -n nats get pods -o wide 2>/dev/null
  k get events -A --sort-by=.lastTimestamp | tail -30
}
teardown() {
  local code=$?
  trap - EXIT INT TERM
  if ((FAILED > 0)) && [[ -f "$STATE/admin.kubeconfig" ]]; then diagnostics 2>&1 | sed 's/^/      /'; fi
  if [[ "${E2E_KEEP:-0}" == 1 ]]; then
    log "E2E_KEEP=1: the node keeps running (KUBECONFIG=$KUBECONFIG); stop it with: bash test/e2e/node/cluster.sh down $BIN"
  else
    log "stopping the node"
    local t0=$SECONDS
    bash "$HERE/cluster.sh" down "$BIN"
    check "teardown left nothing behind (processes, mounts, bridge, veths, netns, iptables, cgroups) in $((SECONDS - t0))s" \
      bash "$HERE/cluster.sh" leftovers
  fi
  rm -rf "$IMAGES"
  log "e2e wall time $((SECONDS - T_START))s"
  summary
  if ((FAILED > 0 || code != 0)); then exit 1; fi
  exit 0
}
trap teardown EXIT
trap 'fail "interrupted"; exit 1' INT TERM

# ---------------------------------------------------------------- the node
log "starting the node"
if ! bash "$HERE/cluster.sh" up "$BIN" "$IMAGES"; then
  fail "the node starts (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy, CoreDNS)"
  for f in "$STATE"/logs/*.log; do echo "--- $f"; tail -15 "$f"; done 2>/dev/null | sed 's/^/      /'
  exit 1
fi
pass "the node is Ready: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd+runc, CNI bridge, kubelet, kube-proxy, CoreDNS"

# ---------------------------------------------------------------- 1. helm install
log "1. helm install (bundled NATS StatefulSet of 3, operator Deployment of 2)"
t0=$SECONDS
if helm install "$RELEASE" "$ROOT/helm/nats-rooms-operator" --namespace "$NS" --create-namespace \
  --set image.repository=localhost/nats-rooms-operator --set image.tag=e2e --set image.pullPolicy=Never \
  --set nats.image.repository=localhost/nats --set nats.image.tag=e2e --set nats.image.pullPolicy=Never \
  --set nats.jetstream.storage.type=emptyDir \
  --wait --timeout 5m; then
  pass "helm install --wait succeeded in $((SECONDS - t0))s"
else
  fail "helm install --wait"
  exit 1
fi
jp() { k "$@" 2>/dev/null; }
check "StatefulSet nats: 3 of 3 ready" bash -c "[[ \$('$BIN/kubectl' -n $NS get statefulset nats -o jsonpath='{.status.readyReplicas}') == 3 ]]"
check "Deployment $RELEASE: 2 of 2 available" bash -c "[[ \$('$BIN/kubectl' -n $NS get deployment $RELEASE -o jsonpath='{.status.availableReplicas}') == 2 ]]"
images=$(jp -n "$NS" get pods -o jsonpath='{range .items[*]}{.spec.containers[0].image}{" "}{.status.containerStatuses[0].imageID}{"\n"}{end}' | sort | uniq -c)
echo "$images" | sed 's/^/      /'
check "the operator pods run the image built from the Dockerfile (localhost/nats-rooms-operator:e2e)" \
  bash -c "[[ \$('$BIN/kubectl' -n $NS get pods -l '$OP_SELECTOR' -o jsonpath='{range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}' | grep -c '^localhost/nats-rooms-operator:e2e\$') == 2 ]]"
check "the operator pods run as uid 1000 with a ServiceAccount token (in-cluster config)" \
  bash -c "out=\$('$BIN/kubectl' -n $NS get pods -l '$OP_SELECTOR' -o jsonpath='{range .items[*]}{.spec.serviceAccountName} {.spec.securityContext.runAsUser} {range .spec.volumes[*]}{.projected.sources[0].serviceAccountToken.path}{end}{\"\\n\"}{end}'); echo \"\$out\"; [[ \$(echo \"\$out\" | grep -c '^$RELEASE 1000 token') == 2 ]]"
holder=$(jp -n "$NS" get lease nats-rooms-operator -o jsonpath='{.spec.holderIdentity}')
check "leader election: Lease nats-rooms-operator held by an operator pod ($holder)" \
  bash -c "'$BIN/kubectl' -n $NS get pods -l '$OP_SELECTOR' -o name | grep -qx 'pod/$holder'"
check "the standby is Ready too (readiness probe /readyz of both replicas)" \
  bash -c "[[ \$('$BIN/kubectl' -n $NS get pods -l '$OP_SELECTOR' -o jsonpath='{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}' | grep -c True) == 2 ]]"
# The EndpointSlice controller follows pod readiness on its own time (and a JetStream server's
# /healthz may dip while the meta group settles): wait for it, up to a minute.
check "the nats Service has 3 ready endpoints (EndpointSlice)" \
  bash -c "for _ in \$(seq 1 60); do [[ \$('$BIN/kubectl' -n $NS get endpointslices -l kubernetes.io/service-name=nats -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{\"\\n\"}{end}' | grep -c true) == 3 ]] && exit 0; sleep 1; done; exit 1"
check "the operator wrote the auth Secret the NATS pods mount" k -n "$NS" get secret nats-rooms-auth
# /proc/net/route of a pod: the pod subnet on-link and the Service range via the bridge, nothing else.
routes() {
  local out
  out=$(k -n "$NS" exec "deploy/$RELEASE" -- cat /proc/net/route) || return 1
  echo "$out"
  awk 'NR > 1 {print $2 "/" $8}' <<<"$out" | sort | tr '\n' ' ' | grep -qx '0000D90A/00FFFFFF 0001D90A/00FFFFFF '
}
check "a pod has no default route: only 10.217.0.0/24 (pods) and 10.217.1.0/24 (Services)" routes
# The benchmark's bring-up (bench/nodeBench.ts): stop here, with E2E_KEEP=1 the node keeps running.
[[ "${E2E_UNTIL:-}" == install ]] && exit 0

# ---------------------------------------------------------------- 2. examples
log "2. kubectl apply -R -f examples/ and wait for Ready"
t0=$SECONDS
check "kubectl apply -R -f examples/" k apply -R -f "$ROOT/examples/"
check "demo: Members greeter, joe, pam Ready" k -n demo wait --for=condition=Ready member/greeter member/joe member/pam --timeout=3m
check "demo: Room greet Ready" k -n demo wait --for=condition=Ready room/greet --timeout=1m
check "chat: every Member Ready" k -n chat wait --for=condition=Ready member --all --timeout=2m
check "chat-guests: every Member Ready" k -n chat-guests wait --for=condition=Ready member --all --timeout=2m
echo "      every Member Ready $((SECONDS - t0))s after the apply"
k -n demo get rooms,members -o wide | sed 's/^/      /'
check "history: Members dana and erin Ready" k -n history wait --for=condition=Ready member/dana member/erin --timeout=2m
check "history: Room log StreamReady (an R3 stream on the three servers)" k -n history wait --for=condition=StreamReady room/log --timeout=2m

# ---------------------------------------------------------------- 2b. a persisted room
log "2b. examples/persisted-chat: publish with acks, read history through a member's own consumer (nats CLI Job)"
sed -e "s|__NATS_BOX_IMAGE__|localhost/nats-box:e2e|g" "$HERE/history-job.yaml" | k apply -f - >/dev/null
hstate=""
for _ in $(seq 1 60); do
  hstate=$(k -n history get job history -o jsonpath='{.status.succeeded}/{.status.failed}' 2>/dev/null || true)
  case "$hstate" in 1/*|*/1) break ;; esac
  sleep 2
done
while IFS= read -r line; do
  case "$line" in
    PASS:*) pass "history: ${line#PASS: }" ;;
    FAIL:*) fail "history: ${line#FAIL: }" ;;
    *) echo "      $line" ;;
  esac
done < <(k -n history logs job/history 2>&1)
case "$hstate" in 1/*) pass "history Job succeeded" ;; *) fail "history Job succeeded (succeeded/failed: $hstate)" ;; esac
k -n history get room log -o jsonpath='{.status.streamState}' | sed 's/^/      streamState: /'; echo

url=$(k -n demo get secret joe-nats-credentials -o jsonpath='{.data.nats-url}' | base64 -d)
check "joe's credentials Secret names the bundled Service ($url)" bash -c "[[ '$url' == nats://nats.$NS.svc:4222 ]]"

# ---------------------------------------------------------------- 3. the story
k -n demo create configmap nats-rooms-story --from-file=story.sh="$ROOT/test/e2e/kind/story.sh" --dry-run=client -o yaml | k apply -f - >/dev/null
# run_story PHASE: the story Job; each PASS/FAIL line of it counts as one check.
run_story() {
  local phase=$1 job=story-$1 state="" out line
  sed -e "s|__PHASE__|$phase|g" -e "s|__NATS_BOX_IMAGE__|localhost/nats-box:e2e|g" "$ROOT/test/e2e/kind/story-job.yaml" | k apply -f - >/dev/null
  for _ in $(seq 1 120); do
    state=$(k -n demo get job "$job" -o jsonpath='{.status.succeeded}/{.status.failed}' 2>/dev/null || true)
    case "$state" in 1/*|*/1) break ;; esac
    sleep 2
  done
  out=$(k -n demo logs "job/$job" 2>&1)
  printf '%s\n' "$out" | grep -vE '^(PASS|FAIL): ' | sed 's/^/      /'
  while IFS= read -r line; do
    case "$line" in
      PASS:*) pass "story $phase: ${line#PASS: }" ;;
      FAIL:*) fail "story $phase: ${line#FAIL: }" ;;
    esac
  done <<<"$out"
  case "$state" in 1/*) pass "story Job $job succeeded" ;; *) fail "story Job $job succeeded (succeeded/failed: $state)" ;; esac
}
servers() { k -n "$NS" get pods -l "$NATS_SELECTOR" -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.uid} {.status.containerStatuses[0].restartCount}{"\n"}{end}'; }

log "3. the seed-000 story as a Job with the nats CLI (localhost/nats-box:e2e)"
run_story initial
before=$(servers)

# ---------------------------------------------------------------- 4. a live change
log "4. a live change: pam Request -> Subscribe"
check "patch pam: access Subscribe" k -n demo patch member pam --type=merge -p '{"spec":{"rooms":[{"room":"greet","access":"Subscribe"}]}}'
gen=$(k -n demo get member pam -o jsonpath='{.metadata.generation}')
check "pam observes generation $gen" k -n demo wait --for=jsonpath='{.status.observedGeneration}'="$gen" member/pam --timeout=2m
check "pam Ready on generation $gen" k -n demo wait --for=condition=Ready member/pam --timeout=3m
run_story changed
after=$(servers)
echo "$after" | sed 's/^/      /'
check "no NATS server was restarted or replaced by the change (names, uids, restart counts unchanged)" bash -c "[[ '$before' == '$after' ]]"

# ---------------------------------------------------------------- 4b. a running subscriber
log "4b. a running subscriber loses its room and gains another, on the same connection"
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: live}
---
apiVersion: natsrooms.io/v1alpha1
kind: Room
metadata: {name: feed, namespace: live}
spec: {}
---
apiVersion: natsrooms.io/v1alpha1
kind: Room
metadata: {name: feed2, namespace: live}
spec: {}
---
apiVersion: natsrooms.io/v1alpha1
kind: Member
metadata: {name: listener, namespace: live}
spec:
  rooms: [{room: feed, access: Subscribe}]
---
apiVersion: natsrooms.io/v1alpha1
kind: Member
metadata: {name: talker, namespace: live}
spec:
  rooms: [{room: feed, access: Publish}, {room: feed2, access: Publish}]
EOF
check "live: listener and talker Ready" k -n live wait --for=condition=Ready member/listener member/talker --timeout=2m
k -n live create configmap live-client --from-file=live-client.cjs="$HERE/live-client.cjs" >/dev/null
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: live-client, namespace: live}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000}
  containers:
    - name: client
      image: localhost/nats-rooms-operator:e2e
      imagePullPolicy: Never
      command: ["node", "/live/live-client.cjs"]
      volumeMounts:
        - {name: live, mountPath: /live, readOnly: true}
        - {name: listener, mountPath: /creds/listener, readOnly: true}
        - {name: talker, mountPath: /creds/talker, readOnly: true}
        - {name: cmd, mountPath: /tmp/cmd}
  volumes:
    - {name: live, configMap: {name: live-client}}
    - {name: listener, secret: {secretName: listener-nats-credentials}}
    - {name: talker, secret: {secretName: talker-nats-credentials}}
    - {name: cmd, emptyDir: {}}
EOF
live_log() { k -n live logs live-client 2>/dev/null; }
# until_log SECONDS REGEX [FROM_LINE]: until the client's log (from line FROM_LINE on) matches.
until_log() {
  for _ in $(seq 1 $(($1 * 5))); do live_log | tail -n +"${3:-1}" | grep -qE "$2" && return 0; sleep 0.2; done
  live_log | tail -20
  return 1
}
check "live: the listener receives rooms.live.feed" until_log 60 ' GOT rooms\.live\.feed m'
client_before=$(live_log | sed -nE 's/^[^ ]+ CONNECTED ([0-9]+) .*/\1/p' | head -1)
before=$(servers)
check "live: patch listener: feed -> feed2" k -n live patch member listener --type=merge -p '{"spec":{"rooms":[{"room":"feed2","access":"Subscribe"}]}}'
gen=$(k -n live get member listener -o jsonpath='{.metadata.generation}')
check "live: listener observes generation $gen" k -n live wait --for=jsonpath='{.status.observedGeneration}'="$gen" member/listener --timeout=2m
check "live: listener Ready" k -n live wait --for=condition=Ready member/listener --timeout=2m
check "live: the running subscription gets the server's permissions error for rooms.live.feed" \
  until_log 30 '[Pp]ermissions [Vv]iolation.*rooms\.live\.feed'
mark=$(($(live_log | wc -l) + 1))
sleep 1
no_more_feed() { ! live_log | tail -n +"$mark" | grep -qE ' GOT rooms\.live\.feed m'; }
check "live: nothing more arrives on rooms.live.feed" no_more_feed
check "live: subscribe to rooms.live.feed2 on the same connection" k -n live exec live-client -- node -e "require('fs').writeFileSync('/tmp/cmd/sub2', '')"
check "live: the new room's messages arrive (rooms.live.feed2)" until_log 30 ' GOT rooms\.live\.feed2 m' "$mark"
client_after=$(live_log | sed -nE 's/^[^ ]+ SUB2 on client ([0-9]+)$/\1/p' | head -1)
same_connection() {
  if live_log | grep -E 'STATUS (disconnect|reconnect)'; then return 1; fi
  [[ -n "$client_before" && "$client_before" == "$client_after" ]]
}
check "live: the listener never disconnected or reconnected (client id $client_before, then ${client_after:-none})" same_connection
after=$(servers)
check "live: no NATS container restarted or was replaced" bash -c "[[ '$before' == '$after' ]]"
live_log | grep -vE ' GOT ' | sed 's/^/      /'

# ---------------------------------------------------------------- 5. garbage collection
log "5. a Member deleted: the garbage collector removes its credentials Secret"
check "the credentials Secret of carol is owned by Member carol" \
  bash -c "[[ \$('$BIN/kubectl' -n chat-guests get secret carol-nats-credentials -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}') == Member/carol ]]"
check "delete Member carol" k -n chat-guests delete member carol --wait=true --timeout=60s
gc_gone() { for _ in $(seq 1 150); do k -n chat-guests get secret carol-nats-credentials >/dev/null 2>&1 || return 0; sleep 0.2; done; return 1; }
check "kube-controller-manager's garbage collector deleted carol-nats-credentials" gc_gone

# ---------------------------------------------------------------- 6. quota
log "6. a ResourceQuota on count/members.natsrooms.io"
k create namespace quota-demo >/dev/null
k -n quota-demo create quota members --hard=count/members.natsrooms.io=1 >/dev/null
member() { printf 'apiVersion: natsrooms.io/v1alpha1\nkind: Member\nmetadata: {name: %s, namespace: quota-demo}\nspec: {}\n' "$1"; }
quota_ready() { for _ in $(seq 1 100); do [[ -n "$(k -n quota-demo get quota members -o jsonpath='{.status.hard}' 2>/dev/null)" ]] && return 0; sleep 0.2; done; return 1; }
check "the quota controller has computed the quota" quota_ready
check "the first Member is admitted" bash -c "$(declare -f member); member m1 | '$BIN/kubectl' apply -f -"
quota_refused() {
  local out
  out=$(member m2 | k apply -f - 2>&1) && { echo "admitted: $out"; return 1; }
  echo "$out"
  grep -q 'exceeded quota' <<<"$out" && grep -q 'count/members.natsrooms.io' <<<"$out"
}
check "the second Member is refused with 'exceeded quota ... count/members.natsrooms.io'" quota_refused

# ---------------------------------------------------------------- 7. faults
# after_fault NAME: the story's `changed` phase again (pam may not ask, joe may): nothing lost, nothing widened.
after_fault() { k -n demo delete job story-changed --wait=true >/dev/null 2>&1; run_story changed; }
# joe_change N: a new config (joe denies himself one more subject), returns joe's new generation.
joe_change() {
  k -n demo patch member joe --type=merge -p "{\"spec\":{\"deny\":{\"publish\":[\"rooms.demo.fault$1\"]}}}" >/dev/null
  k -n demo get member joe -o jsonpath='{.metadata.generation}'
}
joe_ready() { # joe_ready GENERATION
  k -n demo wait --for=jsonpath='{.status.observedGeneration}'="$1" member/joe --timeout=3m >/dev/null &&
    k -n demo wait --for=condition=Ready member/joe --timeout=3m
}

log "7a. a NATS pod deleted mid-rollout"
# The node is cordoned first, so the StatefulSet's new nats-1 stays Pending and the rollout of the
# change necessarily meets a server that is gone: Degraded naming it, later servers untouched. Then
# the node is uncordoned and everything converges.
node=$(k get nodes -o jsonpath='{.items[0].metadata.name}')
uid1=$(k -n "$NS" get pod nats-1 -o jsonpath='{.metadata.uid}')
# config_load_time of a server (its monitoring port, by pod IP): it changes with every reload.
loaded_at() {
  local ip
  ip=$(k -n "$NS" get pod "$1" -o jsonpath='{.status.podIP}')
  node -e "fetch('http://$ip:8222/varz').then((r) => r.json()).then((v) => console.log(v.config_load_time))"
}
check "cordon $node (the replacement of nats-1 cannot be scheduled yet)" k cordon "$node"
k -n "$NS" delete pod nats-1 --wait=false >/dev/null
replacement_pending() {
  for _ in $(seq 1 300); do
    local p
    p=$(k -n "$NS" get pod nats-1 -o jsonpath='{.metadata.uid} {.status.phase}' 2>/dev/null)
    [[ -n "$p" && "$p" != "$uid1 "* && "$p" == *Pending ]] && { echo "nats-1 is $p"; return 0; }
    sleep 0.2
  done
  return 1
}
check "the StatefulSet's new nats-1 waits, Pending, on the cordoned node" replacement_pending
# From now on no rollout can get past nats-1 (a rollout still running from an earlier step may have
# reloaded nats-2 before this point).
nats2_before=$(loaded_at nats-2)
gen=$(joe_change 1)
degraded_on_nats1() {
  for _ in $(seq 1 300); do
    local m
    m=$(k -n demo get member joe -o jsonpath='{.status.observedGeneration} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}' 2>/dev/null)
    if [[ "$m" == "$gen RolloutDegraded: "*nats-1* ]]; then echo "joe Ready: ${m#* }"; return 0; fi
    sleep 0.2
  done
  echo "last seen: $m"; return 1
}
check "joe is Ready=False RolloutDegraded naming nats-1" degraded_on_nats1
same_load() { local now; now=$(loaded_at nats-2); echo "nats-2 config loaded at $now"; [[ "$now" == "$nats2_before" ]]; }
check "nats-2, after nats-1 in the rollout, was not reloaded" same_load
check "the Warning Event RolloutDegraded names nats-1" bash -c "'$BIN/kubectl' -n $NS get events --field-selector reason=RolloutDegraded -o jsonpath='{.items[*].message}' | grep -q nats-1"
check "uncordon $node" k uncordon "$node"
check "the StatefulSet brings nats-1 back (a new pod, 3 of 3 ready)" bash -c "
  for _ in \$(seq 1 300); do
    u=\$('$BIN/kubectl' -n $NS get pod nats-1 -o jsonpath='{.metadata.uid}' 2>/dev/null)
    r=\$('$BIN/kubectl' -n $NS get statefulset nats -o jsonpath='{.status.readyReplicas}')
    [[ -n \"\$u\" && \"\$u\" != '$uid1' && \"\$r\" == 3 ]] && exit 0; sleep 0.5
  done; exit 1"
check "joe converges: Ready on generation $gen" joe_ready "$gen"
reloaded_since() { ! same_load; }
check "nats-2 reloaded once nats-1 was back" reloaded_since
after_fault

log "7b. the leader operator pod deleted mid-rollout"
leader=$(k -n "$NS" get lease nats-rooms-operator -o jsonpath='{.spec.holderIdentity}')
gen=$(joe_change 2)
k -n "$NS" delete pod "$leader" --wait=false >/dev/null
new_leader() {
  for _ in $(seq 1 150); do
    local h
    h=$(k -n "$NS" get lease nats-rooms-operator -o jsonpath='{.spec.holderIdentity}')
    if [[ -n "$h" && "$h" != "$leader" ]] && k -n "$NS" get pod "$h" >/dev/null 2>&1; then echo "new leader $h"; return 0; fi
    sleep 0.2
  done
  return 1
}
check "the standby takes the Lease from $leader" new_leader
check "joe converges: Ready on generation $gen (the new leader finishes the rollout)" joe_ready "$gen"
check "the Deployment is back to 2 available replicas" k -n "$NS" rollout status "deployment/$RELEASE" --timeout=2m
after_fault

log "7c. reloadStrategy: restart rolls the real StatefulSet"
uids_before=$(k -n "$NS" get pods -l "$NATS_SELECTOR" -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}' | sort)
check "helm upgrade --set reloadStrategy=restart" helm upgrade "$RELEASE" "$ROOT/helm/nats-rooms-operator" --namespace "$NS" --reuse-values --set reloadStrategy=restart --wait --timeout 5m
check "the operator Deployment rolled out with the new strategy" k -n "$NS" rollout status "deployment/$RELEASE" --timeout=3m
gen=$(joe_change 3)
check "joe Ready on generation $gen" joe_ready "$gen"
check "the StatefulSet rolled out" k -n "$NS" rollout status statefulset/nats --timeout=5m
replaced() {
  local now
  now=$(k -n "$NS" get pods -l "$NATS_SELECTOR" -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}' | sort)
  [[ $(comm -12 <(echo "$uids_before") <(echo "$now") | wc -l) == 0 && $(echo "$now" | wc -l) == 3 ]]
}
check "every NATS pod was replaced by the restart" replaced
after_fault

# ---------------------------------------------------------------- 8. the official NATS chart
FIXTURE=$HERE/official-nats-chart/rendered-attach.yaml
log "8. attach to the official NATS chart (2.14.2 rendered with the attach values of helm/nats-rooms-operator/README.md)"
if [[ ! -r "$FIXTURE" ]]; then
  fail "the official chart's rendered fixture is readable ($FIXTURE)"
else
  check "helm uninstall the release with the bundled NATS" helm uninstall "$RELEASE" --namespace "$NS" --wait --timeout 3m
  check "the bundled NATS pods are gone" k -n "$NS" wait --for=delete pod -l "$NATS_SELECTOR" --timeout=2m
  k create namespace nats >/dev/null
  cat >"$STATE/attach-values.yaml" <<EOF
image: {repository: localhost/nats-rooms-operator, tag: e2e, pullPolicy: Never}
nats:
  bundled: false
  namespace: nats
  selector: app.kubernetes.io/name=nats,app.kubernetes.io/instance=nats,app.kubernetes.io/component=nats
  authSecretName: nats-rooms-auth
  authSecretKey: auth.conf
  authShards: 16  # the shared fixture's official-chart values mount nats-rooms-auth-1..16
clientUrl: nats://nats.nats.svc:4222
reloadStrategy: reload
EOF
  check "helm install the operator with nats.bundled=false (the README's values for this chart)" \
    helm install "$RELEASE" "$ROOT/helm/nats-rooms-operator" --namespace "$NS" -f "$STATE/attach-values.yaml" --wait --timeout 3m
  # The fixture as rendered, but for its image: nats:2.14.2-alpine cannot be pulled here.
  grep -c 'image: nats:2.14.2-alpine' "$FIXTURE" | sed 's/^/      images swapped for localhost\/nats:e2e: /'
  check "kubectl apply the official chart's rendered manifests in namespace nats" \
    bash -c "sed 's|image: nats:2.14.2-alpine|image: localhost/nats:e2e|' '$FIXTURE' | '$BIN/kubectl' -n nats apply -f -"
  check "the official chart's StatefulSet: 3 of 3 ready" k -n nats rollout status statefulset/nats --timeout=4m
  check "pam back to Request" k -n demo patch member pam --type=merge -p '{"spec":{"rooms":[{"room":"greet","access":"Request"}]}}'
  gen=$(k -n demo get member pam -o jsonpath='{.metadata.generation}')
  attach_ready() {
    k -n demo wait --for=jsonpath='{.status.observedGeneration}'="$gen" member/pam --timeout=3m >/dev/null &&
      k -n demo wait --for=condition=Ready member/greeter member/joe member/pam --timeout=3m
  }
  check "greeter, joe and pam Ready on the official chart's servers" attach_ready
  url_moved() {
    for _ in $(seq 1 100); do
      [[ "$(k -n demo get secret joe-nats-credentials -o jsonpath='{.data.nats-url}' | base64 -d)" == nats://nats.nats.svc:4222 ]] && return 0
      sleep 0.2
    done
    return 1
  }
  check "joe's credentials Secret names the official chart's Service (nats://nats.nats.svc:4222)" url_moved
  k -n demo delete job story-initial --wait=true >/dev/null 2>&1
  run_story initial
fi
