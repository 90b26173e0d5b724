# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""libvirt's storage pools and networks with their state, the state of the units that matter
to the roles, libvirt's config files and live sockets, and any directories a role asks about:
read once, so a converged host needs no further calls."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import stat
from xml.etree import ElementTree

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.systemd_units import (
    systemctl_show, unit_state, unix_seconds)

# Units whose state the roles decide on: every unit of both daemon layouts (kvm_host's
# __kvm_host_layouts: services, sockets, and the units the other layout disables), the
# remote-access sockets kvm_hardening masks, and ksmtuned. Reading a unit's state is a few
# file lookups.
WATCHED_UNITS = (
    'libvirtd.service', 'libvirtd.socket', 'libvirtd-ro.socket', 'libvirtd-admin.socket',
    'libvirtd-tcp.socket', 'libvirtd-tls.socket',
    'virtqemud.service', 'virtqemud.socket', 'virtqemud-ro.socket', 'virtqemud-admin.socket',
    'virtnetworkd.service', 'virtnetworkd.socket', 'virtnetworkd-ro.socket', 'virtnetworkd-admin.socket',
    'virtnodedevd.service', 'virtnodedevd.socket', 'virtnodedevd-ro.socket', 'virtnodedevd-admin.socket',
    'virtnwfilterd.service', 'virtnwfilterd.socket', 'virtnwfilterd-ro.socket', 'virtnwfilterd-admin.socket',
    'virtsecretd.service', 'virtsecretd.socket', 'virtsecretd-ro.socket', 'virtsecretd-admin.socket',
    'virtstoraged.service', 'virtstoraged.socket', 'virtstoraged-ro.socket', 'virtstoraged-admin.socket',
    'virtinterfaced.service', 'virtinterfaced.socket', 'virtinterfaced-ro.socket', 'virtinterfaced-admin.socket',
    'virtproxyd.service', 'virtproxyd.socket', 'virtproxyd-tcp.socket', 'virtproxyd-tls.socket',
    'virtlogd.socket',
    'ksmtuned.service',
)
UNIT_PROPERTIES = ('ActiveState', 'UnitFileState', 'ActiveEnterTimestamp', 'Listen')

# The config files a running daemon reads only when it starts: qemu.conf and each layout's own.
LIBVIRT_CONFIG_FILES = ('/etc/libvirt/qemu.conf', '/etc/libvirt/libvirtd.conf', '/etc/libvirt/virtqemud.conf')


def first_listen(value):
    """The address of the first Listen entry systemctl shows, without its type:
    '/run/libvirt/libvirt-sock (Stream)' -> '/run/libvirt/libvirt-sock'; None when empty."""
    if not value:
        return None
    address, sep, _kind = value.rpartition(' (')
    return address if sep and value.endswith(')') else value


def unit_states(fs, runner, units=WATCHED_UNITS):
    """{unit: {'file_state': enabled|disabled|masked|not-found|..., 'active': ActiveState or None,
    'since': when it last became active (seconds since the epoch) or None,
    'listen': the first address a socket listens on (a path for a unix socket) or None}}.

    One `systemctl show` answers for every unit; systemctl prints an empty UnitFileState for a
    unit it cannot find, which is reported as 'not-found'. Where systemctl cannot answer (no
    systemd running), the unit files say whether a unit is enabled or masked, and the rest stays
    unknown.
    """
    shown = systemctl_show(fs, runner, units, UNIT_PROPERTIES, timestamp='unix') or {}
    states = {}
    for unit in units:
        props = shown.get(unit)
        if props is None:
            states[unit] = {'file_state': unit_state(fs, unit), 'active': None, 'since': None, 'listen': None}
        else:
            states[unit] = {'file_state': props.get('UnitFileState') or 'not-found',
                            'active': props.get('ActiveState') or None,
                            'since': unix_seconds(props.get('ActiveEnterTimestamp')),
                            'listen': first_listen(props.get('Listen')) if unit.endswith('.socket') else None}
    return states


