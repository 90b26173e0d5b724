# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network_links import (
    IPCommandError, management_closure, network_link_facts, parse_links)
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import FakeRunner, fixture_text

# Recorded on the Debian 13 test VM (iproute2 6.15) after adding, by hand: bond0 over dum0 and
# dum1, VLAN bond0.42 in bridge brmgmt (192.0.2.10/24, 2001:db8::10/64), and br-guest with
# veth-h as its port. ens2 holds the QEMU user network's DHCP address 10.0.2.15 and both
# default routes.
LINKS = json.loads(fixture_text('ip-d-link-trixie-vm.json'))
ADDRS = json.loads(fixture_text('ip-addr-trixie-vm.json'))
ROUTE4 = fixture_text('ip-route-default-trixie-vm.json')
ROUTE6 = fixture_text('ip-6-route-default-trixie-vm.json')

# /proc/net/tcp of that VM while root was logged in over SSH: the sshd listener (inode 5258)
# and the session 10.0.2.15:22 <- 10.0.2.2:42528 (inode 4865).
TCP = '''  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5258 1 00000000ae4033a9 100 0 0 10 0
   1: 0F02000A:0016 0202000A:A620 01 00000000:00000000 02:000AF812 00000000     0        0 4865 2 00000000ca22ce05 20 4 28 10 -1
'''
TCP6_HEADER = ('  sl  local_address                         remote_address                        st tx_queue '
               'rx_queue tr tm->when retrnsmt   uid  timeout inode\n')
# 192.0.2.10 (brmgmt) as an IPv4-mapped address on a dual-stack socket, inode 7001.
TCP6_MAPPED = TCP6_HEADER + (
    '   0: 0000000000000000FFFF00000A0200C0:0016 0000000000000000FFFF00000202000A:A622 01 00000000:00000000 '
    '02:000AF812 00000000     0        0 7001 2 0000000000000000 20 4 28 10 -1\n')
# 2001:db8::10 (brmgmt), inode 7002: /proc prints each 32-bit word in host (little-endian) order.
TCP6_GLOBAL = TCP6_HEADER + (
    '   0: B80D0120000000000000000010000000:0016 B80D0120000000000000000001000000:A624 01 00000000:00000000 '
    '02:000AF812 00000000     0        0 7002 2 0000000000000000 20 4 28 10 -1\n')

IP = '/usr/sbin/ip'


def ip_answers(route4=ROUTE4, route6=ROUTE6):
    return {
        (IP, '-j', '-d', 'link', 'show'): (0, json.dumps(LINKS), ''),
        (IP, '-j', 'addr', 'show'): (0, json.dumps(ADDRS), ''),
        (IP, '-j', 'route', 'show', 'default'): (0, route4, ''),
        (IP, '-j', '-6', 'route', 'show', 'default'): (0, route6, ''),
    }


def proc(pid, comm, ppid, fds=None, environ=''):
    """A fake /proc/PID: comm, a stat line as the kernel writes it, fds and environ."""
    files = {
        '/proc/%s/comm' % pid: comm + '\n',
        '/proc/%s/stat' % pid: '%s (%s) S %s %s %s 0 -1 4194560 1036\n' % (pid, comm, ppid, pid, pid),
        '/proc/%s/environ' % pid: environ,
        '/proc/%s/fd' % pid: None,
    }
    for fd, target in (fds or {}).items():
        files['/proc/%s/fd/%s' % (pid, fd)] = ('symlink', target)
    return files


