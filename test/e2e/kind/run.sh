#!/usr/bin/env bash
# End-to-end on a real Kubernetes (kind), in one command:
#
#   test/e2e/kind/run.sh
#
# 1. creates a kind cluster (own kubeconfig; your current context is left alone),
# 2. builds the operator image from the Dockerfile and loads it into the cluster,
# 3. installs the Helm chart with the bundled 3-server NATS cluster,
# 4. applies examples/ and waits until greeter, joe and pam are Ready,
# 5. runs the seed-000 story inside the cluster with real NATS clients (a Job with the nats CLI of
#    nats-box, signed in with the seeds from the members' credentials Secrets, using --inbox-prefix):
#    joe and pam get greeter's replies; pam can subscribe neither to _INBOX.> nor to joe's inbox,
# 6. changes pam (Request -> Subscribe), waits for Ready on the new generation, checks the change is
#    live (pam can no longer ask, joe still can) and that no NATS server restarted,
# 7. deletes the cluster (trap; E2E_KEEP=1 keeps it).
#
# Needs docker (with a running engine), kind, kubectl and helm. Where one is missing it prints a
# SKIPPED banner and exits 0, or 1 with E2E_REQUIRED=1.
#
# Environment: KIND_CLUSTER_NAME (nro-e2e), E2E_KEEP (0), E2E_REQUIRED (0), NATS_BOX_IMAGE
# (natsio/nats-box:0.18.0), KIND_NODE_IMAGE (kind's default), HELM / KUBECTL (binaries to use).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
HERE=$ROOT/test/e2e/kind
CLUSTER=${KIND_CLUSTER_NAME:-nro-e2e}
IMAGE=nats-rooms-operator:e2e
NAMESPACE=nats-rooms-operator
RELEASE=nats-rooms-operator
NATS_BOX_IMAGE=${NATS_BOX_IMAGE:-natsio/nats-box:0.18.0}
NATS_SELECTOR="app.kubernetes.io/name=nats,app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=nats"

log() { printf '\n\033[1m[e2e %s] %s\033[0m\n' "$(date +%H:%M:%S)" "$*"; }

# --- what is there? --------------------------------------------------------------------------------
cached_bin() { local p=${NRO_CACHE_DIR:-$HOME/.cache/nats-rooms-operator}/bin/current/$1; [ -x "$p" ] && echo "$p"; }
HELM=${HELM:-$(command -v helm || cached_bin helm || true)}
KUBECTL=${KUBECTL:-$(command -v kubectl || cached_bin kubectl || true)}
missing=()
command -v docker >/dev/null 2>&1 || missing+=("docker")
command -v kind >/dev/null 2>&1 || missing+=("kind")
[ -n "$KUBECTL" ] || missing+=("kubectl")
[ -n "$HELM" ] || missing+=("helm")
if command -v docker >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  missing+=("a running Docker engine (docker info failed)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  {
    echo
    echo "################################################################################"
    if [ "${E2E_REQUIRED:-0}" = 1 ]; then
      echo "#  E2E (kind) FAILED: E2E_REQUIRED=1 but it cannot run; nothing was tested."
    else
      echo "#  E2E (kind) SKIPPED: nothing was tested."
    fi
    for m in "${missing[@]}"; do echo "#    missing: $m"; done
    echo "#  Install them and run test/e2e/kind/run.sh again (E2E_REQUIRED=1 makes this fatal)."
    echo "################################################################################"
    echo
  } >&2
  [ "${E2E_REQUIRED:-0}" = 1 ] && exit 1
  exit 0
fi

WORK=$(mktemp -d)
export KUBECONFIG=$WORK/kubeconfig
k() { "$KUBECTL" "$@"; }

# --- teardown and diagnostics ----------------------------------------------------------------------
created=0
cleanup() {
  local code=$?
  set +e
  if [ $code -ne 0 ] && [ $created = 1 ]; then
    log "FAILED (exit $code): diagnostics"
    k get pods -A -o wide
    k -n demo get rooms,members -o wide
    k -n demo get members -o yaml | sed -n '/^  status:/,/^- apiVersion/p' | head -150
    k -n "$NAMESPACE" logs -l app.kubernetes.io/component=operator --tail=100 --prefix
    k -n "$NAMESPACE" logs -l app.kubernetes.io/component=nats --tail=30 --prefix
    k -n demo logs -l app.kubernetes.io/name=nats-rooms-story --tail=100 --prefix
    k get events -A --sort-by=.lastTimestamp | tail -40
  fi
  if [ $created = 1 ]; then
    if [ "${E2E_KEEP:-0}" = 1 ]; then
      log "keeping cluster $CLUSTER (KUBECONFIG=$KUBECONFIG); delete it with: kind delete cluster --name $CLUSTER"
    else
      log "deleting kind cluster $CLUSTER"
      kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" >/dev/null 2>&1
      rm -rf "$WORK"
    fi
  fi
  [ $code -eq 0 ] && log "E2E PASSED"
  exit $code
}
trap cleanup EXIT

