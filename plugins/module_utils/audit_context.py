# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the audit looks at, read once and shared by all controls."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

from xml.etree import ElementTree

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.container import detect_container
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_conf import ConfError, read_libvirt_conf
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network_facts import network_facts, tcp_listeners
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.security_facts import security_facts
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.systemd_units import unit_settings, unit_state
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.virt_stack_facts import daemon_layout

QEMU_NS = '{http://libvirt.org/schemas/domain/qemu/1.0}'

# Unit and socket names per daemon layout. In the modular layout virtproxyd
# owns the remote (tcp/tls) sockets and the legacy libvirt-sock paths.
LAYOUTS = {
    'monolithic': {
        'daemon': 'libvirtd', 'conf': '/etc/libvirt/libvirtd.conf', 'remote_conf': '/etc/libvirt/libvirtd.conf',
        'sockets': {
            'rw': ('libvirtd.socket', '/run/libvirt/libvirt-sock'),
            'ro': ('libvirtd-ro.socket', '/run/libvirt/libvirt-sock-ro'),
            'admin': ('libvirtd-admin.socket', '/run/libvirt/libvirt-admin-sock'),
        },
        'tcp': 'libvirtd-tcp.socket', 'tls': 'libvirtd-tls.socket',
    },
    'modular': {
        'daemon': 'virtqemud', 'conf': '/etc/libvirt/virtqemud.conf', 'remote_conf': '/etc/libvirt/virtproxyd.conf',
        'sockets': {
            'rw': ('virtqemud.socket', '/run/libvirt/virtqemud-sock'),
            'ro': ('virtqemud-ro.socket', '/run/libvirt/virtqemud-sock-ro'),
            'admin': ('virtqemud-admin.socket', '/run/libvirt/virtqemud-admin-sock'),
        },
        'tcp': 'virtproxyd-tcp.socket', 'tls': 'virtproxyd-tls.socket',
    },
}


def parse_xml(text):
    try:
        return ElementTree.fromstring(text)
    except (ElementTree.ParseError, TypeError):
        return None


class QemuProcess:
    def __init__(self, fs, pid):
        base = '/proc/%s' % pid
        self.pid = int(pid)
        status = fs.read(base + '/status') or ''
        self.uid = _status_field(status, 'Uid')
        self.seccomp = _status_field(status, 'Seccomp')
        # Newer kernels keep AppArmor's label apart from the shared attr file.
        label = fs.read_strip(base + '/attr/apparmor/current') or fs.read_strip(base + '/attr/current')
        self.label = (label or '').rstrip('\0') or None
        self.mnt_ns = fs.readlink(base + '/ns/mnt')
        args = (fs.read_bytes(base + '/cmdline') or b'').decode('utf-8', 'replace').split('\0')
        self.name = _guest_name(args) or str(pid)


def _status_field(status, key):
    for line in status.splitlines():
        if line.startswith(key + ':'):
            fields = line.split()
            if len(fields) > 1 and fields[1].isdigit():
                return int(fields[1])
    return None


def _guest_name(args):
    for index, arg in enumerate(args[:-1]):
        if arg == '-name':
            value = args[index + 1]
            match = re.search(r'(?:^|,)guest=([^,]+)', value)
            return match.group(1) if match else value.split(',')[0]
    return None


