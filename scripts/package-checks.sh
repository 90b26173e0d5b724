#!/usr/bin/env bash
# Checks on what we publish, run on the built tarball as Galaxy and ansible-builder would see it:
#   changelog   antsibull-changelog lint (fragments and changelog.yaml); CHANGELOG.rst regenerated
#               in a scratch copy must equal the committed one; galaxy.yml's version must agree
#               with the changelog and with the tarball's MANIFEST.json.
#   importer    galaxy-importer, the code Galaxy and Automation Hub run on an upload: metadata,
#               FILES.json checksums, every plugin's documentation through ansible-doc, and
#               ansible-lint's production profile. Fails on an importer error, not on its warnings.
#   ee          ansible-builder create on execution-environment.yml with this tarball in the
#               context; the context must hold the tarball, the collections and system packages,
#               and ansible-core as pinned in requirements.txt. Its galaxy stage is then replayed
#               offline against the collections of the `ansible` package (the versions must fall in
#               galaxy.yml's ranges) and its dependency introspection run on the result.
# Each check runs even when an earlier one failed, its output under a heading; the last lines
# say PASS or FAIL per check. No container image is pulled or built: no registry is reachable.
#
# Usage: scripts/package-checks.sh TARBALL     (from `ansible-galaxy collection build`)
# Needs an active virtualenv with requirements.txt installed (antsibull-changelog,
# galaxy-importer, ansible-builder, ansible-core, ansible-lint).
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  echo "usage: $0 TARBALL   (a kvmcloud-hypervisor-VERSION.tar.gz built from this checkout)" >&2
  exit 2
fi
tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
repo_root=$(cd "$(dirname "$0")/.." && pwd)
ee_context=$repo_root/.cache/ee-context

# The tarball must stand on its own: no ansible.cfg or collections path of the checkout (which
# links the checkout in as a collection) may leak into what the tools below see.
unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

heading() { printf '\n==== %s\n' "$*"; }
fail() {
  echo "FAILED: $*"
  return 1
}

