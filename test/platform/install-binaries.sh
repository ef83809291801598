#!/usr/bin/env bash
# Builds the test platform's binaries (etcd, kube-apiserver, kubectl,
# nats-server, the nats CLI, helm; and, when named, the real node's kubelet,
# kube-controller-manager, kube-scheduler, kube-proxy and coredns) from their Go modules at the versions pinned
# in versions.env, caches them outside the repository, and prints the
# directory of symlinks to the pinned versions as the last line of stdout:
#
#   BIN=$(bash test/platform/install-binaries.sh | tail -1)
#
# Progress and build output go to stderr, so stdout carries only that path.
#
# Usage: install-binaries.sh [--print-dir] [NAME...]
#   --print-dir   print the symlink directory and exit (builds nothing)
#   NAME...       build only these (default: all but the node's); `node` stands for the
#                 real node's binaries (kubelet kube-controller-manager kube-scheduler
#                 kube-proxy coredns), which test/e2e/node/ needs and `npm test` does not
#
# Environment:
#   NRO_CACHE_DIR         cache root (default: $HOME/.cache/nats-rooms-operator)
#   NRO_VERSIONS_FILE     alternative versions file (default: versions.env beside this script)
#   NRO_SKIP_NATSCLI=1    do not build the optional nats CLI
#   NRO_REQUIRE_NATSCLI=1 make a failed nats CLI build fatal (default: warn and go on)
#   NRO_VERBOSE=1         stream go's output instead of only keeping it in a log
#   GOTOOLCHAIN           defaults to "local": the installed Go is used, never a downloaded one
#
# Layout: $NRO_CACHE_DIR/bin/<name>-<version>/<name>, $NRO_CACHE_DIR/bin/current/<name>
# (relative symlinks), $NRO_CACHE_DIR/logs/<name>-<version>.log (go output of the last build).
# A cached binary that exists and answers its version command is not rebuilt.
# Go's module and build caches are the user's defaults (`go env GOMODCACHE GOCACHE`).
set -euo pipefail

log() { printf '[platform] %s\n' "$*" >&2; }
die() {
  printf '[platform] ERROR: %s\n' "$*" >&2
  exit 1
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSIONS_FILE=${NRO_VERSIONS_FILE:-$SCRIPT_DIR/versions.env}
if [[ -z "${NRO_CACHE_DIR:-}" && -z "${HOME:-}" ]]; then
  die "neither NRO_CACHE_DIR nor HOME is set; set NRO_CACHE_DIR to a writable directory outside the repository"
fi
CACHE_DIR=${NRO_CACHE_DIR:-$HOME/.cache/nats-rooms-operator}
BIN_ROOT=$CACHE_DIR/bin
CURRENT_DIR=$BIN_ROOT/current
LOG_DIR=$CACHE_DIR/logs

ALL_NAMES=(etcd kube-apiserver kubectl nats-server nats helm)
# The real node's binaries (test/e2e/node/): built only when named, or with `node`.
NODE_NAMES=(kubelet kube-controller-manager kube-scheduler kube-proxy coredns)

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; }

PRINT_DIR=0
NAMES=()
for arg in "$@"; do
  case "$arg" in
    --print-dir) PRINT_DIR=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*) die "unknown option '$arg' (try --help)" ;;
    node) NAMES+=("${NODE_NAMES[@]}") ;;
    *)
      case " ${ALL_NAMES[*]} ${NODE_NAMES[*]} " in
        *" $arg "*) NAMES+=("$arg") ;;
        *) die "unknown binary '$arg'; known: ${ALL_NAMES[*]} ${NODE_NAMES[*]} (or node)" ;;
      esac
      ;;
  esac
done
if ((PRINT_DIR)); then
  printf '%s\n' "$CURRENT_DIR"
  exit 0
