# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_host_pool_directories
short_description: The storage pool directories kvm_host makes or fixes
version_added: 0.4.0
description:
  - From the declared C(kvm_host_storage_pools) and the host facts' C(paths), the directories to make or fix.
  - A C(dir) pool's directory when it is missing, not owned by root:root or of another mode; a C(netfs) pool's
    mount point only when it is missing (mounted, it shows the export's root, which belongs to the server).
  - Pools of other types, and pools declared absent, have none.
options:
  _input:
    description: The declared pools, C(kvm_host_storage_pools).
    type: list
    elements: dict
    required: true
  paths:
    description: C(ansible_facts.kvm_host.paths), as C(kvmcloud.hypervisor.kvm_host_facts) returns it.
    type: dict
    required: true
  mode_default:
    description: The mode of a directory whose entry sets none.
    type: str
    default: "0711"
"""

EXAMPLES = r"""
- name: Pool directories exist, root-owned and not world-readable
  ansible.builtin.file:
    path: "{{ item.path }}"
    state: directory
    owner: root
    group: root
    mode: "{{ item.mode }}"
  loop: "{{ kvm_host_storage_pools | kvmcloud.hypervisor.kvm_host_pool_directories(ansible_facts.kvm_host.paths) }}"
"""

RETURN = r"""
_value:
  description: The directories to make or fix, each with C(name) (the pool's), C(path) and C(mode).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError


def kvm_host_pool_directories(pools, paths, mode_default='0711'):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.storage_pools import pool_directories
    try:
        return pool_directories(pools, paths, mode_default=mode_default)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('kvm_host_pool_directories: a pool the preflight should have refused: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'kvm_host_pool_directories': kvm_host_pool_directories}
