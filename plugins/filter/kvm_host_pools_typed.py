# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_host_pools_typed
short_description: The storage pools of kvm_host with their type and state filled in
version_added: 0.4.0
description:
  - Each entry of C(kvm_host_storage_pools) with C(type) (default C(dir)) and C(state) (default C(present)) set,
    optionally only those of one type or state.
  - An entry that is not a mapping is passed over; the preflight refuses it.
options:
  _input:
    description: The declared pools, C(kvm_host_storage_pools).
    type: list
    elements: raw
    required: true
  type:
    description: Only the pools of this type (C(dir), C(logical), C(netfs), C(iscsi), C(rbd)); all when empty.
    type: str
    default: ""
  state:
    description: Only the pools in this state (C(present), C(absent)); all when empty.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The directories of the directory pools declared present
  ansible.builtin.debug:
    msg: >-
      {{ kvm_host_storage_pools | kvmcloud.hypervisor.kvm_host_pools_typed(type='dir', state='present')
         | map(attribute='path') }}
"""

RETURN = r"""
_value:
  description: The matching pools, each a copy of its entry with C(type) and C(state) set.
  type: list
  elements: dict
"""


def kvm_host_pools_typed(pools, type='', state=''):  # pylint: disable=redefined-builtin
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.storage_pools import typed_pools
    return typed_pools(pools, type, state)


class FilterModule(object):
    def filters(self):
        return {'kvm_host_pools_typed': kvm_host_pools_typed}
