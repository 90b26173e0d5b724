# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kvm_network's plan: the input and host checks (messages word for word as the role's asserts
rendered them, compared against those asserts when this code replaced them), the networkd
files, the libvirt comparison and what applying takes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network.plan import (
    apply_plan, network_fields, plan, wanted_fields)

NAME_RULE = "1-15 characters: letters, digits, '.', '_' and '-'"
MANAGEMENT_TAIL = ("Changing it can cut the host off, so nothing was changed. To make this change on purpose, set"
                   " kvm_network_management_change_allowed: true; the role then applies it under a rollback timer"
                   " (kvm_network_rollback_seconds, now %s s) and restores the previous network config if the"
                   " controller cannot reach the host again.")


def settings(**overrides):
    base = {'bridges': [], 'libvirt_networks': [], 'host_guard_allow': [], 'nwfilter': 'clean-traffic',
            'nwfilter_ip_learning': 'any', 'rollback_seconds': 90, 'management_change_allowed': False,
            'networkd_prefix': '05-kvmcloud-', 'hostname': 'kvm1', 'os_family': 'Debian',
            'distribution': 'Debian', 'distribution_version': '13'}
    base.update(overrides)
    return base


def errors(**overrides):
    return plan(settings(**overrides))['errors']


def bridge_error(name, problem, index=0):
    return 'kvm_network_bridges[%d] entry %s: %s.' % (index, name, problem)


# --- Input checks ---------------------------------------------------------------------------

def test_valid_settings_have_no_errors():
    assert errors(bridges=[{'name': 'br-guest'}, {'name': 'br-up', 'uplink': 'eth1', 'vlan': 100, 'mtu': 9000,
                                                  'address': '192.0.2.10/24', 'gateway': '192.0.2.1'}],
                  libvirt_networks=[{'name': 'tenant-nat', 'bridge': 'virbr-tn0', 'address': '192.168.150.1/24'}],
                  host_guard_allow=[{'bridge': 'br-guest', 'proto': 'tcp', 'port': 22}]) == []


def test_other_distribution_is_refused():
    assert errors(os_family='RedHat', distribution='Rocky', distribution_version='9.4') == [
        'kvm_network supports Debian 12 and 13 (systemd-networkd); it has no network backend for Rocky 9.4.']


@pytest.mark.parametrize('bridge, problem', [
    ({'name': 'br-tenant-public'}, 'the name must be ' + NAME_RULE),
    ({'name': 'br-v', 'uplink': 'kvmup0', 'vlan': 4095}, 'vlan (4095) must be 1-4094'),
    ({'name': 'br-v', 'uplink': 'kvmup0', 'vlan': 0}, 'vlan (0) must be 1-4094'),
    # A VLAN needs an uplink (the Jinja version of the plan failed on this one).
    ({'name': 'br-v', 'vlan': 10}, 'vlan (10) needs an uplink: the bridge enslaves UPLINK.VLAN'),
    ({'name': 'br-v', 'uplink': 'averylongnic0', 'vlan': 1000},
     'UPLINK.VLAN (averylongnic0.1000) must fit in 15 characters: pick a shorter uplink name'),
    ({'name': 'br-v', 'uplink': 'eth/0'}, 'uplink (eth/0) must be ' + NAME_RULE),
    ({'name': 'br-m', 'mtu': 40}, 'mtu (40) must be 68-65535'),
    ({'name': 'br-a', 'address': '10.0.0.300/24'},
     "address (10.0.0.300/24) must be empty, 'dhcp' or an address with its prefix length such as 192.0.2.10/24"),
    ({'name': 'br-a', 'address': 'dhcp', 'gateway': '10.0.0.1'},
     'a gateway (10.0.0.1) needs an address with its prefix length, such as 192.0.2.10/24 (got dhcp)'),
])
def test_bridge_entry_message(bridge, problem):
    assert errors(bridges=[bridge]) == [bridge_error(bridge['name'], problem)]


def test_each_broken_rule_has_its_message():
    assert errors(bridges=[{'name': 'br-ok'}, {'name': 'br-a!', 'mtu': 1, 'vlan': 5}]) == [
        bridge_error('br-a!', 'the name must be ' + NAME_RULE, 1),
        bridge_error('br-a!', 'vlan (5) needs an uplink: the bridge enslaves UPLINK.VLAN', 1),
        bridge_error('br-a!', 'mtu (1) must be 68-65535', 1)]


def test_null_vlan_and_mtu_pass():
    assert errors(bridges=[{'name': 'br-m', 'mtu': None, 'vlan': None, 'address': None, 'gateway': None}]) == []
    assert errors(bridges=[{'name': 'br-m!', 'mtu': None}]) == [bridge_error('br-m!', 'the name must be ' + NAME_RULE)]