# Larger regular files get no checksum: the paths asked about are directories and config files.
CHECKSUM_MAX_BYTES = 1024 * 1024


def file_sha256(fs, path, st):
    """The sha256 of a regular file's bytes, None for anything else or a file too large or unreadable."""
    if not stat.S_ISREG(st.st_mode) or st.st_size > CHECKSUM_MAX_BYTES:
        return None
    data = fs.read_bytes(path)
    return None if data is None else hashlib.sha256(data).hexdigest()


def path_states(fs, paths):
    """{path: {'exists', 'isdir', 'mode' (such as '0660'), 'owner', 'group', 'mtime' (whole
    seconds), 'sha256' (of a regular file's content)}}, of the target for a link (as the file
    module sees it); all but exists and isdir None when the path is absent."""
    states = {}
    for path in paths:
        info, st = fs.owner_info(path), fs.stat(path)
        if info is None or st is None:
            states[path] = {'exists': False, 'isdir': False, 'mode': None, 'owner': None, 'group': None,
                            'mtime': None, 'sha256': None}
        else:
            states[path] = {'exists': True, 'isdir': stat.S_ISDIR(st.st_mode), 'mode': info['mode'],
                            'owner': info['owner'], 'group': info['group'], 'mtime': int(st.st_mtime),
                            'sha256': file_sha256(fs, path, st)}
    return states


def libvirt_files(fs, units):
    """path_states of libvirt's config files and of the path each socket among units (as
    unit_states returns them) listens on, as systemd reports it now."""
    sockets = set(state['listen'] for unit, state in units.items()
                  if unit.endswith('.socket') and (state['listen'] or '').startswith('/'))
    return path_states(fs, list(LIBVIRT_CONFIG_FILES) + sorted(sockets))


def parse_list(text, columns):
    """Rows of `virsh pool-list --all` or `net-list --all`: {name: {column: value}}.

    The name is everything left of the last len(columns) fields, so names with spaces survive.
    """
    rows = {}
    for line in (text or '').splitlines():
        fields = line.strip().rsplit(None, len(columns))
        if len(fields) != len(columns) + 1 or set(line.strip()) <= set('-') or fields[0] == 'Name':
            continue
        rows[fields[0]] = dict(zip(columns, fields[1:]))
    return rows


def libvirt_objects(fs, runner):
    """{'read': bool, 'note': why not read, 'pools': {...}, 'networks': {...}}.

    Read-only connection: listing needs no write access and changes nothing.
    """
    empty = {'read': False, 'note': None, 'pools': {}, 'networks': {}}
    virsh = fs.find_bin('virsh')
    if virsh is None:
        empty['note'] = 'virsh not installed'
        return empty
    base = [virsh, '--readonly', '--connect', 'qemu:///system']
    rc_pools, pools, err_pools = runner.run(base + ['pool-list', '--all'])
    rc_nets, nets, err_nets = runner.run(base + ['net-list', '--all'])
    if rc_pools != 0 or rc_nets != 0:
        empty['note'] = 'virsh could not list pools and networks: %s' % (err_pools or err_nets or '').strip()
        return empty
    pools = parse_list(pools, ('state', 'autostart'))
    for name, pool in pools.items():
        pool['path'], pool['type'] = pool_definition(fs.read('/etc/libvirt/storage/%s.xml' % name))
    return {
        'read': True,
        'note': None,
        'pools': pools,
        'networks': parse_list(nets, ('state', 'autostart', 'persistent')),
    }


def pool_definition(xml_text):
    """(target path, type) of a pool's persistent definition; None for what it lacks (a
    transient or unreadable pool has neither, an RBD pool no target path). Read from
    libvirt's own file: one virsh call per pool would cost a process each."""
    if not xml_text:
        return None, None
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError:
        return None, None
    path = root.findtext('target/path')
    return (path.strip() if path else None), root.get('type')
