# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_evacuation_plan
short_description: Where playbooks/evacuate.yml moves each running guest of a host it drains
version_added: 0.4.0
description:
  - Places every running guest of the drained host on another host of the play, the largest guests first, each on
    the host with the most memory left that takes it (memory available minus a reserve and what the plan already put
    there, at least as many CPU threads as the guest has vCPUs). Hosts in maintenance or without migration take none.
  - A guest that cannot move (see P(kvmcloud.hypervisor.kvm_migration_plan#filter)) or that no host can take fails
    the whole plan, by name, before anything moves.
options:
  _input:
    description:
      - Each host's M(kvmcloud.hypervisor.kvm_guests_state) read of all its guests (C(domains)) and of the
        maintenance fact C(/etc/ansible/facts.d/kvmcloud_maintenance.fact) (in C(paths)).
    type: dict
    required: true
  drained:
    description: C(kvmcloud_drain), the inventory name of the host to drain.
    type: str
    required: true
  facts:
    description: Host to its C(ansible_facts.kvm_host) (M(kvmcloud.hypervisor.kvm_host_facts)), for C(memory) and C(cpu).
    type: dict
    required: true
  reserve_mib:
    description: Memory each target keeps free for itself, in MiB.
    type: raw
    default: 1024
extends_documentation_fragment:
  - kvmcloud.hypervisor.migration_fleet
"""

EXAMPLES = r"""
- name: Work out where the guests go
  ansible.builtin.set_fact:
    kvmcloud_migration: >-
      {{ reads | kvmcloud.hypervisor.kvm_evacuation_plan(kvmcloud_drain, ansible_play_hosts_all, migration_enabled,
                                                         facts, 2048) }}
"""

RETURN = r"""
_value:
  description:
    - As for P(kvmcloud.hypervisor.kvm_migration_plan#filter), C(errors), C(moves) (each with its C(target)), C(in_place)
      (empty) and C(reads).
  type: dict
"""


def kvm_evacuation_plan(reads, drained, hosts, migration_enabled, facts, reserve_mib=1024):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import migration
    # Whole numbers given as text (-e on the command line) are read as such; anything else is refused by name.
    if isinstance(reserve_mib, str) and reserve_mib.strip().isdigit():
        reserve_mib = int(reserve_mib)
    return migration.evacuation(reads, drained, list(hosts or []), dict(migration_enabled or {}), dict(facts or {}),
                                reserve_mib)


class FilterModule(object):
    def filters(self):
        return {'kvm_evacuation_plan': kvm_evacuation_plan}
