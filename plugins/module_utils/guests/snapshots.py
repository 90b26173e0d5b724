# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""External, disk-only snapshots of guests (playbooks/snapshot.yml, module kvm_guest_snapshots):
the operator's input, what libvirt's XML says of a guest's disks and snapshots, and what each
action has to do for one guest. No I/O here: the module reads and runs virsh.

Messages start from the playbook variable and its value, then the rule, then the fix.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.migration import guest_name_errors

ACTIONS = ('list', 'create', 'revert', 'delete')
# Full-string match: letters, digits, '.', '_', '-', starting with a letter or digit, at most 64.
# The name becomes part of each overlay's file name, so nothing that a path or virsh would read
# otherwise ('/', ',', spaces, control characters) gets through.
SNAPSHOT_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z')
FIX_NAME = 'e.g. -e kvmcloud_snapshot=before-upgrade'
FIX_ACTION = 'e.g. -e kvmcloud_snapshot_action=create'
# The first libvirt releases whose QEMU driver deletes (9.0.0) and reverts (9.9.0) external
# snapshots (libvirt's NEWS); before them virsh refuses with "not supported yet".
EXTERNAL_SUPPORT = {'delete': (9, 0, 0), 'revert': (9, 9, 0)}
OVERLAY_FORMAT = 'qcow2'


def input_errors(guests, action, name):
    """The operator's input: kvmcloud_guests, kvmcloud_snapshot_action, kvmcloud_snapshot."""
    errors = guest_name_errors(guests)
    if action not in ACTIONS:
        errors.append('kvmcloud_snapshot_action=%r is not an action: one of %s; %s.'
                      % (action, ', '.join(ACTIONS), FIX_ACTION))
    elif action != 'list' or name not in (None, ''):
        if not isinstance(name, str) or not SNAPSHOT_NAME_RE.match(name):
            errors.append('kvmcloud_snapshot=%r is not a snapshot name: letters, digits, ".", "_" and "-", at most '
                          '64, starting with a letter or digit; %s.' % (name, FIX_NAME))
    return errors


def version_tuple(text):
    """(major, minor, micro) of a libvirt version such as '11.3.0'; None when unreadable."""
    match = re.match(r'\s*(\d+)\.(\d+)(?:\.(\d+))?', text or '')
    return tuple(int(part or 0) for part in match.groups()) if match else None


def daemon_version(virsh_version_output):
    """The daemon's version from `virsh version --daemon` ('Running against daemon: 11.3.0')."""
    match = re.search(r'Running against daemon:\s*([0-9.]+)', virsh_version_output or '')
    return version_tuple(match.group(1)) if match else None


def parse_xml(text):
    try:
        return ET.fromstring(text or '')
    except ET.ParseError:
        return None


def domain_disks(xml_text):
    """The disks of a domain XML, in order: {'target', 'type', 'device', 'file', 'readonly',
    'shareable', 'backing'} ('file' is the source file or device path, 'backing' the first
    backing file libvirt reports, both None when absent)."""
    root = parse_xml(xml_text)
    disks = []
    for disk in root.findall('devices/disk') if root is not None else []:
        target, source = disk.find('target'), disk.find('source')
        backing = disk.find('backingStore/source')
        disks.append({
            'target': target.get('dev') if target is not None else None,
            'type': disk.get('type'),
            'device': disk.get('device') or 'disk',
            'file': (source.get('file') or source.get('dev')) if source is not None else None,
            'readonly': disk.find('readonly') is not None,
            'shareable': disk.find('shareable') is not None,
            'backing': backing.get('file') if backing is not None else None,
        })
    return disks


