# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Backups of guests through libvirt's backup API in push mode (playbooks/backup.yml, module
kvm_guest_backups): the operator's input, the layout of a backup on the host, the backup and
checkpoint XML handed to `virsh backup-begin`, and the domain XML of a guest restored from a
backup. No I/O here: the module reads and runs virsh and qemu-img.

A backup NAME of guest GUEST is the directory BACKUP_DIR/GUEST/NAME: one qcow2 file per backed-up
disk (TARGET.qcow2), the guest's inactive domain XML (domain.xml) and, written last, the manifest
(backup.json); a directory without a manifest is an incomplete backup. The first backup of a guest
is full; each later one is incremental from the guest's newest backup whose checkpoint libvirt
still has, and its files are qcow2 images whose backing files are that backup's files (named
relative to their own directory), so each backup reads as the whole disk through its chain.

Messages start from the playbook variable and its value, then the rule, then the fix.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import xml.etree.ElementTree as ET

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.migration import (
    GUEST_NAME_RE, guest_name_errors, guest_names)
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.snapshots import (
    domain_disks, escape_attr, parse_xml)

ACTIONS = ('backup', 'list', 'restore')
# Full-string match, as for snapshots: the name is a directory and a libvirt checkpoint's name.
BACKUP_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z')
# An absolute, normalised path of plain characters: nothing a shell, virsh or XML would read otherwise.
DIR_RE = re.compile(r'/[A-Za-z0-9._/+-]*\Z')
FIX_NAME = 'e.g. -e kvmcloud_backup=nightly-2026-12-06'
FIX_ACTION = 'e.g. -e kvmcloud_backup_action=backup'
FIX_RESTORE_AS = 'e.g. -e kvmcloud_backup_restore_as=web1-restored'
MANIFEST = 'backup.json'
DOMAIN_XML = 'domain.xml'
MANIFEST_FORMAT = 1
DISK_FORMAT = 'qcow2'
# libvirt's QEMU driver has the backup API with checkpoints (incremental backup) on by default from
# 7.6.0 on (libvirt's NEWS for v7.6.0; before, it needed a capability switched on in qemu.conf).
# Debian 12 has 9.0, Debian 13 11.x.
BACKUP_SUPPORT = (7, 6, 0)
# The XML namespaces of kvm_guests' mark on the guests it defines, and of ours on a restored guest.
GUEST_NS = 'https://github.com/kvmcloud/hypervisor/xmlns/guest/1'
RESTORED_NS = 'https://github.com/kvmcloud/hypervisor/xmlns/backup/1'


def input_errors(guests, action, name, backup_dir, restore_as, restore_dir):
    """The operator's input: kvmcloud_guests, kvmcloud_backup_action, kvmcloud_backup,
    kvmcloud_backup_dir, kvmcloud_backup_restore_as (and the restore directory)."""
    errors = guest_name_errors(guests)
    names = guest_names(guests)
    if action not in ACTIONS:
        errors.append('kvmcloud_backup_action=%r is not an action: one of %s; %s.'
                      % (action, ', '.join(ACTIONS), FIX_ACTION))
    elif action != 'list' or name not in (None, ''):
        if not isinstance(name, str) or not BACKUP_NAME_RE.match(name):
            errors.append('kvmcloud_backup=%r is not a backup name: letters, digits, ".", "_" and "-", at most 64, '
                          'starting with a letter or digit; %s.' % (name, FIX_NAME))
    for variable, value in (('kvmcloud_backup_dir', backup_dir), ('kvmcloud_backup_restore_dir', restore_dir)):
        if not isinstance(value, str) or not DIR_RE.match(value) or os.path.normpath(value) != value \
                or value == '/':
            errors.append('%s=%r is not a directory for backups: an absolute, normalised path other than / of '
                          'letters, digits and "._/+-"; e.g. -e %s=/var/lib/libvirt/backups.'
                          % (variable, value, variable))
    if action == 'restore':
        if names and len(names) != 1:
            errors.append('kvmcloud_guests=%r: restore takes the backup of one guest at a time; give one, '
                          'e.g. -e kvmcloud_guests=web1.' % (guests,))
        if not isinstance(restore_as, str) or not GUEST_NAME_RE.match(restore_as):
            errors.append('kvmcloud_backup_restore_as=%r is not a guest name: letters, digits, "." and "-", at most '
                          '63, starting with a letter or digit; the restored guest is a new guest of that name; %s.'
                          % (restore_as, FIX_RESTORE_AS))
        elif names and restore_as in names:
            errors.append('kvmcloud_backup_restore_as=%r is the guest the backup is of: a restore makes a new guest '
                          'and never overwrites one; give a new name, %s.' % (restore_as, FIX_RESTORE_AS))
    return errors