class AuditContext:
    """Lazily gathered host state; each piece is read at most once."""

    def __init__(self, fs, runner, options=None):
        self.fs = fs
        self.runner = runner
        self.options = options or {}
        self._cache = {}

    def _cached(self, key, loader):
        if key not in self._cache:
            self._cache[key] = loader()
        return self._cache[key]

    # --- host -----------------------------------------------------------
    @property
    def container(self):
        return self._cached('container', lambda: detect_container(self.fs))

    @property
    def security(self):
        return self._cached('security', lambda: security_facts(self.fs))

    @property
    def listeners(self):
        return self._cached('listeners', lambda: tcp_listeners(self.fs))

    def listening(self, ports):
        return [entry for entry in self.listeners if entry['port'] in ports]

    @property
    def network(self):
        return self._cached('network', lambda: network_facts(self.fs, self.runner))

    def process_running(self, name):
        return any(comm == name for _pid, comm in self.processes)

    @property
    def processes(self):
        def load():
            found = []
            for pid in self.fs.listdir('/proc'):
                if pid.isdigit():
                    comm = self.fs.read_strip('/proc/%s/comm' % pid)
                    if comm:
                        found.append((pid, comm))
            return found
        return self._cached('processes', load)

    @property
    def qemu_processes(self):
        return self._cached('qemu_processes', lambda: [
            QemuProcess(self.fs, pid) for pid, comm in self.processes
            if comm.startswith('qemu-system') or comm == 'qemu-kvm'])

    # --- libvirt --------------------------------------------------------
    @property
    def layout_name(self):
        return self._cached('layout', lambda: daemon_layout(self.fs))

    @property
    def layout(self):
        return LAYOUTS.get(self.layout_name)

    @property
    def libvirt_installed(self):
        return self.layout_name != 'none'

    def conf(self, path):
        """Settings of a libvirt .conf file, None when it is absent.

        A file that does not parse raises: judging it by libvirt's defaults
        would report settings the daemon may not have.
        """
        settings, error = self._cached('conf:' + path, lambda: read_libvirt_conf(self.fs, path))
        if error:
            raise ConfError(error)
        return settings

    @property
    def qemu_conf(self):
        return self.conf('/etc/libvirt/qemu.conf')

    @property
    def daemon_conf(self):
        return self.conf(self.layout['conf']) if self.layout else None

    @property
    def remote_conf(self):
        return self.conf(self.layout['remote_conf']) if self.layout else None

    def unit_state(self, unit):
        return self._cached('unit:' + unit, lambda: unit_state(self.fs, unit))

    def socket_settings(self, unit):
        return self._cached('socket:' + unit, lambda: unit_settings(self.fs, unit))

    @property
    def socket_activation(self):
        """True when the daemon's main socket unit is enabled, so .conf socket settings are ignored."""
        if not self.layout:
            return False
        unit, path = self.layout['sockets']['rw']
        state = self.unit_state(unit)
        return state == 'enabled' or (state not in ('masked', 'not-found') and self.fs.exists(path))

    @property
    def nft_ruleset(self):
        """(ruleset, '') as `nft -j list ruleset` prints it, or (None, why it cannot be read)."""
        def load():
            nft = self.fs.find_bin('nft')
            if nft is None:
                return None, 'nft not installed: the host firewall cannot be inspected'
            rc, out, err = self.runner.run([nft, '-j', 'list', 'ruleset'])
            if rc != 0:
                return None, 'nft list ruleset failed: %s' % (err or out).strip()
            try:
                return json.loads(out), ''
            except ValueError:
                return None, 'nft printed no JSON'
        return self._cached('nft_ruleset', load)

    @property
    def capabilities(self):
        """Parsed `virsh capabilities`, or None when no daemon socket answers."""
        def load():
            virsh = self.fs.find_bin('virsh')
            if not virsh or not self.layout or not any(
                    self.fs.exists(path) for _unit, path in self.layout['sockets'].values()):
                return None
            rc, out, _err = self.runner.run([virsh, '--readonly', '--connect', 'qemu:///system', 'capabilities'])
            return parse_xml(out) if rc == 0 else None
        return self._cached('capabilities', load)

    @property
    def security_models(self):
        if self.capabilities is None:
            return None
        return [node.text for node in self.capabilities.findall('./host/secmodel/model') if node.text]

    @property
    def dac_baselabel(self):
        if self.capabilities is None:
            return None
        for secmodel in self.capabilities.findall('./host/secmodel'):
            if secmodel.findtext('model') == 'dac':
                for label in secmodel.findall('baselabel'):
                    if label.get('type') in ('kvm', 'qemu'):
                        return label.text
        return None

    # --- libvirt objects on disk -----------------------------------------
    def _xml_dir(self, directory):
        found = []
        for name in self.fs.listdir(directory):
            if name.endswith('.xml'):
                root = parse_xml(self.fs.read('%s/%s' % (directory, name)))
                if root is not None:
                    found.append((name[:-4], root))
        return found

    @property
    def domains(self):
        """Defined domains: [(name, root element)]."""
        return self._cached('domains', lambda: self._xml_dir('/etc/libvirt/qemu'))

    @property
    def networks(self):
        """Defined networks: [{name, forward, bridge, autostart, active}]."""
        def load():
            result = []
            active = set(name[:-4] for name in self.fs.listdir('/run/libvirt/network') if name.endswith('.xml'))
            autostart = set(name[:-4] for name in self.fs.listdir('/etc/libvirt/qemu/networks/autostart')
                            if name.endswith('.xml'))
            for name, root in self._xml_dir('/etc/libvirt/qemu/networks'):
                forward = root.find('forward')
                bridge = root.find('bridge')
                result.append({
                    'name': root.findtext('name') or name,
                    'forward': forward.get('mode', 'nat') if forward is not None else 'isolated',
                    'bridge': bridge.get('name') if bridge is not None else None,
                    'autostart': name in autostart,
                    'active': name in active,
                })
            return result
        return self._cached('networks', load)

    @property
    def pools(self):
        return self._cached('pools', lambda: self._xml_dir('/etc/libvirt/storage'))

    # --- bridges used by guests -------------------------------------------
    @property
    def guest_bridges(self):
        """Bridges guests attach to that must not hold host addresses.

        Bridges of libvirt NAT/route/open networks carry the gateway address
        by design and are not guest bridges in the N1 sense.
        """
        def load():
            bridges = dict((bridge['name'], bridge) for bridge in self.network['bridges'])
            if self.options.get('guest_bridges'):
                return [bridges.get(name, {'name': name, 'missing': True}) for name in self.options['guest_bridges']]
            managed = set(net['bridge'] for net in self.networks if net['forward'] in ('nat', 'route', 'open', 'isolated'))
            wanted = set(net['bridge'] for net in self.networks if net['forward'] == 'bridge')
            for name, bridge in bridges.items():
                if name not in managed and any(self.is_guest_port(port) for port in bridge['ports']):
                    wanted.add(name)
            return [bridges.get(name, {'name': name, 'missing': True}) for name in sorted(n for n in wanted if n)]
        return self._cached('guest_bridges', load)

    def is_guest_port(self, port):
        # Tap devices have no backing device; physical NICs and veths of the host do.
        return port.startswith(('vnet', 'tap', 'macvtap')) or (
            not self.fs.exists('/sys/class/net/%s/device' % port) and self.fs.exists('/sys/class/net/%s/tun_flags' % port))

    @property
    def guest_ports(self):
        ports = []
        for bridge in self.guest_bridges:
            for port in bridge.get('ports', []):
                if self.is_guest_port(port):
                    ports.append((bridge['name'], port))
        return ports