fi
ONLY_NAMED=${NAMES[*]:-}
((${#NAMES[@]})) || NAMES=("${ALL_NAMES[@]}")
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)

# ---------------------------------------------------------------- versions
[[ -r "$VERSIONS_FILE" ]] || die "versions file not found: $VERSIONS_FILE"
# shellcheck source=versions.env
source "$VERSIONS_FILE"
for key in GO_MIN_VERSION KUBERNETES_VERSION ETCD_VERSION NATS_SERVER_VERSION HELM_VERSION COREDNS_VERSION; do
  [[ -n "${!key:-}" ]] || die "$key is not set in $VERSIONS_FILE"
done
NATSCLI_VERSION=${NATSCLI_VERSION:-}

version_of() {
  case "$1" in
    etcd) echo "$ETCD_VERSION" ;;
    kube-apiserver | kubectl | kubelet | kube-controller-manager | kube-scheduler | kube-proxy) echo "$KUBERNETES_VERSION" ;;
    coredns) echo "$COREDNS_VERSION" ;;
    nats-server) echo "$NATS_SERVER_VERSION" ;;
    nats) echo "$NATSCLI_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
  esac
}

# Runs the binary's version command; succeeds when it runs and reports the
# pinned version (so a binary built without the version ldflags is rebuilt).
check_binary() {
  local name=$1 path=$2 version=$3 out
  [[ -x "$path" ]] || return 1
  case "$name" in
    kubectl) out=$(timeout 30 "$path" version --client 2>&1) ;;
    helm) out=$(timeout 30 "$path" version --short 2>&1) ;;
    *) out=$(timeout 30 "$path" --version 2>&1) ;;
  esac || return 1
  [[ "$out" == *"${version#v}"* ]]
}