def snapshot_info(xml_text):
    """What `virsh snapshot-dumpxml` says of one snapshot: its state, parent, creation time, and
    {target: overlay file} of its external disks."""
    root = parse_xml(xml_text)
    if root is None:
        return {'state': None, 'parent': None, 'created': None, 'external': {}, 'internal': False}
    external, internal = {}, False
    for disk in root.findall('disks/disk'):
        kind = disk.get('snapshot')
        if kind == 'external':
            source = disk.find('source')
            external[disk.get('name')] = source.get('file') if source is not None else None
        elif kind == 'internal':
            internal = True
    return {'state': root.findtext('state'), 'parent': root.findtext('parent/name'),
            'created': int(root.findtext('creationTime') or 0) or None, 'external': external, 'internal': internal}


def overlay_path(guest, disk, name):
    """Where the overlay of a disk goes: next to the disk it covers, where sVirt (AppArmor's
    virt-aa-helper, SELinux's labels) already lets this guest's QEMU work, and libvirt labels it."""
    return os.path.join(os.path.dirname(disk['file']), '%s-%s.%s.%s' % (guest, disk['target'], name, OVERLAY_FORMAT))


def create_plan(guest, name, xml_text, exists):
    """(snapshot XML for `virsh snapshot-create`, overlays {target: path}, refusals) for one
    guest. exists(path) says whether a file is there already."""
    refusals, overlays, parts = [], {}, []
    for disk in domain_disks(xml_text):
        if disk['device'] != 'disk' or disk['readonly']:
            # The seed and CD-ROMs: read-only, nothing to snapshot.
            parts.append("<disk name='%s' snapshot='no'/>" % disk['target'])
            continue
        if disk['type'] != 'file' or not disk['file']:
            refusals.append('kvmcloud_guests: %s: disk %s is of type %s; an external snapshot here covers file disks '
                            'only, and leaving a writable disk out would make a snapshot that restores half a guest; '
                            'snapshot this guest another way.' % (guest, disk['target'], disk['type']))
            continue
        if disk['shareable']:
            refusals.append('kvmcloud_guests: %s: disk %s is shareable: another guest writes it too, so its '
                            'snapshot would not be this guest\'s; detach it first.' % (guest, disk['target']))
            continue
        path = overlay_path(guest, disk, name)
        if exists(path):
            refusals.append('kvmcloud_snapshot=%r: %s: the overlay %s for disk %s exists already (left from an '
                            'earlier snapshot, or another file); move it away or choose another name.'
                            % (name, guest, path, disk['target']))
        overlays[disk['target']] = path
        parts.append("<disk name='%s' snapshot='external'><driver type='%s'/><source file='%s'/></disk>"
                     % (disk['target'], OVERLAY_FORMAT, escape_attr(path)))
    if not overlays and not refusals:
        refusals.append('kvmcloud_guests: %s has no writable file disk: there is nothing to snapshot.' % guest)
    xml = ("<domainsnapshot><name>%s</name><description>kvmcloud.hypervisor snapshot.yml</description>"
           "<disks>%s</disks></domainsnapshot>" % (name, ''.join(parts)))
    return xml, overlays, refusals


def escape_attr(value):
    """The value for a quoted XML attribute."""
    return escape(value, {"'": '&apos;', '"': '&quot;'})


def too_old(action, version, guest):
    """A refusal when the host's libvirt cannot do this to an external snapshot; None when it can."""
    needed = EXTERNAL_SUPPORT.get(action)
    if needed is None or (version is not None and version >= needed):
        return None
    have = '.'.join(str(part) for part in version) if version else 'of unknown version'
    return ('kvmcloud_snapshot_action=%s: %s: libvirt %s on this host cannot %s external snapshots (libvirt %s '
            'and later can: Debian 13 has 11.x, Debian 12 9.0, which deletes but cannot revert); upgrade libvirt, '
            'or revert by hand with the guest shut off (point its disks back at the overlays\' backing files).'
            % (action, guest, have, action, '.'.join(str(part) for part in needed)))


def summary(snapshots, current, state):
    """One line of a guest's snapshots for --diff: the names oldest first, the current one marked."""
    names = ['%s%s' % (name, ' (current)' if name == current else '') for name in snapshots]
    return '%s; snapshots: %s\n' % (state, ', '.join(names) or 'none')
