#!/usr/bin/env bash
# Run `ansible-test sanity` and `ansible-test units` for the collection's
# modules. ansible-test needs the collection under
# .../ansible_collections/<namespace>/<name>, so a copy is made in a temporary tree.
#
# Usage: scripts/ansible-test.sh [REPO_ROOT]
# Needs an active virtualenv with ansible-core and pytest (the venv's python is used).
set -euo pipefail

repo_root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
python_bin=$(command -v python)
python_version=$("$python_bin" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target="$work/ansible_collections/kvmcloud/hypervisor"
mkdir -p "$target"

# git-ignored caches and artifacts would be sanity-tested too; leave them out.
tar -C "$repo_root" \
    --exclude=./.git --exclude=./.venv --exclude=./.cache --exclude=./.collections --exclude=./reports \
    --exclude='*.tar.gz' --exclude=__pycache__ --exclude=.pytest_cache \
    -cf - . | tar -C "$target" -xf -

cd "$target"
# ansible-test skips files git does not track; a throw-away repository makes it see the copy.
git init -q . && git add -A && git -c user.name=ansible-test -c user.email=ansible-test@localhost commit -qm snapshot

# Sanity tests run in ansible-test's own virtualenvs, bootstrapped by a get-pip
# script from ci-files.testing.ansible.com. Where that host is unreachable, a
# stand-in using the interpreter's bundled ensurepip, then PyPI, does the job.
pip_version=$("$python_bin" - <<'PY'
import re, pathlib, ansible_test
source = (pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py').read_text()
print(re.search(r"pip='([0-9.]+)'", source).group(1))
PY
)
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -e "$get_pip" ] && ! "$python_bin" -c "import urllib.request as u; u.urlopen('https://ci-files.testing.ansible.com/', timeout=5)" 2>/dev/null; then
    mkdir -p "$(dirname "$get_pip")"
    cat >"$get_pip" <<'PY'
# Stand-in for get-pip.py written by kvmcloud.hypervisor scripts/ansible-test.sh.
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
PY
fi

status=0
echo "== ansible-test sanity (python $python_version)"
ansible-test sanity --local --python "$python_version" --color no \
    || status=1

echo "== ansible-test units (python $python_version)"
ansible-test units --local --python "$python_version" --color no \
    tests/unit/ || status=1

exit $status