# ---------------------------------------------------------------- go
require_go() {
  if [[ -n "${GO_CHECKED:-}" ]]; then return 0; fi
  command -v go >/dev/null 2>&1 ||
    die "'go' is not on PATH; install Go >= $GO_MIN_VERSION (it builds ${NAMES[*]} from source) and retry"
  local have
  have=$(go env GOVERSION 2>/dev/null) || die "'go env GOVERSION' failed; is the Go installation at $(command -v go) broken?"
  have=${have#go}
  have=${have%% *}
  if [[ "$(printf '%s\n%s\n' "$GO_MIN_VERSION" "$have" | sort -V | head -1)" != "$GO_MIN_VERSION" ]]; then
    die "Go $have is too old: the pinned modules need Go >= $GO_MIN_VERSION (set GOTOOLCHAIN=auto to let go fetch a newer toolchain)"
  fi
  GO_CHECKED=1
}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export CGO_ENABLED=0

WORK_DIR=""
cleanup() {
  if [[ -n "$WORK_DIR" && -d "$WORK_DIR" ]]; then rm -rf "$WORK_DIR"; fi
  return 0
}
trap cleanup EXIT

# Path of the go.mod of MODULE@VERSION (downloads the module into the module cache).
gomod_of() {
  local mod=$1 ver=$2 json file
  json=$(go mod download -json "$mod@$ver" 2>&1) || {
    printf '%s\n' "$json" | sed -nE 's/^[[:space:]]*"Error": "(.*)",?$/\1/p; /^go: /p' | sed 's/\\n\\t/ /g; s/^/[platform]   /' >&2
    die "could not download Go module $mod@$ver (is the Go module proxy reachable, and does it serve this version? GOPROXY=$(go env GOPROXY))"
  }
  file=$(printf '%s\n' "$json" | sed -nE 's/^[[:space:]]*"GoMod": "(.*)",?$/\1/p')
  [[ -n "$file" && -r "$file" ]] || {
    printf '%s\n' "$json" >&2
    die "no go.mod for $mod@$ver in the module cache"
  }
  printf '%s\n' "$file"
}

# Writes DIR/go.mod: a throw-away main module that requires MODULE@VERSION
# with the same go and godebug directives as MODULE's own go.mod (so the binary
# gets the GODEBUG defaults its authors ship) plus any extra go.mod lines.
write_build_module() {
  local dir=$1 name=$2 mod=$3 ver=$4 upstream_gomod=$5 extra=${6:-} go_line godebug
  go_line=$(grep -E '^go [0-9]' "$upstream_gomod" | head -1 || true)
  [[ -n "$go_line" ]] || go_line="go $GO_MIN_VERSION"
  # godebug directives: single-line form and block form.
  godebug=$(awk '/^godebug \(/{b=1} b{print} b&&/^\)/{b=0;next} /^godebug [^(]/{print}' "$upstream_gomod")
  {
    printf 'module nro.invalid/platform-build/%s\n\n%s\n\n' "$name" "$go_line"
    [[ -z "$godebug" ]] || printf '%s\n\n' "$godebug"
    printf 'require %s %s\n' "$mod" "$ver"
    [[ -z "$extra" ]] || printf '\n%s\n' "$extra"
  } >"$dir/go.mod"
}

# Module metadata helpers (empty output when the proxy does not say).
mod_time() { go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$1@$2" 2>/dev/null || true; }
mod_commit() { go list -m -f '{{with .Origin}}{{.Hash}}{{end}}' "$1@$2" 2>/dev/null || true; }

# go build PACKAGE inside module dir DIR into OUT with LDFLAGS; output to LOG.
go_build() {
  local dir=$1 pkg=$2 out=$3 ldflags=$4 logf=$5
  local -a cmd=(go build -mod=mod -trimpath -ldflags "-s -w $ldflags" -o "$out" "$pkg")
  printf '$ (cd %s && GOTOOLCHAIN=%s CGO_ENABLED=0 %s)\n' "$dir" "$GOTOOLCHAIN" "${cmd[*]}" >>"$logf"
  if [[ "${NRO_VERBOSE:-0}" == 1 ]]; then
    (cd "$dir" && "${cmd[@]}") 2>&1 | tee -a "$logf" >&2
    return "${PIPESTATUS[0]}"
  fi
  (cd "$dir" && "${cmd[@]}") >>"$logf" 2>&1
}

# ---------------------------------------------------------------- recipes
# Each recipe builds binary NAME at VERSION into the file OUT, logging to LOG,
# using the empty directory DIR for its throw-away main module. Recipes run in
# a subshell with errexit on, so any failing step fails the recipe.

build_kubernetes() { # kube-apiserver | kubectl | kubelet | kube-controller-manager | kube-scheduler | kube-proxy
  local name=$1 version=$2 out=$3 logf=$4 dir=$5
  local mod=k8s.io/kubernetes upstream staging_ver replaces="" m required
  upstream=$(gomod_of "$mod" "$version")
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
  # with ./staging/src/...; outside that repository each is the published
  # k8s.io/<name> module at v0.<minor>.<patch>.
  staging_ver=v0.${version#v1.}
  required=$(sed -nE 's/^[[:space:]]*(require[[:space:]]+)?([^[:space:]]+)[[:space:]]+v[0-9][^[:space:]]*.*$/\2/p' "$upstream")
  while read -r m; do
    grep -qxF "$m" <<<"$required" || continue # a replaced module nothing requires
    replaces+="replace $m => $m $staging_ver"$'\n'
  done < <(sed -nE 's#^[[:space:]]*(replace[[:space:]]+)?(k8s\.io/[^[:space:]]+)[[:space:]]+=>[[:space:]]+\./staging/.*#\2#p' "$upstream")
  [[ -n "$replaces" ]] || die "found no './staging' replace directives in $upstream; has k8s.io/kubernetes changed its layout?"
  write_build_module "$dir" "$name" "$mod" "$version" "$upstream" "$replaces"

  local major minor commit date ld="" p
  major=${version#v}
  major=${major%%.*}
  minor=${version#v*.}
  minor=${minor%%.*}
  commit=$(mod_commit "$mod" "$version")
  date=$(mod_time "$mod" "$version")
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$version -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=${date:-1970-01-01T00:00:00Z}"
    # (unknown commit: empty rather than the source's "$Format:%H$" placeholder)
    ld+=" -X $p.gitCommit=$commit"
  done
  go_build "$dir" "$mod/cmd/$name" "$out" "$ld" "$logf"
}

build_etcd() {
  local name=$1 version=$2 out=$3 logf=$4 dir=$5 mod=go.etcd.io/etcd/server/v3 upstream
  # etcd's server go.mod replaces its sibling modules with ../ paths; a main
  # module of our own ignores those and takes the published siblings instead.
  upstream=$(gomod_of "$mod" "$version")
  write_build_module "$dir" "$name" "$mod" "$version" "$upstream"
  go_build "$dir" "$mod" "$out" "" "$logf"
}

# commit_ldflag MOD VERSION VAR: `-X VAR=<short commit>` when the module's version names a commit, else nothing.
commit_ldflag() {
  local commit
  commit=$(mod_commit "$1" "$2")
  [[ -z "$commit" ]] || echo "-X $3=${commit:0:7}"
}

build_nats_server() {
  local name=$1 version=$2 out=$3 logf=$4 dir=$5 mod=github.com/nats-io/nats-server/v2 upstream
  upstream=$(gomod_of "$mod" "$version")
  write_build_module "$dir" "$name" "$mod" "$version" "$upstream"
  go_build "$dir" "$mod" "$out" "$(commit_ldflag "$mod" "$version" "$mod/server.gitCommit")" "$logf"
}

build_natscli() {
  local name=$1 version=$2 out=$3 logf=$4 dir=$5 mod=github.com/nats-io/natscli upstream
  upstream=$(gomod_of "$mod" "$version")
  write_build_module "$dir" "$name" "$mod" "$version" "$upstream"
  go_build "$dir" "$mod/nats" "$out" "-X main.version=$version" "$logf"
}

build_coredns() {
  local name=$1 version=$2 out=$3 logf=$4 dir=$5 mod=github.com/coredns/coredns upstream
  # Every plugin of the default plugin.cfg is compiled in; the harness's Corefile enables only `kubernetes`.
  upstream=$(gomod_of "$mod" "$version")
  write_build_module "$dir" "$name" "$mod" "$version" "$upstream"
  go_build "$dir" "$mod" "$out" "$(commit_ldflag "$mod" "$version" "$mod/coremain.GitCommit")" "$logf"
}

build_helm() {
  local name=$1 version=$2 out=$3 logf=$4 dir=$5 major mod upstream commit kver kmaj kmin ld
  major=${version#v}
  major=${major%%.*}
  mod=helm.sh/helm/v$major
  upstream=$(gomod_of "$mod" "$version")
  write_build_module "$dir" "$name" "$mod" "$version" "$upstream"
  commit=$(mod_commit "$mod" "$version")
  ld="-X $mod/internal/version.version=$version -X $mod/internal/version.metadata="
  ld+=" -X $mod/internal/version.gitTreeState=clean"
  [[ -z "$commit" ]] || ld+=" -X $mod/internal/version.gitCommit=$commit"
  # Like helm's Makefile: the default .Capabilities.KubeVersion follows the client-go it is built with.
  kver=$(cd "$dir" && go list -mod=mod -m -f '{{.Version}}' k8s.io/client-go 2>>"$logf") || kver=""
  if [[ "$kver" =~ ^v0\.([0-9]+)\. ]]; then
    kmaj=1
    kmin=${BASH_REMATCH[1]}
    local p
    for p in pkg/lint/rules pkg/chartutil pkg/chart/common; do
      ld+=" -X $mod/$p.k8sVersionMajor=$kmaj -X $mod/$p.k8sVersionMinor=$kmin"
    done
  fi
  go_build "$dir" "$mod/cmd/helm" "$out" "$ld" "$logf"
}

# ---------------------------------------------------------------- main
mkdir -p "$BIN_ROOT" "$CURRENT_DIR" "$LOG_DIR" || die "cannot create $BIN_ROOT (set NRO_CACHE_DIR to a writable directory)"
# One installer at a time per cache dir (parallel CI jobs, two terminals).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$BIN_ROOT/.lock"
  if ! flock -n 9; then
    log "waiting for another install-binaries.sh using $CACHE_DIR ..."
    flock 9
  fi
fi

command -v timeout >/dev/null 2>&1 || die "'timeout' (coreutils) is not on PATH"
START_ALL=$SECONDS
FAILED=()
for name in "${NAMES[@]}"; do
  version=$(version_of "$name")
  link=$CURRENT_DIR/$name
  if [[ "$name" == nats && (-z "$version" || "${NRO_SKIP_NATSCLI:-0}" == 1) ]]; then
    if [[ -z "$version" ]]; then why="NATSCLI_VERSION is empty in $VERSIONS_FILE"; else why="NRO_SKIP_NATSCLI=1"; fi
    log "skipping the optional nats CLI ($why); tests needing it must skip"
    rm -f "$link"
    continue
  fi
  dest_dir=$BIN_ROOT/$name-$version
  dest=$dest_dir/$name
  rm -f "$dest_dir/.$name.partial."* # left by an interrupted run (we hold the lock)
  if check_binary "$name" "$dest" "$version"; then
    log "cached $name $version ($dest)"
  else
    require_go
    log "building $name $version ..."
    mkdir -p "$dest_dir"
    logf=$LOG_DIR/$name-$version.log
    : >"$logf"
    tmp_out=$dest_dir/.$name.partial.$$
    t0=$SECONDS
    case "$name" in
      kube-apiserver | kubectl | kubelet | kube-controller-manager | kube-scheduler | kube-proxy) recipe=build_kubernetes ;;
      coredns) recipe=build_coredns ;;
      etcd) recipe=build_etcd ;;
      nats-server) recipe=build_nats_server ;;
      nats) recipe=build_natscli ;;
      helm) recipe=build_helm ;;
    esac
    WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/nro-build-$name.XXXXXX") || die "mktemp failed (TMPDIR=${TMPDIR:-/tmp})"
    set +e
    (
      set -e
      "$recipe" "$name" "$version" "$tmp_out" "$logf" "$WORK_DIR"
    )
    rc=$?
    set -e
    cleanup
    WORK_DIR=""
    if ((rc == 0)) && check_binary "$name" "$tmp_out" "$version"; then
      mv -f "$tmp_out" "$dest"
      log "built $name $version in $((SECONDS - t0))s ($(du -h "$dest" | cut -f1)) -> $dest"
    else
      if ((rc == 0)); then
        log "the freshly built $name does not run or does not report version $version:"
        { timeout 30 "$tmp_out" --version || timeout 30 "$tmp_out" version; } 2>&1 | head -5 | sed 's/^/[platform]   /' >&2 || true
      fi
      rm -f "$tmp_out"
      if (($(wc -l <"$logf") > 1)); then
        {
          printf '[platform] ---- last lines of %s ----\n' "$logf"
          tail -n 40 "$logf" | sed 's/^/[platform]   /'
        } >&2
      fi
      if [[ "$name" == nats && "${NRO_REQUIRE_NATSCLI:-0}" != 1 ]]; then
        log "WARNING: could not build the optional nats CLI $version (failed after $((SECONDS - t0))s, go output: $logf); continuing without it, tests needing it must skip"
        rm -f "$link"
        continue
      fi
      log "FAILED to build $name $version after $((SECONDS - t0))s; full go output: $logf"
      FAILED+=("$name")
      continue
    fi
  fi
  ln -sfn "../$name-$version/$name" "$link"
