# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where guests are, whether they can move, and what their target needs first (playbooks/migrate.yml).

request(...) checks the operator's input; placement(...) finds each guest's host from one read of
every host and refuses what cannot move; prepare(...) lists, for the target, the directories,
empty disks and small files (seed, UEFI variables) a live migration with copied storage needs
there before it starts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import xml.etree.ElementTree as ET

# MAINTENANCE_FACT: left by playbooks/evacuate.yml on a drained host (an Ansible local fact, so
# any playbook can read it as ansible_local.kvmcloud_maintenance). MARKER: kvm_guests' mark on
# the guest directories it keeps.
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.plan import MAINTENANCE_FACT
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.plan import MARKER as GUEST_DIR_MARKER

# libvirt domain names as kvm_guests accepts them (full-string match: no newline slips through).
GUEST_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9.-]{0,62}\Z')
FIX_GUESTS = 'give the guests as a list or a comma-separated string, e.g. -e kvmcloud_guests=web1,db1'


def guest_names(value):
    """The names of kvmcloud_guests (a list, or a comma-separated string), in order, without
    repeats; None when it is neither. Only spaces around a name go: a newline or other control
    character stays, and the name check refuses it. (playbooks/snapshot.yml reads it too.)"""
    if isinstance(value, str):
        value = value.split(',')
    if not isinstance(value, (list, tuple)):
        return None
    names = []
    for item in value:
        name = item.strip(' ') if isinstance(item, str) else item
        if name not in names and name != '':
            names.append(name)
    return names


def guest_name_errors(guests):
    """kvmcloud_guests as snapshot.yml and backup.yml take it: errors that start from the variable."""
    errors = []
    names = guest_names(guests)
    if not names:
        errors.append('kvmcloud_guests=%r names no guest; %s.' % (guests, FIX_GUESTS))
    for index, guest in enumerate(names or []):
        if not isinstance(guest, str) or not GUEST_NAME_RE.match(guest):
            errors.append('kvmcloud_guests[%d]=%r is not a guest name: letters, digits, "." and "-", at most 63, '
                          'starting with a letter or digit; %s.' % (index, guest, FIX_GUESTS))
    return errors


def result_line(result, name, predicted):
    """One line of an action's result for the operator: 'web1: create s1: would be created, ...'
    (name: the snapshot's or backup's name, or None)."""
    return '%s: %s%s: %s%s' % (result['guest'], result['action'], ' ' + name if name else '',
                               'would be ' if predicted and result['changed'] else '', result['note'])


def request_errors(guests, target, hosts):
    """The operator's input: guest names and a target host of the inventory."""
    errors = []
    names = guest_names(guests)
    if names is None or not names:
        errors.append('kvmcloud_guests: %r names no guest; %s.' % (guests, FIX_GUESTS))
        names = []
    for index, name in enumerate(names):
        if not isinstance(name, str) or not GUEST_NAME_RE.match(name):
            errors.append('kvmcloud_guests[%d]: %r is not a guest name (letters, digits, "." and "-", at most 63, '
                          'starting with a letter or digit); %s.' % (index, name, FIX_GUESTS))
    if not isinstance(target, str) or target not in hosts:
        errors.append('kvmcloud_target: %r is not a host of the play (%s); give one of them, '
                      'e.g. -e kvmcloud_target=%s.' % (target, ', '.join(hosts) or 'none', (hosts or ['hv02'])[0]))
    return errors


