#!/usr/bin/env bash
# The collection's docs site: `antsibull-docs lint-collection-docs` on the collection (plugin
# and role docs, and the guides in docs/docsite), then the site built with antsibull-docs and
# Sphinx from the `antsibull-docs sphinx-init` layout in docs/site, into
# .cache/docs-site/build/html, then every page checked in headless Chromium
# (tests/docs/check_site.py).
#
# Usage: scripts/docs-site.sh        (from an active virtualenv with requirements.txt installed;
#                                     Debian's chromium for the last step)
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
site=$repo_root/.cache/docs-site
collection=$repo_root/.collections/ansible_collections/kvmcloud/hypervisor
# The checkout as installed (scripts/bootstrap.sh links it there); the `ansible` package brings the rest.
# A checkout that already sits at an ansible_collections/kvmcloud/hypervisor path is used where it
# is: through the link, ansible-doc would list none of its roles.
case $repo_root in
*/ansible_collections/kvmcloud/hypervisor) export ANSIBLE_COLLECTIONS_PATH=${repo_root%/ansible_collections/*} ;;
*) export ANSIBLE_COLLECTIONS_PATH=$repo_root/.collections ;;
esac

echo "== antsibull-docs lint-collection-docs --plugin-docs"
antsibull-docs lint-collection-docs --plugin-docs "$collection"

echo "== the docs site, built into $site/build/html"
rm -rf "$site" && mkdir -p "$site"
cp -a "$repo_root/docs/site/." "$site/"
# Sphinx runs with -W: its exit status is the verdict. Its closing line is colored under CI=true
# and translated under a non-English locale, so it is shown, never matched.
NO_COLOR=1 "$site/build.sh" >"$site/build.log" 2>&1 || { cat "$site/build.log"; exit 1; }
echo "built: $(find "$site/build/html" -name '*.html' | wc -l) pages"

echo "== the pages, rendered in headless Chromium"
python "$repo_root/tests/docs/check_site.py" "$site/build/html" "$repo_root"
