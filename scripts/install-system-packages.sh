#!/usr/bin/env bash
# Installs the Debian packages the real stack and the integration tests run: Prometheus (+ promtool),
# Alertmanager (+ amtool) and redis-server. Only what is missing is installed, and `apt-get update` runs at
# most once, so a second run on a prepared machine is a no-op that takes well under a second.
# Runs as root (CI does); otherwise it uses sudo when available.
set -euo pipefail

# package -> a binary it ships; the binary's presence is the cheap "already installed" check.
declare -A PACKAGES=(
  [prometheus]=/usr/bin/prometheus
  [prometheus-alertmanager]=/usr/bin/prometheus-alertmanager
  [redis-server]=/usr/bin/redis-server
)

missing=()
for pkg in "${!PACKAGES[@]}"; do
  [[ -x "${PACKAGES[$pkg]}" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "[system-packages] all present: ${!PACKAGES[*]}"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "[system-packages] need root to install: ${missing[*]}" >&2; exit 1
  fi
fi

echo "[system-packages] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends keeps the prometheus package from dragging in node-exporter and friends;
# policy-rc.d stops Debian's postinst from starting system-wide daemons on the default ports, which would
# clash with the stack (and with other test runs) on a machine without systemd.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null
  $SUDO chmod +x $policy
  created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && $SUDO rm -f $policy' EXIT
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "[system-packages] done"
