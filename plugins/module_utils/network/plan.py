# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What kvm_network does on a host, worked out on the controller.

plan() checks the role's settings and turns them into the bridges, systemd-networkd files,
libvirt networks and hook policy the role writes; given kvm_network_facts, it also checks the
host (uplinks, management link), lists the role's files no longer declared, and compares the
libvirt networks with the wanted ones. apply_plan() says what applying the networkd files
takes once they are written.

The messages are the ones the role's asserts rendered before this code existed, word for
word; the helpers below copy what the Jinja filters they replace did (case-insensitive
`unique` and `sort`, `int` that reads junk as 0, `default('', true)`).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import re
import xml.etree.ElementTree as ET

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network.cidr import cidr_info
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network.migration import (
    migration_guard, migration_guard_errors)

# Linux interface names: at most 15 bytes (IFNAMSIZ - 1), no '/', ':' or whitespace.
IFNAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\Z')
NETWORK_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*\Z')
# The filter restricted bridges require: libvirt's filters that stop MAC, IP and ARP spoofing
# (no-mac-spoofing alone lets a guest take another's IP address).
SPOOFING_FILTERS = ('clean-traffic', 'clean-traffic-gateway')
NETWORKD_DIR = '/etc/systemd/network'
SUPPORTED_OS_FAMILIES = ('Debian',)


# --- What the Jinja filters did -----------------------------------------------------------

def _text(value):
    """A value as Jinja prints it inside a string."""
    return value if isinstance(value, str) else str(value)


def _int(value, default=0):
    """Jinja's int filter: '12' and 12.7 read as 12, anything else as 0."""
    try:
        if isinstance(value, str):
            return int(value, 10)
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return default


def _or_empty(value):
    """default('', true): '' for a missing or false value."""
    return value if value else ''


def _fold(value):
    return value.lower() if isinstance(value, str) else value


def _unique(values):
    """Jinja's unique as Ansible calls it: first of each, case-insensitive for strings."""
    seen = []
    out = []
    for value in values:
        key = _fold(value)
        if key not in seen:
            seen.append(key)
            out.append(value)
    return out


def _sorted(values):
    """Jinja's sort: case-insensitive for strings."""
    return sorted(values, key=_fold)


def _match(regex, value):
    return isinstance(value, str) and regex.match(value) is not None


def _truthy(value):
    """Ansible's bool filter, for the settings a user may give as strings."""
    if isinstance(value, str):
        return value.strip().lower() in ('1', 'true', 'yes', 'on', 'y', 't')
    return bool(value)


def _has(entry, key):
    """selectattr(key, 'defined') | rejectattr(key, 'in', ['', none])."""
    return entry.get(key) not in ('', None)


# --- The settings -------------------------------------------------------------------------

def _entries(value):
    """A list setting, keeping only its dict entries (the argument spec refuses the rest)."""
    return [entry for entry in (value or []) if isinstance(entry, dict)]


class Settings:
    """The role's variables, as the role hands them over (without the kvm_network_ prefix)."""

    def __init__(self, settings):
        self.bridges = _entries(settings.get('bridges'))
        self.libvirt_networks = _entries(settings.get('libvirt_networks'))
        self.host_guard_allow = _entries(settings.get('host_guard_allow'))
        self.nwfilter = settings.get('nwfilter', 'clean-traffic')
        self.nwfilter_ip_learning = settings.get('nwfilter_ip_learning', 'any')
        self.rollback_seconds = settings.get('rollback_seconds', 90)
        self.management_change_allowed = _truthy(settings.get('management_change_allowed', False))
        # L8 through the guard: kvm_hardening's migration settings and the peers' addresses.
        self.migration = {key: settings.get(key) for key in (
            'migration_enabled', 'migration_port_min', 'migration_port_max', 'migration_peers')}
        self.prefix = settings.get('networkd_prefix') or '05-kvmcloud-'
        self.directories = list(settings.get('directories') or [])
        self.hostname = settings.get('hostname', '')
        self.os_family = settings.get('os_family')
        self.distribution = settings.get('distribution', '')
        self.distribution_version = settings.get('distribution_version', '')


