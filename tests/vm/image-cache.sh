# shellcheck shell=bash
# Sourced by the image builders. Takes the lock of the output directory, so that of two
# callers at once only one builds and the other waits and takes the cache; then exits the
# caller when the cached disk was built by the same recipe.
#   reuse_cached_image OUT RECIPE
reuse_cached_image() {
  local out=$1 recipe=$2
  mkdir -p "$out"
  exec 9>"$out/.lock"
  flock 9
  if [ -f "$out/disk.qcow2" ] && [ "$(cat "$out/recipe" 2>/dev/null)" = "$recipe" ]; then
    exit 0
  fi
  rm -f "$out/recipe"
}
