#!/usr/bin/env bash
# A Docker engine holding the WireMock image, for the length of one command (`make test` runs pytest so).
#
#   scripts/docker-engine.sh CMD [ARGS...]   provide the engine and image, run CMD, exit with its code
#   scripts/docker-engine.sh --image         only build the image into the engine that answers now
#
# The engine: the one that answers is used and left alone. Where none does, and we are root on
# Debian, docker.io is installed if missing and `dockerd` started in a session of its own (Ctrl-C at
# the terminal reaches pytest, not the engine), logging to .cache/docker/dockerd.log; it is stopped
# when CMD ends, however it ends (exit, Ctrl-C; SIGTERM or SIGHUP to this script reach CMD as a Ctrl-C).
# Several of these scripts at once share one engine: each, and its CMD, holds a shared lock on
# $SIT_DOCKER_RUN/users.lock while CMD runs, and the last one out stops it. An engine left by a
# `kill -9` of this script is adopted, and stopped, by the next run.
#
# The image: wiremock/wiremock:VERSION (the harness's WIREMOCK_IMAGE), built only if the engine lacks
# it, as no registry answers here: a Debian bookworm rootfs with Java 17 (debootstrap from the mirror
# apt uses; kept as .cache/docker/bookworm-jre17.tar, so a rebuild takes seconds) plus the pinned
# WireMock JAR npm installed, imported under the official name. The engine's image store is the cache.
#
# Where there can be no engine or image (not root, no apt-get, no privileges for dockerd), one line
# says why, CMD runs all the same, and SIT_DOCKER_UNAVAILABLE carries that line to the tests that skip.
# SIT_DOCKER=off provides nothing (those tests skip saying so).
set -uo pipefail

project=$(cd "$(dirname "$0")/.." && pwd)
cache=$project/.cache/docker
rundir=${SIT_DOCKER_RUN:-/run/sit-harness}  # the engine is the machine's: so are its locks
python=${SIT_PYTHON:-$project/.venv/bin/python}
rootfs=$project/.cache/docker/bookworm-jre17.tar
started=""   # the pid of the dockerd this script started
staging=""   # what a build writes, removed if it is cut short
reason=""

say() { echo "docker-engine: $*" >&2; }
fail() { reason=$*; return 1; }  # why there is no engine or image: one line, for the tests that skip

answers() { timeout 10 docker version >/dev/null 2>&1; }

# A process that has not exited (a zombie has), and is a dockerd: a recorded pid is never trusted alone.
is_dockerd() {
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ "$state" != Z ] && [ "$(basename "$(readlink "/proc/$1/exe" 2>/dev/null)")" = dockerd ]
}

# The dockerd one of these scripts started (now or before a kill -9), if it still runs.
ours() {
  local pid
  pid=$(cat "$rundir/dockerd.pid" 2>/dev/null) || return 1
  is_dockerd "$pid" && echo "$pid"
}

install() {
  command -v apt-get >/dev/null || fail "no apt-get to install $* with" || return 1
  say "installing $*"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } \
    >"$cache/apt.log" 2>&1 || fail "apt-get install $* failed (see $cache/apt.log)"
}

start_engine() {
  [ -z "${DOCKER_HOST:-}" ] || fail "DOCKER_HOST=$DOCKER_HOST does not answer (no engine is started elsewhere)" || return 1
  mkdir -p "$cache" || fail "cannot create $cache" || return 1
  command -v dockerd >/dev/null || install docker.io || return 1
  say "starting dockerd (log: $cache/dockerd.log)"
  local t0=$SECONDS
  # Its own session: Ctrl-C at the terminal must not stop it under a test still using it. The locks stay here.
  setsid dockerd --host unix:///var/run/docker.sock >"$cache/dockerd.log" 2>&1 </dev/null 8>&- 9>&- &
  started=$!
  echo "$started" >"$rundir/dockerd.pid"
  while ! answers; do
    if ! is_dockerd "$started" || [ $((SECONDS - t0)) -ge 60 ]; then
      stop_engine "$started"
      fail "dockerd did not start ($(grep -v '^\s*$' "$cache/dockerd.log" | tail -1 | cut -c1-160)); see $cache/dockerd.log"
      return 1
    fi
    sleep 0.2
  done
  say "dockerd answers after $((SECONDS - t0)) s"
}

stop_engine() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 300; i++)); do is_dockerd "$pid" || break; sleep 0.1; done  # it stops its containers first
  is_dockerd "$pid" && kill -KILL "$pid" 2>/dev/null
  [ "$pid" = "$started" ] && wait "$pid" 2>/dev/null
  rm -f "$rundir/dockerd.pid"
}

# Remove a build folder. A debootstrap cut short (kill -9) may leave the machine's /dev, /proc or /sys
# mounted inside it: those are unmounted first, deepest first, and rm never crosses into another file system.
remove() {
  local dir=$1 mnt
  [ -e "$dir" ] || return 0
  awk -v d="$(realpath "$dir")/" 'index($2 "/", d) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r mnt; do umount -l "$mnt" 2>/dev/null; done
  rm -rf --one-file-system "$dir"
}

mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "${uri:-http://deb.debian.org/debian}"
}

