#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvm_network_facts
short_description: Gather the host's links and which of them carry management traffic
version_added: 0.2.0
description:
  - Reads the links, addresses and default routes with C(ip -j) (iproute2).
  - Finds the interface that carries the SSH session this module runs under. It walks up the
    parent processes to C(sshd) (or C(sshd-session)) and looks up the established TCP socket
    those processes hold in C(/proc/net/tcp) and C(/proc/net/tcp6). C(SSH_CONNECTION) cannot
    be trusted because C(sudo) removes it; without root, the environment of the login shell
    above C(sudo) is read instead.
  - Management interfaces are the default-route interfaces and the connection interface,
    closed over their masters (bridge or bond), the other ports of such a master, and the
    parents of VLAN, macvlan and ipvlan links. Changing any of them can cut the host off.
  - Returns everything under C(ansible_facts.kvm_network). Never changes the host.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options: {}
extends_documentation_fragment:
  - kvmcloud.hypervisor.read_only
attributes:
  facts:
    support: full
    description: Returns C(ansible_facts.kvm_network).
notes:
  - Standard library only on the target; needs the C(ip) command of iproute2 with JSON output.
  - Over a connection without C(sshd) (for example C(community.docker.docker) or C(local)),
    C(connection_interface) is empty and only the default routes mark management interfaces.
  - Finding the connection needs C(become) (root reads the sshd processes' file descriptors);
    without it the module falls back to C(SSH_CONNECTION) in an ancestor's environment.
seealso:
  - module: kvmcloud.hypervisor.kvm_host_facts
'''

EXAMPLES = r'''
- name: Read the links and the management interfaces
  kvmcloud.hypervisor.kvm_network_facts:

- name: Refuse to bridge an interface that carries management traffic
  ansible.builtin.assert:
    that: "'eth1' not in ansible_facts.kvm_network.management_interfaces"
    fail_msg: "eth1 {{ ansible_facts.kvm_network.management_reasons['eth1'] | default('') }}"
'''

RETURN = r'''
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: complex
  contains:
    kvm_network:
      description: The host's links, default routes and management interfaces.
      returned: always
      type: complex
      contains:
        links:
          description:
            - Every link by name. C(kind) is the kernel's link kind (C(bridge), C(bond), C(vlan),
              C(veth), C(dummy), ...), C(device) for a physical NIC and C(loopback) for C(lo).
            - C(master) is the bridge or bond the link is enslaved to, C(parent) the lower device
              of a VLAN, macvlan or ipvlan link, C(ports) the links enslaved to a bridge or bond
              (each C('') or empty when there is none).
            - C(mac), C(mtu), C(operstate), C(ipv4) and C(ipv6) (addresses with prefix length;
              IPv6 includes link-local addresses).
          type: dict
          returned: always
          sample: {"eth0": {"kind": "device", "master": "br0", "parent": "", "ports": [],
                            "mac": "52:54:00:12:34:56", "mtu": 1500, "operstate": "UP",
                            "ipv4": [], "ipv6": []}}
        default_route_interfaces:
          description: The interfaces of the IPv4 and IPv6 default routes (multipath next hops included).
          type: list
          elements: str
          returned: always
          sample: ["br0"]
        connection_interface:
          description: The interface that holds the host's address of this SSH session; empty without sshd.
          type: str
          returned: always
          sample: br0
        connection_address:
          description: The host's local address of this SSH session; empty without sshd.
          type: str
          returned: always
          sample: 192.0.2.10
        management_interfaces:
          description: The interfaces whose change can cut the host off, sorted.
          type: list
          elements: str
          returned: always
          sample: ["br0", "eth0"]
        management_reasons:
          description: Why each management interface is one.
          type: dict
          returned: always
          sample: {"br0": "carries the IPv4 default route; carries this SSH connection (local address 192.0.2.10)",
                   "eth0": "port of management bridge br0"}
        bridge_sysctls:
          description: Whether the bridge netfilter sysctls (C(/proc/sys/net/bridge)) exist, that is, br_netfilter is loaded.
          type: bool
          returned: always
        sysctl_installed:
          description: Whether the C(sysctl) program (procps) is installed.
          type: bool
          returned: always
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.hostfs import CommandRunner, HostFS
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network_links import IPCommandError, network_link_facts


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    try:
        facts = network_link_facts(HostFS('/'), CommandRunner(module))
    except IPCommandError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, ansible_facts={'kvm_network': facts})


if __name__ == '__main__':
    main()