def backup_path(backup_dir, guest, name, *rest):
    return os.path.join(backup_dir, guest, name, *rest)


def read_manifest(text):
    """The manifest of a backup, or None when it is not one of ours (unreadable, another format)."""
    try:
        manifest = json.loads(text)
    except ValueError:
        return None
    if not isinstance(manifest, dict) or manifest.get('format') != MANIFEST_FORMAT \
            or not isinstance(manifest.get('disks'), dict):
        return None
    return manifest


def disk_chains(xml_text):
    """{target: [top image, its backing file, ...]} of a domain's disks, from libvirt's
    backingStore elements (the live XML has them)."""
    chains = {}
    root = parse_xml(xml_text)
    for disk in root.findall('devices/disk') if root is not None else []:
        target, files, layer = disk.find('target'), [], disk
        while layer is not None:
            source = layer.find('source')
            if source is None or not (source.get('file') or source.get('dev')):
                break
            files.append(source.get('file') or source.get('dev'))
            layer = layer.find('backingStore')
        if target is not None:
            chains[target.get('dev')] = files
    return chains


def backup_disks(guest, xml_text):
    """(disks to back up [{'target', 'file', 'chain'}], skipped {target: why}, refusals) of a
    domain XML. Only writable disks are backed up; a checkpoint needs a qcow2 image at the top
    of each."""
    disks, skipped, refusals = [], {}, []
    root = parse_xml(xml_text)
    formats = {}
    for disk in root.findall('devices/disk') if root is not None else []:
        target, driver = disk.find('target'), disk.find('driver')
        if target is not None:
            formats[target.get('dev')] = driver.get('type') if driver is not None else None
    chains = disk_chains(xml_text)
    for disk in domain_disks(xml_text):
        if disk['device'] != 'disk':
            skipped[disk['target']] = disk['device']
        elif disk['readonly']:
            skipped[disk['target']] = 'read-only'
        elif disk['shareable']:
            refusals.append('kvmcloud_guests: %s: disk %s is shareable: another guest writes it too, so its backup '
                            'would not be this guest\'s; detach it first.' % (guest, disk['target']))
        elif formats.get(disk['target']) != DISK_FORMAT:
            refusals.append('kvmcloud_guests: %s: disk %s is in format %s; libvirt keeps the checkpoints an '
                            'incremental backup needs in qcow2 images only; convert the disk to qcow2, or back this '
                            'guest up another way.' % (guest, disk['target'], formats.get(disk['target'])))
        else:
            disks.append({'target': disk['target'], 'file': disk['file'], 'chain': chains.get(disk['target'], [])})
    if not disks and not refusals:
        refusals.append('kvmcloud_guests: %s has no writable disk: there is nothing to back up.' % guest)
    return disks, skipped, refusals