def test_a_trailing_newline_is_not_part_of_a_name():
    assert errors(bridges=[{'name': 'br-a\n'}]) == [bridge_error('br-a\n', 'the name must be ' + NAME_RULE)]
    assert errors(nwfilter='clean-traffic\n')[0].startswith('kvm_network_nwfilter (clean-traffic\n) must be')
    assert errors(nwfilter='clean-traffic-gateway') == []


def test_every_bad_bridge_is_named():
    assert errors(bridges=[{'name': 'br-a', 'mtu': 1}, {'name': 'br-ok'}, {'name': 'br-b', 'mtu': 70000}]) == [
        bridge_error('br-a', 'mtu (1) must be 68-65535'), bridge_error('br-b', 'mtu (70000) must be 68-65535', 2)]


def test_gateway_outside_the_bridge_subnet():
    assert errors(bridges=[{'name': 'br-a', 'address': '10.0.0.5/24', 'gateway': '10.0.1.1'}]) == [
        'kvm_network_bridges[0] entry br-a: gateway 10.0.1.1 is not an address in 10.0.0.0/24.']
    assert errors(bridges=[{'name': 'br-a', 'address': '10.0.0.5/24', 'gateway': 'nonsense'}]) == [
        'kvm_network_bridges[0] entry br-a: gateway nonsense is not an address in 10.0.0.0/24.']


ADDRESS_RULE = ("address (%s) must be the host's IPv4 address with a prefix length of at most 30, such as"
                " 192.168.150.1/24: %s")


@pytest.mark.parametrize('network, problems', [
    ({'name': 'n1', 'bridge': 'virbr-n1', 'mode': 'isolated', 'address': '192.168.150.0/24'},
     [ADDRESS_RULE % ('192.168.150.0/24', 'that is the subnet itself, not an address in it')]),
    ({'name': 'n 1', 'bridge': 'virbr-n1', 'address': '192.168.150.1/31'},
     ["the name may hold only letters, digits, '.', '_' and '-'",
      ADDRESS_RULE % ('192.168.150.1/31', 'a /31 leaves no address for guests')]),
    ({'name': 'n1', 'bridge': 'virbr-n1', 'address': 'fd00::1/64'}, [ADDRESS_RULE % ('fd00::1/64', 'it is IPv6')]),
    ({'name': 'n1', 'bridge': 'virbr-n1', 'address': '192.168.150.1'},
     [ADDRESS_RULE % ('192.168.150.1', "'192.168.150.1' is not an address with a prefix length such as"
                                       " 192.0.2.10/24")]),
    ({'name': 'n1', 'bridge': 'virbr-network-01', 'address': '192.168.150.1/24'},
     ['the bridge (virbr-network-01) must be ' + NAME_RULE]),
])
def test_libvirt_network_entry_message(network, problems):
    assert errors(libvirt_networks=[network]) == [
        'kvm_network_libvirt_networks[0] entry %s: %s.' % (network['name'], problem) for problem in problems]


UNIQUE = ("kvm_network_bridges and kvm_network_libvirt_networks: bridge names (%s), libvirt network names (%s)"
          " and NAT subnets (%s) must each be unique. libvirt's 'default' network and its virbr0 belong to"
          " kvm_host (kvm_host_default_network_enabled).")


@pytest.mark.parametrize('overrides, names', [
    ({'bridges': [{'name': 'br-a'}, {'name': 'br-a'}]}, ('br-a, br-a', 'br-a, br-a', '')),
    # Jinja's unique, as Ansible calls it, ignores case: the role always refused these.
    ({'bridges': [{'name': 'br-a'}, {'name': 'BR-A'}]}, ('br-a, BR-A', 'br-a, BR-A', '')),
    ({'libvirt_networks': [{'name': 'n1', 'bridge': 'virbr-n1', 'address': '192.168.150.1/24'},
                           {'name': 'n2', 'bridge': 'virbr-n2', 'address': '192.168.150.2/24'}]},
     ('virbr-n1, virbr-n2', 'n1, n2', '192.168.150.0/24, 192.168.150.0/24')),
    ({'libvirt_networks': [{'name': 'default', 'bridge': 'virbr-n1', 'address': '192.168.150.1/24'}]},
     ('virbr-n1', 'default', '192.168.150.0/24')),
    ({'bridges': [{'name': 'virbr0'}]}, ('virbr0', 'virbr0', '')),
    ({'bridges': [{'name': 'br-x', 'libvirt_network': False}, {'name': 'n1'}],
      'libvirt_networks': [{'name': 'n1', 'bridge': 'virbr-n1', 'address': '192.168.150.1/24'}]},
     ('br-x, n1, virbr-n1', 'n1, n1', '192.168.150.0/24')),
])
def test_names_and_subnets_must_be_unique(overrides, names):
    assert errors(**overrides) == [UNIQUE % names]