def all_bridges(settings):
    """Every bridge the role builds or has libvirt build: {name, network, kind, restricted, nat}."""
    out = []
    for bridge in settings.bridges:
        out.append({'name': bridge.get('name'),
                    'network': bridge.get('name') if bridge.get('libvirt_network', True) else '',
                    'kind': 'host', 'restricted': bridge.get('restricted', True), 'nat': False})
    for network in settings.libvirt_networks:
        out.append({'name': network.get('bridge'), 'network': network.get('name'),
                    'kind': network.get('mode', 'nat'), 'restricted': network.get('restricted', True),
                    'nat': True})
    return out


# --- Input checks, in the order the role's asserts ran: the first that fails is reported ---

def check_platform(settings, bridges):
    if settings.os_family in SUPPORTED_OS_FAMILIES:
        return []
    return ['kvm_network supports Debian 12 and 13 (systemd-networkd); it has no network backend for %s %s.'
            % (_text(settings.distribution), _text(settings.distribution_version))]


NAME_RULE = "1-15 characters: letters, digits, '.', '_' and '-'"


def bridge_problems(bridge):
    """The rules one kvm_network_bridges entry breaks, each with its value and the fix."""
    vlan = bridge.get('vlan')
    uplink = _or_empty(bridge.get('uplink'))
    mtu = bridge.get('mtu')
    address = _or_empty(bridge.get('address'))
    valid_address = cidr_info(address)['valid']
    problems = []
    if not _match(IFNAME_RE, bridge.get('name')):
        problems.append('the name must be ' + NAME_RULE)
    if uplink != '' and not _match(IFNAME_RE, uplink):
        problems.append('uplink (%s) must be %s' % (_text(uplink), NAME_RULE))
    if vlan is not None and uplink == '':
        problems.append('vlan (%s) needs an uplink: the bridge enslaves UPLINK.VLAN' % _text(vlan))
    elif vlan is not None and not 1 <= _int(vlan) <= 4094:
        problems.append('vlan (%s) must be 1-4094' % _text(vlan))
    elif vlan is not None and len(_text(uplink) + '.' + _text(vlan)) > 15:
        problems.append('UPLINK.VLAN (%s.%s) must fit in 15 characters: pick a shorter uplink name'
                        % (_text(uplink), _text(vlan)))
    if mtu is not None and not 68 <= _int(mtu) <= 65535:
        problems.append('mtu (%s) must be 68-65535' % _text(mtu))
    if address not in ('', 'dhcp') and not valid_address:
        problems.append("address (%s) must be empty, 'dhcp' or an address with its prefix length such as"
                        " 192.0.2.10/24" % _text(address))
    elif _or_empty(bridge.get('gateway')) != '' and not valid_address:
        problems.append('a gateway (%s) needs an address with its prefix length, such as 192.0.2.10/24 (got %s)'
                        % (_text(bridge.get('gateway')), _text(address) or 'none'))
    return problems


def check_bridges(settings, bridges):
    return ['kvm_network_bridges[%d] entry %s: %s.' % (index, _text(bridge.get('name')), problem)
            for index, bridge in enumerate(settings.bridges) for problem in bridge_problems(bridge)]


def check_gateways(settings, bridges):
    errors = []
    for index, bridge in enumerate(settings.bridges):
        if not _has(bridge, 'gateway'):
            continue
        address = cidr_info(bridge.get('address'))
        gateway = cidr_info('%s/%s' % (_text(bridge['gateway']), address['prefix']))
        if not (gateway['valid'] and gateway['network'] == address['network']):
            errors.append('kvm_network_bridges[%d] entry %s: gateway %s is not an address in %s.'
                          % (index, _text(bridge.get('name')), _text(bridge['gateway']), address['network']))
    return errors


def check_libvirt_networks(settings, bridges):
    errors = []
    for index, network in enumerate(settings.libvirt_networks):
        cidr = cidr_info(network.get('address'))
        problems = []
        if not _match(NETWORK_NAME_RE, network.get('name')):
            problems.append("the name may hold only letters, digits, '.', '_' and '-'")
        if not _match(IFNAME_RE, network.get('bridge')):
            problems.append('the bridge (%s) must be %s' % (_text(network.get('bridge')), NAME_RULE))
        why = (cidr['reason'].rstrip('.') if not cidr['valid']
               else 'it is IPv6' if cidr['version'] != 4
               else 'a /%s leaves no address for guests' % cidr['prefix'] if cidr['prefix'] > 30
               else 'that is the subnet itself, not an address in it' if cidr['is_network_address'] else '')
        if why:
            problems.append("address (%s) must be the host's IPv4 address with a prefix length of at most 30, such"
                            " as 192.168.150.1/24: %s" % (_text(network.get('address')), why))
        errors.extend('kvm_network_libvirt_networks[%d] entry %s: %s.' % (index, _text(network.get('name')), problem)
                      for problem in problems)
    return errors


