#!/usr/bin/env bash
# Prepares a self-contained copy of the project for one target, as a user of that platform would
# have it: the sources and tests (git ls-files), dist/ (compiled on the host; JS is portable), the
# target's node_modules (npm ci --os/--cpu picks the target's native packages: rolldown, lightningcss)
# and the cross-built addon as a prebuild: prebuilds/<platform>-<arch>/<name> (no build/ directory,
# so node-gyp-build loads the prebuild exactly as an installed package would).
#   stage.sh <target>   → .cache/cross/stage/<target>
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

target="${1:?usage: stage.sh <target>}"
os="${target%-*}"; cpu="${target#*-}"
stage="$CACHE/stage/$target"
addon="$OUT/$target/jitmem.node"
[ -f "$addon" ] || die "$addon missing: run build.sh $target first"
[ -d "$ROOT/dist" ] || die "dist/ missing: run tsc first"
mkdir -p "$stage"

# Everything but node_modules is refreshed on every run.
find "$stage" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --no-recursion 2>/dev/null) | tar -xf - -C "$stage"
cp -r "$ROOT/dist" "$stage/dist"
rm -rf "$stage/build"

# node_modules for the target platform, reinstalled only when the lockfile changes.
stamp="$(sha256sum "$ROOT/package-lock.json" | cut -c1-16)-$os-$cpu"
if [ "$(cat "$stage/node_modules/.jitmem-stage" 2>/dev/null)" != "$stamp" ]; then
  log "npm ci for $os/$cpu into $stage"
  libc=(); [ "$os" = linux ] && libc=(--libc=glibc)
  (cd "$stage" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --os="$os" --cpu="$cpu" "${libc[@]}" >&2)
  echo "$stamp" > "$stage/node_modules/.jitmem-stage"
fi

dir="$stage/prebuilds/$target"
mkdir -p "$dir"
cp "$addon" "$dir/$(prebuild_name "$target")"
log "staged $target at $stage"