def test_libvirt_network_subnets_must_not_overlap():
    assert errors(libvirt_networks=[
        {'name': 'wide', 'bridge': 'virbr-w', 'address': '10.20.0.1/16'},
        {'name': 'narrow', 'bridge': 'virbr-n', 'address': '10.20.5.1/24'},
        {'name': 'apart', 'bridge': 'virbr-a', 'address': '10.30.5.1/24'}]) == [
        'kvm_network_libvirt_networks[0] entry wide (10.20.0.0/16) overlaps [1] entry narrow (10.20.5.0/24): give each'
        ' network a subnet of its own.']


def test_guard_openings_name_a_bridge_of_the_role_and_a_real_port():
    assert errors(bridges=[{'name': 'br-guest'}],
                  host_guard_allow=[{'bridge': 'br-nope', 'proto': 'tcp', 'port': 22},
                                    {'bridge': 'br-guest', 'proto': 'udp', 'port': 70000}]) == [
        'kvm_network_host_guard_allow[0] entry br-nope tcp/22: the bridge must be one of br-guest and the port 1-65535.',
        'kvm_network_host_guard_allow[1] entry br-guest udp/70000: the bridge must be one of br-guest and the port'
        ' 1-65535.']


@pytest.mark.parametrize('overrides, shown', [
    ({'nwfilter': 'bad filter'}, ('bad filter', '90')),
    ({'rollback_seconds': 10}, ('clean-traffic', '10')),
    # Jinja's int reads junk as 0.
    ({'rollback_seconds': 'abc'}, ('clean-traffic', 'abc')),
    ({'nwfilter': 'no-mac-spoofing'}, ('no-mac-spoofing', '90')),
    ({'nwfilter': 'my-own-filter'}, ('my-own-filter', '90')),
])
def test_filter_name_and_rollback_window(overrides, shown):
    assert errors(**overrides) == [
        'kvm_network_nwfilter (%s) must be one of clean-traffic, clean-traffic-gateway (the filters libvirt ships'
        ' that stop MAC, IP and ARP spoofing, N3), and kvm_network_rollback_seconds (%s) 30-900: long enough for'
        ' the controller to reconnect, short enough that a lost host comes back soon.' % (shown[0], shown[1])]


UPLINKS = ('kvm_network_bridges: uplinks (%s) must each serve one bridge; %s is both a direct uplink and a VLAN'
           ' parent, which cannot work; a bridge cannot be an uplink.')


@pytest.mark.parametrize('bridges, shown', [
    ([{'name': 'br-a', 'uplink': 'eth1'}, {'name': 'br-b', 'uplink': 'eth1'}], ('eth1, eth1', 'no NIC')),
    ([{'name': 'br-a', 'uplink': 'eth1'}, {'name': 'br-b', 'uplink': 'eth1', 'vlan': 100}], ('eth1, eth1.100', 'eth1')),
    ([{'name': 'br-a', 'uplink': 'eth1', 'vlan': 100}, {'name': 'br-b', 'uplink': 'eth1', 'vlan': 100}],
     ('eth1.100, eth1.100', 'no NIC')),
    ([{'name': 'br-a', 'uplink': 'br-b'}, {'name': 'br-b'}], ('br-b', 'no NIC')),
])
def test_each_uplink_serves_one_bridge_or_only_tagged_vlans(bridges, shown):
    assert errors(bridges=bridges) == [UPLINKS % shown]


def test_vlans_of_one_parent_and_other_uplinks_pass():
    assert errors(bridges=[{'name': 'br-a', 'uplink': 'eth1', 'vlan': 100}, {'name': 'br-b', 'uplink': 'eth1', 'vlan': 200},
                           {'name': 'br-c', 'uplink': 'eth2'}]) == []


def test_only_the_first_failing_check_is_reported():
    # The gateway check reads the address the bridge check refused: it does not run.
    assert errors(bridges=[{'name': 'br-a', 'address': 'x', 'gateway': '10.0.0.1'}, {'name': 'br-a'}]) == [
        bridge_error('br-a', "address (x) must be empty, 'dhcp' or an address with its prefix length such as"
                             " 192.0.2.10/24")]


# --- Host checks ----------------------------------------------------------------------------

def link(kind='device', master=''):
    return {'kind': kind, 'master': master, 'parent': '', 'ports': []}


LINKS = {'lo': link('loopback'), 'eth0': link(), 'eth1': link(), 'eth2': link(master='br-other'),
         'br-other': link('bridge'), 'eth3': link(master='br-old'), 'br-old': link('bridge'), 'Eth4': link()}
REASON = 'carries the IPv4 default route; carries this SSH connection (local address 10.0.0.2)'


