#!/usr/bin/env bash
# One-time setup, the same for a laptop, the devcontainer and CI: system packages (when root and apt exist),
# datasets, build. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
if command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; }; then
  need=()
  for p in dataset-fashion-mnist chromium python3-nbformat; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
dotnet build Research.sln -nologo -clp:ErrorsOnly
