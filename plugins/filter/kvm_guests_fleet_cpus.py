# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_guests_fleet_cpus
short_description: The CPUs of the play's hosts, for the baseline that guests in fleet mode get
version_added: 0.4.0
description:
  - For each host of the list whose kvm_guests role read its CPU (the registered C(__kvm_guests_state) of
    M(kvmcloud.hypervisor.kvm_guests_state), with C(domcapabilities)) for the given domain type, that CPU,
    in the order of the list.
  - What M(kvmcloud.hypervisor.kvm_guests_state)'s C(cpu_baseline.cpus) takes, so that every host works out
    the same model, one each of them runs.
options:
  _input:
    description: The host names, usually C(ansible_play_hosts).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
  domain_type:
    description: The domain type the CPUs were read for, C(kvm) or C(qemu); hosts read for another are left out.
    type: str
    required: true
"""

EXAMPLES = r"""
cpus: "{{ ansible_play_hosts | kvmcloud.hypervisor.kvm_guests_fleet_cpus(hostvars, 'kvm') }}"
"""

RETURN = r"""
_value:
  description: Each host's CPU as a C(<cpu>) element.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def kvm_guests_fleet_cpus(hosts, hostvars, domain_type):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.cpu import fleet_cpus
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("kvm_guests_fleet_cpus expects a list of host names, got %s" % type(hosts).__name__)
    return fleet_cpus(hosts, hostvars, domain_type)


class FilterModule(object):
    def filters(self):
        return {"kvm_guests_fleet_cpus": kvm_guests_fleet_cpus}