NETDEV = '\n[NetDev]\nKind=bridge\n'


def facts(files=(), **extra):
    base = {'links': LINKS, 'management_interfaces': ['eth0'], 'management_reasons': {'eth0': REASON},
            'networkd_files': dict((name, 'old ' + name + (NETDEV if name.endswith('.netdev') else ''))
                                   for name in files)}
    base.update(extra)
    return base


def host_errors(bridges, files=(), **overrides):
    return plan(settings(bridges=bridges, **overrides), facts(files))['host_errors']


@pytest.mark.parametrize('uplink, problem', [
    ('nosuch0', 'does not exist on kvm1 (links: br-old, br-other, eth0, eth1, eth2, eth3, Eth4, lo)'),
    ('lo', 'is a loopback, which cannot be a bridge port'),
    ('br-other', 'is a bridge, which cannot be a bridge port'),
    ('eth2', 'is already a port of br-other, which this role does not manage: take it out of there first'),
])
def test_uplink_must_exist_and_be_free(uplink, problem):
    assert host_errors([{'name': 'br-a', 'uplink': uplink}]) == [
        'kvm_network_bridges[0] entry br-a: its uplink %s %s.' % (uplink, problem)]


def test_an_uplink_with_addresses_is_taken_over_only_when_allowed():
    addressed = dict(LINKS, eth1=dict(link(), ipv4=['198.51.100.2/24'], ipv6=['fe80::1/64', '2001:db8::2/64']))
    bare = dict(LINKS, eth1=dict(link(), ipv6=['fe80::1/64']))

    def errors(bridge, links, **overrides):
        return plan(settings(bridges=[bridge], **overrides), facts(links=links))['host_errors']

    assert errors({'name': 'br-a', 'uplink': 'eth1'}, addressed) == [
        'kvm_network_bridges[0] entry br-a: its uplink eth1 carries addresses (198.51.100.2/24, 2001:db8::2/64) that'
        ' it would lose as a port of the bridge; choose an uplink without addresses, or move them to the bridge'
        ' and set kvm_network_management_change_allowed: true.']
    assert errors({'name': 'br-a', 'uplink': 'eth1'}, addressed, management_change_allowed=True) == []
    # A VLAN on it leaves its addresses where they are; a link-local address is no one's.
    assert errors({'name': 'br-a', 'uplink': 'eth1', 'vlan': 7}, addressed) == []
    assert errors({'name': 'br-a', 'uplink': 'eth1'}, bare) == []
    # The management link's addresses are the management guard's business, with its own message.
    managed = dict(LINKS, eth0=dict(link(), ipv4=['10.0.0.2/24']))
    assert errors({'name': 'br-a', 'uplink': 'eth0'}, managed)[0].startswith(
        'kvm_network_bridges[0] entry br-a enslaves eth0, but eth0 is a management interface of kvm1')


def test_a_network_libvirt_has_on_another_bridge_is_not_taken_over():
    def net(bridge):
        return {'active': True, 'autostart': True, 'xml': "<network><name>x</name><bridge name='%s'/></network>" % bridge}

    declared = settings(bridges=[{'name': 'br-guest'}],
                        libvirt_networks=[{'name': 'tenant', 'bridge': 'virbr-t0', 'address': '192.168.150.1/24'}])
    ours = facts(libvirt_networks={'br-guest': net('br-guest'), 'tenant': net('virbr-t0'), 'other': net('br-x')})
    assert plan(declared, ours)['host_errors'] == []
    theirs = facts(libvirt_networks={'br-guest': net('virbr9'), 'tenant': {'xml': '<network><name>t</name></network>'}})
    assert plan(declared, theirs)['host_errors'] == [
        'kvm_network_bridges[0] entry br-guest: libvirt on kvm1 already has a network br-guest on virbr9, not on br-guest;'
        ' the role does not take over a network it did not define: give the network a name of its own, or undefine'
        ' the old one first.',
        'kvm_network_libvirt_networks[0] entry tenant: libvirt on kvm1 already has a network tenant on no bridge, not on'
        ' virbr-t0; the role does not take over a network it did not define: give the network a name of its own, or'
        ' undefine the old one first.']
    # Networks not read (libvirt not installed yet): nothing to compare.
    assert plan(declared, facts(libvirt_networks=None))['host_errors'] == []


def test_uplink_may_move_from_a_bridge_of_the_role():
    files = ['05-kvmcloud-bridge-br-old.netdev', '05-kvmcloud-bridge-br-old.network', '05-kvmcloud-port-eth3.network']
    assert host_errors([{'name': 'br-a', 'uplink': 'eth3'}], files) == []
    assert host_errors([{'name': 'br-a', 'uplink': 'eth3'}]) != []


