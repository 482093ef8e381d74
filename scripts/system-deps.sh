#!/usr/bin/env bash
# Makes sure the system packages persd needs are present.
# As root, missing ones are installed with apt-get; otherwise we say exactly what to install.
# Usage: scripts/system-deps.sh [bwrap] [chromium]
set -euo pipefail

declare -A package_of=( [bwrap]=bubblewrap [chromium]=chromium )
missing=()
for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "persd: installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "persd: missing system packages: ${missing[*]}" >&2
    echo "persd: install them with:  sudo apt-get install ${missing[*]}" >&2
    if [[ " ${missing[*]} " == *" bubblewrap "* ]]; then
        echo "persd: without bubblewrap the sandbox falls back to weaker isolation and says so." >&2
    fi
    exit 0
fi
