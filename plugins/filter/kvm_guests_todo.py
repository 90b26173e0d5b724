# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_guests_todo
short_description: What kvm_guests does on a host, from its input and one read of the host
version_added: 0.4.0
description:
  - Takes the shaped input (P(kvmcloud.hypervisor.kvm_guests_plan#filter)) and what
    M(kvmcloud.hypervisor.kvm_guests_state) read, and returns the checks that stop the run before any change
    and the lists the kvmcloud.hypervisor.kvm_guests role loops over. A host already as declared gets empty lists.
  - Keeps each existing guest's UUID, machine type and MAC addresses, and derives them for a new guest from the
    inventory name and the guest's name.
options:
  settings:
    description: The settings given to P(kvmcloud.hypervisor.kvm_guests_plan#filter).
    type: dict
    required: true
  inventory_hostname:
    description: The host's inventory name; derived UUIDs and MACs hash it.
    type: str
    required: true
  domain_type:
    description: C(kvm) or C(qemu).
    type: str
    required: true
  host:
    description: The host settings the domain template reads (C(domain_type), C(emulated_cpu_model), ...).
    type: dict
    required: true
extends_documentation_fragment:
  - kvmcloud.hypervisor.guests_plan
"""

EXAMPLES = r"""
- name: Decide what the guests need
  ansible.builtin.set_fact:
    __kvm_guests_todo: >-
      {{ __kvm_guests_plan | kvmcloud.hypervisor.kvm_guests_todo(__kvm_guests_settings, __kvm_guests_state,
                                                              inventory_hostname, __kvm_guests_domain_type,
                                                              __kvm_guests_template_host) }}
"""

RETURN = r"""
_value:
  description:
    - C(errors) (checks of the host before any change), C(size_reports), C(identity) (name to uuid, machine,
      macs, domid, secure_boot), C(defined), C(running), C(secure_boot_changed), C(restart_markers), C(destroy),
      C(undefine), C(remove_guest_dirs), C(remove_seed_dirs), C(dirs) (directories to create or fix, with
      their mode), C(base_dir_exists), C(images_missing), C(disks_missing), C(files) (for
      M(kvmcloud.hypervisor.config_files)), C(seeds), C(definitions), C(autostart) and C(moved_away) (the
      declared guests C(playbooks/migrate.yml) moved to another host and left alone here, with name and host).
  type: dict
"""

from ansible.plugins.filter.core import to_nice_yaml


def seed_yaml(data):
    # The seed files were written with to_nice_yaml(indent=2) before this filter existed: the
    # same bytes, so existing seeds (and their ISOs) stay as they are.
    return to_nice_yaml(data, indent=2)


def kvm_guests_todo(shaped, settings, state, inventory_hostname, domain_type, host):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import plan
    return plan.decide(shaped, settings, state, inventory_hostname, domain_type, host, seed_yaml)


class FilterModule(object):
    def filters(self):
        return {'kvm_guests_todo': kvm_guests_todo}