@pytest.mark.parametrize('bridges, files, why', [
    ([{'name': 'br-a', 'uplink': 'eth0'}], (), 'kvm_network_bridges[0] entry br-a enslaves eth0'),
    ([{'name': 'br-a', 'uplink': 'eth0', 'vlan': 5}], (), 'kvm_network_bridges[0] entry br-a adds VLAN 5 to eth0'),
    ([{'name': 'br-a'}], ['05-kvmcloud-port-eth0.network', '05-kvmcloud-bridge-br-a.netdev'],
     'Removing /etc/systemd/network/05-kvmcloud-port-eth0.network (no longer declared) changes eth0'),
])
def test_management_link_is_left_alone_unless_allowed(bridges, files, why):
    expected = ['%s, but eth0 is a management interface of kvm1: %s. ' % (why, REASON) + MANAGEMENT_TAIL % 90]
    assert host_errors(bridges, files) == expected
    assert host_errors(bridges, files, management_change_allowed=True) == []
    assert host_errors(bridges, files, management_change_allowed='yes') == []


@pytest.mark.parametrize('name, kind', [('eth0', 'device'), ('br-other', 'bridge'), ('veth-a', 'veth')])
def test_a_bridge_takes_no_name_of_a_link_the_role_did_not_make(name, kind):
    links = dict(LINKS, **{'veth-a': link('veth')})
    errors = plan(settings(bridges=[{'name': 'br-ok'}, {'name': name}]), facts(links=links))['host_errors']
    assert errors == ['kvm_network_bridges[1] entry %s: kvm1 already has a link of that name (kind %s) that this role'
                      ' did not create; give the bridge a name of its own.' % (name, kind)]


def test_a_bridge_of_the_role_keeps_its_name():
    files = ['05-kvmcloud-bridge-br-old.netdev', '05-kvmcloud-bridge-br-old.network', '05-kvmcloud-port-eth3.network']
    assert host_errors([{'name': 'br-old', 'uplink': 'eth3'}], files) == []


def test_only_a_device_of_the_kind_its_file_made_is_deleted():
    files = ['05-kvmcloud-bridge-br-gone.netdev', '05-kvmcloud-bridge-br-gone.network']
    removed = ['/etc/systemd/network/' + name for name in files]
    for kind, deleted in (('bridge', ['br-gone']), ('veth', [])):
        before = facts(files, links=dict(LINKS, **{'br-gone': link(kind)}))
        assert apply_plan(plan(settings(bridges=[]), before), before, removed)['delete'] == deleted
    # Gone already: deleting is a no-op the apply script tolerates.
    before = facts(files)
    assert apply_plan(plan(settings(bridges=[]), before), before, removed)['delete'] == ['br-gone']


def test_missing_uplinks_are_reported_before_the_management_link():
    assert host_errors([{'name': 'br-b', 'uplink': 'eth0'}, {'name': 'br-c', 'uplink': 'nosuch'}]) == [
        'kvm_network_bridges[1] entry br-c: its uplink nosuch does not exist on kvm1'
        ' (links: br-old, br-other, eth0, eth1, eth2, eth3, Eth4, lo).']


def test_without_facts_there_are_no_host_checks():
    assert plan(settings(bridges=[{'name': 'br-a', 'uplink': 'nosuch'}]))['host_errors'] == []


# --- What the role writes -------------------------------------------------------------------

def test_networkd_files_per_bridge_then_vlan_parents():
    bridges = [{'name': 'br-guest'}, {'name': 'br-b', 'uplink': 'eth1'}, {'name': 'br-v', 'uplink': 'eth2', 'vlan': 100},
               {'name': 'br-w', 'uplink': 'eth2', 'vlan': 200}]
    result = plan(settings(bridges=bridges))
    entries = result['networkd_files']
    assert [(entry['path'].rsplit('/', 1)[1], entry['template'], entry['vars']['__kvm_network_link'])
            for entry in entries] == [
        ('05-kvmcloud-bridge-br-guest.netdev', 'networkd/bridge.netdev.j2', 'br-guest'),
        ('05-kvmcloud-bridge-br-guest.network', 'networkd/bridge.network.j2', 'br-guest'),
        ('05-kvmcloud-bridge-br-b.netdev', 'networkd/bridge.netdev.j2', 'br-b'),
        ('05-kvmcloud-bridge-br-b.network', 'networkd/bridge.network.j2', 'br-b'),
        ('05-kvmcloud-port-eth1.network', 'networkd/port.network.j2', 'eth1'),
        ('05-kvmcloud-bridge-br-v.netdev', 'networkd/bridge.netdev.j2', 'br-v'),
        ('05-kvmcloud-bridge-br-v.network', 'networkd/bridge.network.j2', 'br-v'),
        ('05-kvmcloud-port-eth2.100.network', 'networkd/port.network.j2', 'eth2.100'),
        ('05-kvmcloud-vlan-eth2.100.netdev', 'networkd/vlan.netdev.j2', 'eth2.100'),
        ('05-kvmcloud-bridge-br-w.netdev', 'networkd/bridge.netdev.j2', 'br-w'),
        ('05-kvmcloud-bridge-br-w.network', 'networkd/bridge.network.j2', 'br-w'),
        ('05-kvmcloud-port-eth2.200.network', 'networkd/port.network.j2', 'eth2.200'),
        ('05-kvmcloud-vlan-eth2.200.netdev', 'networkd/vlan.netdev.j2', 'eth2.200'),
        ('05-kvmcloud-vlanparent-eth2.network', 'networkd/vlanparent.network.j2', 'eth2'),
    ]
    assert all((entry['owner'], entry['group'], entry['mode']) == ('root', 'root', '0644') for entry in entries)
    assert entries[7]['vars']['__kvm_network_bridge'] == bridges[2]
    assert entries[-1]['vars']['__kvm_network_bridge'] == {}
    assert result['networkd_links']['/etc/systemd/network/05-kvmcloud-vlan-eth2.100.netdev'] == 'eth2.100'