def check_unique(settings, bridges):
    names = [bridge['name'] for bridge in bridges]
    networks = [bridge['network'] for bridge in bridges if bridge['network']]
    subnets = [cidr_info(network.get('address'))['network'] for network in settings.libvirt_networks]
    if (len(_unique(names)) == len(names) and len(_unique(networks)) == len(networks)
            and len(_unique(subnets)) == len(subnets) and 'default' not in networks and 'virbr0' not in names):
        return []
    return ["kvm_network_bridges and kvm_network_libvirt_networks: bridge names (%s), libvirt network names"
            " (%s) and NAT subnets (%s) must each be unique. libvirt's 'default' network and its virbr0"
            " belong to kvm_host (kvm_host_default_network_enabled)."
            % (', '.join(_text(name) for name in names), ', '.join(_text(name) for name in networks),
               ', '.join(subnets))]


def check_overlaps(settings, bridges):
    """Two libvirt networks whose subnets overlap (one inside the other, not only equal) give
    the host two routes to the same addresses, and their guests' DHCP ranges collide."""
    subnets = []
    for index, network in enumerate(settings.libvirt_networks):
        cidr = cidr_info(network.get('address'))
        if cidr['valid']:
            subnets.append((index, _text(network.get('name')), ipaddress.ip_network(cidr['network'])))
    errors = []
    for position, (index, name, subnet) in enumerate(subnets):
        for other_index, other_name, other in subnets[position + 1:]:
            if subnet != other and subnet.overlaps(other):
                errors.append('kvm_network_libvirt_networks[%d] entry %s (%s) overlaps [%d] entry %s (%s): give each'
                              ' network a subnet of its own.' % (index, name, subnet, other_index, other_name, other))
    return errors


def check_guard_openings(settings, bridges):
    names = [bridge['name'] for bridge in bridges]
    errors = []
    for index, opening in enumerate(settings.host_guard_allow):
        if opening.get('bridge') in names and 1 <= _int(opening.get('port')) <= 65535:
            continue
        errors.append('kvm_network_host_guard_allow[%d] entry %s %s/%s: the bridge must be one of %s and the port'
                      ' 1-65535.' % (index, _text(opening.get('bridge')), _text(opening.get('proto')),
                                     _text(opening.get('port')), ', '.join(_text(name) for name in names)))
    return errors


def check_migration_peers(settings, bridges):
    return migration_guard_errors(settings.migration)


def check_filter_and_window(settings, bridges):
    if settings.nwfilter in SPOOFING_FILTERS and 30 <= _int(settings.rollback_seconds) <= 900:
        return []
    return ['kvm_network_nwfilter (%s) must be one of %s (the filters libvirt ships that stop MAC, IP and ARP'
            ' spoofing, N3), and kvm_network_rollback_seconds (%s) 30-900: long enough for the controller to'
            ' reconnect, short enough that a lost host comes back soon.'
            % (_text(settings.nwfilter), ', '.join(SPOOFING_FILTERS), _text(settings.rollback_seconds))]


def check_uplinks(settings, bridges):
    """A bridge port hands every frame, tagged or not, to its bridge: the same NIC cannot also
    carry VLAN sub-interfaces, nor be the port of two bridges."""
    with_uplink = [bridge for bridge in settings.bridges if _has(bridge, 'uplink')]
    tagged = [bridge for bridge in with_uplink if bridge.get('vlan') is not None]
    direct = [bridge['uplink'] for bridge in with_uplink if bridge not in tagged]
    parents = [bridge['uplink'] for bridge in tagged]
    ports = direct + ['%s.%s' % (_text(bridge['uplink']), _text(bridge['vlan'])) for bridge in tagged]
    both = _unique([uplink for uplink in direct if uplink in parents])
    names = [bridge['name'] for bridge in bridges]
    if len(_unique(ports)) == len(ports) and not both and not [port for port in ports if port in names]:
        return []
    return ['kvm_network_bridges: uplinks (%s) must each serve one bridge; %s is both a direct uplink and a'
            ' VLAN parent, which cannot work; a bridge cannot be an uplink.'
            % (', '.join(_text(port) for port in ports), ', '.join(_text(nic) for nic in both) or 'no NIC')]