def parent_backup(backups, checkpoints, disks):
    """(the backup a new one is incremental from, or None for a full one; why not incremental).

    The parent is the newest complete backup whose checkpoint libvirt still has, that covers the
    same disks, and whose disk images (the top image of each disk when it was taken) are all still
    in the guest's chain of images. A snapshot reverted since (playbooks/snapshot.yml) drops the
    images written after the snapshot, whose blocks the checkpoint's bitmaps no longer mark: an
    incremental backup on top of a backup of them would restore writes the revert undid. A snapshot
    deleted since (its overlay merged back) drops an image too; libvirt merges the bitmaps then, but
    a full backup is the simple, safe choice."""
    chains = dict((disk['target'], disk.get('chain') or [disk['file']]) for disk in disks)
    complete = [b for b in backups if b.get('manifest')]
    if not complete:
        return None, 'the first backup'
    newest_first = sorted(complete, key=lambda b: (b['manifest'].get('created') or 0, b['name']), reverse=True)
    why = None
    for backup in newest_first:
        manifest = backup['manifest']
        if manifest.get('checkpoint') not in checkpoints:
            why = why or 'libvirt has no checkpoint %s (of the newest backup)' % backup['name']
        elif sorted(manifest['disks']) != sorted(chains):
            why = why or 'the guest\'s disks changed since backup %s' % backup['name']
        elif any(disk.get('source') not in chains[target] for target, disk in manifest['disks'].items()):
            why = why or ('the disk images backup %s was taken of are no longer the guest\'s (a snapshot reverted or '
                          'deleted since, or a disk replaced)' % backup['name'])
        else:
            return backup, None
    return None, why


def checkpoint_xml(name, disks, skipped):
    parts = ["<disk name='%s' checkpoint='bitmap'/>" % disk['target'] for disk in disks]
    parts += ["<disk name='%s' checkpoint='no'/>" % target for target in sorted(skipped) if target]
    return ("<domaincheckpoint><name>%s</name><description>kvmcloud.hypervisor backup.yml</description>"
            "<disks>%s</disks></domaincheckpoint>" % (name, ''.join(parts)))


def backup_xml(targets, skipped, parent):
    """The push-mode backup XML: each disk into its pre-made qcow2 file (targets {target: path}),
    incremental from the parent's checkpoint when there is one."""
    parts = ["<disk name='%s' backup='yes' type='file'><driver type='%s'/><target file='%s'/></disk>"
             % (target, DISK_FORMAT, escape_attr(path)) for target, path in sorted(targets.items())]
    parts += ["<disk name='%s' backup='no'/>" % target for target in sorted(skipped) if target]
    return ("<domainbackup mode='push'>%s<disks>%s</disks></domainbackup>"
            % ('<incremental>%s</incremental>' % parent if parent else '', ''.join(parts)))


def restored_paths(restore_dir, new_name, targets):
    """{target: path} of a restored guest's disks: a directory of its own, as kvm_guests keeps."""
    return dict((target, os.path.join(restore_dir, new_name, '%s-%s.%s' % (new_name, target, DISK_FORMAT)))
                for target in targets)


def restored_from(xml_text):
    """(guest, backup) a defined guest was restored from, by our mark; None when it has none."""
    root = parse_xml(xml_text)
    mark = root.find('metadata/{%s}restored' % RESTORED_NS) if root is not None else None
    return (mark.get('guest'), mark.get('backup')) if mark is not None else None


