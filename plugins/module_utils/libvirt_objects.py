# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""libvirt's storage pools and networks with their state, and the unit-file state of the
services that matter to the roles: read once, so a converged host needs no further calls."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.systemd_units import systemctl_show, unit_state

# Units whose enablement the roles decide on: both daemon layouts, their sockets, and
# services the hardening masks. Reading a unit's state is a few file lookups.
WATCHED_UNITS = (
    'libvirtd.service', 'libvirtd.socket', 'libvirtd-ro.socket', 'libvirtd-admin.socket',
    'libvirtd-tcp.socket', 'libvirtd-tls.socket',
    'virtqemud.service', 'virtqemud.socket', 'virtqemud-ro.socket', 'virtqemud-admin.socket',
    'virtproxyd.service', 'virtproxyd.socket', 'virtproxyd-tcp.socket', 'virtproxyd-tls.socket',
    'ksmtuned.service',
)


def unit_states(fs, runner, units=WATCHED_UNITS):
    """{unit: {'file_state': enabled|disabled|masked|not-found|..., 'active': ActiveState or None}}.

    One `systemctl show` answers for every unit; where systemctl cannot (no systemd running),
    the unit files say whether a unit is enabled or masked, and whether it runs stays unknown.
    """
    states = dict((unit, {'file_state': unit_state(fs, unit), 'active': None}) for unit in units)
    shown = systemctl_show(fs, runner, units, ('ActiveState', 'UnitFileState'))
    for unit, props in (shown or {}).items():
        if unit in states:
            states[unit] = {'file_state': props.get('UnitFileState') or 'not-found',
                            'active': props.get('ActiveState') or None}
    return states


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
    return {
        'read': True,
        'note': None,
        'pools': parse_list(pools, ('state', 'autostart')),
        'networks': parse_list(nets, ('state', 'autostart', 'persistent')),
    }
