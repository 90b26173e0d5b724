# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What kvm_network_facts reads of the role's own state: networkd files, bridge sysctls, paths,
units, the host guard's table and the libvirt networks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network import host_state
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import FakeRunner

NFT = '/usr/sbin/nft'
UNSHARE = '/usr/bin/unshare'
VIRSH = '/usr/bin/virsh'
SYSTEMCTL = '/usr/bin/systemctl'
BINARIES = dict((path, ('mode', '', 0o755)) for path in (NFT, UNSHARE, VIRSH, SYSTEMCTL))
TABLE = 'table inet kvmcloud_guard {\n\tchain input {\n\t}\n}\n'
GUARD_FILE = '/etc/kvmcloud/kvm_network-host-guard.nft'
SCRATCH = (UNSHARE, '--net', '--', '/bin/sh', '-c', '"$0" --file "$1" && shift && exec "$0" list table "$@"',
           NFT, GUARD_FILE, 'inet', 'kvmcloud_guard')
LIVE = (NFT, 'list', 'table', 'inet', 'kvmcloud_guard')


def test_networkd_files_are_the_roles_regular_files_with_their_content(make_host, tmp_path):
    fs = make_host({
        '/etc/systemd/network/05-kvmcloud-bridge-br-guest.netdev': '[NetDev]\nName=br-guest\n',
        '/etc/systemd/network/05-kvmcloud-bridge-br-guest.network': '[Match]\nName=br-guest\n',
        # A backup of a replaced file, another manager's file and a directory are not the role's.
        '/etc/systemd/network/05-kvmcloud-bridge-br-guest.netdev.1234.2025-01-01@00:00:00~': 'old',
        '/etc/systemd/network/10-dhcp.network': '[Match]\nName=en*\n',
        '/etc/systemd/network/05-kvmcloud-odd.network': None,
    })
    os.symlink('/dev/null', str(tmp_path / 'etc/systemd/network/05-kvmcloud-masked.network'))
    assert host_state.networkd_files(fs, '05-kvmcloud-') == {
        '05-kvmcloud-bridge-br-guest.netdev': '[NetDev]\nName=br-guest\n',
        '05-kvmcloud-bridge-br-guest.network': '[Match]\nName=br-guest\n'}


def test_no_network_directory_means_no_files(make_host):
    assert host_state.networkd_files(make_host({}), '05-kvmcloud-') == {}


def test_bridge_sysctls_while_br_netfilter_is_loaded(make_host):
    fs = make_host({'/proc/sys/net/bridge/bridge-nf-call-iptables': '1\n',
                    '/proc/sys/net/bridge/bridge-nf-call-ip6tables': '0\n'})
    assert host_state.bridge_sysctl_values(fs) == {'net.bridge.bridge-nf-call-iptables': '1',
                                                   'net.bridge.bridge-nf-call-ip6tables': '0'}


def test_no_bridge_sysctls_without_br_netfilter(make_host):
    assert host_state.bridge_sysctl_values(make_host({})) == {}


def test_path_info_gives_type_mode_and_owner(make_host, tmp_path):
    fs = make_host({'/etc/kvmcloud': None, '/etc/kvmcloud/guard.nft': ('mode', 'x', 0o640)})
    os.chmod(str(tmp_path / 'etc/kvmcloud'), 0o775)
    os.symlink('kvmcloud', str(tmp_path / 'etc/link'))
    info = host_state.path_info(fs, ['/etc/kvmcloud', '/etc/kvmcloud/guard.nft', '/etc/link', '/etc/none'])
    uid, gid = os.getuid(), os.getgid()
    assert info == {
        '/etc/kvmcloud': {'exists': True, 'type': 'directory', 'mode': '0775', 'uid': uid, 'gid': gid},
        '/etc/kvmcloud/guard.nft': {'exists': True, 'type': 'file', 'mode': '0640', 'uid': uid, 'gid': gid},
        '/etc/link': {'exists': True, 'type': 'link', 'mode': '0775', 'uid': uid, 'gid': gid},
        '/etc/none': {'exists': False, 'type': '', 'mode': '', 'uid': None, 'gid': None},
    }


SHOW = ('Id=systemd-networkd.service\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n\n'
        'Id=kvmcloud-host-guard.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n')
