#!/usr/bin/env bash
# The image users run, built from the Dockerfile and run, without a Docker engine: podman and
# buildah with chroot isolation (this VM's cgroups refuse the OCI runtimes), on a stand-in for
# node:20-bookworm-slim made here (no registry image can be pulled on these machines).
#
#   scripts/container-check.sh        as root, from a git checkout; called by .ci/run
#
# It builds HEAD (not the working tree) and checks what a user of the image relies on:
# compose.yaml parses and sets only settings the service knows; the image runs as a non-root user,
# refuses to start without DATABASE_URL or a good key and says why, migrates an empty database,
# makes a user with its own CLI, sends the reset e-mail over SMTP, serves the page the link opens,
# keeps /metrics off the API port, and stops on SIGTERM within docker's grace period. It prints
# the image's size and its start-up time. It needs the PostgreSQL at 127.0.0.1:5432 (user postgres,
# no password) and works in a database of its own, dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
STARTED=$SECONDS

BASE=docker.io/library/node:20-bookworm-slim
IMAGE=localhost/dundie-check:latest
SUITE=bookworm
# What makes the cached stand-in stale: a new Node on the machine, or a new recipe (bump it).
STAND_IN="recipe-1 node-$(node --version)"
SERVER_URL=${CONTAINER_CHECK_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}

fail() {
  echo "container-check FAILED: $*" >&2
  exit 1
}

work=$(mktemp -d /tmp/dundie-container-check.XXXXXX)
container=""
cleanup() {
  if [ -n "$container" ]; then buildah rm "$container" >/dev/null 2>&1 || true; fi
  # debootstrap, stopped half-way, may leave /proc and /sys mounted in the rootfs: never rm those.
  findmnt -rn -o TARGET | grep "^$work/" | sort -r | xargs -r umount -l || true
  rm -rf "$work"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "run it as root (debootstrap, and podman's chroot isolation, need it)"
git rev-parse --verify -q HEAD >/dev/null || fail "not a git checkout: the image is built from HEAD"

echo "== podman, buildah and debootstrap (Debian's packages)"
missing=()
for tool in podman buildah debootstrap; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
PATH=$PATH:/usr/sbin
podman --version

# The machine's own Debian mirror, as apt knows it: the first source (deb822 .sources, or a
# one-line .list) that serves the suite. Never a host name written here.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      function flush() { if (deb && has && uri != "" && enabled) { print uri; found = 1; exit } }
      /^[[:space:]]*$/ { flush(); uri = ""; has = 0; deb = 0; enabled = 1; next }
      BEGIN { enabled = 1 }
      /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
      /^Enabled:[[:space:]]*no/ { enabled = 0 }
      END { if (!found) flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2 }'
  done
}

echo "== compose.yaml: parses, and sets only settings the service knows (it cannot run here)"
yaml_python=""
for python in python3 /usr/bin/python3; do
  "$python" -c 'import yaml' 2>/dev/null && { yaml_python=$python; break; }
done
if [ -z "$yaml_python" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml >/dev/null
  yaml_python=/usr/bin/python3
fi
"$yaml_python" -c 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)' <compose.yaml >"$work/compose.json" ||
  fail "compose.yaml is not valid YAML"
npx tsx test/e2e/composeFile.ts <"$work/compose.json" || fail "compose.yaml sets what the service would refuse (above)"

echo "== base image: a stand-in for $BASE"
cached=""
if podman image exists "$BASE"; then
  cached=$(podman image inspect --format '{{index .Labels "dundie.stand-in"}}' "$BASE")
fi
if podman image exists "$BASE" && [ -z "$cached" ]; then
  echo "using $BASE as it is (not a stand-in of ours: a real one)"
elif [ "$cached" = "$STAND_IN" ]; then
  echo "cached from an earlier run ($STAND_IN)"
else
  mirror=$(debian_mirror | awk 'NR == 1')
  [ -n "$mirror" ] || fail "no apt source for Debian $SUITE in /etc/apt/sources.list.d/ or /etc/apt/sources.list"
  echo "debootstrap --variant=minbase $SUITE from the machine's apt source"
  rootfs=$work/rootfs
  t0=$SECONDS
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; fail "debootstrap failed (its log above)"; }
  # What debian:bookworm-slim leaves out: documentation, apt's lists and downloaded packages.
  rm -rf "$rootfs"/usr/share/{doc,man,info}/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
  # As the official node image: Node and npm in /usr/local, a `node` user with uid and gid 1000.
  install -D -m 755 "$(readlink -f "$(command -v node)")" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$(npm root -g)/npm" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$rootfs" /usr/local/bin/node --version >/dev/null || fail "the copied node does not run in the stand-in"
  tar -C "$rootfs" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL dundie.stand-in=\"$STAND_IN\"" \
    --change 'CMD ["node"]' - "$BASE" >/dev/null
  rm -rf "$rootfs"
  echo "built in $((SECONDS - t0)) s ($STAND_IN)"
fi

echo "== podman build of HEAD ($(git rev-parse --short HEAD)), the Dockerfile as Docker users build it"
[ -z "$(git status --porcelain)" ] || echo "note: uncommitted changes are not in the image (it is built from HEAD)"
mkdir "$work/src"
git archive --format=tar HEAD | tar -x -C "$work/src"
# The machine's CA bundle for the build's npm ci only (mounted, not copied into a layer).
printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$work/npmrc"
previous=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
t0=$SECONDS
podman build --isolation=chroot --pull=never --network=host \
  -v /etc/ssl/certs:/etc/ssl/certs:ro -v "$work/npmrc:/usr/local/etc/npmrc:ro" \
  --format docker --layers=false -t "$IMAGE" "$work/src" >"$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log" >&2; fail "podman build failed (the end of its output above)"; }
echo "built in $((SECONDS - t0)) s"
# The last run's image, untagged by this one: removed, so runs do not pile up (the base stays).
if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]; then
  podman rmi "$previous" >/dev/null 2>&1 || true
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect --format '{{.Size}}' "$BASE")
echo "image size: $((size / 1000000)) MB ($((base_size / 1000000)) MB of it the base)"

echo "== the image, run by buildah as its own user against PostgreSQL and an SMTP sink"
pg_isready -q -h 127.0.0.1 -p 5432 || fail "no PostgreSQL at 127.0.0.1:5432"
container=$(buildah from --pull=never --name "dundie-check-$$" "$IMAGE")
DATABASE_URL=$SERVER_URL npx tsx test/e2e/image.ts --container "$container" | tee "$work/check.log" ||
  fail "the image does not do what its users rely on (above)"
startup_ms=$(sed -n 's/^image: STARTUP_MS=\([0-9]*\).*/\1/p' "$work/check.log")
node_startup_ms=$(sed -n 's/^image: .*NODE_STARTUP_MS=\([0-9]*\).*/\1/p' "$work/check.log")

echo "image: $((size / 1000000)) MB; start-up to /health $startup_ms ms ($node_startup_ms ms of it node's own);" \
  "the check took $((SECONDS - STARTED)) s"
