# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An interface address in CIDR form taken apart, with Python's ipaddress (no netaddr)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress


def cidr_info(value):
    """{valid, reason, version, address, prefix, network, netmask, is_network_address, dhcp_start,
    dhcp_end}. An invalid value gives valid=False and the reason, never an error, so every bad
    entry can be reported at once."""
    info = {"valid": False, "reason": "", "version": 0, "address": "", "prefix": 0, "network": "",
            "netmask": "", "is_network_address": False, "dhcp_start": "", "dhcp_end": ""}
    text = value if isinstance(value, str) else ""
    if "/" not in text:
        info["reason"] = "%r is not an address with a prefix length such as 192.0.2.10/24" % (value,)
        return info
    try:
        interface = ipaddress.ip_interface(text)
    except ValueError as exc:
        info["reason"] = "%r is not a valid address: %s" % (value, exc)
        return info
    network = interface.network
    hosts = network.num_addresses - (2 if network.version == 4 and network.prefixlen < 31 else 0)
    first = network.network_address + (1 if hosts < network.num_addresses else 0)
    last = first + max(hosts - 1, 0)
    special = interface.ip == network.network_address or (
        network.version == 4 and network.prefixlen < 31 and interface.ip == network.broadcast_address)
    info.update(valid=True, version=network.version, address=str(interface.ip), prefix=network.prefixlen,
                network=str(network), netmask=str(network.netmask), is_network_address=special,
                dhcp_start=str(first + hosts // 2), dhcp_end=str(last))
    return info