# Debian bookworm with Java 17, as a tar kept in the project's cache.
rootfs_tar() {
  [ -s "$rootfs" ] && return 0
  [ "$(id -u)" -eq 0 ] || fail "building it needs root (debootstrap)" || return 1
  command -v debootstrap >/dev/null || install debootstrap || return 1
  staging=$cache/rootfs.partial
  remove "$staging"
  say "debootstrap bookworm with openjdk-17-jre-headless from $(mirror) (log: $cache/debootstrap.log)"
  debootstrap --variant=minbase --include=openjdk-17-jre-headless,ca-certificates bookworm "$staging" "$(mirror)" \
    >"$cache/debootstrap.log" 2>&1 || fail "debootstrap failed (see $cache/debootstrap.log)" || return 1
  rm -f "$staging"/var/cache/apt/archives/*.deb
  { tar -C "$staging" -cf "$rootfs.partial" . && mv "$rootfs.partial" "$rootfs"; } || fail "could not write $rootfs" ||
    return 1
  remove "$staging"
  staging=""
}

# The rootfs plus the pinned JAR, imported under the official name (`docker import` takes one tar).
build_image() {
  local image=$1 jar t0=$SECONDS
  jar=$project/node_modules/wiremock/build/wiremock-standalone-${image##*:}.jar
  [ -f "$jar" ] || fail "$jar is missing (run make setup)" || return 1
  mkdir -p "$cache" || fail "cannot create $cache" || return 1
  rootfs_tar || return 1
  staging=$cache/image.partial
  remove "$staging" && mkdir -p "$staging/var/wiremock/lib" "$staging/home/wiremock" &&
    cp "$jar" "$staging/var/wiremock/lib/wiremock-standalone.jar" && cp "$rootfs" "$staging.tar" &&
    tar -C "$staging" -rf "$staging.tar" ./var/wiremock/lib/wiremock-standalone.jar ./home/wiremock ||
    fail "could not add the JAR to a copy of $rootfs" || return 1
  say "importing $image"
  docker import -c 'WORKDIR /home/wiremock' -c 'EXPOSE 8080' \
    -c 'ENTRYPOINT ["java","-jar","/var/wiremock/lib/wiremock-standalone.jar"]' "$staging.tar" "$image" >/dev/null ||
    fail "docker import of $image failed" || return 1
  remove "$staging"; rm -f "$staging.tar"
  staging=""
  say "built $image in $((SECONDS - t0)) s"
}

provide_image() {
  local image
  image=$("$python" -c 'from harness.stubs.server import WIREMOCK_IMAGE; print(WIREMOCK_IMAGE)' 2>/dev/null) ||
    fail "cannot read the harness's image name (run make setup)" || return 1
  timeout 10 docker image inspect "$image" >/dev/null 2>&1 && return 0
  build_image "$image" || fail "the engine has no image $image and $reason"
}

# The engine, then the image; on failure ``reason`` says why.
provide() {
  if [ "$(id -u)" -ne 0 ]; then
    answers || fail "no Docker engine answers, and starting one needs root" || return 1
  else
    mkdir -p "$rundir" && exec 8>"$rundir/start.lock" 9>"$rundir/users.lock" ||
      fail "cannot open the locks in $rundir" || return 1
    flock 8 && flock -s 9  # one script at a time starts or builds; every one using the engine holds 9
    if ! answers; then
      start_engine || return 1
    elif [ -n "$(ours)" ]; then
      say "using the dockerd another run of this script started"
    fi
  fi
  provide_image
}

# On the way out: the last user of an engine one of these scripts started stops it.
finish() {
  local rc=$? pid
  trap '' INT TERM HUP
  [ -n "$staging" ] && remove "$staging" && rm -f "$staging.tar" "$rootfs.partial"
  if { true >&8; } 2>/dev/null; then
    flock 8
    if pid=$(ours) && flock -x -n 9; then
      say "stopping the dockerd started for the tests"
      stop_engine "$pid"
    fi
  fi
  exit $rc
}

trap finish EXIT
trap 'exit 130' INT  # while the engine or image is being provided
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ "${1:-}" = --image ]; then
  answers || { say "no Docker engine answers"; exit 1; }
  provide_image || { say "$reason"; exit 1; }
  exit 0
fi
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...] | --image" >&2; exit 2; }

if [ "${SIT_DOCKER:-auto}" = off ]; then
  export SIT_DOCKER_UNAVAILABLE="SIT_DOCKER=off: no Docker engine provided"
elif ! provide; then
  say "$reason; the container backend's tests will be skipped"
  export SIT_DOCKER_UNAVAILABLE=$reason
fi
{ true >&8; } 2>/dev/null && flock -u 8

# CMD in the background, so that a signal to this script is acted on while CMD runs. Ctrl-C at the terminal
# reaches CMD and its children as it would have (a background job's SIGINT is given back its default);
# SIGTERM or SIGHUP to this script is passed on as that Ctrl-C would be, to CMD and its children.
# Its stdin is this script's (a background job's would be /dev/null): `pytest --pdb` still reads the terminal.
exec 7<&0
( trap - INT QUIT; exec "$@" <&7 7<&- 8>&- ) &
child=$!
interrupt() { pkill -INT -P "$child" 2>/dev/null; kill -INT "$child" 2>/dev/null; }
trap : INT
trap interrupt TERM HUP
while :; do
  wait "$child"
  rc=$?
  kill -0 "$child" 2>/dev/null || break  # wait returned for a signal, not because CMD ended
done
exit $rc
