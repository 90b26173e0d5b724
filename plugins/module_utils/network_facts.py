# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bridges, host addresses, default route and listening sockets."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import socket
import struct


def default_route_interfaces(fs):
    """(IPv4, IPv6) interfaces that carry the default route, None when absent."""
    v4 = None
    for line in (fs.read('/proc/net/route') or '').splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == '00000000' and fields[7] == '00000000':
            v4 = fields[0]
            break
    v6 = None
    for line in (fs.read('/proc/net/ipv6_route') or '').splitlines():
        fields = line.split()
        if len(fields) == 10 and fields[0] == '0' * 32 and fields[1] == '00' and fields[9] != 'lo':
            v6 = fields[9]
            break
    return v4, v6


def parse_ip_json_addresses(text):
    """{interface: {'ipv4': [...], 'ipv6_global': [...]}} from `ip -j addr show`."""
    try:
        links = json.loads(text or '[]')
    except ValueError:
        return {}
    addresses = {}
    for link in links:
        entry = addresses.setdefault(link.get('ifname'), {'ipv4': [], 'ipv6_global': []})
        for addr in link.get('addr_info', []):
            cidr = '%s/%s' % (addr.get('local'), addr.get('prefixlen'))
            if addr.get('family') == 'inet':
                entry['ipv4'].append(cidr)
            elif addr.get('family') == 'inet6' and addr.get('scope') == 'global':
                entry['ipv6_global'].append(cidr)
    return addresses


def parse_if_inet6(text):
    """Global IPv6 addresses per interface from /proc/net/if_inet6 (scope 00)."""
    addresses = {}
    for line in (text or '').splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[3] == '00':
            raw = fields[0]
            address = ':'.join(raw[i:i + 4] for i in range(0, 32, 4))
            addresses.setdefault(fields[5], []).append('%s/%d' % (address, int(fields[2], 16)))
    return addresses


def host_addresses(fs, runner):
    ip_bin = fs.find_bin('ip')
    if ip_bin and runner is not None:
        rc, out, _err = runner.run([ip_bin, '-j', 'addr', 'show'])
        if rc == 0:
            return parse_ip_json_addresses(out), True
    # Without iproute2 only IPv6 can be read from /proc; IPv4 stays unknown.
    addresses = {}
    for name, v6 in parse_if_inet6(fs.read('/proc/net/if_inet6')).items():
        addresses[name] = {'ipv4': [], 'ipv6_global': v6}
    return addresses, False


def bridge_facts(fs, addresses, addresses_complete, default_ifaces):
    bridges = []
    for name in fs.listdir('/sys/class/net'):
        if not fs.isdir('/sys/class/net/%s/bridge' % name):
            continue
        ports = fs.listdir('/sys/class/net/%s/brif' % name)
        addr = addresses.get(name, {'ipv4': [], 'ipv6_global': []})
        has_address = bool(addr['ipv4'] or addr['ipv6_global'])
        bridges.append({
            'name': name,
            'ports': ports,
            'ipv4': addr['ipv4'],
            'ipv6_global': addr['ipv6_global'],
            'accept_ra': fs.read_int('/proc/sys/net/ipv6/conf/%s/accept_ra' % name),
            # Without iproute2 a bridge with no IPv6 may still hold IPv4: unknown.
            'carries_host_address': has_address if (addresses_complete or has_address) else None,
            'carries_default_route': any(iface in default_ifaces for iface in [name] + ports),
        })
    return bridges


def sriov_interfaces(fs):
    found = []
    for name in fs.listdir('/sys/class/net'):
        total = fs.read_int('/sys/class/net/%s/device/sriov_totalvfs' % name)
        if total:
            found.append({'name': name, 'total_vfs': total,
                          'num_vfs': fs.read_int('/sys/class/net/%s/device/sriov_numvfs' % name, 0)})
    return found


def network_facts(fs, runner):
    v4, v6 = default_route_interfaces(fs)
    addresses, complete = host_addresses(fs, runner)
    default_ifaces = [iface for iface in (v4, v6) if iface]
    return {
        'default_route_interface': v4,
        'default_route_interface_ipv6': v6,
        'bridges': bridge_facts(fs, addresses, complete, default_ifaces),
        # Every interface's addresses, so a role can check that an address it is given is this host's.
        'addresses': addresses,
        'addresses_complete': complete,
        'sriov_interfaces': sriov_interfaces(fs),
        'ip_forward': fs.read_int('/proc/sys/net/ipv4/ip_forward'),
        'ipv6_forwarding': fs.read_int('/proc/sys/net/ipv6/conf/all/forwarding'),
    }


def _decode_address(hex_address):
    # /proc prints addresses as host-order 32-bit words in hex.
    words = [int(hex_address[i:i + 8], 16) for i in range(0, len(hex_address), 8)]
    packed = struct.pack('=%dI' % len(words), *words)
    return socket.inet_ntop(socket.AF_INET if len(words) == 1 else socket.AF_INET6, packed)


def tcp_listeners(fs):
    """[{address, port}] of listening TCP sockets from /proc/net/tcp and tcp6."""
    listeners = []
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        for line in (fs.read(table) or '').splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != '0A':
                continue
            address, _sep, port = fields[1].partition(':')
            try:
                listeners.append({'address': _decode_address(address), 'port': int(port, 16)})
            except (ValueError, struct.error):
                continue
    return listeners


def is_loopback(address):
    return address.startswith('127.') or address in ('::1', '::ffff:127.0.0.1') or address.startswith('::ffff:127.')
