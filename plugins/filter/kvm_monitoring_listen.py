# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_monitoring_listen
short_description: The management address the node exporter listens on
version_added: 0.4.0
description:
  - Picks the interface (the one named, else the one of the IPv4 default route), refuses it unless
    M(kvmcloud.hypervisor.kvm_network_facts) counts it among the host's management interfaces, and
    returns its first global address (IPv4 first).
options:
  _input:
    description: C(ansible_facts.kvm_network), as M(kvmcloud.hypervisor.kvm_network_facts) returns it.
    type: dict
    required: true
  interface:
    description: The interface to listen on; empty for the interface of the default route.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The node exporter's address is chosen
  ansible.builtin.set_fact:
    listen: "{{ ansible_facts.kvm_network | kvmcloud.hypervisor.kvm_monitoring_listen('') }}"
"""

RETURN = r"""
_value:
  description:
    - C(interface), C(address) (an IPv6 address in brackets) and C(error), a message that starts from
      C(kvm_monitoring_listen_interface), empty when the choice is valid.
  type: dict
"""

from ansible.errors import AnsibleFilterError


def kvm_monitoring_listen(network, interface=""):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.monitoring import listen_address
    if not isinstance(network, dict):
        raise AnsibleFilterError("kvm_monitoring_listen expects ansible_facts.kvm_network, a dict")
    return listen_address(network, interface or "")


class FilterModule(object):
    def filters(self):
        return {"kvm_monitoring_listen": kvm_monitoring_listen}
