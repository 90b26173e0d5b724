# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_host_pool_plan
short_description: What kvm_host does to reach the declared storage pools, with each pool's libvirt XML
version_added: 0.4.0
description:
  - From the declared C(kvm_host_storage_pools) (already checked by the role's preflight) and libvirt's pools as
    the host facts list them, the pools to define (with their XML), the libvirt secrets of new C(rbd) pools, the
    C(logical) pools whose volume group libvirt builds, the pools to start and to mark for autostart, and the pools
    declared absent that libvirt still has.
  - A converged host gives empty lists, so the role's tasks cost no module call.
  - The XML of an C(rbd) pool names its secret by a UUID derived from the pool's name; no cephx key is in the
    result.
options:
  _input:
    description: The declared pools, C(kvm_host_storage_pools).
    type: list
    elements: dict
    required: true
  pools_now:
    description: libvirt's pools, C(ansible_facts.kvm_host.libvirt.pools), each with C(state) and C(autostart).
    type: dict
    required: true
  mode_default:
    description: The mode of a pool directory whose entry sets none.
    type: str
    default: "0711"
  vgs:
    description:
      - The volume groups the host has. V(null) when not read; then no volume group is built.
    type: list
    elements: str
  check_mode:
    description:
      - In check mode a pool that would be defined is neither built, started nor marked for autostart (libvirt
        does not have it yet); its definition reports the change.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Storage pools are defined
  community.libvirt.virt_pool:
    name: "{{ item.name }}"
    xml: "{{ item.xml }}"
    state: present
  loop: "{{ plan.define }}"
  vars:
    plan: "{{ kvm_host_storage_pools | kvmcloud.hypervisor.kvm_host_pool_plan(ansible_facts.kvm_host.libvirt.pools) }}"
"""

RETURN = r"""
_value:
  description: What to do.
  type: dict
  contains:
    define:
      description: The pools libvirt lacks, each with C(name) and C(xml).
      type: list
      elements: dict
    secrets:
      description:
        - The secrets of the C(rbd) pools among them, each with C(name), C(uuid), C(xml) (no value) and C(index),
          the pool's place in the input, from which the role reads its key.
      type: list
      elements: dict
    build:
      description:
        - C(logical) pools with C(build) whose volume group the host lacks, each with C(name) and C(mode)
          (C(no_overwrite), or C(overwrite) with C(wipe)).
      type: list
      elements: dict
    start:
      description: Names of the pools that are not active.
      type: list
      elements: str
    autostart:
      description: Names of the pools that do not start at boot.
      type: list
      elements: str
    undefine:
      description: Names of the pools declared absent that libvirt has.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError


def kvm_host_pool_plan(pools, pools_now, mode_default='0711', vgs=None, check_mode=False):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.storage_pools import pool_plan
    try:
        return pool_plan(pools, pools_now, mode_default=mode_default, vgs=vgs, check_mode=check_mode)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('kvm_host_pool_plan: a pool the preflight should have refused: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'kvm_host_pool_plan': kvm_host_pool_plan}