def test_files_no_bridge_declares_are_removed_and_only_the_roles():
    result = plan(settings(bridges=[{'name': 'br-guest'}]),
                  facts(['05-kvmcloud-bridge-br-guest.netdev', '05-kvmcloud-bridge-br-old.network',
                         '05-kvmcloud-bridge-br-old.netdev', '05-kvmcloud-Port-x.network']))
    assert result['stale_files'] == ['/etc/systemd/network/05-kvmcloud-bridge-br-old.netdev',
                                     '/etc/systemd/network/05-kvmcloud-bridge-br-old.network',
                                     '/etc/systemd/network/05-kvmcloud-Port-x.network']
    assert result['networkd_files'][-3:] == [{'path': path, 'state': 'absent'} for path in result['stale_files']]


def test_bridges_libvirt_networks_and_hook_policy():
    result = plan(settings(
        bridges=[{'name': 'br-guest'}, {'name': 'br-open', 'restricted': False}, {'name': 'br-raw', 'libvirt_network': False}],
        libvirt_networks=[{'name': 'tenant-nat', 'bridge': 'virbr-tn0', 'address': '192.168.150.1/24'},
                          {'name': 'iso', 'bridge': 'virbr-i0', 'mode': 'isolated', 'address': '192.168.151.1/24',
                           'dhcp': False, 'restricted': False}],
        nwfilter='clean-traffic-gateway', nwfilter_ip_learning='dhcp'))
    assert result['bridges'] == [
        {'name': 'br-guest', 'network': 'br-guest', 'kind': 'host', 'restricted': True, 'nat': False},
        {'name': 'br-open', 'network': 'br-open', 'kind': 'host', 'restricted': False, 'nat': False},
        {'name': 'br-raw', 'network': '', 'kind': 'host', 'restricted': True, 'nat': False},
        {'name': 'virbr-tn0', 'network': 'tenant-nat', 'kind': 'nat', 'restricted': True, 'nat': True},
        {'name': 'virbr-i0', 'network': 'iso', 'kind': 'isolated', 'restricted': False, 'nat': True},
    ]
    assert [(net['network'], net['address'], net['dhcp']) for net in result['libvirt_networks']] == [
        ('br-guest', '', True), ('br-open', '', True), ('tenant-nat', '192.168.150.1/24', True),
        ('iso', '192.168.151.1/24', False)]
    assert result['hook_policy'] == {'filter': 'clean-traffic-gateway', 'ip_learning': 'dhcp',
                                     'networks': ['br-guest', 'tenant-nat'],
                                     'bridges': ['br-guest', 'br-raw', 'virbr-tn0']}


def test_directories_that_drifted():
    paths = {'/etc/kvmcloud': {'exists': True, 'type': 'directory', 'mode': '0775', 'uid': 0, 'gid': 0},
             '/etc/a': {'exists': True, 'type': 'directory', 'mode': '0755', 'uid': 0, 'gid': 0},
             '/etc/b': {'exists': True, 'type': 'directory', 'mode': '0755', 'uid': 0, 'gid': 1000},
             '/etc/c': {'exists': False, 'type': '', 'mode': '', 'uid': None, 'gid': None}}
    result = plan(settings(directories=['/etc/kvmcloud', '/etc/a', '/etc/b', '/etc/c', '/etc/d']), facts(paths=paths))
    assert result['drifted_directories'] == ['/etc/kvmcloud', '/etc/b']


# --- libvirt networks -----------------------------------------------------------------------

