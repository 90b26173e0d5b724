# shellcheck shell=bash
# Sourced by the image builders. An image lives outside the checkout, in
# $KVMCLOUD_CACHE/KIND/NAME-RECIPE (KVMCLOUD_CACHE: /var/cache/kvmcloud unless set), so every
# checkout on this machine, CI's fresh clone too, reuses it; the checkout's own path for it,
# .cache/KIND/NAME, is a symlink to that directory (see scripts/bootstrap.sh).
#   reuse_cached_image OUT RECIPE
# Points OUT at RECIPE's directory and sets IMAGE_DIR to it. Takes that directory's lock (held
# until the caller exits), so that of two callers at once only one builds and the other waits
# and takes the cache; then exits the caller when the cached disk was built by the same recipe
# (the builder writes the recipe file last).

# shellcheck source=scripts/bootstrap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/bootstrap.sh"

reuse_cached_image() {
  local out=$1 recipe=$2
  IMAGE_DIR=$KVMCLOUD_CACHE/$(basename "$(dirname "$out")")/$(basename "$out")-$recipe
  mkdir -p "$IMAGE_DIR"
  touch "$IMAGE_DIR.lock"
  exec 9>>"$IMAGE_DIR.lock"
  flock 9
  # A checkout from before keeps its images in .cache itself: one of this recipe moves over.
  if [ -d "$out" ] && [ ! -L "$out" ] && [ ! -f "$IMAGE_DIR/disk.qcow2" ] &&
    [ "$(cat "$out/recipe" 2>/dev/null)" = "$recipe" ]; then
    find "$out" -mindepth 1 -maxdepth 1 -type f ! -name .lock -exec mv -f -t "$IMAGE_DIR" {} +
  fi
  link_cache_dir "$IMAGE_DIR" "$out"
  prune_cache_siblings "$IMAGE_DIR"
  # Work directories of builds killed a day ago or more (a build takes minutes).
  find "$(dirname "$IMAGE_DIR")" -mindepth 1 -maxdepth 1 -type d -name '.build-*' -mmin +1440 \
    -exec rm -rf {} + 2>/dev/null || true
  if [ -f "$IMAGE_DIR/disk.qcow2" ] && [ "$(cat "$IMAGE_DIR/recipe" 2>/dev/null)" = "$recipe" ]; then
    exit 0
  fi
  rm -f "$IMAGE_DIR/recipe"
}
