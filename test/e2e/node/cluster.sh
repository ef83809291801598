#!/usr/bin/env bash
# A real single-node Kubernetes on this machine: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd + runc, a CNI bridge, kubelet, kube-proxy (iptables) and CoreDNS,
# all as host processes under one state directory.
#
#   cluster.sh up BIN_DIR IMAGES_DIR   starts everything (after sweeping what a killed run left),
#                                      imports IMAGES_DIR/*.tar into containerd, waits for node Ready
#   cluster.sh down                    deletes every pod through the API, stops everything, and
#                                      restores the machine (mounts, netns, veths, cgroups, iptables
#                                      rules, sysctls, directories kubelet writes outside its root)
#   cluster.sh sweep                   the restoring part of `down` alone
#
# The admin kubeconfig is $NRO_NODE_STATE/admin.kubeconfig (default state dir /tmp/nro-node).
# Network: one bridge (nro0, 10.217.0.1/24) and loopback. Pods get no default route, only a route to
# the Service range; iptables drops any forwarding into or out of the bridge; kube-apiserver, kubelet
# and CoreDNS listen on the bridge address; CoreDNS answers cluster.local only and forwards nothing;
# containerd can pull nothing (its proxy is a closed loopback port): every image is imported.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${NRO_NODE_STATE:-/tmp/nro-node}
BRIDGE=nro0
NODE_IP=10.217.0.1
POD_CIDR=10.217.0.0/24
SVC_CIDR=10.217.1.0/24
API_SVC_IP=10.217.1.1
NODE_NAME=nro-node
TAG=nro-e2e # comment on our iptables rules
# containerd's root (its image store): a cache kept between runs, like the built images.
CROOT=${NRO_CACHE_DIR:-$HOME/.cache/nats-rooms-operator}/containerd-root
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max)
# Directories kubelet and containerd write outside their roots whatever the flags.
OUTSIDE_DIRS=(/var/lib/kubelet /var/log/containers /var/log/pods /run/containerd /etc/cni /opt/cni /var/lib/cni)
# Start order; stop goes the other way.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy coredns)