BRIDGE_NET = """<network>
  <name>br-guest</name>
  <uuid>7d0a5d6c-1111-4c4c-9a9a-000000000001</uuid>
  <forward mode='bridge'/>
  <bridge name='br-guest'/>
  <port isolated='yes'/>
</network>
"""
NAT_NET = """<network>
  <name>tenant-nat</name>
  <uuid>7d0a5d6c-1111-4c4c-9a9a-000000000002</uuid>
  <forward mode='nat'>
    <nat>
      <port start='1024' end='65535'/>
    </nat>
  </forward>
  <bridge name='virbr-tn0' stp='on' delay='0'/>
  <mac address='52:54:00:aa:bb:cc'/>
  <port isolated='yes'/>
  <ip address='192.168.150.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.150.128' end='192.168.150.254'/>
    </dhcp>
  </ip>
</network>
"""
ISOLATED_NET = """<network>
  <name>iso</name>
  <uuid>7d0a5d6c-1111-4c4c-9a9a-000000000003</uuid>
  <bridge name='virbr-i0' stp='on' delay='0'/>
  <mac address='52:54:00:aa:bb:dd'/>
  <ip address='192.168.151.1' netmask='255.255.255.0'>
  </ip>
</network>
"""
NETWORKS = {'bridges': [{'name': 'br-guest'}],
            'libvirt_networks': [{'name': 'tenant-nat', 'bridge': 'virbr-tn0', 'address': '192.168.150.1/24'},
                                 {'name': 'iso', 'bridge': 'virbr-i0', 'mode': 'isolated', 'address': '192.168.151.1/24',
                                  'dhcp': False, 'restricted': False}]}


def libvirt_plan(existing):
    return plan(settings(**NETWORKS), facts(libvirt_networks=existing))['libvirt']


def existing(**overrides):
    nets = {'br-guest': {'active': True, 'autostart': True, 'xml': BRIDGE_NET},
            'tenant-nat': {'active': True, 'autostart': True, 'xml': NAT_NET},
            'iso': {'active': True, 'autostart': True, 'xml': ISOLATED_NET},
            'default': {'active': True, 'autostart': False, 'xml': '<network><name>default</name></network>'}}
    nets.update(overrides)
    return nets


def test_libvirt_definitions_as_libvirt_writes_them_need_nothing():
    assert libvirt_plan(existing()) == {'define': [], 'redefine': [], 'start': [], 'autostart': []}


def test_libvirt_networks_not_read_need_nothing():
    assert plan(settings(**NETWORKS), facts())['libvirt'] == {'define': [], 'redefine': [], 'start': [], 'autostart': []}


def test_new_network_is_only_in_define_which_also_starts_and_autostarts_it():
    nets = existing()
    del nets['tenant-nat']
    changes = libvirt_plan(nets)
    assert [net['network'] for net in changes['define']] == ['tenant-nat']
    assert (changes['redefine'], changes['start'], changes['autostart']) == ([], [], [])


def test_network_that_lost_its_isolation_is_redefined_keeping_uuid_and_mac():
    changes = libvirt_plan(existing(**{'tenant-nat': {'active': True, 'autostart': True,
                                                      'xml': NAT_NET.replace("  <port isolated='yes'/>\n", '')}}))
    assert [(item['net']['network'], item['uuid'], item['mac'], item['active']) for item in changes['redefine']] == [
        ('tenant-nat', '7d0a5d6c-1111-4c4c-9a9a-000000000002', '52:54:00:aa:bb:cc', True)]
    assert changes['start'] == []


@pytest.mark.parametrize('old, new', [
    ("<forward mode='bridge'/>", "<forward mode='nat'/>"),
    ("<bridge name='br-guest'/>", "<bridge name='br-other'/>"),
])
def test_bridge_network_fields_that_differ(old, new):
    changes = libvirt_plan(existing(**{'br-guest': {'active': False, 'autostart': False,
                                                    'xml': BRIDGE_NET.replace(old, new)}}))
    assert [item['net']['network'] for item in changes['redefine']] == ['br-guest']
    assert (changes['start'], changes['autostart']) == (['br-guest'], ['br-guest'])


@pytest.mark.parametrize('old, new', [
    ("start='192.168.150.128'", "start='192.168.150.100'"),
    ("netmask='255.255.255.0'", "netmask='255.255.0.0'"),
])
def test_nat_network_address_or_range_that_differs(old, new):
    changes = libvirt_plan(existing(**{'tenant-nat': {'active': True, 'autostart': True, 'xml': NAT_NET.replace(old, new)}}))
    assert [item['net']['network'] for item in changes['redefine']] == ['tenant-nat']


def test_fields_of_an_unreadable_definition_never_match():
    assert network_fields('<network') is None
    unreadable = existing(iso={'active': True, 'autostart': True, 'xml': ''})
    assert [item['net']['network'] for item in libvirt_plan(unreadable)['redefine']] == ['iso']


