# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Links, default routes, the interface of the SSH session, and which links are management."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import struct

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network_facts import _decode_address

# Kinds whose lower device ("link" in `ip -j link`) carries their traffic: changing the lower
# device breaks them. For a veth, "link" names the peer instead.
STACKED_KINDS = ('vlan', 'macvlan', 'macvtap', 'ipvlan', 'ipvtap')
AGGREGATE_KINDS = ('bridge', 'bond', 'team')
TCP_ESTABLISHED = '01'
# How many parents to walk up from this process before giving up on finding sshd.
MAX_ANCESTORS = 32


class IPCommandError(Exception):
    pass


def ip_json(runner, ip_bin, args):
    rc, out, err = runner.run([ip_bin, '-j'] + args)
    if rc != 0:
        raise IPCommandError('%s -j %s failed (rc %s): %s' % (ip_bin, ' '.join(args), rc, (err or out).strip()))
    try:
        # iproute2 prints nothing at all for an empty route table.
        return json.loads(out or '[]')
    except ValueError:
        raise IPCommandError('%s -j %s printed no JSON: %s' % (ip_bin, ' '.join(args), out[:200]))


def link_kind(link):
    info = link.get('linkinfo') or {}
    if info.get('info_kind'):
        return info['info_kind']
    if link.get('link_type') == 'loopback':
        return 'loopback'
    return 'device'


def parse_links(link_list, addr_list):
    """{name: {kind, master, parent, ports, mac, mtu, operstate, ipv4, ipv6}} from
    `ip -d -j link show` and `ip -j addr show`."""
    links = {}
    for link in link_list:
        name = link.get('ifname')
        if not name:
            continue
        kind = link_kind(link)
        links[name] = {
            'kind': kind,
            'master': link.get('master', ''),
            'parent': link.get('link', '') if kind in STACKED_KINDS else '',
            'ports': [],
            'mac': link.get('address', ''),
            'mtu': link.get('mtu'),
            'operstate': link.get('operstate', ''),
            'ipv4': [],
            'ipv6': [],
        }
    for name in sorted(links):
        master = links[name]['master']
        if master in links:
            links[master]['ports'].append(name)
    for entry in addr_list:
        link = links.get(entry.get('ifname'))
        if link is None:
            continue
        for addr in entry.get('addr_info', []):
            cidr = '%s/%s' % (addr.get('local'), addr.get('prefixlen'))
            if addr.get('family') == 'inet':
                link['ipv4'].append(cidr)
            elif addr.get('family') == 'inet6':
                link['ipv6'].append(cidr)
    return links


def route_devices(routes):
    """The devices of default routes, multipath next hops included, in order."""
    devices = []
    for route in routes:
        hops = route.get('nexthops') or [route]
        for hop in hops:
            dev = hop.get('dev')
            if dev and dev not in devices:
                devices.append(dev)
    return devices


def _parent_pid(fs, pid):
    # The command name in parentheses may itself hold spaces and ')': split after the last one.
    stat = fs.read('/proc/%s/stat' % pid) or ''
    fields = stat.rpartition(')')[2].split()
    return fields[1] if len(fields) > 1 else None


def _socket_inodes(fs, pid):
    inodes = set()
    for fd in fs.listdir('/proc/%s/fd' % pid):
        target = fs.readlink('/proc/%s/fd/%s' % (pid, fd)) or ''
        if target.startswith('socket:[') and target.endswith(']'):
            inodes.add(target[len('socket:['):-1])
    return inodes


def ssh_ancestors(fs):
    """PIDs of the sshd processes above this one (sshd, or sshd-session since OpenSSH 9.8)."""
    pid = fs.readlink('/proc/self')
    found = []
    for _step in range(MAX_ANCESTORS):
        if not pid or pid == '0':
            break
        comm = fs.read_strip('/proc/%s/comm' % pid) or ''
        if comm == 'sshd' or comm.startswith('sshd-'):
            found.append(pid)
        pid = _parent_pid(fs, pid)
    return found