INPUT_CHECKS = (check_platform, check_bridges, check_gateways, check_libvirt_networks, check_unique, check_overlaps,
                check_guard_openings, check_migration_peers, check_filter_and_window, check_uplinks)


def input_errors(settings, bridges):
    """The messages of the first check that fails: a later check may read what an earlier
    one refused (a gateway needs a valid address), as the separate asserts could."""
    for check in INPUT_CHECKS:
        errors = check(settings, bridges)
        if errors:
            return errors
    return []


# --- systemd-networkd files -----------------------------------------------------------------

def networkd_files(settings):
    """One entry per file the bridges need: {file, path, template, link, bridge}."""
    out = []

    def add(kind, link, suffix, bridge):
        name = '%s%s-%s.%s' % (settings.prefix, kind, link, suffix)
        out.append({'file': name, 'path': '%s/%s' % (NETWORKD_DIR, name),
                    'template': '%s.%s.j2' % (kind, suffix), 'link': link, 'bridge': bridge})

    for bridge in settings.bridges:
        name = _text(bridge.get('name'))
        vlan = bridge.get('vlan')
        add('bridge', name, 'netdev', bridge)
        add('bridge', name, 'network', bridge)
        uplink = _or_empty(bridge.get('uplink'))
        if uplink:
            port = '%s.%s' % (_text(uplink), _text(vlan)) if vlan else _text(uplink)
            add('port', port, 'network', bridge)
            if vlan:
                add('vlan', port, 'netdev', bridge)
    parents = _unique([bridge.get('uplink') for bridge in settings.bridges
                       if bridge.get('vlan') is not None and bridge.get('uplink') is not None])
    for parent in parents:
        add('vlanparent', _text(parent), 'network', {})
    return out


def bridge_ports(wanted):
    """{link, uplink, bridge} of each port the networkd files put in a bridge: the uplink, or
    its VLAN sub-interface UPLINK.VLAN."""
    return [{'link': entry['link'], 'uplink': _text(entry['bridge'].get('uplink')),
             'bridge': _text(entry['bridge'].get('name'))}
            for entry in wanted if entry['template'] == 'port.network.j2']


def file_link(prefix, name):
    """The link a file of the role configures: PREFIX + KIND-LINK.netdev or .network."""
    found = re.match(r'^%s[a-z]+-(.*)\.(netdev|network)$' % re.escape(prefix), name)
    return found.group(1) if found else name


def stale_files(settings, wanted, facts):
    """The role's networkd files on the host that no bridge declares any more, sorted."""
    names = set(entry['file'] for entry in wanted)
    found = (facts or {}).get('networkd_files') or {}
    return ['%s/%s' % (NETWORKD_DIR, name) for name in _sorted(found) if name not in names]


def config_file_entries(wanted, stale):
    """The networkd files as kvmcloud.hypervisor.config_files takes them."""
    entries = []
    for entry in wanted:
        entries.append({'path': entry['path'], 'template': 'networkd/' + entry['template'],
                        'vars': {'__kvm_network_link': entry['link'], '__kvm_network_bridge': entry['bridge']},
                        'owner': 'root', 'group': 'root', 'mode': '0644'})
    for path in stale:
        entries.append({'path': path, 'state': 'absent'})
    return entries


# --- Host checks ----------------------------------------------------------------------------

def checked_links(settings, stale):
    """[{link, why}]: every link whose config a run may rewrite, and why."""
    out = []
    for index, bridge in enumerate(settings.bridges):
        name = _text(bridge.get('name'))
        entry = 'kvm_network_bridges[%d] entry %s' % (index, name)
        out.append({'link': name, 'why': '%s defines bridge %s' % (entry, name)})
        uplink = _or_empty(bridge.get('uplink'))
        vlan = bridge.get('vlan')
        if uplink and vlan:
            port = '%s.%s' % (_text(uplink), _text(vlan))
            out.append({'link': uplink, 'why': '%s adds VLAN %s to %s' % (entry, _text(vlan), _text(uplink))})
            out.append({'link': port, 'why': '%s enslaves %s' % (entry, port)})
        elif uplink:
            out.append({'link': uplink, 'why': '%s enslaves %s' % (entry, _text(uplink))})
    for path in stale:
        link = file_link(settings.prefix, path.rsplit('/', 1)[-1])
        out.append({'link': link, 'why': 'Removing %s (no longer declared) changes %s' % (path, link)})
    return out


