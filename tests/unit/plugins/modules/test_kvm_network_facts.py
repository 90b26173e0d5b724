# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kvm_network_facts reads the links always, and the rest of the role's state when asked."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible_collections.kvmcloud.hypervisor.plugins.modules.kvm_network_facts import gather
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import FakeRunner

IP = '/usr/sbin/ip'
IP_ANSWERS = {
    (IP, '-j', '-d', 'link', 'show'): (0, json.dumps([{'ifname': 'eth0', 'link_type': 'ether'}]), ''),
    (IP, '-j', 'addr', 'show'): (0, '[]', ''),
    (IP, '-j', 'route', 'show', 'default'): (0, json.dumps([{'dev': 'eth0'}]), ''),
    (IP, '-j', '-6', 'route', 'show', 'default'): (0, '', ''),
}
PARAMS = {'networkd_prefix': '05-kvmcloud-', 'libvirt_networks': False, 'units': [], 'paths': [],
          'host_guard_file': None, 'host_guard_table': 'inet kvmcloud_guard'}


def test_plain_read_adds_the_roles_files_and_sysctls(make_host):
    fs = make_host({IP: ('mode', '', 0o755),
                    '/etc/systemd/network/05-kvmcloud-bridge-br-guest.netdev': 'x\n',
                    '/proc/sys/net/bridge/bridge-nf-call-iptables': '1\n'})
    runner = FakeRunner(IP_ANSWERS)
    facts = gather(fs, runner, PARAMS)
    assert facts['management_interfaces'] == ['eth0']
    assert facts['networkd_files'] == {'05-kvmcloud-bridge-br-guest.netdev': 'x\n'}
    assert facts['bridge_sysctls'] is True
    assert facts['bridge_sysctl_values'] == {'net.bridge.bridge-nf-call-iptables': '1'}
    assert (facts['units'], facts['paths']) == ({}, {})
    assert 'libvirt_networks' not in facts and 'host_guard' not in facts
    # Only iproute2 was asked.
    assert set(runner.calls) == set(IP_ANSWERS)


def test_full_read_asks_libvirt_and_the_guard_when_told(make_host):
    fs = make_host({IP: ('mode', '', 0o755)})
    params = dict(PARAMS, libvirt_networks=True, paths=['/etc/kvmcloud'], host_guard_file='/etc/kvmcloud/guard.nft')
    facts = gather(fs, FakeRunner(IP_ANSWERS), params)
    # Neither virsh nor nft is installed on this fake host.
    assert facts['libvirt_networks'] == {}
    assert facts['host_guard'] == {'table_loaded': False, 'table_matches_file': False}
    assert facts['paths']['/etc/kvmcloud']['exists'] is False
