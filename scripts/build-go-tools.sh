#!/usr/bin/env bash
# Builds the Go programs the real stack runs into ~/.cache/otel-secretary/bin (or $OTEL_SECRETARY_BIN_DIR):
#   builder            OpenTelemetry Collector Builder (ocb), only needed to build the collector
#   otelcol-secretary  our collector distribution, from collector-config/builder-config.yaml
#   jaeger             Jaeger v2, from tools/go.mod (go install refuses Jaeger: its go.mod has replace lines)
#   stripe-mock        Stripe's API mock, used by the example app's tests
# Usage: scripts/build-go-tools.sh [name ...]   (default: all). Idempotent: a binary is rebuilt only when it
# is missing or its version stamp (<bin>.stamp: pinned version, or a hash of the inputs) differs, and the Go
# module and build caches (~/go, ~/.cache/go-build) are reused, so a second run takes about a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${OTEL_SECRETARY_BIN_DIR:-$HOME/.cache/otel-secretary/bin}"
BUILD_DIR="${OTEL_SECRETARY_BUILD_DIR:-$HOME/.cache/otel-secretary/build}"

# Versions: all collector modules sit at one release (see builder-config.yaml); Jaeger is pinned in tools/go.mod.
BUILDER_VERSION="v0.161.0"
STRIPE_MOCK_VERSION="v0.203.0"

# The repo's files are not a VCS-stamped build input; without this `go build` inside a checkout without .git
# metadata (or with a dirty one) fails or varies.
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export PATH="$PATH:/usr/local/go/bin"

log() { printf '[build-go-tools %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

command -v go >/dev/null 2>&1 || { log "go is not installed (need Go >= 1.26)"; exit 1; }
mkdir -p "$BIN_DIR" "$BUILD_DIR"
# One build at a time per cache folder: `stack up` in two shells (or parallel test sessions) would otherwise
# generate the collector's sources into the same folder at once. The second waits, then finds it current.
exec 9>"$BUILD_DIR/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

hash_files() { cat "$@" | sha256sum | cut -c1-16; }

# up_to_date NAME STAMP: true when BIN_DIR/NAME exists and BIN_DIR/NAME.stamp holds STAMP.
up_to_date() {
  [[ -x "$BIN_DIR/$1" && -f "$BIN_DIR/$1.stamp" && "$(cat "$BIN_DIR/$1.stamp")" == "$2" ]]
}

# timed NAME CMD...: runs CMD and reports its duration. `go build` is silent for minutes on a cold cache,
# so a heartbeat line every 20 s shows it is alive; the tools' own output streams through as well.
timed() {
  local name=$1; shift
  local start=$SECONDS
  log "building $name ..."
  "$@" &
  local pid=$!
  while ! wait_with_timeout "$pid" 20; do
    log "  ... still building $name ($((SECONDS - start))s)"
  done
  wait "$pid" || { log "building $name FAILED after $((SECONDS - start))s"; return 1; }
  log "built $name in $((SECONDS - start))s"
}

# wait_with_timeout PID SECONDS: true once PID has exited, false if it is still running after SECONDS.
wait_with_timeout() {
  local waited=0
  while kill -0 "$1" 2>/dev/null; do
    ((waited >= $2)) && return 1
    sleep 1
    waited=$((waited + 1))
  done
  return 0
}

build_builder() {
  local stamp="$BUILDER_VERSION"
  if up_to_date builder "$stamp"; then log "builder $stamp is up to date"; return; fi
  timed builder env GOBIN="$BIN_DIR" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION"
  echo "$stamp" >"$BIN_DIR/builder.stamp"
}

build_collector() {
  local manifest="$ROOT/collector-config/builder-config.yaml"
  local stamp
  stamp="$(hash_files "$manifest")"
  if up_to_date otelcol-secretary "$stamp"; then log "otelcol-secretary ($stamp) is up to date"; return; fi
  build_builder
  local out="$BUILD_DIR/otelcol"
  local rendered="$BUILD_DIR/builder-config.yaml"
  # The committed manifest builds into ./_build (for the Dockerfile); here it goes to the cache folder.
  sed "s#^\(\s*output_path:\).*#\1 $out#" "$manifest" >"$rendered"
  timed otelcol-secretary "$BIN_DIR/builder" --config "$rendered"
  install -m 0755 "$out/otelcol-secretary" "$BIN_DIR/otelcol-secretary"
  echo "$stamp" >"$BIN_DIR/otelcol-secretary.stamp"
}

build_jaeger() {
  local stamp
  stamp="$(hash_files "$ROOT/tools/go.mod" "$ROOT/tools/go.sum")"
  if up_to_date jaeger "$stamp"; then log "jaeger ($stamp) is up to date"; return; fi
  timed jaeger bash -c "cd '$ROOT/tools' && go build -o '$BIN_DIR/jaeger.tmp' github.com/jaegertracing/jaeger/cmd/jaeger"
  mv "$BIN_DIR/jaeger.tmp" "$BIN_DIR/jaeger"
  echo "$stamp" >"$BIN_DIR/jaeger.stamp"
}

build_stripe_mock() {
  local stamp="$STRIPE_MOCK_VERSION"
  if up_to_date stripe-mock "$stamp"; then log "stripe-mock $stamp is up to date"; return; fi
  timed stripe-mock env GOBIN="$BIN_DIR" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
  echo "$stamp" >"$BIN_DIR/stripe-mock.stamp"
}

targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(otelcol-secretary jaeger stripe-mock)
for target in "${targets[@]}"; do
  case "$target" in
    builder) build_builder ;;
    otelcol-secretary | collector) build_collector ;;
    jaeger) build_jaeger ;;
    stripe-mock) build_stripe_mock ;;
    *) log "unknown target: $target (builder, otelcol-secretary, jaeger, stripe-mock)"; exit 2 ;;
  esac
done
log "binaries in $BIN_DIR"
