# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_migration_plan
short_description: Which guests playbooks/migrate.yml moves, from where, and what it reads next
version_added: 0.4.0
description:
  - Checks the operator's request (guest names, a target host of the play), finds each guest's host from one
    M(kvmcloud.hypervisor.kvm_guests_state) read of every host, and refuses guests that cannot move live with
    copied storage (not running, on several hosts, a host device, CPU mode host-passthrough, a shareable or
    non-file disk), hosts without migration and a target in maintenance.
  - For each move it lists the disks, small files and directories the target needs, and what the source and
    the target must read before the target is prepared.
options:
  _input:
    description:
      - Each host's M(kvmcloud.hypervisor.kvm_guests_state) read of the guests (C(domains)) and of the
        maintenance fact C(/etc/ansible/facts.d/kvmcloud_maintenance.fact) (in C(paths)); a target in maintenance
        is refused.
    type: dict
    required: true
  guests:
    description: C(kvmcloud_guests), a list or a comma-separated string.
    type: raw
    required: true
  target:
    description: C(kvmcloud_target), the inventory name of the target.
    type: str
    required: true
extends_documentation_fragment:
  - kvmcloud.hypervisor.migration_fleet
"""

EXAMPLES = r"""
- name: Work out the moves
  ansible.builtin.set_fact:
    kvmcloud_migration: >-
      {{ reads | kvmcloud.hypervisor.kvm_migration_plan(kvmcloud_guests, kvmcloud_target, ansible_play_hosts_all,
                                                       migration_enabled) }}
"""

RETURN = r"""
_value:
  description:
    - C(errors) (each a message naming the variable or the guest), C(moves) (C(guest), C(source), C(target), C(autostart), C(prepare) with
      C(disks), C(files), C(dirs), C(markers)), C(in_place) (guests already running on the target) and C(reads)
      (host to the C(images) and C(paths) to read next).
  type: dict
"""


def kvm_migration_plan(reads, guests, target, hosts, migration_enabled):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import migration
    return migration.plan(reads, guests, target, list(hosts or []), dict(migration_enabled or {}))


class FilterModule(object):
    def filters(self):
        return {'kvm_migration_plan': kvm_migration_plan}
