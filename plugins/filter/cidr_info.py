# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: cidr_info
short_description: Take an interface address in CIDR form apart
version_added: 0.2.0
description:
  - Reads an address with its prefix length, such as C(192.0.2.10/24), with Python's
    C(ipaddress) module, so roles can check and use addresses without C(netaddr).
  - An invalid value gives C(valid=false) and the reason, never an error, so a role can
    report every bad entry at once.
options:
  _input:
    description: The address with its prefix length.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse an address that is not in CIDR form
  ansible.builtin.assert:
    that: (item | kvmcloud.hypervisor.cidr_info).valid
    fail_msg: "{{ (item | kvmcloud.hypervisor.cidr_info).reason }}"
  loop: ["192.168.150.1/24"]
"""

RETURN = r"""
_value:
  description: What the address is made of.
  type: dict
  contains:
    valid:
      description: Whether the input is an address with a prefix length.
      type: bool
    reason:
      description: Why the input is not valid; empty when it is.
      type: str
    version:
      description: 4 or 6.
      type: int
    address:
      description: The address without its prefix length.
      type: str
    prefix:
      description: The prefix length.
      type: int
    network:
      description: The network in CIDR form.
      type: str
    netmask:
      description: The netmask in dotted form.
      type: str
    is_network_address:
      description: Whether the address is the network's own address (or, for IPv4, its broadcast address).
      type: bool
    dhcp_start:
      description: First address of the upper half of the subnet, for a DHCP range.
      type: str
    dhcp_end:
      description: Last usable address of the subnet.
      type: str
"""


def cidr_info(value):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network.cidr import cidr_info as info
    return info(value)


class FilterModule(object):
    def filters(self):
        return {"cidr_info": cidr_info}