def blockers(name, xml):
    """Why a defined guest cannot move live with copied storage, from its libvirt XML."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        return ['%s: libvirt printed no readable XML (%s).' % (name, exc)]
    found = []
    cpu = root.find('cpu')
    if cpu is not None and cpu.get('mode') == 'host-passthrough':
        found.append('%s has CPU mode host-passthrough, which ties it to identical CPUs: give it the fleet\'s CPU '
                     '(kvm_guests_cpu_mode fleet, the default where kvm_hardening_migration_enabled is true) or '
                     'host-model, restart it, then move it.' % name)
    devices = root.find('devices')
    for hostdev in (devices.findall('hostdev') if devices is not None else []):
        found.append('%s has a host device (hostdev type %s): a device of this host cannot move with the guest; '
                     'detach it first.' % (name, hostdev.get('type')))
    for disk in (devices.findall('disk') if devices is not None else []):
        target = disk.find('target')
        dev = target.get('dev') if target is not None else '?'
        source = disk.find('source')
        if disk.find('shareable') is not None:
            found.append('%s: disk %s is shareable; migrate.yml copies disks, which would split a shared '
                         'disk in two.' % (name, dev))
        elif disk.get('type') != 'file' and source is not None:
            found.append('%s: disk %s is of type %s; migrate.yml copies file disks only.'
                         % (name, dev, disk.get('type')))
    return found


def placement(found, guests, target, migration_enabled):
    """Each guest's source host, from every host's read.

    found: {host: {guest: {'defined', 'running', 'xml'}}} (kvmcloud.hypervisor.kvm_guests_state);
    migration_enabled: {host: bool}. Returns the moves, the guests already running on the target,
    and the errors that stop the run before anything moves.
    """
    moves, in_place, errors = [], [], []
    if not migration_enabled.get(target):
        errors.append('kvmcloud_target: %s does not accept migrations: set kvm_hardening_migration_enabled '
                      '(with TLS) for it and run playbooks/kvm_host.yml there first.' % target)
    for name in guests:
        hosts = sorted(host for host, domains in found.items() if domains.get(name, {}).get('defined'))
        running = [host for host in hosts if found[host][name].get('running')]
        if not hosts:
            errors.append('%s is defined on no host of the play (%s).' % (name, ', '.join(sorted(found))))
        elif len(hosts) > 1:
            errors.append('%s is defined on %s: more than one host; undefine the copy that should not exist, '
                          'then move it.' % (name, ', '.join(hosts)))
        elif hosts[0] == target:
            if running:
                in_place.append(name)
            else:
                errors.append('%s is on %s already, but not running.' % (name, target))
        elif not running:
            errors.append('%s is not running on %s: live migration moves running guests; start it first, or '
                          'move its entry in the inventory to %s.' % (name, hosts[0], target))
        elif not migration_enabled.get(hosts[0]):
            errors.append('%s runs on %s, which has kvm_hardening_migration_enabled off: migration out of it '
                          'is not configured.' % (name, hosts[0]))
        else:
            problems = blockers(name, found[hosts[0]][name].get('xml', ''))
            errors.extend(problems)
            if not problems:
                # libvirt keeps autostart per host: the move carries it over.
                moves.append({'guest': name, 'source': hosts[0], 'autostart': bool(found[hosts[0]][name].get('autostart'))})
    # Nothing moves unless everything can.
    return {'moves': [] if errors else moves, 'in_place': in_place, 'errors': errors}


def parent(path):
    return path.rsplit('/', 1)[0] or '/'


def prepare(name, xml):
    """What the target needs before a guest moves with copied storage: the disks to create
    (path, format: filled by the copy), the read-only files and the UEFI variables to copy
    as they are, and every directory that holds them."""
    root = ET.fromstring(xml)
    disks, files, backings = [], [], []
    for disk in root.find('devices').findall('disk'):
        source = disk.find('source')
        if disk.get('type') != 'file' or source is None or not source.get('file'):
            continue
        driver = disk.find('driver')
        entry = {'path': source.get('file'), 'format': driver.get('type') if driver is not None else 'raw'}
        if disk.find('readonly') is not None or disk.get('device') == 'cdrom':
            # QEMU copies only the disks the guest writes; a read-only one must be there already.
            files.append(entry['path'])
        else:
            disks.append(entry)
            # The live XML names each disk's backing chain.
            backing = disk.find('backingStore/source')
            if backing is not None and backing.get('file') and backing.get('file') not in backings:
                backings.append(backing.get('file'))
    nvram = root.find('os/nvram')
    if nvram is not None and (nvram.text or '').strip():
        files.append(nvram.text.strip())
    dirs = []
    for path in [disk['path'] for disk in disks] + files:
        for directory in ancestors(path):
            if directory not in dirs:
                dirs.append(directory)
    # kvm_guests' own mark on a guest directory (its disks' directory), when the source has
    # it: the target's kvm_guests then knows the directory as the guest's, should the guest's
    # entry move there.
    markers = []
    for disk in disks:
        if parent(disk['path']) + '/' + GUEST_DIR_MARKER not in markers:
            markers.append(parent(disk['path']) + '/' + GUEST_DIR_MARKER)
    return {'guest': name, 'disks': disks, 'files': files, 'dirs': dirs, 'markers': markers, 'backings': backings}


def ancestors(path, depth=2):
    """The directory of PATH and the one above it, outermost first: a guest's seed directory
    sits inside its guest directory."""
    found = []
    directory = parent(path)
    for _level in range(depth):
        if directory in ('', '/'):
            break
        found.insert(0, directory)
        directory = parent(directory)
    return found


def same_image(path, source, target):
    """Whether both hosts hold the image PATH with the same checksum (read with one)."""
    here, there = source['images'].get(path) or {}, target['images'].get(path) or {}
    return bool(here.get('checksum')) and here.get('checksum') == there.get('checksum')


def in_the_way(guest, what):
    return ('%s: %s exists on the target already; it may belong to another guest. Remove or rename it there, '
            'then run again.' % (guest, what))


def target_work(prepared, source, target):
    """What the target must make before the move, from the source's and the target's reads
    (kvmcloud.hypervisor.kvm_guests_state: images and paths): each missing directory with the
    source's mode and owner, each disk empty with the source's format and virtual size, each small
    file to copy. A file already on the target stops the run: it may be another guest's."""
    work = {'dirs': [], 'disks': [], 'files': [], 'errors': []}
    for directory in prepared['dirs']:
        there, here = target['paths'].get(directory, {}), source['paths'].get(directory, {})
        if not there.get('exists') and here.get('exists'):
            work['dirs'].append({'path': directory, 'mode': here['mode'], 'uid': here['uid'], 'gid': here['gid']})
    shallow = True
    for disk in prepared['disks']:
        info = (source['images'].get(disk['path']) or {}).get('info') or {}
        if target['paths'].get(disk['path'], {}).get('exists'):
            work['errors'].append(in_the_way(prepared['guest'], 'its disk ' + disk['path']))
            continue
        if not info:
            work['errors'].append('%s: its disk %s could not be read on the source.' % (prepared['guest'], disk['path']))
            continue
        entry = {'path': disk['path'], 'format': info.get('format', disk['format']), 'size': info['virtual-size'],
                 'mode': source['paths'][disk['path']]['mode'], 'backing': '', 'backing_format': ''}
        backing = info.get('full-backing-filename') or info.get('backing-filename') or ''
        if backing:
            if same_image(backing, source, target):
                entry.update(backing=backing, backing_format=info.get('backing-filename-format') or 'raw')
            else:
                shallow = False
        work['disks'].append(entry)
    # When the target holds the same base images (same path, same checksum), only the guests'
    # own layers cross the wire and stay overlays of them, as kvm_guests made them. Otherwise
    # every disk is copied whole into a standalone image.
    if not shallow:
        for entry in work['disks']:
            entry.update(backing='', backing_format='')
    work['copy_storage'] = 'inc' if shallow and any(entry['backing'] for entry in work['disks']) else 'all'
    for path in prepared['files'] + prepared['markers']:
        if not source['paths'].get(path, {}).get('exists'):
            continue
        if target['paths'].get(path, {}).get('exists'):
            if path not in prepared['markers']:
                work['errors'].append(in_the_way(prepared['guest'], path))
            continue
        here = source['paths'][path]
        work['files'].append({'path': path, 'mode': here['mode'], 'uid': here['uid'], 'gid': here['gid']})
    # The source's copies go once the guest runs on the target, but only for a guest
    # kvm_guests made (its directory has the marker): anything else stays where it is.
    made_by_role = [marker for marker in prepared['markers'] if source['paths'].get(marker, {}).get('exists')]
    work['remove_on_source'] = ([disk['path'] for disk in prepared['disks']] + prepared['files']) if made_by_role else []
    return work


