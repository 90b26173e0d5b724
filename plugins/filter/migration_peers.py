# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: migration_peers
short_description: The migration addresses of the other hosts of the play that have live migration on
version_added: 0.4.0
description:
  - For each host of the list but O(this_host) whose C(kvm_hardening_migration_enabled) is true, its
    C(kvm_hardening_migration_address), each once, in the order of the list.
  - The default of C(kvm_network_migration_peers), the sources the host guard accepts on the migration
    ports. This host is left out, as its own connections to itself arrive on loopback, which the guard
    accepts anyway.
  - The values are read as they are, to be checked by P(kvmcloud.hypervisor.kvm_network_plan#filter)'s rules.
options:
  _input:
    description: The host names, usually C(ansible_play_hosts_all).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars); each host's variables are templated in that host's context when read.
    type: dict
    required: true
  this_host:
    description: The host the list is for, usually C(inventory_hostname).
    type: str
    required: true
"""

EXAMPLES = r"""
kvm_network_migration_peers: >-
  {{ ansible_play_hosts_all | kvmcloud.hypervisor.migration_peers(hostvars, inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: The other hosts' migration addresses.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def migration_peers(hosts, hostvars, this_host):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network.migration import fleet_peers
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("migration_peers expects a list of host names, got %s" % type(hosts).__name__)
    return fleet_peers(hosts, hostvars, this_host)


class FilterModule(object):
    def filters(self):
        return {"migration_peers": migration_peers}