def host_addresses(link):
    """The addresses of a link that something may use: all but IPv6 link-local ones."""
    return [cidr for cidr in (link.get('ipv4') or []) + (link.get('ipv6') or [])
            if not cidr.lower().startswith('fe80:')]


def check_host_uplinks(settings, facts):
    """Every uplink exists on the host, belongs to no other bridge or bond, and, when the bridge
    takes it over untagged, carries no addresses (unless a change of such links is allowed)."""
    links = facts.get('links') or {}
    prefix = settings.prefix
    own_files = [name for name in (facts.get('networkd_files') or {})
                 if re.match(r'%sbridge-.*\.netdev$' % re.escape(prefix), name)]
    # Bridges of the role, declared now or removed by this run: an uplink may move between them.
    own_bridges = [bridge.get('name') for bridge in settings.bridges] + [
        re.sub(r'^%sbridge-(.*)\.netdev$' % re.escape(prefix), r'\1', name) for name in own_files]
    errors = []
    for index, bridge in enumerate(settings.bridges):
        if not _has(bridge, 'uplink'):
            continue
        uplink = bridge['uplink']
        link = links.get(uplink)
        if link is None:
            problem = 'does not exist on %s (links: %s)' % (settings.hostname, ', '.join(_sorted(links)))
        elif link.get('kind') in ('bridge', 'loopback'):
            problem = 'is a %s, which cannot be a bridge port' % link.get('kind')
        elif link.get('master', '') not in ['', bridge.get('name')] + own_bridges:
            problem = ('is already a port of %s, which this role does not manage: take it out of there first'
                       % link.get('master'))
        elif (host_addresses(link) and not _has(bridge, 'vlan') and not settings.management_change_allowed
              and uplink not in (facts.get('management_interfaces') or [])):
            # A port of a bridge carries no addresses of its own: a storage or service link would go
            # dark. A management link gets check_management's message instead.
            problem = ('carries addresses (%s) that it would lose as a port of the bridge; choose an uplink'
                       ' without addresses, or move them to the bridge and set'
                       ' kvm_network_management_change_allowed: true' % ', '.join(host_addresses(link)))
        else:
            continue
        errors.append('kvm_network_bridges[%d] entry %s: its uplink %s %s.'
                      % (index, _text(bridge.get('name')), _text(uplink), problem))
    return errors


def check_host_names(settings, facts):
    """A declared bridge takes a name no link has, or the name of a bridge the role made (its
    .netdev file is on the host): taking over a veth or another tool's bridge would end with
    the role deleting it when the entry goes."""
    links = facts.get('links') or {}
    own = set(file_link(settings.prefix, name) for name in (facts.get('networkd_files') or {})
              if name.endswith('.netdev'))
    errors = []
    for index, bridge in enumerate(settings.bridges):
        name = bridge.get('name')
        link = links.get(name)
        if link is None or (name in own and link.get('kind') == 'bridge'):
            continue
        errors.append('kvm_network_bridges[%d] entry %s: %s already has a link of that name (kind %s) that this'
                      ' role did not create; give the bridge a name of its own.'
                      % (index, _text(name), settings.hostname, _text(link.get('kind')) or 'unknown'))
    return errors


def check_management(settings, facts, links):
    """N2: the management link is left alone unless a change to it is allowed."""
    management = facts.get('management_interfaces') or []
    hits = [hit for hit in links if hit['link'] in management]
    if not hits or settings.management_change_allowed:
        return []
    reasons = facts.get('management_reasons') or {}
    text = ''.join('%s, but %s is a management interface of %s: %s. '
                   % (hit['why'], hit['link'], settings.hostname, reasons.get(hit['link'], '')) for hit in hits)
    return [text + 'Changing it can cut the host off, so nothing was changed. To make this change on purpose,'
            ' set kvm_network_management_change_allowed: true; the role then applies it under a rollback'
            ' timer (kvm_network_rollback_seconds, now %s s) and restores the previous network config if'
            ' the controller cannot reach the host again.' % _text(settings.rollback_seconds)]