# --- 1. cluster -------------------------------------------------------------------------------------
log "creating kind cluster $CLUSTER"
kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" >/dev/null 2>&1 || true
created=1
kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" --wait 180s ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"}

# --- 2. image ---------------------------------------------------------------------------------------
log "building $IMAGE"
docker build -t "$IMAGE" "$ROOT"
kind load docker-image "$IMAGE" --name "$CLUSTER"

# --- 3. chart ---------------------------------------------------------------------------------------
log "installing the chart (operator + bundled NATS) into $NAMESPACE"
"$HELM" install "$RELEASE" "$ROOT/helm/nats-rooms-operator" \
  --kubeconfig "$KUBECONFIG" \
  --namespace "$NAMESPACE" --create-namespace \
  --set image.repository=nats-rooms-operator --set image.tag=e2e --set image.pullPolicy=Never \
  --wait --timeout 6m
k -n "$NAMESPACE" rollout status deployment/"$RELEASE" --timeout=2m
k -n "$NAMESPACE" rollout status statefulset/nats --timeout=4m
k -n "$NAMESPACE" get pods -o wide

# --- 4. examples ------------------------------------------------------------------------------------
log "applying examples/"
k apply -R -f "$ROOT/examples/"
k -n demo wait --for=condition=Ready member/greeter member/joe member/pam --timeout=3m
k -n demo wait --for=condition=Ready room/greet --timeout=1m
k -n chat wait --for=condition=Ready member --all --timeout=2m
k -n chat-guests wait --for=condition=Ready member --all --timeout=2m
k -n demo get rooms,members -o wide

# --- 5. the story, inside the cluster ---------------------------------------------------------------
k -n demo create configmap nats-rooms-story --from-file=story.sh="$HERE/story.sh" --dry-run=client -o yaml | k apply -f -

# run_story <phase>: runs the story Job and prints its log; fails when the story fails.
run_story() {
  local phase=$1 job=story-$1 state=""
  log "story ($phase) in a nats-box Job"
  sed -e "s|__PHASE__|$phase|g" -e "s|__NATS_BOX_IMAGE__|$NATS_BOX_IMAGE|g" "$HERE/story-job.yaml" | k apply -f -
  for _ in $(seq 1 120); do
    state=$(k -n demo get job "$job" -o jsonpath='{.status.succeeded}/{.status.failed}' 2>/dev/null || true)
    case "$state" in 1/*) break ;; */1) break ;; esac
    sleep 2
  done
  k -n demo logs job/"$job" || true
  case "$state" in
    1/*) log "story ($phase) passed" ;;
    *) echo "story ($phase) did not pass (succeeded/failed: $state)" >&2; return 1 ;;
  esac
}

servers() { k -n "$NAMESPACE" get pods -l "$NATS_SELECTOR" -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.uid} {.status.containerStatuses[0].restartCount}{"\n"}{end}'; }

run_story initial
before=$(servers)

# --- 6. a change, live ------------------------------------------------------------------------------
log "changing pam: Request -> Subscribe"
k -n demo patch member pam --type=merge -p '{"spec":{"rooms":[{"room":"greet","access":"Subscribe"}]}}'
generation=$(k -n demo get member pam -o jsonpath='{.metadata.generation}')
k -n demo wait --for=jsonpath='{.status.observedGeneration}'="$generation" member/pam --timeout=2m
k -n demo wait --for=condition=Ready member/pam --timeout=3m
k -n demo get member pam -o jsonpath='{.status.grantedSubjects}{"\n"}'

run_story changed
after=$(servers)
echo "NATS servers before the change:"; echo "$before"
echo "NATS servers after the change:"; echo "$after"
if [ "$before" != "$after" ]; then
  echo "a NATS server was replaced or restarted: the change was not applied live" >&2
  exit 1
fi
log "no NATS server restarted; the operator's log of the rollout:"
k -n "$NAMESPACE" logs -l app.kubernetes.io/component=operator --tail=200 --prefix | grep -E 'server enforces generation|auth config written' | tail -10 || true