def ssh_session_tree(session_inode='4865', shell_environ='', own_fds=True):
    """The process tree of a module run by Ansible over SSH with become, as on the VM:
    sshd -> sshd-session (root) -> sshd-session (user) -> sh -> sudo -> sh -> python3."""
    session_fds = {'6': 'socket:[5839]', '7': 'socket:[%s]' % session_inode, '9': 'socket:[5819]'} if own_fds else {}
    files = {'/usr/sbin/ip': '', '/proc/self': ('symlink', '900'), '/proc/net/tcp': TCP}
    files.update(proc(467, 'sshd', 1, {'6': 'socket:[5258]', '7': 'socket:[5262]'}))
    files.update(proc(554, 'sshd-session', 467, session_fds))
    files.update(proc(561, 'sshd-session', 554, session_fds))
    files.update(proc(562, 'sh', 561, environ=shell_environ))
    files.update(proc(700, 'sudo', 562, {'3': 'socket:[8000]'}))
    files.update(proc(701, 'sh', 700))
    files.update(proc(900, 'python3', 701))
    files.update(proc(1, 'systemd', 0))
    return files


def test_links_have_kind_master_parent_ports_and_addresses():
    links = parse_links(LINKS, ADDRS)
    assert links['ens2']['kind'] == 'device'
    assert links['lo']['kind'] == 'loopback'
    assert links['ens2']['ipv4'] == ['10.0.2.15/24']
    assert 'fe80::5054:ff:fe12:3456/64' in links['ens2']['ipv6']
    assert links['bond0']['kind'] == 'bond'
    assert links['bond0']['ports'] == ['dum0', 'dum1']
    assert links['dum0']['master'] == 'bond0'
    assert links['bond0.42']['kind'] == 'vlan'
    assert links['bond0.42']['parent'] == 'bond0'
    assert links['bond0.42']['master'] == 'brmgmt'
    assert links['brmgmt']['ports'] == ['bond0.42']
    assert links['brmgmt']['ipv4'] == ['192.0.2.10/24']
    assert '2001:db8::10/64' in links['brmgmt']['ipv6']
    # A veth's "link" names its peer, not a lower device.
    assert links['veth-h']['parent'] == ''
    assert links['veth-h']['master'] == 'br-guest'
    assert links['br-guest']['ipv4'] == []
    assert set(links['ens2']) == {'kind', 'master', 'parent', 'ports', 'mac', 'mtu', 'operstate', 'ipv4', 'ipv6'}
    assert (links['ens2']['mac'], links['ens2']['mtu'], links['ens2']['operstate']) == ('52:54:00:12:34:56', 1500, 'UP')


def test_ssh_session_interface_found_through_the_sshd_socket(make_host):
    runner = FakeRunner(ip_answers())
    facts = network_link_facts(make_host(ssh_session_tree()), runner)
    assert facts['connection_address'] == '10.0.2.15'
    assert facts['connection_interface'] == 'ens2'
    assert facts['default_route_interfaces'] == ['ens2']
    assert facts['management_interfaces'] == ['ens2']
    reason = facts['management_reasons']['ens2']
    assert 'IPv4 default route' in reason and 'IPv6 default route' in reason
    assert 'SSH connection (local address 10.0.2.15)' in reason


def test_listening_socket_of_sshd_is_not_the_connection(make_host):
    # Without the session's sockets, only the listener (0.0.0.0, state 0A) is left: no answer.
    facts = network_link_facts(make_host(ssh_session_tree(own_fds=False)), FakeRunner(ip_answers()))
    assert facts['connection_address'] == ''
    assert facts['connection_interface'] == ''


def test_ssh_connection_of_the_login_shell_is_the_fallback(make_host):
    # Without root the sshd processes' fds are unreadable; sudo's parent shell still has it.
    tree = ssh_session_tree(own_fds=False, shell_environ='HOME=/root\0SSH_CONNECTION=10.0.2.2 42528 10.0.2.15 22\0')
    facts = network_link_facts(make_host(tree), FakeRunner(ip_answers()))
    assert (facts['connection_address'], facts['connection_interface']) == ('10.0.2.15', 'ens2')


