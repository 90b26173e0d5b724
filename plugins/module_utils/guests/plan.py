# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What kvm_guests does on a host, worked out from the shaped input and one read of the host.

state_query(shaped, settings) lists what kvmcloud.hypervisor.kvm_guests_state must read;
decide(...) turns its answer into the checks that fail the run before any change and the lists
the role's tasks loop over, so that a host already as declared costs no task beyond the read
and the one write of the role's files; power(...) works out restarts, stops and starts once the
definitions are in.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import re
import uuid

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.cpu import fleet_cpu_errors

GIB = 1073741824
# Ansible's to_uuid namespace: UUIDs derived before this module existed stay the same.
UUID_NAMESPACE_ANSIBLE = uuid.UUID('361E6D51-FAEC-444A-9079-341386DA8E2E')

# Read from libvirt's own XML (its formatter always writes these the same way): the UUID,
# the machine type, the NICs (MAC, then network), the running domain's id and the Secure Boot
# feature.
XML_UUID_RE = re.compile(r"<uuid>([0-9a-f-]{36})</uuid>")
XML_MACHINE_RE = re.compile(r"<type arch='x86_64' machine='(pc-q35-[0-9.]+)'>")
XML_NIC_RE = re.compile(r"<interface type='network'[^>]*>\s*<mac address='([0-9a-f:]{17})'/>\s*<source network='([^']+)'")
XML_DOMID_RE = re.compile(r"^<domain type='[a-z]+' id='([0-9]+)'")
XML_SECURE_BOOT_RE = re.compile(r"<feature enabled='(yes|no)' name='secure-boot'/>")

SEED_MODE = '0600'
DEFINITION_MODE = '0600'
VALIDATE_DOMAIN = 'virt-xml-validate %s domain'
# Written into each guest directory the role keeps: remove_disks removes only a directory
# that has it, so a directory the role did not make is never taken for a guest's.
MARKER = '.kvmcloud-guest'
MARKER_MODE = '0600'
TEMPLATE = 'domain.xml.j2'
# playbooks/evacuate.yml's mark on a drained host: no guest is placed on it until un-drained.
MAINTENANCE_FACT = '/etc/ansible/facts.d/kvmcloud_maintenance.fact'
# playbooks/migrate.yml's records on a host, one file per guest moved away, naming where it went.
MOVED_RECORD_DIR = '/var/lib/kvmcloud/moved-guests'


def basename(path):
    return path.rsplit('/', 1)[-1]


def text(value):
    if value is None:
        return ''
    return value if isinstance(value, str) else str(value)