def maintenance_error(variable, host):
    return ('%s: %s is in maintenance (playbooks/evacuate.yml drained it): no guest moves onto it until it is '
            'un-drained with playbooks/evacuate.yml -e kvmcloud_undrain=%s.' % (variable, host, host))


def split_reads(reads):
    """Each host's domains, and the hosts in maintenance, from each host's
    kvmcloud.hypervisor.kvm_guests_state read (domains, and MAINTENANCE_FACT among its paths)."""
    found = dict((host, read.get('domains') or {}) for host, read in reads.items())
    maintenance = sorted(host for host, read in reads.items()
                         if ((read.get('paths') or {}).get(MAINTENANCE_FACT) or {}).get('exists'))
    return found, maintenance


def plan(reads, guests, target, hosts, migration_enabled):
    """The whole request from one read of every host: errors, or the moves with what each
    source and target must read next (kvmcloud.hypervisor.kvm_guests_state's images and
    paths) before the targets are prepared."""
    found, maintenance = split_reads(reads)
    errors = request_errors(guests, target, hosts)
    if not errors and target in maintenance:
        errors.append(maintenance_error('kvmcloud_target', target))
    if errors:
        return {'errors': errors, 'moves': [], 'in_place': [], 'reads': {}}
    placed = placement(found, guest_names(guests), target, migration_enabled)
    for move in placed['moves']:
        move['target'] = target
    return with_reads(placed, found)