UNITS = ['systemd-networkd.service', 'kvmcloud-host-guard.service']


def test_units_in_one_systemctl_call(make_host):
    runner = FakeRunner({(SYSTEMCTL, 'show', '--property=Id,LoadState,ActiveState,UnitFileState', '--') + tuple(UNITS):
                         (0, SHOW, '')})
    assert host_state.unit_states(make_host(BINARIES), runner, UNITS) == {
        'systemd-networkd.service': {'load_state': 'loaded', 'active_state': 'active', 'unit_file_state': 'enabled'},
        'kvmcloud-host-guard.service': {'load_state': 'not-found', 'active_state': 'inactive', 'unit_file_state': ''}}
    assert len(runner.calls) == 1


def test_units_unknown_without_systemctl_or_when_it_fails(make_host):
    assert host_state.unit_states(make_host({}), FakeRunner(), UNITS) == {}
    assert host_state.unit_states(make_host(BINARIES), FakeRunner(), UNITS) == {}
    runner = FakeRunner()
    assert host_state.unit_states(make_host(BINARIES), runner, []) == {} and runner.calls == []


@pytest.mark.parametrize('live, scratch, expected', [
    ((0, TABLE, ''), (0, TABLE, ''), {'table_loaded': True, 'table_matches_file': True}),
    # A rule inserted by hand.
    ((0, TABLE.replace('\t}', '\t\tiifname "br-guest" accept\n\t}'), ''), (0, TABLE, ''),
     {'table_loaded': True, 'table_matches_file': False}),
    # The table deleted by hand.
    ((1, '', 'Error: No such file or directory'), (0, TABLE, ''), {'table_loaded': False, 'table_matches_file': False}),
    # A file nft refuses.
    ((0, TABLE, ''), (1, '', 'Error: syntax error'), {'table_loaded': True, 'table_matches_file': False}),
])
def test_guard_table_compared_with_its_file_in_a_scratch_namespace(make_host, live, scratch, expected):
    fs = make_host(dict(BINARIES, **{GUARD_FILE: 'table inet kvmcloud_guard\n'}))
    runner = FakeRunner({LIVE: live, SCRATCH: scratch})
    assert host_state.nft_table_state(fs, runner, 'inet kvmcloud_guard', GUARD_FILE) == expected


def test_guard_table_without_nft_or_file(make_host):
    assert host_state.nft_table_state(make_host({}), FakeRunner(), 'inet kvmcloud_guard', GUARD_FILE) == {
        'table_loaded': False, 'table_matches_file': False}
    runner = FakeRunner({LIVE: (0, TABLE, '')})
    assert host_state.nft_table_state(make_host(BINARIES), runner, 'inet kvmcloud_guard', GUARD_FILE) == {
        'table_loaded': True, 'table_matches_file': False}
    assert runner.calls == [LIVE]


BASE = (VIRSH, '--readonly', '--connect', 'qemu:///system', '--quiet')
NET_LIST = (' br-guest     active     yes         yes\n'
            ' my net       inactive   no          yes\n')


def test_libvirt_networks_with_state_and_inactive_definition(make_host):
    runner = FakeRunner({BASE + ('net-list', '--all'): (0, NET_LIST, ''),
                         BASE + ('net-dumpxml', '--inactive', 'br-guest'): (0, '<network>a</network>\n', ''),
                         BASE + ('net-dumpxml', '--inactive', 'my net'): (0, '<network>b</network>\n', '')})
    assert host_state.libvirt_networks(make_host(BINARIES), runner) == {
        'br-guest': {'active': True, 'autostart': True, 'persistent': True, 'xml': '<network>a</network>\n'},
        'my net': {'active': False, 'autostart': False, 'persistent': True, 'xml': '<network>b</network>\n'}}


def test_libvirt_networks_without_virsh_or_libvirt(make_host):
    assert host_state.libvirt_networks(make_host({}), FakeRunner()) == {}
    runner = FakeRunner({BASE + ('net-list', '--all'): (1, '', 'error: failed to connect to the hypervisor')})
    with pytest.raises(host_state.HostStateError, match='virsh net-list failed .rc 1.: error: failed to connect'):
        host_state.libvirt_networks(make_host(BINARIES), runner)
