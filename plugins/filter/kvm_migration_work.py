# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_migration_work
short_description: What the targets of playbooks/migrate.yml and evacuate.yml make before the guests move
version_added: 0.4.0
description:
  - From the output of P(kvmcloud.hypervisor.kvm_migration_plan#filter) or
    P(kvmcloud.hypervisor.kvm_evacuation_plan#filter) and the reads it asked for, lists for each move the
    directories to make (the source's mode and owner), the empty disks to create (the source's format and virtual
    size, each an overlay of the same base image where the target holds it, filled by the copy) and the small files
    to copy (seed, UEFI variables, the guest directory's marker), and how the disks are copied (C(copy_storage),
    C(inc) or C(all)).
  - A disk that exists on the target already is an error, since it may belong to another guest; it is never
    written over.
options:
  _input:
    description:
      - The output of P(kvmcloud.hypervisor.kvm_migration_plan#filter) or
        P(kvmcloud.hypervisor.kvm_evacuation_plan#filter).
    type: dict
    required: true
  state_by_host:
    description: Host to its M(kvmcloud.hypervisor.kvm_guests_state) read (C(images) and C(paths)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Work out what the target makes
  ansible.builtin.set_fact:
    kvmcloud_migration: "{{ kvmcloud_migration | kvmcloud.hypervisor.kvm_migration_work(reads) }}"
"""

RETURN = r"""
_value:
  description: The input, each move with C(work) (C(dirs), C(disks), C(files), C(errors)), and all C(errors).
  type: dict
"""

import copy


def kvm_migration_work(planned, state_by_host):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import migration
    return migration.work(copy.deepcopy(planned), state_by_host)


class FilterModule(object):
    def filters(self):
        return {'kvm_migration_work': kvm_migration_work}