def established_local_address(fs, inodes):
    """The local address of the first established TCP socket among the inodes."""
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        for line in (fs.read(table) or '').splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != TCP_ESTABLISHED or fields[9] not in inodes:
                continue
            try:
                address = _decode_address(fields[1].partition(':')[0])
            except (ValueError, struct.error):
                continue
            # An IPv4 client on a dual-stack listener: ::ffff:192.0.2.1.
            return address[len('::ffff:'):] if address.startswith('::ffff:') and '.' in address else address
    return ''


def _environ_ssh_connection(fs, pid):
    for item in (fs.read('/proc/%s/environ' % pid) or '').split('\0'):
        if item.startswith('SSH_CONNECTION='):
            fields = item.split('=', 1)[1].split()
            if len(fields) == 4:
                return fields[2]
    return ''


def connection_address(fs):
    """The host's local address of the SSH session this process runs under, or ''.

    sudo strips SSH_CONNECTION from our own environment, so ask the kernel: the established
    TCP socket that the sshd processes above us hold. Only root can read their file
    descriptors; without it, the login shell below sshd still has SSH_CONNECTION in its
    environment (readable by the same user)."""
    ancestors = ssh_ancestors(fs)
    if not ancestors:
        return ''
    inodes = set()
    for pid in ancestors:
        inodes |= _socket_inodes(fs, pid)
    address = established_local_address(fs, inodes)
    if address:
        return address
    pid = fs.readlink('/proc/self')
    for _step in range(MAX_ANCESTORS):
        if not pid or pid == '0' or pid in ancestors:
            break
        address = _environ_ssh_connection(fs, pid)
        if address:
            return address
        pid = _parent_pid(fs, pid)
    return ''


def interface_of_address(links, address):
    for name in sorted(links):
        for cidr in links[name]['ipv4'] + links[name]['ipv6']:
            if cidr.split('/')[0] == address:
                return name
    return ''


def management_closure(links, seeds):
    """Every link the seeds depend on or share a device with: {name: reason}.

    seeds: [(name, reason)]. A seed's master (bridge or bond) carries its traffic; the other
    ports of such a master carry it too; a VLAN's parent carries it."""
    reasons = {}
    queue = []

    def add(name, reason):
        # A link reached again through its own bridge or bond gains no news.
        if name and name not in reasons:
            reasons[name] = [reason]
            queue.append(name)

    for name, reason in seeds:
        if name in reasons:
            reasons[name].append(reason)
        add(name, reason)
    while queue:
        name = queue.pop(0)
        link = links.get(name)
        if link is None:
            continue
        if link['master']:
            add(link['master'], 'master of management interface %s' % name)
        if link['kind'] in AGGREGATE_KINDS:
            for port in link['ports']:
                add(port, 'port of management %s %s' % (link['kind'], name))
        if link['parent']:
            add(link['parent'], 'parent of management %s %s' % (link['kind'], name))
    return dict((name, '; '.join(why)) for name, why in reasons.items())


def network_link_facts(fs, runner):
    ip_bin = fs.find_bin('ip')
    if ip_bin is None:
        raise IPCommandError('the ip command (iproute2) is not installed')
    links = parse_links(ip_json(runner, ip_bin, ['-d', 'link', 'show']),
                        ip_json(runner, ip_bin, ['addr', 'show']))
    v4 = route_devices(ip_json(runner, ip_bin, ['route', 'show', 'default']))
    v6 = route_devices(ip_json(runner, ip_bin, ['-6', 'route', 'show', 'default']))
    address = connection_address(fs)
    iface = interface_of_address(links, address) if address else ''

    seeds = [(name, 'carries the IPv4 default route') for name in v4]
    seeds += [(name, 'carries the IPv6 default route') for name in v6]
    if iface:
        seeds.append((iface, 'carries this SSH connection (local address %s)' % address))
    reasons = management_closure(links, seeds)
    return {
        'links': links,
        'default_route_interfaces': v4 + [name for name in v6 if name not in v4],
        'connection_interface': iface,
        'connection_address': address,
        'management_interfaces': sorted(reasons),
        'management_reasons': reasons,
        # br_netfilter's sysctls exist only while the module is loaded; procps brings sysctl.
        'bridge_sysctls': fs.isdir('/proc/sys/net/bridge'),
        'sysctl_installed': fs.find_bin('sysctl') is not None,
    }
