# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What kvm_network left on a host, read in one module call: its systemd-networkd files, the
bridge netfilter sysctls, the libvirt networks, units, and whether the live nftables table of
the host guard is the one its file defines. Reads only; runs on the target."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import stat

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_objects import parse_list
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.systemd_units import systemctl_show

NETWORKD_DIR = '/etc/systemd/network'
BRIDGE_SYSCTL_DIR = '/proc/sys/net/bridge'
LIBVIRT_URI = 'qemu:///system'
UNIT_PROPERTIES = ('LoadState', 'ActiveState', 'UnitFileState')


class HostStateError(Exception):
    pass


def networkd_files(fs, prefix, directory=NETWORKD_DIR):
    """{name: content} of the regular files PREFIX*.netdev and PREFIX*.network in directory
    (not the backups of replaced files, which end in '~')."""
    files = {}
    for name in fs.listdir(directory):
        if not name.startswith(prefix) or not name.endswith(('.netdev', '.network')):
            continue
        path = '%s/%s' % (directory, name)
        info = fs.lstat(path)
        if info is None or not stat.S_ISREG(info.st_mode):
            continue
        content = fs.read(path)
        if content is not None:
            files[name] = content
    return files


def bridge_sysctl_values(fs):
    """{'net.bridge.KEY': value} while br_netfilter is loaded; empty without it."""
    values = {}
    for name in fs.listdir(BRIDGE_SYSCTL_DIR):
        value = fs.read_strip('%s/%s' % (BRIDGE_SYSCTL_DIR, name))
        if value is not None:
            values['net.bridge.' + name] = value
    return values


def path_info(fs, paths):
    """{path: {exists, type, mode, uid, gid}}; type is file, directory, link or other (the
    link's target gives mode and owner), empty with the rest when the path does not exist."""
    info = {}
    for path in paths:
        entry = {'exists': False, 'type': '', 'mode': '', 'uid': None, 'gid': None}
        link = fs.lstat(path)
        if link is not None:
            target = fs.stat(path) or link
            entry.update(exists=True, mode='%04o' % stat.S_IMODE(target.st_mode), uid=target.st_uid,
                         gid=target.st_gid,
                         type='link' if stat.S_ISLNK(link.st_mode) else 'directory' if stat.S_ISDIR(link.st_mode)
                         else 'file' if stat.S_ISREG(link.st_mode) else 'other')
        info[path] = entry
    return info


def unit_states(fs, runner, units):
    """{unit: {load_state, active_state, unit_file_state}} in one systemctl call; empty when
    systemctl is missing or fails (the caller then asks the service modules, which know)."""
    shown = systemctl_show(fs, runner, units, UNIT_PROPERTIES) if units else None
    return dict((unit, {'load_state': props.get('LoadState', ''),
                        'active_state': props.get('ActiveState', ''),
                        'unit_file_state': props.get('UnitFileState', '')})
                for unit, props in (shown or {}).items() if unit in units)


def nft_table_state(fs, runner, table, path):
    """Whether the table is loaded, and whether it is exactly what the file defines: the file is
    loaded into a scratch network namespace and nft's listings of both are compared, so a table
    deleted or edited by hand is noticed too."""
    state = {'table_loaded': False, 'table_matches_file': False}
    nft = fs.find_bin('nft')
    if nft is None:
        return state
    words = table.split()
    rc, live, _err = runner.run([nft, 'list', 'table'] + words)
    state['table_loaded'] = rc == 0
    unshare = fs.find_bin('unshare')
    if rc != 0 or unshare is None or not fs.exists(path):
        return state
    # sh -c SCRIPT NFT FILE FAMILY NAME: $0 is nft.
    script = '"$0" --file "$1" && shift && exec "$0" list table "$@"'
    rc, wanted, _err = runner.run([unshare, '--net', '--', '/bin/sh', '-c', script, nft, path] + words)
    state['table_matches_file'] = rc == 0 and wanted.rstrip('\n') == live.rstrip('\n')
    return state


def libvirt_networks(fs, runner):
    """{name: {active, autostart, persistent, xml}} of every libvirt network, xml being the
    inactive definition (what the next start uses). Asked over the read-only socket."""
    virsh = fs.find_bin('virsh')
    if virsh is None:
        return {}
    base = [virsh, '--readonly', '--connect', LIBVIRT_URI, '--quiet']
    rc, out, err = runner.run(base + ['net-list', '--all'])
    if rc != 0:
        raise HostStateError('virsh net-list failed (rc %s): %s' % (rc, (err or out).strip()))
    networks = {}
    for name, row in parse_list(out, ('state', 'autostart', 'persistent')).items():
        rc, xml, err = runner.run(base + ['net-dumpxml', '--inactive', name])
        if rc != 0:
            raise HostStateError('virsh net-dumpxml --inactive %s failed (rc %s): %s' % (name, rc, (err or xml).strip()))
        networks[name] = {'active': row['state'] == 'active', 'autostart': row['autostart'] == 'yes',
                          'persistent': row['persistent'] == 'yes', 'xml': xml}
    return networks
