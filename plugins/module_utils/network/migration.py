# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host guard's migration openings (L8 through N6), worked out on the controller.

With live migration on (kvm_hardening_migration_enabled), incoming migrations reach this host
on libvirt's TLS port and on QEMU's migration port range. The guard accepts new connections to
those ports only from the fleet's migration addresses and from loopback, and drops them from
anywhere else; every other port of the host is left as it was.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

# kvm_hardening's own readings of its settings, and its check of the port range the guard opens.
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.host_hardening import (
    as_bool, as_int, migration_port_errors)

# libvirt's TLS port: the source host's libvirtd reaches this one's there to start a migration.
LIBVIRT_TLS_PORT = 16514
PEER_HINT = ('List the migration addresses (kvm_hardening_migration_address) of the other hosts guests migrate '
             'from, such as 192.0.2.12, or their network, such as 192.0.2.0/24; by default the list holds those '
             'of every other host of the play with migration on.')


def fleet_peers(hosts, hostvars, this_host):
    """The migration addresses of the hosts of the play, but this one, that have migration on.

    This host is left out: its own connections to itself arrive on loopback, which the guard
    accepts anyway, and no packet from outside needs to pass for it. hostvars is Ansible's
    (each value is templated in its own host's context when read) or, in tests, plain dicts."""
    peers = []
    for name in hosts or []:
        if name == this_host or name not in hostvars:
            continue
        host = hostvars[name]
        if not as_bool(host.get('kvm_hardening_migration_enabled', False)):
            continue
        address = host.get('kvm_hardening_migration_address', '')
        address = address.strip() if isinstance(address, str) else address
        if address not in ('', None) and address not in peers:
            peers.append(address)
    return peers


def peer_problem(value):
    """Why one entry of kvm_network_migration_peers cannot be a source the guard accepts, or ''."""
    if not isinstance(value, str) or value != value.strip() or not value:
        return 'not an IP address or a network in CIDR form'
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return 'not an IP address or a network in CIDR form'
    if network.network_address != ipaddress.ip_interface(value).ip:
        return ('has host bits set: give the network, %s, or the single address without a prefix length'
                % network)
    if network.prefixlen == 0:
        return 'opens the migration ports to every address'
    if network.network_address.is_unspecified:
        return 'is the unspecified address'
    if network.is_loopback:
        return 'is loopback, which the guard accepts anyway'
    if network.is_multicast:
        return 'is a multicast address, never the source of a connection'
    return ''


def migration_guard_errors(settings):
    """The messages for kvm_network_migration_peers and, when migration is on, the port range.

    settings: migration_enabled, migration_port_min, migration_port_max, migration_peers."""
    peers = settings.get('migration_peers')
    if peers is None:
        peers = []
    if not isinstance(peers, list):
        return ['kvm_network_migration_peers = %r: must be a list of IP addresses or networks in CIDR form. %s'
                % (peers, PEER_HINT)]
    errors = []
    for index, peer in enumerate(peers):
        problem = peer_problem(peer)
        if problem:
            errors.append('kvm_network_migration_peers[%d] = %r: %s. %s' % (index, peer, problem, PEER_HINT))
    if as_bool(settings.get('migration_enabled', False)):
        errors.extend(migration_port_errors(settings.get('migration_port_min'), settings.get('migration_port_max')))
    return errors


def migration_guard(settings):
    """What the guard's template writes: {enabled, ports, ipv4, ipv6}.

    ports: nft's set elements for libvirt's TLS port and the migration range; ipv4 and ipv6:
    the peers as nft takes them, merged where they overlap (nft refuses overlapping elements
    in one set) and sorted, so an equal list in another order writes the same file. Entries
    that fail migration_guard_errors are left out; the role stops on those errors first."""
    guard = {'enabled': False, 'ports': [], 'ipv4': [], 'ipv6': []}
    low, high = settings.get('migration_port_min'), settings.get('migration_port_max')
    if not as_bool(settings.get('migration_enabled', False)) or migration_port_errors(low, high):
        return guard
    low, high = as_int(low), as_int(high)
    networks = []
    for peer in settings.get('migration_peers') or []:
        if isinstance(peer, str) and not peer_problem(peer):
            networks.append(ipaddress.ip_network(peer, strict=False))
    for version, key in ((4, 'ipv4'), (6, 'ipv6')):
        merged = ipaddress.collapse_addresses(sorted(net for net in networks if net.version == version))
        guard[key] = [str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
                      for net in merged]
    ranges = '%d-%d' % (low, high) if low != high else '%d' % low
    guard.update(enabled=True, ports=[str(LIBVIRT_TLS_PORT), ranges])
    return guard
