# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_network_apply
short_description: Work out what applying kvm_network's changed networkd files takes
version_added: 0.4.0
description:
  - From the plan of P(kvmcloud.hypervisor.kvm_network_plan#filter), the facts read before the
    files were written, and the paths M(kvmcloud.hypervisor.config_files) changed, lists the links
    to reconfigure, create and delete, the files to put back on a rollback, and the management
    interfaces among the links.
options:
  _input:
    description: The plan (output of C(kvmcloud.hypervisor.kvm_network_plan)).
    type: dict
    required: true
  facts:
    description: C(ansible_facts.kvm_network) as read before the files were written.
    type: dict
    required: true
  changed_paths:
    description: The C(changed_paths) of the M(kvmcloud.hypervisor.config_files) call that wrote the files.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Work out what applying the networkd files takes
  ansible.builtin.set_fact:
    __kvm_network_apply: >-
      {{ __kvm_network_plan | kvmcloud.hypervisor.kvm_network_apply(ansible_facts.kvm_network,
                                                                    __kvm_network_files.changed_paths) }}
"""

RETURN = r"""
_value:
  description: What to apply.
  type: dict
  contains:
    reconfigure:
      description: Existing links whose files changed or went.
      type: list
      elements: str
    delete:
      description: Devices whose C(.netdev) file went (networkd never deletes them).
      type: list
      elements: str
    new:
      description: Devices whose C(.netdev) file is new.
      type: list
      elements: str
    replaced:
      description: C(path) and previous C(content) of each changed file that existed before.
      type: list
      elements: dict
    created:
      description: The files that did not exist before.
      type: list
      elements: str
    removed:
      description: C(path) and previous C(content) of each removed file.
      type: list
      elements: dict
    management:
      description: The links among these that are management interfaces.
      type: list
      elements: str
    bridges:
      description: The declared bridges, which must exist once the change is applied.
      type: list
      elements: str
    ports:
      description:
        - C(link), C(uplink) and C(bridge) of each bridge port over a management link (the uplink
          or its VLAN sub-interface), which must be in its bridge once the change is applied.
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError


def kvm_network_apply(the_plan, facts, changed_paths):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network.plan import apply_plan
    if not isinstance(the_plan, dict) or not isinstance(facts, dict):
        raise AnsibleFilterError("kvm_network_apply expects the plan and ansible_facts.kvm_network as dicts")
    if not isinstance(changed_paths, list):
        raise AnsibleFilterError("kvm_network_apply expects changed_paths as a list, got %s"
                                 % type(changed_paths).__name__)
    return apply_plan(the_plan, facts, changed_paths)


class FilterModule(object):
    def filters(self):
        return {"kvm_network_apply": kvm_network_apply}