def test_wanted_fields_of_each_kind():
    assert wanted_fields({'kind': 'host', 'name': 'br-guest', 'restricted': True}) == {
        'forward': 'bridge', 'bridge': 'br-guest', 'isolated': True, 'ips': [], 'ranges': []}
    assert wanted_fields({'kind': 'isolated', 'name': 'virbr-i0', 'restricted': False, 'address': '10.1.0.1/16',
                          'dhcp': True}) == {
        'forward': 'none', 'bridge': 'virbr-i0', 'isolated': False,
        'ips': [{'address': '10.1.0.1', 'netmask': '255.255.0.0'}], 'ranges': [('10.1.128.0', '10.1.255.254')]}


# --- Applying -------------------------------------------------------------------------------

def test_applying_lists_links_and_files_before_the_change():
    before = facts(['05-kvmcloud-bridge-br-guest.netdev', '05-kvmcloud-bridge-br-guest.network',
                    '05-kvmcloud-bridge-br-old.netdev', '05-kvmcloud-bridge-br-old.network',
                    '05-kvmcloud-port-eth0.network'],
                   links=dict(LINKS, **{'br-guest': link('bridge'), 'br-old': link('bridge')}))
    the_plan = plan(settings(bridges=[{'name': 'br-guest', 'mtu': 9000}, {'name': 'br-new', 'uplink': 'eth1'}]), before)
    changed = ['/etc/systemd/network/05-kvmcloud-bridge-br-guest.netdev',
               '/etc/systemd/network/05-kvmcloud-bridge-br-new.netdev',
               '/etc/systemd/network/05-kvmcloud-bridge-br-new.network',
               '/etc/systemd/network/05-kvmcloud-port-eth1.network',
               '/etc/systemd/network/05-kvmcloud-bridge-br-old.netdev',
               '/etc/systemd/network/05-kvmcloud-bridge-br-old.network',
               '/etc/systemd/network/05-kvmcloud-port-eth0.network']
    assert apply_plan(the_plan, before, changed) == {
        'reconfigure': ['br-guest', 'eth1', 'br-old', 'eth0'],
        'delete': ['br-old'],
        'new': ['br-new'],
        'replaced': [{'path': '/etc/systemd/network/05-kvmcloud-bridge-br-guest.netdev',
                      'content': 'old 05-kvmcloud-bridge-br-guest.netdev' + NETDEV}],
        'created': ['/etc/systemd/network/05-kvmcloud-bridge-br-new.netdev',
                    '/etc/systemd/network/05-kvmcloud-bridge-br-new.network',
                    '/etc/systemd/network/05-kvmcloud-port-eth1.network'],
        'removed': [{'path': '/etc/systemd/network/05-kvmcloud-bridge-br-old.netdev',
                     'content': 'old 05-kvmcloud-bridge-br-old.netdev' + NETDEV},
                    {'path': '/etc/systemd/network/05-kvmcloud-bridge-br-old.network',
                     'content': 'old 05-kvmcloud-bridge-br-old.network'},
                    {'path': '/etc/systemd/network/05-kvmcloud-port-eth0.network',
                     'content': 'old 05-kvmcloud-port-eth0.network'}],
        'management': ['eth0'],
        'bridges': ['br-guest', 'br-new'],
        # eth0 leaves its bridge: no port of a management link to wait for.
        'ports': [],
    }


def test_applying_waits_only_for_the_ports_over_management_links():
    before = facts()
    bridges = [{'name': 'br-mgmt', 'uplink': 'eth0'}, {'name': 'br-v', 'uplink': 'eth0', 'vlan': 10},
               {'name': 'br-b', 'uplink': 'eth1'}]
    the_plan = plan(settings(bridges=bridges, management_change_allowed=True), before)
    changed = [entry['path'] for entry in the_plan['networkd_files']]
    applied = apply_plan(the_plan, before, changed)
    assert applied['management'] == ['eth0']
    assert applied['ports'] == [{'link': 'eth0', 'uplink': 'eth0', 'bridge': 'br-mgmt'},
                                {'link': 'eth0.10', 'uplink': 'eth0', 'bridge': 'br-v'}]


def test_applying_when_only_other_files_changed():
    before = facts(['05-kvmcloud-bridge-br-guest.netdev', '05-kvmcloud-bridge-br-guest.network'])
    the_plan = plan(settings(bridges=[{'name': 'br-guest'}]), before)
    assert apply_plan(the_plan, before, ['/etc/systemd/networkd.conf.d/05-kvmcloud.conf']) == {
        'reconfigure': [], 'delete': [], 'new': [], 'replaced': [], 'created': [], 'removed': [],
        'management': [], 'bridges': ['br-guest'], 'ports': []}