done

# The project's own test tool: nats-server's config parser as an oracle (test/tools/natsperms). Built
# from this repo against the pinned nats-server, cached by the hash of its sources.
build_natsperms() {
  local src=$REPO_ROOT/test/tools/natsperms key dest_dir dest
  grep -q "github.com/nats-io/nats-server/v2 $NATS_SERVER_VERSION\$" "$src/go.mod" ||
    die "test/tools/natsperms/go.mod must require nats-server $NATS_SERVER_VERSION (run: cd $src && go get github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION && go mod tidy)"
  key=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
  dest_dir=$BIN_ROOT/natsperms-$key
  dest=$dest_dir/natsperms
  if [[ -x "$dest" ]]; then
    log "cached natsperms $key"
  else
    require_go
    log "building natsperms $key ..."
    mkdir -p "$dest_dir"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dest.partial.$$" .) >>"$LOG_DIR/natsperms.log" 2>&1 ||
      { tail -n 40 "$LOG_DIR/natsperms.log" >&2; rm -f "$dest.partial.$$"; die "could not build test/tools/natsperms (see $LOG_DIR/natsperms.log)"; }
    mv -f "$dest.partial.$$" "$dest"
  fi
  ln -sfn "../natsperms-$key/natsperms" "$CURRENT_DIR/natsperms"
}
if [[ -z "${ONLY_NAMED:-}" ]]; then build_natsperms; fi

if ((${#FAILED[@]})); then
  die "could not build: ${FAILED[*]} (see the log lines above; a 'module version is not available' or 'verifying go.mod' error means the Go module proxy does not serve that pinned version: pick another in $VERSIONS_FILE)"
fi
log "binaries ready in $((SECONDS - START_ALL))s: $CURRENT_DIR"
printf '%s\n' "$CURRENT_DIR"