def test_no_sshd_above_means_no_connection_interface(make_host):
    # A docker exec: python3 under a shell under the container's init, no sshd.
    files = {'/usr/sbin/ip': '', '/proc/self': ('symlink', '900'), '/proc/net/tcp': TCP}
    files.update(proc(900, 'python3', 800))
    files.update(proc(800, 'sh', 0, environ='SSH_CONNECTION=10.0.2.2 1 10.0.2.15 22\0'))
    facts = network_link_facts(make_host(files), FakeRunner(ip_answers()))
    assert facts['connection_interface'] == ''
    assert facts['connection_address'] == ''
    assert facts['management_interfaces'] == ['ens2']
    assert (facts['bridge_sysctls'], facts['sysctl_installed']) == (False, False)


def test_bridge_sysctls_and_sysctl_program_are_reported(make_host):
    files = {'/usr/sbin/ip': '', '/usr/sbin/sysctl': '', '/proc/sys/net/bridge/bridge-nf-call-iptables': '1\n'}
    facts = network_link_facts(make_host(files), FakeRunner(ip_answers()))
    assert (facts['bridge_sysctls'], facts['sysctl_installed']) == (True, True)


@pytest.mark.parametrize('tcp6, inode, address', [(TCP6_MAPPED, '7001', '192.0.2.10'),
                                                  (TCP6_GLOBAL, '7002', '2001:db8::10')])
def test_connection_over_a_vlan_in_a_bridge_marks_the_whole_stack(make_host, tcp6, inode, address):
    files = ssh_session_tree(session_inode=inode)
    files['/proc/net/tcp6'] = tcp6
    # No default route at all: the connection alone must mark the stack.
    facts = network_link_facts(make_host(files), FakeRunner(ip_answers(route4='', route6='[]')))
    assert facts['connection_address'] == address
    assert facts['connection_interface'] == 'brmgmt'
    assert facts['default_route_interfaces'] == []
    assert facts['management_interfaces'] == ['bond0', 'bond0.42', 'brmgmt', 'dum0', 'dum1']
    reasons = facts['management_reasons']
    assert reasons['bond0.42'] == 'port of management bridge brmgmt'
    assert reasons['bond0'] == 'parent of management vlan bond0.42'
    assert reasons['dum1'] == 'port of management bond bond0'
    # Links beside the stack stay free for guests.
    assert 'br-guest' not in reasons and 'ens2' not in reasons


def test_closure_reaches_a_bond_master_and_its_bridge_from_one_port():
    links = parse_links(LINKS, ADDRS)
    reasons = management_closure(links, [('dum0', 'carries the IPv4 default route')])
    # A VLAN on a management bond is not management itself: it only rides on it.
    assert sorted(reasons) == ['bond0', 'dum0', 'dum1']
    assert reasons['bond0'] == 'master of management interface dum0'


def test_multipath_default_route_names_every_next_hop(make_host):
    route = json.dumps([{'dst': 'default', 'protocol': 'static', 'metric': 1024, 'flags': [],
                         'nexthops': [{'gateway': '10.0.2.2', 'dev': 'ens2', 'weight': 1, 'flags': []},
                                      {'gateway': '192.0.2.1', 'dev': 'brmgmt', 'weight': 1, 'flags': []}]}])
    files = {'/usr/sbin/ip': '', '/proc/self': ('symlink', '900')}
    files.update(proc(900, 'python3', 0))
    facts = network_link_facts(make_host(files), FakeRunner(ip_answers(route4=route, route6='')))
    assert facts['default_route_interfaces'] == ['ens2', 'brmgmt']
    assert 'brmgmt' in facts['management_interfaces'] and 'dum0' in facts['management_interfaces']


def test_missing_ip_command_is_an_error(make_host):
    with pytest.raises(IPCommandError, match='iproute2'):
        network_link_facts(make_host({'/proc/self': ('symlink', '900')}), FakeRunner())


def test_failing_ip_command_is_an_error(make_host):
    answers = ip_answers()
    answers[(IP, '-j', 'addr', 'show')] = (255, '', 'Option "-j" is unknown')
    with pytest.raises(IPCommandError, match='unknown'):
        network_link_facts(make_host(ssh_session_tree()), FakeRunner(answers))
