# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host guard's migration openings: the fleet's peers, their checks and what the table gets
(the filter: tests/unit/plugins/filter/test_migration_peers.py; the table the role writes from
them: tests/unit/roles/kvm_network/test_host_guard_template.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network.migration import (
    PEER_HINT, fleet_peers, migration_guard, migration_guard_errors)
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.host_hardening import migration_port_errors
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network.plan import plan

HOSTVARS = {
    'hv1': {'kvm_hardening_migration_enabled': True, 'kvm_hardening_migration_address': '192.0.2.11'},
    'hv2': {'kvm_hardening_migration_enabled': 'yes', 'kvm_hardening_migration_address': '192.0.2.12'},
    'hv3': {'kvm_hardening_migration_enabled': False, 'kvm_hardening_migration_address': '192.0.2.13'},
    'hv4': {},
    'hv5': {'kvm_hardening_migration_enabled': True, 'kvm_hardening_migration_address': '2001:db8::15'},
    # Turned on with no address: kvm_hardening refuses that host; it is no source here.
    'hv6': {'kvm_hardening_migration_enabled': True, 'kvm_hardening_migration_address': ''},
}


def settings(**overrides):
    base = {'migration_enabled': True, 'migration_port_min': 49152, 'migration_port_max': 49215,
            'migration_peers': ['192.0.2.12']}
    base.update(overrides)
    return base


# --- The default: the other migrating hosts of the play -----------------------------------

def test_the_default_peers_are_the_other_hosts_with_migration_on():
    hosts = ['hv1', 'hv2', 'hv3', 'hv4', 'hv5', 'hv6', 'not-in-hostvars']
    assert fleet_peers(hosts, HOSTVARS, 'hv1') == ['192.0.2.12', '2001:db8::15']
    assert fleet_peers(hosts, HOSTVARS, 'hv3') == ['192.0.2.11', '192.0.2.12', '2001:db8::15']


def test_a_shared_address_is_listed_once_and_hosts_outside_the_list_are_not_asked():
    hostvars = dict(HOSTVARS, hv7={'kvm_hardening_migration_enabled': True,
                                   'kvm_hardening_migration_address': ' 192.0.2.12 '})
    assert fleet_peers(['hv2', 'hv7'], hostvars, 'hv1') == ['192.0.2.12']
    assert fleet_peers(['hv1'], hostvars, 'hv1') == []


# --- Input checks ---------------------------------------------------------------------------

def test_addresses_and_networks_pass():
    assert migration_guard_errors(settings(migration_peers=['192.0.2.12', '198.51.100.0/24', '2001:db8::/64'])) == []
    assert migration_guard_errors(settings(migration_peers=None, migration_enabled=False)) == []


@pytest.mark.parametrize('peer, problem', [
    ('192.0.2.300', 'not an IP address or a network in CIDR form'),
    ('hv2.example.net', 'not an IP address or a network in CIDR form'),
    (' 192.0.2.12', 'not an IP address or a network in CIDR form'),
    ('', 'not an IP address or a network in CIDR form'),
    (12, 'not an IP address or a network in CIDR form'),
    ('192.0.2.12/24', 'has host bits set: give the network, 192.0.2.0/24, or the single address without a prefix'
                      ' length'),
    ('0.0.0.0/0', 'opens the migration ports to every address'),
    ('::/0', 'opens the migration ports to every address'),
    ('0.0.0.0', 'is the unspecified address'),
    ('127.0.0.1', 'is loopback, which the guard accepts anyway'),
    ('224.0.0.1', 'is a multicast address, never the source of a connection'),
])
def test_each_bad_peer_is_named_with_its_index_value_rule_and_fix(peer, problem):
    assert migration_guard_errors(settings(migration_peers=['192.0.2.11', peer])) == [
        'kvm_network_migration_peers[1] = %r: %s. %s' % (peer, problem, PEER_HINT)]


def test_peers_that_are_no_list_are_refused():
    assert migration_guard_errors(settings(migration_peers='192.0.2.12')) == [
        "kvm_network_migration_peers = '192.0.2.12': must be a list of IP addresses or networks in CIDR form. "
        + PEER_HINT]


@pytest.mark.parametrize('low, high', [(49215, 49152), ('x', 49215), (80, 90), (True, 49215)])
def test_a_port_range_the_guard_cannot_open_is_refused_only_with_migration_on(low, high):
    message = migration_guard_errors(settings(migration_port_min=low, migration_port_max=high))
    # kvm_hardening's rule for the range, word for word: one check, in both roles' preflights.
    assert len(message) == 1 and message == migration_port_errors(low, high)
    assert message[0].startswith('kvm_hardening_migration_port_min=%r' % (low,))
    assert migration_guard_errors(settings(migration_port_min=low, migration_port_max=high,
                                           migration_enabled=False)) == []


def test_the_plan_reports_the_peers_after_the_guard_openings():
    the_plan = plan({'bridges': [{'name': 'br-guest'}], 'os_family': 'Debian', 'migration_enabled': True,
                     'migration_port_min': 49152, 'migration_port_max': 49215, 'migration_peers': ['nope']})
    assert the_plan['errors'] == ["kvm_network_migration_peers[0] = 'nope': not an IP address or a network in CIDR"
                                  " form. " + PEER_HINT]


# --- What the table gets --------------------------------------------------------------------

def test_without_migration_there_are_no_openings():
    assert migration_guard(settings(migration_enabled=False)) == {
        'enabled': False, 'ports': [], 'ipv4': [], 'ipv6': []}
    assert plan({'os_family': 'Debian'})['migration_guard']['enabled'] is False


def test_openings_merge_and_sort_the_peers_by_family():
    guard = migration_guard(settings(migration_enabled='true', migration_port_min='49152', migration_peers=[
        '2001:db8::/64', '198.51.100.7', '192.0.2.0/24', '192.0.2.12', '2001:db8::5', '198.51.100.7/32']))
    assert guard == {'enabled': True, 'ports': ['16514', '49152-49215'],
                     'ipv4': ['192.0.2.0/24', '198.51.100.7'], 'ipv6': ['2001:db8::/64']}


def test_a_single_migration_port_and_no_peers():
    assert migration_guard(settings(migration_port_min=49152, migration_port_max=49152, migration_peers=[])) == {
        'enabled': True, 'ports': ['16514', '49152'], 'ipv4': [], 'ipv6': []}