def size_gib(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def seed_dir(guest):
    return guest['dir'] + '/seed'


def definition_path(settings, name):
    return '%s/%s.xml' % (settings['definition_dir'], name)


def libvirt_config_path(settings, name):
    return '%s/%s.xml' % (settings['libvirt_config_dir'], name)


def directories(shaped, settings):
    """The directories the role owns, in the order they are made, with their modes."""
    dirs = []
    if shaped['images']:
        # QEMU (another user) must reach the images; nobody needs to list them.
        dirs.append({'path': settings['base_image_dir'], 'mode': '0711'})
    for guest in shaped['wanted']:
        dirs.append({'path': guest['dir'], 'mode': '0711'})
        if guest['seed_path']:
            # User-data often holds password hashes and keys: root only.
            dirs.append({'path': seed_dir(guest), 'mode': '0700'})
    if shaped['wanted']:
        dirs.append({'path': settings['definition_dir'], 'mode': '0700'})
    return dirs


def state_query(shaped, settings):
    """The arguments of kvmcloud.hypervisor.kvm_guests_state for this input."""
    images = [{'path': image['dest'], 'checksum_algorithm': image['algorithm']} for image in shaped['images']]
    images += [{'path': disk['path']} for guest in shaped['wanted'] for disk in guest['disks'] if disk['path']]
    paths = [entry['path'] for entry in directories(shaped, settings)]
    for guest in shaped['wanted']:
        if guest['seed_path']:
            paths.append(guest['seed_path'])
        else:
            paths.append(seed_dir(guest))
        paths += [definition_path(settings, guest['name']), libvirt_config_path(settings, guest['name'])]
    for guest in shaped['unwanted']:
        if guest['remove_disks']:
            paths += [guest['dir'], guest['dir'] + '/' + MARKER]
    if shaped['wanted']:
        paths.append(MAINTENANCE_FACT)
    unique = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    return {
        'moved_record_dir': MOVED_RECORD_DIR,
        'domains': [guest['name'] for guest in shaped['guests']],
        'images': images,
        'paths': unique,
    }


def identities(shaped, xml_by_name, q35_machine, inventory_hostname):
    """name -> uuid, machine, macs (one per NIC), domid ('' when off), secure_boot ('yes', 'no' or '').

    An existing guest keeps its UUID, machine type and MACs: a NIC keeps the MAC of the existing
    NIC on the same network at the same position among that network's NICs; a MAC given in
    kvm_guests_list wins. Derived values hash the inventory name and the guest name, so reruns
    agree even in check mode, before the guest exists.
    """
    out = {}
    for guest in shaped['wanted']:
        xml = xml_by_name.get(guest['name']) or ''
        existing = XML_NIC_RE.findall(xml)
        macs = []
        for index, nic in enumerate(guest['nics']):
            position = len([other for other in guest['nics'][:index] if other['network'] == nic['network']])
            kept = [mac for mac, network in existing if network == nic['network']]
            seed = hashlib.sha256(('%s/%s/%s/%d' % (inventory_hostname, guest['name'], nic['network'], position))
                                  .encode('utf-8')).hexdigest()
            derived = '52:54:00:%s:%s:%s' % (seed[0:2], seed[2:4], seed[4:6])
            macs.append(nic['mac'] or (kept[position] if len(kept) > position else derived))
        uuids = XML_UUID_RE.findall(xml)
        machines = XML_MACHINE_RE.findall(xml)
        domids = XML_DOMID_RE.findall(xml)
        secure_boot = XML_SECURE_BOOT_RE.findall(xml)
        out[guest['name']] = {
            'uuid': uuids[0] if uuids and uuids[0] else str(
                uuid.uuid5(UUID_NAMESPACE_ANSIBLE, '%s/%s' % (inventory_hostname, guest['name']))),
            'machine': machines[0] if machines and machines[0] else q35_machine,
            'macs': macs,
            'domid': domids[0] if domids else '',
            'secure_boot': secure_boot[0] if secure_boot else '',
        }
    return out


def data_file(info):
    """qcow2's external data file (format-specific.data.data-file); raw images have none."""
    return ((info.get('format-specific') or {}).get('data') or {}).get('data-file') or ''


def image_errors(shaped, state_images):
    """Base images on the host whose content or format is not the declared one."""
    errors = []
    for image in shaped['images']:
        found = state_images.get(image['dest'])
        if not found or not found.get('exists'):
            continue
        if 'checksum' in found and found['checksum'] != image['digest']:
            errors.append(
                "Base image %s (%s) has %s %s, not the declared %s. Guests' disks are overlays of it, so"
                " kvm_guests never replaces it: give a new image a new name, or remove the file yourself once"
                " no guest uses it." % (image['name'], image['dest'], image['algorithm'], text(found['checksum']),
                                        image['digest']))
        info = found.get('info')
        if info is None:
            continue
        # A backing file or an external data file in a downloaded image would make QEMU open a
        # file the image's author chose, with the guest's access to it.
        encrypted = info.get('encrypted', False)
        if (info.get('format') != image['format'] or 'backing-filename' in info or data_file(info) != ''
                or encrypted):
            errors.append(
                'Base image %s (%s) is refused: qemu-img sees format %s (declared %s), backing file %s, data'
                ' file %s, encrypted %s. A base image must be a self-contained, unencrypted image of the'
                ' declared format.'
                % (image['name'], image['dest'], text(info.get('format')), image['format'],
                   text(info.get('backing-filename', 'none')), data_file(info) or 'none', text(encrypted)))
    return errors


def size_errors(shaped, state_images):
    """Boot disks smaller than the base image they overlay (it would lose its end: backup GPT, last partition)."""
    sizes = {}
    for image in shaped['images']:
        found = state_images.get(image['dest']) or {}
        if found.get('exists') and found.get('info') is not None:
            sizes[image['name']] = found['info'].get('virtual-size', 0)
    errors = []
    for guest in shaped['wanted']:
        for disk in guest['disks']:
            if not disk['base_image'] or disk['base_image'] not in sizes:
                continue
            if size_gib(disk['size_gib']) * GIB < sizes[disk['base_image']]:
                errors.append('Guest %s: size_gib %s is smaller than base image %s (%s GiB).'
                              % (guest['name'], text(disk['size_gib']), disk['base_image'],
                                 round(sizes[disk['base_image']] / float(GIB), 1)))
    return errors


def existing_disks(shaped, state_images):
    """(guest, disk, qemu-img info) for each declared disk of a wanted guest that the host already has."""
    for guest in shaped['wanted']:
        for disk in guest['disks']:
            found = state_images.get(disk['path']) or {}
            if found.get('exists') and found.get('info') is not None:
                yield guest, disk, found['info']


def backing_path(disk):
    """The backing file a disk names: its base image if it overlays one (a volume of a block pool
    holds a copy of its base instead)."""
    return disk['base_path'] if disk['overlay'] else ''


def disk_errors(shaped, state_images):
    """Guest disks on the host that are not exactly what was declared (replaced or rebased by hand)."""
    errors = []
    for guest, disk, info in existing_disks(shaped, state_images):
        if (info.get('format') == disk['format']
                and info.get('full-backing-filename', '') == backing_path(disk)
                and (not disk['overlay'] or info.get('backing-filename-format', '') == disk['base_format'])
                and data_file(info) == ''):
            continue
        errors.append(
            'Guest %s: %s is refused: qemu-img sees format %s, backing file %s (%s), data file %s; declared:'
            ' format %s, backing file %s %s. The role does not touch an existing disk: fix or remove it by'
            ' hand.'
            % (guest['name'], disk['path'], text(info.get('format')),
               text(info.get('full-backing-filename', 'none')),
               text(info.get('backing-filename-format', 'no format recorded')), data_file(info) or 'none',
               disk['format'], backing_path(disk) or 'none',
               ('(' + disk['base_format'] + ')') if disk['overlay'] else ''))
    return errors


def size_reports(shaped, state_images):
    """Existing disks whose size is not the declared one: reported, never changed."""
    reports = []
    for guest, disk, info in existing_disks(shaped, state_images):
        # A LUN has the size its target gave it (size_gib is left out).
        if disk['size_gib'] is None:
            continue
        actual = info.get('virtual-size')
        if actual != size_gib(disk['size_gib']) * GIB:
            reports.append('Guest %s: %s is %s GiB, declared %s GiB. kvm_guests does not resize existing disks.'
                           % (guest['name'], disk['path'], round((actual or 0) / float(GIB), 2),
                              text(disk['size_gib'])))
    return reports


def verify(shaped, state):
    """The checks of what is on the host, for the images and disks the state holds."""
    state_images = state.get('images') or {}
    return {
        'images': image_errors(shaped, state_images),
        'sizes': size_errors(shaped, state_images),
        'disks': disk_errors(shaped, state_images),
    }


def seed_documents(guest, to_yaml):
    """The NoCloud seed's files: cloud-init reads user-data as text, the other two as YAML."""
    cloud_init = guest['cloud_init']
    user_data = cloud_init.get('user_data', {})
    meta_data = {'instance-id': guest['name'], 'local-hostname': guest['name']}
    meta_data.update(cloud_init.get('meta_data') or {})
    files = [
        ('user-data', user_data if isinstance(user_data, str) else '#cloud-config\n' + to_yaml(user_data)),
        ('meta-data', to_yaml(meta_data)),
    ]
    if cloud_init.get('network_config'):
        files.append(('network-config', to_yaml(cloud_init['network_config'])))
    return files


def is_role_dir(found, mode):
    return (bool(found) and found.get('exists') and found.get('isdir') and found.get('uid') == 0
            and found.get('gid') == 0 and found.get('mode') == mode)


def stale_definition(settings, name, paths):
    """The rendered file is newer than libvirt's own copy: a run wrote it and stopped before defining it."""
    ours = paths.get(definition_path(settings, name)) or {}
    libvirt = paths.get(libvirt_config_path(settings, name)) or {}
    return bool(ours.get('exists') and libvirt.get('exists') and ours.get('mtime', 0) > libvirt.get('mtime', 0))


def moved_guests(shaped, state, defined):
    """The declared guests playbooks/migrate.yml moved away from this host (its record names
    the target) and that this host has not got back: the role leaves them alone here, so that a
    guest is never defined, let alone started, on two hosts."""
    moved = state.get('moved') or {}
    return [{'name': guest['name'], 'host': moved[guest['name']]} for guest in shaped['wanted']
            if guest['name'] in moved and guest['name'] not in defined]


def held_guests(shaped, paths, running):
    """On a host in maintenance (drained by playbooks/evacuate.yml), the declared guests that do
    not run here already: none is defined or started until the host is un-drained."""
    if not (paths.get(MAINTENANCE_FACT) or {}).get('exists'):
        return []
    return [{'name': guest['name'], 'host': ''} for guest in shaped['wanted'] if guest['name'] not in running]


def without_moved(shaped, moved_away):
    names = [entry['name'] for entry in moved_away]
    if not names:
        return shaped
    return dict(shaped, wanted=[guest for guest in shaped['wanted'] if guest['name'] not in names])


def decide(shaped, settings, state, inventory_hostname, domain_type, host, to_yaml):
    """The checks and the work lists of one run. See the role's tasks for how each list is used."""
    domains = state.get('domains') or {}
    paths = state.get('paths') or {}
    state_images = state.get('images') or {}
    networks = state.get('networks') or []
    domcaps = state.get('domcapabilities') or {}
    defined = [name for name, domain in domains.items() if domain.get('defined')]
    running = [name for name, domain in domains.items() if domain.get('running')]
    errors = []
    moved_away = moved_guests(shaped, state, defined)
    shaped = without_moved(shaped, moved_away)
    held = held_guests(shaped, paths, running)
    shaped = without_moved(shaped, held)

    # A new guest is defined with the versioned q35 machine libvirt would expand "q35" to, so
    # the XML rendered on its first run is the one rendered on every later run.
    q35 = domcaps.get('machine') or ''
    if not q35.startswith('pc-q35-') or 'efi' not in (domcaps.get('firmware') or []):
        errors.append(
            'libvirt on %s offers no q35 machine (%s) or no UEFI firmware for domain type %s: is the ovmf package'
            ' installed, with its descriptors in /usr/share/qemu/firmware?'
            % (inventory_hostname, q35 or 'none', domain_type))
    missing_networks = ['%s: %s' % (guest['name'], nic['network'])
                        for guest in shaped['wanted'] for nic in guest['nics'] if nic['network'] not in networks]
    if missing_networks:
        errors.append(
            'These guests use libvirt networks that do not exist on %s: %s. Define them first (kvm_network), or'
            ' fix the network names. Existing: %s.' % (inventory_hostname, '; '.join(missing_networks),
                                                       ', '.join(networks) or 'none'))

    identity = identities(shaped, dict((name, domain.get('xml')) for name, domain in domains.items()),
                          q35, inventory_hostname)
    macs = [mac for name in identity for mac in identity[name]['macs']]
    repeated = []
    for mac in macs:
        if macs.count(mac) > 1 and mac not in repeated:
            repeated.append(mac)
    if repeated:
        errors.append('These MAC addresses would be used twice: %s. Set mac on the NICs concerned in'
                      ' kvm_guests_list.' % ', '.join(repeated))
    checks = verify(shaped, state)
    errors += checks['images'] + checks['sizes'] + checks['disks']
    errors += fleet_cpu_errors(shaped, host, inventory_hostname, domain_type)

    # Secure Boot lives in the UEFI variable store, made from the firmware's template at the
    # guest's first start: switching it takes a new store.
    secure_boot_changed = []
    for guest in shaped['wanted']:
        before = identity[guest['name']]['secure_boot']
        profile = shaped['profiles'].get(guest['profile']) or {}
        if before and before != ('yes' if profile.get('secure_boot') else 'no'):
            secure_boot_changed.append(guest['name'])

    dirs = [entry for entry in directories(shaped, settings) if not is_role_dir(paths.get(entry['path']), entry['mode'])]

    files = []
    seeds = []
    definitions = []
    remove_seed_dirs = []
    for guest in shaped['wanted']:
        if guest['seed_path']:
            documents = seed_documents(guest, to_yaml)
            names = [name for name, _content in documents]
            for name, content in documents:
                files.append({'path': '%s/%s' % (seed_dir(guest), name), 'content': content, 'owner': 'root',
                              'group': 'root', 'mode': SEED_MODE, 'diff': False})
            if 'network-config' not in names:
                files.append({'path': seed_dir(guest) + '/network-config', 'state': 'absent'})
            found = paths.get(guest['seed_path']) or {}
            # seed.yml rebuilds the ISO when it is missing or a file in its dir changed.
            seeds.append({'name': guest['name'], 'dir': seed_dir(guest), 'iso_exists': bool(found.get('exists')),
                          'iso_files': names})
        else:
            # The domain XML no longer attaches it either.
            files.append({'path': guest['dir'] + '/seed.iso', 'state': 'absent'})
            if (paths.get(seed_dir(guest)) or {}).get('exists'):
                remove_seed_dirs.append(seed_dir(guest))
    for guest in shaped['wanted']:
        path = definition_path(settings, guest['name'])
        template_vars = {'guest': guest, 'profile': shaped['profiles'].get(guest['profile']),
                         'identity': identity[guest['name']], 'host': host}
        files.append({'path': path, 'template': TEMPLATE, 'vars': template_vars, 'owner': 'root', 'group': 'root',
                      'mode': DEFINITION_MODE, 'validate': VALIDATE_DOMAIN})
        definitions.append({'name': guest['name'], 'path': path,
                            'define': guest['name'] not in defined
                            or stale_definition(settings, guest['name'], paths)})
    for guest in shaped['unwanted']:
        files.append({'path': definition_path(settings, guest['name']), 'state': 'absent'})
    for guest in shaped['wanted']:
        files.append({'path': guest['dir'] + '/' + MARKER, 'content': guest['name'] + '\n', 'owner': 'root',
                      'group': 'root', 'mode': MARKER_MODE})

    remove_guest_dirs = []
    for guest in shaped['unwanted']:
        if not (guest['remove_disks'] and (paths.get(guest['dir']) or {}).get('exists')):
            continue
        marker = paths.get(guest['dir'] + '/' + MARKER) or {}
        if marker.get('exists') and not marker.get('isdir') and marker.get('uid') == 0:
            remove_guest_dirs.append(guest['dir'])
        else:
            errors.append(
                'kvm_guests_list entry %s: remove_disks is true, but %s has no %s file, which kvm_guests writes'
                ' into every guest directory it keeps: it was not made by this role, and stays. Remove it by hand'
                ' if it is this guest\'s, or set remove_disks to false.' % (guest['name'], guest['dir'], MARKER))

    disks_missing = []
    luns_missing = []
    for guest in shaped['wanted']:
        for disk in guest['disks']:
            if not disk['path'] or (state_images.get(disk['path']) or {}).get('exists'):
                continue
            if disk['creatable']:
                disks_missing.append(dict(disk, guest=guest['name']))
            else:
                luns_missing.append(
                    'Guest %s: disks[%d] is LUN %s of iSCSI pool %s, and %s does not exist on %s. The role does not'
                    ' make LUNs: check the target exports it (virsh vol-list %s), or fix lun.'
                    % (guest['name'], disk['index'], disk['lun'], disk['pool'], disk['path'], inventory_hostname,
                       disk['pool']))

    return {
        'errors': errors,
        'moved_away': moved_away,
        'held': held,
        'size_reports': size_reports(shaped, state_images),
        'identity': identity,
        'defined': defined,
        'running': running,
        'secure_boot_changed': secure_boot_changed,
        'restart_markers': list(state.get('restart_markers') or []),
        'destroy': [guest['name'] for guest in shaped['unwanted'] if guest['name'] in running],
        'undefine': [guest['name'] for guest in shaped['unwanted'] if guest['name'] in defined],
        'remove_guest_dirs': remove_guest_dirs,
        'remove_seed_dirs': remove_seed_dirs,
        'dirs': dirs,
        'base_dir_exists': bool((paths.get(settings['base_image_dir']) or {}).get('exists')),
        'images_missing': [image for image in shaped['images']
                           if not (state_images.get(image['dest']) or {}).get('exists')],
        'disks_missing': disks_missing,
        # A check-mode preview may run before kvm_host has logged in to the target.
        'luns_missing': luns_missing,
        # What to read again once imported or created, before anything uses it.
        'verify_images': [{'path': image['dest']} for image in shaped['images']
                          if not (state_images.get(image['dest']) or {}).get('exists')],
        'verify_disks': [{'path': disk['path']} for disk in disks_missing],
        'files': files,
        'seeds': seeds,
        'definitions': definitions,
        # A new guest starts without autostart.
        'autostart': [{'name': guest['name'], 'autostart': guest['autostart']} for guest in shaped['wanted']
                      if (guest['name'] in defined and domains[guest['name']].get('autostart') != guest['autostart'])
                      or (guest['name'] not in defined and guest['autostart'])],
    }


def power(shaped, todo, defined_now, check_mode, restart_changed):
    """Restarts, stops and starts, once the definitions are in.

    defined_now: the guests whose definition libvirt changed in this run. A running guest needs
    a restart when its definition changed now, or an earlier run changed it and it has not been
    started again since (a marker NAME@DOMID.restart, so a new domain id no longer counts);
    ".nvram" in the marker: Secure Boot was switched, so the next start must rebuild the UEFI
    variables. Check mode defines nothing, so there is nothing to conclude about restarts.
    """
    shaped = without_moved(shaped, (todo.get('moved_away') or []) + (todo.get('held') or []))
    running = todo['running']
    pending = todo['restart_markers']
    restarts = {}
    if not check_mode:
        for guest in shaped['wanted']:
            name = guest['name']
            base = '%s@%s' % (name, todo['identity'][name]['domid'])
            earlier = [marker for marker in (base + '.restart', base + '.nvram.restart') if marker in pending]
            switched = name in todo['secure_boot_changed'] or (base + '.nvram.restart') in earlier
            if name in running and (name in defined_now or earlier):
                restarts[name] = base + ('.nvram' if switched else '') + '.restart'
    declared_running = [guest['name'] for guest in shaped['wanted'] if guest['state'] == 'running']
    declared_shutoff = [guest['name'] for guest in shaped['wanted'] if guest['state'] == 'shutoff']
    restarting = [name for name in restarts if name in declared_running] if restart_changed else []
    stopping = [name for name in declared_shutoff if name in running]
    # Started by virsh with --reset-nvram: guests the role starts whose Secure Boot setting
    # changed, now or in a run that could not restart them.
    nvram_resets = []
    for name in declared_running:
        marker = restarts.get(name, '')
        starting = name not in running or (restart_changed and marker)
        if starting and (name in todo['secure_boot_changed'] or '.nvram.' in marker):
            nvram_resets.append(name)
    markers = list(restarts.values())
    start = [name for name in declared_running
             if (name not in running or name in restarting) and name not in nvram_resets]
    left_off = [name for name in declared_shutoff if name in todo['secure_boot_changed']]
    return {
        'restarts': restarts,
        'markers_missing': [marker for marker in markers if marker not in pending],
        'markers_stale': [marker for marker in pending if marker not in markers],
        'restarting': restarting,
        'shutdown': stopping + restarting,
        'nvram_resets': nvram_resets,
        'start': start,
        'left_off': left_off,
        'restart_needed': [name for name in restarts if name not in restarting],
        # Whether power.yml has anything to do: a converged host skips its tasks in one step.
        'acts': bool(stopping or restarting or nvram_resets or start or left_off or todo['autostart']),
    }
