#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: dpkg_recover
short_description: Finish the package operations an interrupted dpkg run left behind
version_added: 0.4.0
description:
  - A run killed while apt installed packages leaves dpkg's journal behind (numbered files in
    C(/var/lib/dpkg/updates)), and apt then refuses every install until it is finished. A package dpkg was
    unpacking when it was killed is marked C(reinstreq), and C(dpkg --configure -a) refuses it until it is
    reinstalled.
  - This module runs C(dpkg --configure -a); when packages are marked C(reinstreq), apt fetches its package
    lists (an image builder may have emptied them) and reinstalls those packages without their recommends,
    and C(dpkg --configure -a) runs again. The task fails, with what dpkg or apt said, when anything is still
    unfinished.
  - Nothing runs, and nothing is reported as changed, when dpkg's journal is empty and no package is marked
    C(reinstreq), or on a host without dpkg.
  - The same work was a shell snippet in each role that installs packages; one module keeps it in one place,
    with unit tests.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options: {}
attributes:
  check_mode:
    support: full
    description: Reports whether anything is unfinished and which packages would be reinstalled; runs nothing.
  diff_mode:
    support: full
    description: Shows the journal entries and the packages marked C(reinstreq), before and after.
notes:
  - The roles call it only when the host facts (C(package_db.interrupted) of M(kvmcloud.hypervisor.kvm_host_facts))
    say an install was interrupted, so a healthy host costs no call.
'''

EXAMPLES = r'''
- name: Packages an interrupted run left half installed are finished first
  kvmcloud.hypervisor.dpkg_recover:
  when: ansible_facts.kvm_host.package_db.interrupted
'''

RETURN = r'''
journal_entries:
  description: How many entries of dpkg's journal were left unfinished when the module started.
  returned: always
  type: int
  sample: 2
reinstalled:
  description: The packages marked C(reinstreq) that apt reinstalled (in check mode, would reinstall).
  returned: always
  type: list
  elements: str
  sample: [augeas-tools]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.hostfs import HostFS
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.package_db import (
    DPKG_STATUS, journal_entries, to_reinstall)

ROOT = '/'
# dpkg and apt must never stop to ask: a prompt would hang the run.
ENVIRONMENT = dict(DEBIAN_FRONTEND='noninteractive', LC_ALL='C')


def unfinished(fs):
    """(journal entries left, packages marked reinstreq) as dpkg's database says now."""
    return journal_entries(fs), to_reinstall(fs.read(DPKG_STATUS) or '')


def describe(journal, packages):
    return 'journal entries: %d\nmarked reinstreq: %s\n' % (len(journal), ' '.join(packages) or 'none')


def fail(module, argv, rc, out, err, result):
    module.fail_json(msg='%s failed (exit code %d): %s' % (' '.join(argv[:3]), rc, (err or out).strip()),
                     rc=rc, stdout=out, stderr=err, **result)


def run(module, argv, result):
    rc, out, err = module.run_command(argv, environ_update=ENVIRONMENT)
    if rc != 0:
        fail(module, argv, rc, out, err, result)


def recover(module, fs, result):
    """dpkg --configure -a; reinstall what it refuses; dpkg --configure -a again."""
    configure = [module.get_bin_path('dpkg', required=True), '--configure', '-a']
    # The first pass may fail on a package to reinstall: the last pass decides.
    rc, out, err = module.run_command(configure, environ_update=ENVIRONMENT)
    packages = to_reinstall(fs.read(DPKG_STATUS) or '')
    if not packages:
        if rc != 0:
            fail(module, configure, rc, out, err, result)
        return
    apt_get = module.get_bin_path('apt-get', required=True)
    run(module, [apt_get, 'update', '-qq'], result)
    run(module, [apt_get, 'install', '-y', '-qq', '--reinstall', '--no-install-recommends'] + packages, result)
    result['reinstalled'] = packages
    run(module, configure, result)


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    fs = HostFS(ROOT)
    result = dict(changed=False, journal_entries=0, reinstalled=[])
    if not fs.isdir('/var/lib/dpkg'):
        module.exit_json(msg='no dpkg database on this host', **result)
    journal, packages = unfinished(fs)
    result['journal_entries'] = len(journal)
    if not journal and not packages:
        module.exit_json(**result)
    result['changed'] = True
    if module._diff:
        result['diff'] = dict(before=describe(journal, packages), after=describe([], []))
    if module.check_mode:
        result['reinstalled'] = packages
        module.exit_json(**result)
    recover(module, fs, result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