log() { printf '[node %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[node] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- processes
# start NAME CMD...: runs CMD in its own session, output to $STATE/logs/NAME.log, pid in $STATE/pids.
start() {
  local name=$1
  shift
  setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}
# ours PID: the process exists and its command line names our state dir (a reused pid is not ours).
ours() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$STATE"; }
# Every process whose command line names our state dir, but for this script and its callers.
our_pids() {
  local f pid
  for f in $(grep -lF "$STATE" /proc/[0-9]*/cmdline 2>/dev/null); do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
    grep -qE 'cluster\.sh|run\.sh' "$f" 2>/dev/null && continue
    echo "$pid"
  done
  return 0
}
stop_pid() { # stop_pid PID SECONDS
  local pid=$1 t=$2 i
  ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < t * 10; i++)); do ours "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do [[ -e /proc/$pid ]] || return 0; sleep 0.1; done
}
stop_component() {
  local f=$STATE/pids/$1
  [[ -f "$f" ]] || return 0
  stop_pid "$(cat "$f")" "${2:-10}"
  rm -f "$f"
}
wait_for() { # wait_for SECONDS WHAT CMD...
  local t=$1 what=$2 i
  shift 2
  for ((i = 0; i < t * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "timed out after ${t}s waiting for $what"
}
alive() { [[ -f "$STATE/pids/$1" ]] && ours "$(cat "$STATE/pids/$1")"; }

# ---------------------------------------------------------------- sweep
sweep() {
  set +e
  local c pid m ns link d f
  # 1. our processes (known pids, then containerd shims and anything else naming our state dir)
  for ((c = ${#COMPONENTS[@]} - 1; c >= 0; c--)); do stop_component "${COMPONENTS[c]}" 5; done
  for pid in $(our_pids); do kill -KILL "$pid" 2>/dev/null; done
  # 2. processes of pods still in our cgroups (a killed run's containers)
  for f in /sys/fs/cgroup/*/kubepods; do
    [[ -d "$f" ]] || continue
    find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | xargs -r kill -KILL 2>/dev/null
  done
  sleep 0.3
  # 3. kube-proxy's iptables rules and chains, then ours
  if [[ -x "${BIN:-}/kube-proxy" ]]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1; fi
  # kubelet's own chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT) in both families
  local ipt
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for t in mangle filter nat raw; do
      while read -r rule; do
        [[ -n "$rule" ]] || continue
        eval "$ipt -t $t ${rule/-A /-D }" 2>/dev/null
      done < <("$ipt" -t "$t" -S 2>/dev/null | grep -E -- "^-A .*(--comment \"?$TAG\"?|-j KUBE-)" || true)
      for c in $("$ipt" -t "$t" -S 2>/dev/null | sed -nE 's/^-N (KUBE-[^ ]+)$/\1/p'); do "$ipt" -t "$t" -F "$c" 2>/dev/null; done
      for c in $("$ipt" -t "$t" -S 2>/dev/null | sed -nE 's/^-N (KUBE-[^ ]+)$/\1/p'); do "$ipt" -t "$t" -X "$c" 2>/dev/null; done
    done
  done
  # 4. mounts under our state dir and under the dirs kubelet writes outside it (deepest first)
  for d in "$STATE" "$CROOT" /var/lib/kubelet /run/containerd; do
    findmnt -rn -o TARGET 2>/dev/null | grep -E "^$d(/|$)" | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  done
  # 5. network namespaces containerd made for our pods, veths on our bridge, the bridge
  if [[ -f "$STATE/netns-before" ]] || [[ -d "$STATE" ]]; then
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^cni-'); do
      grep -qxF "$ns" "$STATE/netns-before" 2>/dev/null && continue
      ip netns delete "$ns" 2>/dev/null
    done
  fi
  for link in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do ip link delete "$link" 2>/dev/null; done
  ip link delete "$BRIDGE" 2>/dev/null
  # 6. cgroups kubelet and containerd made (cgroupfs driver: <controller>/kubepods/...), deepest first
  for f in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/nro-node; do
    [[ -d "$f" ]] && find "$f" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  # 7. sysctls kubelet, kube-proxy and the CNI bridge plugin change
  if [[ -f "$STATE/sysctls" ]]; then
    while read -r k v; do [[ -n "$k" && -n "$v" ]] && sysctl -qw "$k=$v" >/dev/null 2>&1; done <"$STATE/sysctls"
  fi
  # 8. directories written outside our root that did not exist before
  if [[ -f "$STATE/outside-before" ]]; then
    for d in "${OUTSIDE_DIRS[@]}"; do
      grep -qxF "$d" "$STATE/outside-before" && continue
      [[ -e "$d" ]] && ! findmnt -rn -o TARGET | grep -qE "^$d(/|$)" && rm -rf "$d"
    done
  fi
  if [[ "${NRO_NODE_KEEP_STATE:-0}" != 1 ]] && [[ -d "$STATE" ]]; then
    if findmnt -rn -o TARGET | grep -qE "^$STATE(/|$)"; then log "WARNING: mounts remain under $STATE"; else rm -rf "$STATE"; fi
  fi
  set -e
  return 0
}

# Checks that nothing is left behind; prints each leftover and returns 1 when something is.
leftovers() {
  local bad=0 x
  x=$(our_pids)
  [[ -z "$x" ]] || { echo "processes: $x"; bad=1; }
  x=$(findmnt -rn -o TARGET | grep -E "^($STATE|$CROOT|/var/lib/kubelet|/run/containerd)(/|$)" || true)
  [[ -z "$x" ]] || { echo "mounts: $x"; bad=1; }
  x=$(ip link show "$BRIDGE" 2>/dev/null || true)
  [[ -z "$x" ]] || { echo "bridge $BRIDGE still exists"; bad=1; }
  x=$(ip -o link show type veth 2>/dev/null || true)
  [[ -z "$x" ]] || { echo "veths: $x"; bad=1; }
  x=$(ip netns list 2>/dev/null | grep -E '^cni-' || true)
  [[ -z "$x" ]] || { echo "netns: $x"; bad=1; }
  x=$({ iptables-save; ip6tables-save; } 2>/dev/null | grep -E "$TAG|KUBE-" || true)
  [[ -z "$x" ]] || { echo "iptables: $(echo "$x" | head -5)"; bad=1; }
  x=$(ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null || true)
  [[ -z "$x" ]] || { echo "cgroups: $x"; bad=1; }
  return $bad
}

# ---------------------------------------------------------------- up
certs() {
  local d=$STATE/pki
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=nro-node-ca" 2>/dev/null
    # kube-apiserver serving certificate: the bridge address, the kubernetes Service and loopback.
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:%s,IP:%s,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n' "$NODE_IP" "$API_SVC_IP" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 2 -extfile apiserver.ext 2>/dev/null
    # kube-apiserver's client certificate towards kubelet (kubelet trusts ca.crt).
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout kubelet-client.key -out kubelet-client.csr -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out kubelet-client.crt -days 2 -extfile client.ext 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out sa.key.ec 2>/dev/null
    openssl pkcs8 -topk8 -nocrypt -in sa.key.ec -out sa.key
    openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
  )
  # Static tokens: the admin and each component as the identity its default RBAC expects.
  : >"$d/tokens.csv"
  add_user admin admin system:masters
  add_user kcm system:kube-controller-manager ""
  add_user scheduler system:kube-scheduler ""
  add_user kubelet "system:node:$NODE_NAME" system:nodes
  add_user proxy system:kube-proxy ""
  add_user coredns nro-coredns ""
  chmod 600 "$d/tokens.csv"
}
add_user() { # add_user KUBECONFIG_NAME USER GROUP: a static token, and a kubeconfig that uses it
  local tok
  tok=$(openssl rand -hex 24)
  printf '%s,%s,uid-%s,"%s"\n' "$tok" "$2" "$1" "$3" >>"$STATE/pki/tokens.csv"
  kubeconfig "$STATE/$1.kubeconfig" "$tok"
}
kubeconfig() { # kubeconfig FILE TOKEN
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: nro-node
  cluster: {server: "https://$NODE_IP:6443", certificate-authority: "$STATE/pki/ca.crt"}
users:
- name: u
  user: {token: "$2"}
contexts:
- name: nro-node
  context: {cluster: nro-node, user: u}
current-context: nro-node
EOF
  chmod 600 "$1"
}

up() {
  BIN=${1:?usage: cluster.sh up BIN_DIR IMAGES_DIR}
  local images=${2:?usage: cluster.sh up BIN_DIR IMAGES_DIR} t0=$SECONDS n
  export BIN
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy coredns kubectl; do
    [[ -x "$BIN/$n" ]] || die "$BIN/$n is missing (bash test/platform/install-binaries.sh node)"
  done
  for n in containerd runc containerd-shim-runc-v2 iptables ip openssl findmnt; do
    command -v "$n" >/dev/null || die "$n is not on PATH"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || die "CNI plugins missing in /usr/lib/cni"

  log "sweeping what an earlier run left"
  sweep
  mkdir -p "$STATE"/{logs,pids,etc,cni/net.d,cni/ipam,containerd,kubelet,pod-logs}
  # What was there before us, so that the sweep restores exactly that.
  for n in "${SYSCTLS[@]}"; do printf '%s %s\n' "$n" "$(sysctl -n "$n" 2>/dev/null)"; done >"$STATE/sysctls"
  for n in "${OUTSIDE_DIRS[@]}"; do if [[ -e "$n" ]]; then echo "$n"; fi; done >"$STATE/outside-before"
  ip netns list 2>/dev/null | awk '{print $1}' >"$STATE/netns-before"

  # --- network: the bridge, and no forwarding into or out of it, before any pod exists
  ip link add "$BRIDGE" type bridge
  ip addr add "$NODE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  iptables -t mangle -I FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -m comment --comment "$TAG" -j DROP
  iptables -t mangle -I FORWARD ! -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$TAG" -j DROP
  # Service traffic is routed by this host onto the same bridge; without forwarding it is lost.
  sysctl -qw net.ipv4.ip_forward=1
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  cat >"$STATE/etc/resolv.conf" <<EOF
# pods' upstream resolver: none (CoreDNS answers cluster.local, nothing else)
nameserver $NODE_IP
EOF
  cat >"$STATE/cni/net.d/10-nro.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "nro",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "10.217.0.10", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "$SVC_CIDR"}],
        "dataDir": "$STATE/cni/ipam"
      }
    }
  ]
}
EOF

  certs
  # --- etcd and kube-apiserver
  start etcd "$BIN/etcd" --name=nro --data-dir="$STATE/etcd" --listen-client-urls="http://$NODE_IP:2379" \
    --advertise-client-urls="http://$NODE_IP:2379" --listen-peer-urls="http://$NODE_IP:2380" \
    --initial-advertise-peer-urls="http://$NODE_IP:2380" --initial-cluster="nro=http://$NODE_IP:2380" \
    --listen-metrics-urls="" --unsafe-no-fsync --heartbeat-interval=10 --election-timeout=50 --log-level=warn
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://$NODE_IP:2379" \
    --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port=6443 \
    --tls-cert-file="$STATE/pki/apiserver.crt" --tls-private-key-file="$STATE/pki/apiserver.key" \
    --client-ca-file="$STATE/pki/ca.crt" --token-auth-file="$STATE/pki/tokens.csv" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --service-cluster-ip-range="$SVC_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$STATE/pki/sa.pub" --service-account-signing-key-file="$STATE/pki/sa.key" \
    --kubelet-client-certificate="$STATE/pki/kubelet-client.crt" --kubelet-client-key="$STATE/pki/kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP --profiling=false --v=1
  wait_for 60 "kube-apiserver /readyz" "$BIN/kubectl" --kubeconfig "$STATE/admin.kubeconfig" get --raw /readyz
  log "control plane ready ($((SECONDS - t0))s)"
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$STATE/kcm.kubeconfig" \
    --service-account-private-key-file="$STATE/pki/sa.key" --root-ca-file="$STATE/pki/ca.crt" \
    --use-service-account-credentials=true \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=0 --controllers='*' \
    --cluster-cidr="$POD_CIDR" --service-cluster-ip-range="$SVC_CIDR" --profiling=false --v=1
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$STATE/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=0 --profiling=false --v=1

  # --- containerd (its own root, state and socket; pulls nothing). Its root (the image store) is a
  # cache kept between runs, so a warm run imports nothing; containers of an earlier run are removed.
  mkdir -p "$CROOT"
  cat >"$STATE/etc/containerd.toml" <<EOF
version = 2
root = "$CROOT"
state = "$STATE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$STATE/containerd/containerd.sock"
[ttrpc]
  address = "$STATE/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:e2e"
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$STATE/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
EOF
  # A pull would leave the machine: the proxy is a closed port on loopback, so it fails at once.
  start containerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
    containerd --config "$STATE/etc/containerd.toml"
  local CTR=(ctr --address "$STATE/containerd/containerd.sock" -n k8s.io)
  wait_for 30 "containerd" "${CTR[@]}" version
  local img c
  for c in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s KILL "$c" >/dev/null 2>&1; "${CTR[@]}" tasks rm -f "$c" >/dev/null 2>&1; done
  for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers rm "$c" >/dev/null 2>&1; done
  mkdir -p "$CROOT/nro-imported"
  for img in "$images"/*.tar; do
    local mark=$CROOT/nro-imported/$(basename "$img") src
    src=$(readlink -f "$img")
    if [[ "$(cat "$mark" 2>/dev/null)" == "$src" ]]; then continue; fi
    "${CTR[@]}" images import "$img" >/dev/null 2>"$STATE/logs/import.log" ||
      { cat "$STATE/logs/import.log" >&2; die "ctr images import $img failed"; }
    printf '%s\n' "$src" >"$mark"
    log "imported $(basename "$img" .tar) ($src)"
  done
  local have_images
  have_images=$("${CTR[@]}" images ls -q)
  for img in nats-rooms-operator nats nats-box pause; do
    grep -qx "localhost/$img:e2e" <<<"$have_images" || die "image localhost/$img:e2e is not in containerd after the import"
  done
  # --- kubelet
  cat >"$STATE/etc/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzPort: 0
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$STATE/containerd/containerd.sock
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "$STATE/pki/ca.crt"}
authorization: {mode: AlwaysAllow}
clusterDNS: ["$NODE_IP"]
clusterDomain: cluster.local
resolvConf: "$STATE/etc/resolv.conf"
podLogsDir: "$STATE/pod-logs"
registerNode: true
rotateCertificates: false
serverTLSBootstrap: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
imageMinimumGCAge: 24h
maxPods: 60
serializeImagePulls: false
EOF
  start kubelet "$BIN/kubelet" --config="$STATE/etc/kubelet.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
    --root-dir="$STATE/kubelet" --cert-dir="$STATE/kubelet/pki" --node-ip="$NODE_IP" \
    --hostname-override="$NODE_NAME" --v=1
  # --- kube-proxy (iptables) and CoreDNS
  start kube-proxy "$BIN/kube-proxy" --kubeconfig="$STATE/proxy.kubeconfig" --proxy-mode=iptables \
    --cluster-cidr="$POD_CIDR" --hostname-override="$NODE_NAME" --nodeport-addresses="$NODE_IP/32" \
    --healthz-bind-address=127.0.0.1:10256 --metrics-bind-address=127.0.0.1:10249 \
    --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 --v=1
  "$BIN/kubectl" --kubeconfig "$STATE/admin.kubeconfig" apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: nro-coredns}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: nro-coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: nro-coredns}
subjects: [{kind: User, name: nro-coredns, apiGroup: rbac.authorization.k8s.io}]
EOF
  cat >"$STATE/etc/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $STATE/coredns.kubeconfig nro-node
    }
    cache 5
}
EOF
  start coredns "$BIN/coredns" -conf "$STATE/etc/Corefile"
  wait_for 60 "node $NODE_NAME Ready" bash -c "'$BIN/kubectl' --kubeconfig '$STATE/admin.kubeconfig' get node $NODE_NAME -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
  wait_for 30 "the default ServiceAccount" "$BIN/kubectl" --kubeconfig "$STATE/admin.kubeconfig" -n default get serviceaccount default
  for n in "${COMPONENTS[@]}"; do alive "$n" || { tail -30 "$STATE/logs/$n.log" >&2; die "$n exited"; }; done
  log "node $NODE_NAME Ready, all components up ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------- down
down() {
  BIN=${1:-${BIN:-}}
  export BIN
  local K=("$BIN/kubectl" --kubeconfig "$STATE/admin.kubeconfig" --request-timeout=10s) i
  if alive kube-apiserver && alive kubelet; then
    # No controller may bring pods back while kubelet tears them down (netns, veths, mounts).
    stop_component kube-controller-manager 5
    stop_component kube-scheduler 5
    log "deleting every pod through the API (kubelet tears down their containers, mounts, netns and veths)"
    "${K[@]}" delete pods --all --all-namespaces --grace-period=5 --wait=false >/dev/null 2>&1 || true
    for ((i = 0; i < 200; i++)); do
      [[ -z "$("${K[@]}" get pods -A -o name 2>/dev/null)" ]] && break
      sleep 0.2
    done
    [[ -z "$("${K[@]}" get pods -A -o name 2>/dev/null)" ]] || log "WARNING: pods still there after 40 s: $("${K[@]}" get pods -A -o name 2>/dev/null | tr '\n' ' ')"
    # kubelet removes the sandboxes (and their netns) a moment after the pods are gone.
    for ((i = 0; i < 100; i++)); do
      [[ -z "$(ip netns list 2>/dev/null | grep -E '^cni-' | grep -vxFf "$STATE/netns-before" 2>/dev/null)" ]] && break
      sleep 0.2
    done
  fi
  log "stopping the components"
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[i]}" 10; done
  log "sweeping"
  sweep
  log "stopped"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) shift; down "$@" ;;
  sweep) shift; BIN=${1:-}; sweep ;;
  leftovers) shift; leftovers ;;
  *) die "usage: cluster.sh up BIN_DIR IMAGES_DIR | down [BIN_DIR] | sweep [BIN_DIR] | leftovers" ;;
esac