def restored_domain(xml_text, guest, backup, new_name, disks):
    """The domain XML of a new guest made from a backed-up one: the new name, no uuid (libvirt
    makes one), no MAC addresses (libvirt makes new ones), the backed-up disks on their new files
    (disks {target: path}), disks not backed up left out (read-only disks, e.g. the cloud-init
    seed; CD-ROMs stay, empty), no UEFI variable store (a fresh one from the firmware's template),
    the console log renamed, and our mark in place of kvm_guests' (the new guest is not in
    kvm_guests_list). None when the XML is unreadable."""
    root = parse_xml(xml_text)
    if root is None:
        return None
    root.find('name').text = new_name
    for element in root.findall('uuid'):
        root.remove(element)
    for element in root.findall('os'):
        for nvram in element.findall('nvram'):
            element.remove(nvram)
    devices = root.find('devices')
    for disk in list(devices.findall('disk')):
        target = disk.find('target').get('dev')
        if target in disks:
            disk.set('type', 'file')
            for child in disk.findall('source') + disk.findall('backingStore'):
                disk.remove(child)
            driver = disk.find('driver')
            if driver is None:
                driver = ET.Element('driver', {'name': 'qemu'})
                disk.insert(0, driver)
            driver.set('type', DISK_FORMAT)
            disk.insert(list(disk).index(driver) + 1, ET.Element('source', {'file': disks[target]}))
        elif disk.get('device') in ('cdrom', 'floppy'):
            for child in disk.findall('source') + disk.findall('backingStore'):
                disk.remove(child)
        else:
            devices.remove(disk)
    for interface in devices.findall('interface'):
        for mac in interface.findall('mac'):
            interface.remove(mac)
        for target in interface.findall('target'):
            interface.remove(target)
    for log in root.iter('log'):
        path = log.get('file') or ''
        base = os.path.basename(path)
        if base.startswith(guest + '-') or base.startswith(guest + '.'):
            log.set('file', os.path.join(os.path.dirname(path), new_name + base[len(guest):]))
    for channel in devices.findall('channel'):
        for source in channel.findall('source'):
            source.attrib.pop('path', None)
    metadata = root.find('metadata')
    if metadata is None:
        metadata = ET.Element('metadata')
        root.insert(list(root).index(root.find('name')) + 1, metadata)
    for element in list(metadata):
        if element.tag.startswith('{%s}' % GUEST_NS):
            metadata.remove(element)
    ET.SubElement(metadata, '{%s}restored' % RESTORED_NS, {'guest': guest, 'backup': backup})
    ET.register_namespace('kvmcloud-backup', RESTORED_NS)
    return ET.tostring(root, encoding='unicode')


def version_refusal(version, guest):
    """A refusal when the host's libvirt cannot back up; None when it can."""
    if version is not None and version >= BACKUP_SUPPORT:
        return None
    have = '.'.join(str(part) for part in version) if version else 'of unknown version'
    return ('kvmcloud_backup_action=backup: %s: libvirt %s on this host has no backup API with checkpoints enabled '
            '(libvirt %s and later have: Debian 12 has 9.0, Debian 13 11.x); upgrade libvirt.'
            % (guest, have, '.'.join(str(part) for part in BACKUP_SUPPORT)))


def describe(backup):
    """One backup, in words: 'b2 (incremental from b1)', 'b1 (full)', 'b0 (incomplete)'."""
    manifest = backup.get('manifest')
    if not manifest:
        return '%s (incomplete)' % backup['name']
    if manifest.get('parent'):
        return '%s (incremental from %s)' % (backup['name'], manifest['parent'])
    return '%s (full)' % backup['name']


def summary(backups, checkpoints):
    """One line of a guest's backups and checkpoints for --diff, oldest first."""
    names = ', '.join(describe(backup) for backup in backups) or 'none'
    return 'backups: %s; checkpoints: %s\n' % (names, ', '.join(checkpoints) or 'none')


def by_age(backups):
    """Backups oldest first: complete ones by creation time, then incomplete ones by name."""
    return sorted(backups, key=lambda b: (b.get('manifest') is None, (b.get('manifest') or {}).get('created') or 0,
                                          b['name']))


def chain(backups, name):
    """The names of a backup's chain, the backup first, then its parent and so on; refusals
    when a link is missing or incomplete."""
    found = dict((b['name'], b) for b in backups)
    names, refusals, current = [], [], name
    while current is not None and current not in names:
        backup = found.get(current)
        if backup is None or not backup.get('manifest'):
            refusals.append('backup %s, which %s builds on, is %s' % (current, names[-1] if names else name,
                                                                      'incomplete' if backup else 'missing'))
            break
        names.append(current)
        current = backup['manifest'].get('parent')
    return names, refusals