def check_network_owners(settings, facts):
    """A declared libvirt network whose name libvirt already has on another bridge is not the
    role's: redefining it would take over, and move, a network someone else made."""
    existing = facts.get('libvirt_networks')
    errors = []
    for bridge in all_bridges(settings) if existing else []:
        current = existing.get(bridge['network']) if bridge['network'] else None
        if current is None:
            continue
        found = (network_fields(current.get('xml', '')) or {}).get('bridge') or 'no bridge'
        if found == bridge['name']:
            continue
        variable, entries = (('kvm_network_libvirt_networks', settings.libvirt_networks) if bridge['nat']
                             else ('kvm_network_bridges', settings.bridges))
        entry = bridge['network'] if bridge['nat'] else bridge['name']
        index = [item.get('name') for item in entries].index(entry)
        errors.append('%s[%d] entry %s: libvirt on %s already has a network %s on %s, not on %s; the role does not'
                      ' take over a network it did not define: give the network a name of its own, or undefine'
                      ' the old one first.'
                      % (variable, index, _text(entry), settings.hostname,
                         _text(bridge['network']), _text(found), _text(bridge['name'])))
    return errors


def host_errors(settings, facts, stale):
    return (check_host_names(settings, facts) + check_host_uplinks(settings, facts)
            + check_network_owners(settings, facts)
            or check_management(settings, facts, checked_links(settings, stale)))


# --- libvirt networks -----------------------------------------------------------------------

def libvirt_definitions(settings, bridges):
    """One network per bridge that asks for it, with the address and DHCP of a NAT network."""
    out = []
    for bridge in bridges:
        if not bridge['network']:
            continue
        spec = {}
        if bridge['nat']:
            spec = next((network for network in settings.libvirt_networks
                         if network.get('name') == bridge['network']), {})
        out.append(dict(bridge, address=spec.get('address', ''), dhcp=spec.get('dhcp', True)))
    return out


def wanted_fields(definition):
    """What the role sets in a network, as network_fields() reads it from libvirt's XML."""
    kind = definition['kind']
    forward = {'host': 'bridge', 'nat': 'nat'}.get(kind, 'none')
    ips, ranges = [], []
    if kind != 'host':
        cidr = cidr_info(definition.get('address'))
        ips = [{'address': cidr['address'], 'netmask': cidr['netmask']}]
        if definition.get('dhcp'):
            ranges = [(cidr['dhcp_start'], cidr['dhcp_end'])]
    return {'forward': forward, 'bridge': definition['name'], 'isolated': bool(definition['restricted']),
            'ips': ips, 'ranges': ranges}


def network_fields(xml):
    """The fields the role sets, read from a network's XML; None when it cannot be read. libvirt
    adds a uuid, a MAC address and defaults: those are not compared."""
    try:
        root = ET.fromstring(xml)
    except (ET.ParseError, TypeError, ValueError):
        return None
    forward = root.find('forward')
    bridge = root.find('bridge')
    return {
        'forward': forward.get('mode', 'none') if forward is not None else 'none',
        'bridge': bridge.get('name', '') if bridge is not None else '',
        'isolated': any(port.get('isolated') == 'yes' for port in root.findall('port')),
        'ips': [dict(ip.attrib) for ip in root.findall('ip')],
        'ranges': [(item.get('start'), item.get('end')) for item in root.iter('range')],
    }


def network_identity(xml):
    """(uuid, MAC address) of a network: kept when it is redefined."""
    try:
        root = ET.fromstring(xml)
    except (ET.ParseError, TypeError, ValueError):
        return '', ''
    mac = root.find('mac')
    return (root.findtext('uuid') or '').strip(), (mac.get('address', '') if mac is not None else '')


def libvirt_changes(definitions, existing):
    """What the libvirt networks need: define (new ones, which one step defines, starts and
    autostarts), redefine (differs), start and autostart (the networks libvirt had already).

    existing: {name: {active, autostart, xml}} from kvm_network_facts, or None when not read."""
    changes = {'define': [], 'redefine': [], 'start': [], 'autostart': []}
    if existing is None:
        return changes
    for definition in definitions:
        name = definition['network']
        current = existing.get(name)
        if current is None:
            changes['define'].append(definition)
            continue
        if network_fields(current.get('xml', '')) != wanted_fields(definition):
            uuid, mac = network_identity(current.get('xml', ''))
            changes['redefine'].append({'net': definition, 'uuid': uuid, 'mac': mac,
                                        'active': bool(current.get('active'))})
        if not current.get('active'):
            changes['start'].append(name)
        if not current.get('autostart'):
            changes['autostart'].append(name)
    return changes