# A top-level key of a YAML file.
yaml_value() {
  python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
# The version in a collection's MANIFEST.json, read from stdin.
manifest_version() {
  python -c 'import json, sys; print(json.load(sys.stdin)["collection_info"]["version"])'
}

check_changelog() {
  local galaxy_version tarball_version fragments copy=$work/changelog

  heading "antsibull-changelog lint: fragments and changelogs/changelog.yaml"
  (cd "$repo_root" && antsibull-changelog lint) || fail "a changelog fragment is invalid" || return 1
  (cd "$repo_root" && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml) ||
    fail "changelogs/changelog.yaml is invalid" || return 1

  # generate rewrites CHANGELOG.rst from changelog.yaml (released versions only; fragments wait
  # for `antsibull-changelog release`), so it runs on a copy and the result is compared.
  heading "CHANGELOG.rst is what antsibull-changelog generate makes of changelogs/changelog.yaml"
  mkdir -p "$copy" && cp -a "$repo_root/galaxy.yml" "$repo_root/CHANGELOG.rst" "$repo_root/changelogs" "$copy/" ||
    return 1
  (cd "$copy" && antsibull-changelog generate) || fail "antsibull-changelog generate failed" || return 1
  if ! diff -u "$repo_root/CHANGELOG.rst" "$copy/CHANGELOG.rst"; then
    fail "CHANGELOG.rst is stale: run 'antsibull-changelog generate' (or release) and commit the result"
    return 1
  fi
  echo "CHANGELOG.rst is up to date"

  # With keep_fragments false, a release folds its fragments into changelog.yaml and deletes
  # them, so a fragment present now describes a change after the newest release. A tarball
  # whose version is already released must not carry such changes: Galaxy takes each version
  # once, and its changelog would not mention them. So galaxy.yml names the coming release
  # while fragments wait, and `antsibull-changelog release --version <it>` moves them in.
  heading "galaxy.yml's version, the changelog's releases and the tarball agree"
  galaxy_version=$(yaml_value "$repo_root/galaxy.yml" version) || return 1
  tarball_version=$(tar -xzOf "$tarball" MANIFEST.json | manifest_version) ||
    fail "no MANIFEST.json in $tarball" || return 1
  if [ "$tarball_version" != "$galaxy_version" ]; then
    fail "the tarball is version $tarball_version, galaxy.yml says $galaxy_version: rebuild it"
    return 1
  fi
  fragments=$(find "$repo_root/changelogs/fragments" -maxdepth 1 -type f \
    \( -name '*.yml' -o -name '*.yaml' \) -printf '%f ' 2>/dev/null || true)
  python - "$repo_root/changelogs/changelog.yaml" "$galaxy_version" "$fragments" <<'EOF' || return 1
import sys, yaml
from packaging.version import Version
changelog, version, fragments = sys.argv[1], sys.argv[2], sys.argv[3].split()
with open(changelog) as f:
    releases = sorted((yaml.safe_load(f).get("releases") or {}), key=Version)
newest = releases[-1] if releases else None
if newest and Version(version) < Version(newest):
    sys.exit(f"FAILED: galaxy.yml's version {version} is older than the newest release in "
             f"changelogs/changelog.yaml, {newest}")
if version in releases and fragments:
    sys.exit(f"FAILED: galaxy.yml's version {version} is released already, but changelogs/fragments "
             f"has changes after it ({', '.join(fragments)}): set galaxy.yml's version to the "
             f"coming release")
if version in releases:
    print(f"version {version}: released in changelogs/changelog.yaml, no pending fragments")
else:
    print(f"version {version}: not released yet (newest release: {newest}); "
          f"pending fragments: {', '.join(fragments) or 'none'}")
EOF
}

check_importer() {
  local dir=$work/importer errors

  heading "galaxy-importer $(python -c 'import importlib.metadata as m; print(m.version("galaxy-importer"))') on $(basename "$tarball")"
  mkdir -p "$dir/ansible-tmp"
  # The importer's defaults, with two changes. run_ansible_test is off: the importer runs
  # `ansible-test sanity` in a container image pulled from a registry, which our machines cannot
  # reach; scripts/test.sh runs ansible-test sanity and units itself (scripts/ansible-test.sh).
  # check_required_tags is on, as for certified collections (a tag from Automation Hub's list).
  # run_flake8 stays off: ansible-test's pep8 and pylint tests, with their own settings, judge
  # the Python code (flake8 --isolated would add E741 and W503 warnings that pep8 ignores).
  cat >"$dir/galaxy-importer.cfg" <<EOF
[galaxy-importer]
run_ansible_test = False
run_ansible_doc = True
run_ansible_lint = True
offline_ansible_lint = True
run_flake8 = False
check_changelog = True
check_required_tags = True
require_v1_or_greater = False
log_level_main = INFO
ansible_local_tmp = $dir/ansible-tmp
tmp_root_dir = $dir
EOF
  # The importer writes importer_result.json to its working directory; GALAXY_IMPORTER_* variables
  # of the caller would override the file.
  if ! (cd "$dir" && unset "${!GALAXY_IMPORTER_@}" &&
    GALAXY_IMPORTER_CONFIG=$dir/galaxy-importer.cfg python -m galaxy_importer.main "$tarball") \
    >"$dir/output.txt" 2>&1; then
    cat "$dir/output.txt"
    fail "galaxy-importer exited non-zero"
    return 1
  fi
  cat "$dir/output.txt"
  # The importer logs problems that do not stop it (ansible-doc failing on a plugin, for one) as
  # ERROR lines and still exits 0. ansible-lint's own errors (it could not run or parse) reach the
  # log as 'WARNING: ERROR ...' or 'WARNING: CRITICAL ...'; those count as errors too.
  errors=$(grep -E '^(ERROR|CRITICAL):|^WARNING: (ERROR|CRITICAL)\b' "$dir/output.txt" || true)
  if [ -n "$errors" ]; then
    fail "galaxy-importer reported errors:"$'\n'"$errors"
    return 1
  fi
  grep -q '^Importer processing completed successfully' "$dir/output.txt" ||
    fail "galaxy-importer did not report a completed import" || return 1
  [ -s "$dir/importer_result.json" ] || fail "galaxy-importer wrote no importer_result.json" || return 1
  echo "galaxy-importer: no errors, $(grep -c '^WARNING:' "$dir/output.txt" || true) warning(s)"
}

check_ee() {
  local definition=$work/ee-definition collections=$work/ee-collections core_pin version
  local -a builder_output

  heading "ansible-builder $(ansible-builder --version) create: execution-environment.yml into .cache/ee-context"
  # A copy of the definition with the tarball under the fixed name it expects (see its header).
  mkdir -p "$definition" &&
    cp -a "$repo_root/execution-environment.yml" "$repo_root/execution-environment" "$definition/" &&
    cp "$tarball" "$definition/execution-environment/kvmcloud-hypervisor.tar.gz" || return 1
  rm -rf "$ee_context"
  mapfile -t builder_output < <(ansible-builder create -f "$definition/execution-environment.yml" \
    -c "$ee_context" --output-filename Containerfile -v 2 2>&1; echo "exit $?")
  printf '%s\n' "${builder_output[@]:0:${#builder_output[@]}-1}"
  [ "${builder_output[-1]}" = "exit 0" ] || fail "ansible-builder create failed" || return 1
  # An additional_build_files source that matches nothing is only logged (no level in the line).
  if printf '%s\n' "${builder_output[@]}" | grep -qiE 'warning|no matches for|does not exist'; then
    fail "ansible-builder create warned (see above)"
    return 1
  fi

  heading "the build context has what the image needs"
  core_pin=$(sed -n 's/^ansible-core==\([^ ]*\).*/\1/p' "$repo_root/requirements.txt")
  [ -n "$core_pin" ] || fail "no ansible-core==VERSION line in requirements.txt" || return 1
  [ -f "$ee_context/Containerfile" ] || fail "no Containerfile in $ee_context" || return 1
  grep -q "^ARG ANSIBLE_INSTALL_REFS=\"ansible-core==$core_pin " "$ee_context/Containerfile" ||
    fail "the EE does not install ansible-core==$core_pin, the version requirements.txt pins" || return 1
  grep -q "pip install --no-cache-dir ansible==$(sed -n 's/^ansible==//p' "$repo_root/requirements.txt")\$" \
    "$ee_context/Containerfile" ||
    fail "the EE's ansible bundle (its collections) differs from requirements.txt's ansible pin" || return 1
  grep -q 'ansible-galaxy collection install .*-r requirements.yml' "$ee_context/Containerfile" ||
    fail "the Containerfile installs no collections" || return 1
  cmp "$tarball" "$ee_context/_build/collections/kvmcloud-hypervisor.tar.gz" ||
    fail "the tarball is not in the context as _build/collections/kvmcloud-hypervisor.tar.gz" || return 1
  grep -q 'name: collections/kvmcloud-hypervisor.tar.gz' "$ee_context/_build/requirements.yml" ||
    fail "_build/requirements.yml does not install the collection from its tarball" || return 1
  grep -q '^openssh-clients' "$ee_context/_build/bindep.txt" ||
    fail "_build/bindep.txt lacks openssh-clients (the ssh connection)" || return 1
  echo "Containerfile (ansible-core==$core_pin), _build/requirements.yml," \
    "_build/collections/kvmcloud-hypervisor.tar.gz, _build/bindep.txt: present"

  # The image's galaxy stage, replayed here: `--offline` takes the collections already on
  # sys.path (the `ansible` package's), so the versions requirements.yml pins must be those,
  # and the collection's dependency ranges in galaxy.yml must accept them.
  heading "the galaxy stage, offline: ansible-galaxy collection install -r _build/requirements.yml"
  mkdir -p "$collections"
  (cd "$ee_context/_build" && ANSIBLE_COLLECTIONS_PATH=$collections ANSIBLE_GALAXY_DISABLE_GPG_VERIFY=1 \
    ansible-galaxy collection install --offline -r requirements.yml --collections-path "$collections") ||
    fail "the EE's collections do not install together (pins vs. galaxy.yml's dependency ranges?)" ||
    return 1
  version=$(manifest_version <"$collections/ansible_collections/kvmcloud/hypervisor/MANIFEST.json") ||
    fail "kvmcloud.hypervisor is not installed" || return 1
  echo "kvmcloud.hypervisor $version installed from the context"

  # The builder stage asks every installed collection for its Python and system packages. Without
  # meta/execution-environment.yml, ansible-builder would take a requirements.txt or bindep.txt
  # at the collection's root for them.
  heading "the builder stage's introspection of the installed collection"
  tar -tzf "$tarball" meta/execution-environment.yml >/dev/null 2>&1 ||
    fail "the tarball has no meta/execution-environment.yml" || return 1
  python "$ee_context/_build/scripts/introspect.py" introspect \
    --user-bindep="$ee_context/_build/bindep.txt" "$collections" ||
    fail "ansible-builder's introspection failed" || return 1
}

results=()
for check in changelog importer ee; do
  start=$SECONDS
  if "check_$check"; then status=PASS; else status=FAIL; fi
  results+=("$status  package check: $check ($((SECONDS - start))s)")
done

echo
printf '%s\n' "${results[@]}"
! printf '%s\n' "${results[@]}" | grep -q '^FAIL'
