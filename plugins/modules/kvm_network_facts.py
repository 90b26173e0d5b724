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
  - Lists the C(kvm_network) role's own files in C(/etc/systemd/network) with their content, and
    reads the bridge netfilter sysctls.
  - On request, also reads the libvirt networks, the state of systemd units, whether paths exist,
    and whether the live nftables table of the host guard is the one its file defines, so a role
    learns the host's state in one call.
  - Returns everything under C(ansible_facts.kvm_network). Never changes the host.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options:
  networkd_prefix:
    description:
      - The name prefix of the C(kvm_network) role's files in C(/etc/systemd/network);
        C(PREFIX*.netdev) and C(PREFIX*.network) are returned in RV(ansible_facts.kvm_network.networkd_files).
    type: str
    default: 05-kvmcloud-
    version_added: 0.4.0
  libvirt_networks:
    description:
      - Read every libvirt network (C(virsh --readonly net-list --all) and C(net-dumpxml --inactive))
        into RV(ansible_facts.kvm_network.libvirt_networks). Fails when C(virsh) is installed but
        cannot reach libvirt.
    type: bool
    default: false
    version_added: 0.4.0
  units:
    description:
      - systemd units whose state is returned in RV(ansible_facts.kvm_network.units), read with one
        C(systemctl show).
    type: list
    elements: str
    default: []
    version_added: 0.4.0
  paths:
    description:
      - Paths whose existence, type, mode and owner are returned in RV(ansible_facts.kvm_network.paths).
    type: list
    elements: path
    default: []
    version_added: 0.4.0
  host_guard_file:
    description:
      - An nftables file that defines O(host_guard_table). When given,
        RV(ansible_facts.kvm_network.host_guard) says whether the table is loaded and whether it
        is exactly what the file defines (the file is loaded into a scratch network namespace
        with C(unshare --net), and nft's listings of both are compared).
    type: path
    version_added: 0.4.0
  host_guard_table:
    description:
      - The table of O(host_guard_file), as family and name.
    type: str
    default: inet kvmcloud_guard
    version_added: 0.4.0
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

- name: Read the links, the libvirt networks and the state of the role's units and files
  kvmcloud.hypervisor.kvm_network_facts:
    libvirt_networks: true
    units: [systemd-networkd.service, kvmcloud-host-guard.service]
    paths: [/etc/libvirt/hooks/qemu.d/kvmcloud-nwfilter]
    host_guard_file: /etc/kvmcloud/kvm_network-host-guard.nft

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
        bridge_sysctl_values:
          description: The bridge netfilter sysctls by name, while br_netfilter is loaded; empty without it.
          type: dict
          returned: always
          sample: {"net.bridge.bridge-nf-call-iptables": "1", "net.bridge.bridge-nf-call-ip6tables": "1"}
        networkd_files:
          description: The regular files C(PREFIX*.netdev) and C(PREFIX*.network) in C(/etc/systemd/network), with their content.
          type: dict
          returned: always
          sample: {"05-kvmcloud-bridge-br-guest.netdev": "[NetDev]\nName=br-guest\nKind=bridge\n"}
        libvirt_networks:
          description:
            - Every libvirt network by name, with C(active), C(autostart), C(persistent) (bools) and
              C(xml), its inactive definition. Empty when C(virsh) is not installed.
          type: dict
          returned: when O(libvirt_networks) is true
          sample: {"br-guest": {"active": true, "autostart": true, "persistent": true,
                                "xml": "<network>...</network>"}}
        units:
          description:
            - The units of O(units), with C(load_state), C(active_state) and C(unit_file_state) as
              C(systemctl show) names them (C(LoadState), C(ActiveState), C(UnitFileState)).
              Empty when C(systemctl) is missing or fails.
          type: dict
          returned: always
          sample: {"systemd-networkd.service": {"load_state": "loaded", "active_state": "active",
                                                "unit_file_state": "enabled"}}
        paths:
          description:
            - Each path of O(paths) with C(exists), C(type) (C(file), C(directory), C(link), C(other),
              or empty), C(mode) (such as C(0755)), C(uid) and C(gid) (of the target, for a link).
          type: dict
          returned: always
          sample: {"/etc/kvmcloud": {"exists": true, "type": "directory", "mode": "0755", "uid": 0, "gid": 0}}
        host_guard:
          description:
            - C(table_loaded), and C(table_matches_file), true only when the live table is the one
              O(host_guard_file) defines (false when the file, nft or unshare is missing).
          type: dict
          returned: when O(host_guard_file) is given
          sample: {"table_loaded": true, "table_matches_file": true}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.hostfs import CommandRunner, HostFS
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network import host_state
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network_links import IPCommandError, network_link_facts


def gather(fs, runner, params):
    facts = network_link_facts(fs, runner)
    facts['bridge_sysctl_values'] = host_state.bridge_sysctl_values(fs)
    facts['networkd_files'] = host_state.networkd_files(fs, params['networkd_prefix'])
    facts['units'] = host_state.unit_states(fs, runner, params['units'])
    facts['paths'] = host_state.path_info(fs, params['paths'])
    if params['libvirt_networks']:
        facts['libvirt_networks'] = host_state.libvirt_networks(fs, runner)
    if params['host_guard_file']:
        facts['host_guard'] = host_state.nft_table_state(fs, runner, params['host_guard_table'],
                                                         params['host_guard_file'])
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            networkd_prefix=dict(type='str', default='05-kvmcloud-'),
            libvirt_networks=dict(type='bool', default=False),
            units=dict(type='list', elements='str', default=[]),
            paths=dict(type='list', elements='path', default=[]),
            host_guard_file=dict(type='path'),
            host_guard_table=dict(type='str', default='inet kvmcloud_guard'),
        ),
        supports_check_mode=True,
    )
    try:
        facts = gather(HostFS('/'), CommandRunner(module), module.params)
    except (IPCommandError, host_state.HostStateError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, ansible_facts={'kvm_network': facts})


if __name__ == '__main__':
    main()