def drifted_directories(settings, facts):
    """The role's directories that exist but are not root's with mode 0755."""
    paths = (facts or {}).get('paths') or {}
    return [path for path in settings.directories
            if (paths.get(path) or {}).get('type') == 'directory'
            and (paths[path].get('mode'), paths[path].get('uid'), paths[path].get('gid')) != ('0755', 0, 0)]


# --- The plan -------------------------------------------------------------------------------

def plan(settings, facts=None):
    """Everything the role decides from its settings and, when given, kvm_network_facts."""
    settings = Settings(settings)
    bridges = all_bridges(settings)
    wanted = networkd_files(settings)
    stale = stale_files(settings, wanted, facts)
    definitions = libvirt_definitions(settings, bridges)
    restricted = [bridge for bridge in bridges if bridge['restricted']]
    return {
        'errors': input_errors(settings, bridges),
        'host_errors': host_errors(settings, facts, stale) if facts else [],
        'bridges': bridges,
        'bridge_names': [bridge['name'] for bridge in settings.bridges],
        'networkd_prefix': settings.prefix,
        'networkd_files': config_file_entries(wanted, stale),
        'networkd_links': dict((entry['path'], entry['link']) for entry in wanted),
        'bridge_ports': bridge_ports(wanted),
        'stale_files': stale,
        'libvirt_networks': definitions,
        'drifted_directories': drifted_directories(settings, facts),
        'libvirt': libvirt_changes(definitions, (facts or {}).get('libvirt_networks')),
        'migration_guard': migration_guard(settings.migration),
        'hook_policy': {
            'filter': settings.nwfilter,
            'ip_learning': settings.nwfilter_ip_learning,
            'networks': _sorted([bridge['network'] for bridge in restricted if bridge['network']]),
            'bridges': _sorted([bridge['name'] for bridge in restricted]),
        },
    }


def netdev_kind(content):
    found = re.search(r'^Kind=(\S+)', content or '', re.MULTILINE)
    return found.group(1) if found else ''


def apply_plan(the_plan, facts, changed_paths):
    """What applying the written networkd files takes, for the apply and rollback scripts.

    reconfigure: links whose files changed and that exist; delete: devices whose .netdev file
    went (networkd never deletes them); new: devices whose .netdev file is new; replaced,
    created, removed: the files as they were before, for the rollback; management: the links
    among these that carry management traffic; bridges: the declared bridges, which the apply
    script waits for; ports: the ports over a management link, which the apply script waits to
    see in their bridges, so the controller's next connection comes after the change took."""
    facts = facts or {}
    prefix = the_plan.get('networkd_prefix') or '05-kvmcloud-'
    links_before = facts.get('links') or {}
    files_before = facts.get('networkd_files') or {}
    changed = set(changed_paths or [])
    links = the_plan.get('networkd_links') or {}
    written = [(path, link) for path, link in links.items() if path in changed]
    removed = [path for path in the_plan.get('stale_files') or [] if path in changed]

    def name(path):
        return path.rsplit('/', 1)[-1]

    touched = _unique([link for _path, link in written] + [file_link(prefix, name(path)) for path in removed])
    # Only a device of the kind its file made: a link of the same name made by someone else stays.
    delete = _unique([file_link(prefix, name(path)) for path in removed if path.endswith('.netdev')
                      and (links_before.get(file_link(prefix, name(path))) or {}).get('kind', '')
                      in ('', netdev_kind(files_before.get(name(path))))])
    management = facts.get('management_interfaces') or []
    changing = [link for link in _unique(touched + delete) if link in management]
    return {
        'reconfigure': [link for link in touched if link in links_before],
        'delete': delete,
        'new': [link for path, link in written if path.endswith('.netdev') and link not in links_before],
        'replaced': [{'path': path, 'content': files_before[name(path)]} for path, _link in written
                     if name(path) in files_before],
        'created': [path for path, _link in written if name(path) not in files_before],
        'removed': [{'path': path, 'content': files_before.get(name(path), '')} for path in removed],
        'management': changing,
        'bridges': list(the_plan.get('bridge_names') or []),
        'ports': [port for port in the_plan.get('bridge_ports') or []
                  if port['link'] in changing or port['uplink'] in changing],
    }