def with_reads(placed, found):
    """Adds to each move what its target needs (prepare), and what each host reads next."""
    reads = {}
    for move in placed['moves']:
        move['prepare'] = prepare(move['guest'], found[move['source']][move['guest']]['xml'])
        prepared = move['prepare']
        paths = prepared['dirs'] + [disk['path'] for disk in prepared['disks']] + prepared['files'] + prepared['markers']
        backings = [{'path': path, 'checksum_algorithm': 'sha256'} for path in prepared['backings']]
        for host, images in ((move['source'], [{'path': disk['path']} for disk in prepared['disks']] + backings),
                             (move['target'], backings)):
            entry = reads.setdefault(host, {'images': [], 'paths': []})
            entry['images'] += [image for image in images if image not in entry['images']]
            entry['paths'] += [path for path in paths if path not in entry['paths']]
    return dict(placed, reads=reads)


def work(planned, state_by_host):
    """Each move's target work (target_work), from the reads plan() asked for; the errors of all."""
    errors = []
    for move in planned['moves']:
        move['work'] = target_work(move['prepare'], state_by_host[move['source']], state_by_host[move['target']])
        errors += move['work']['errors']
    return dict(planned, errors=errors)


def domain_size(xml):
    """The guest's memory in MiB and its vCPUs, from its libvirt XML (memory in KiB there)."""
    root = ET.fromstring(xml)
    memory = root.find('memory')
    kib = int(memory.text) * {'KiB': 1, 'MiB': 1024, 'GiB': 1048576}.get(memory.get('unit', 'KiB'), 1)
    return kib // 1024, int(root.findtext('vcpu') or 1)


def evacuation(reads, drained, hosts, migration_enabled, facts, reserve_mib=1024):
    """Where each running guest of DRAINED goes: the largest guests first, each to the host with
    the most memory left that takes it (memory available minus RESERVE_MIB and what this plan
    already put there; at least as many CPU threads as it has vCPUs). Hosts in maintenance or
    without migration take none. A guest no host can take fails the whole plan, by name."""
    found, maintenance = split_reads(reads)
    if isinstance(reserve_mib, bool) or not isinstance(reserve_mib, int) or reserve_mib < 0:
        return {'errors': ['kvmcloud_evacuate_reserve_mib: %r is not a whole number of MiB of 0 or more; give the '
                           'memory each target keeps free for itself, such as 1024.' % (reserve_mib,)],
                'moves': [], 'in_place': [], 'reads': {}}
    if drained not in hosts:
        return {'errors': ['kvmcloud_drain: %r is not a host of the play (%s); give one of them.'
                           % (drained, ', '.join(hosts))], 'moves': [], 'in_place': [], 'reads': {}}
    errors, moves, unplaced = [], [], []
    if not migration_enabled.get(drained):
        errors.append('kvmcloud_drain: %s has kvm_hardening_migration_enabled off: its guests cannot move live.'
                      % drained)
    candidates = [host for host in hosts if host != drained and migration_enabled.get(host) and host not in maintenance]
    free = dict((host, ((facts.get(host) or {}).get('memory') or {}).get('available_kib', 0) // 1024 - reserve_mib)
                for host in candidates)
    threads = dict((host, ((facts.get(host) or {}).get('cpu') or {}).get('threads') or 0) for host in candidates)
    running = [(name, domain) for name, domain in sorted((found.get(drained) or {}).items()) if domain.get('running')]
    sized = []
    for name, domain in running:
        problems = blockers(name, domain.get('xml', ''))
        if problems:
            errors += problems
            continue
        twins = sorted(host for host in found if host != drained and (found[host].get(name) or {}).get('defined'))
        if twins:
            errors.append('%s runs on %s and is also defined on %s; undefine the copy that should not exist.'
                          % (name, drained, ', '.join(twins)))
            continue
        sized.append((name, domain) + domain_size(domain['xml']))
    for name, domain, memory_mib, vcpus in sorted(sized, key=lambda entry: (-entry[2], entry[0])):
        fits = sorted((host for host in candidates if free[host] >= memory_mib and threads[host] >= vcpus),
                      key=lambda host: (-free[host], host))
        if not fits:
            unplaced.append('%s (%d MiB, %d vCPUs)' % (name, memory_mib, vcpus))
            continue
        free[fits[0]] -= memory_mib
        moves.append({'guest': name, 'source': drained, 'target': fits[0], 'autostart': bool(domain.get('autostart'))})
    if unplaced:
        room = ', '.join('%s %d MiB and %d threads' % (host, max(free[host], 0), threads[host]) for host in candidates)
        errors.append('kvmcloud_drain: no host can take %s from %s (room left, %d MiB kept free on each: %s). '
                      'Add capacity, un-drain a host or stop those guests, then run again.'
                      % (', '.join(unplaced), drained, reserve_mib, room or 'no other host with migration on and out of maintenance'))
    return with_reads({'moves': [] if errors else moves, 'in_place': [], 'errors': errors}, found)
