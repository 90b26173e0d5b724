#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvm_guest_backups
short_description: Back up running libvirt guests (full, then incremental with checkpoints), list and restore backups
version_added: 0.5.0
description:
  - Does one backup action for a list of guests in one call. Every guest is read and every check made before
    anything changes; if any guest cannot take the action, nothing changes on any of them.
  - V(backup) has libvirt copy each writable disk of a running guest into a directory on the host through its
    backup API in push mode (C(virsh backup-begin --reuse-external)), and creates a checkpoint of the backup's
    name with it. The first backup of a guest is full; a later one is incremental from the guest's newest backup
    whose checkpoint libvirt still has - only the blocks written since are copied, into qcow2 files whose backing
    files are that backup's files, so every backup reads as the whole disk through its chain. The guest's
    filesystems are frozen by its agent while the backup starts when the agent answers a C(guest-ping). If they
    cannot be thawed again (three tries), the backup is aborted and removed, and the task fails saying so.
  - A backup is the directory O(backup_dir)/GUEST/NAME - C(TARGET.qcow2) per disk, the guest's inactive domain XML
    (C(domain.xml)) and, written last, C(backup.json); a directory without it is an incomplete backup, refused
    until removed.
  - Read-only disks (the cloud-init seed) and CD-ROMs are left out; a shareable or non-qcow2 writable disk is
    refused. The UEFI variables and vTPM state are not part of a backup.
  - libvirt backs up running guests only; a shut-off guest is refused. It needs libvirt 7.6.0 or later (Debian 12
    has 9.0, Debian 13 11.x).
  - V(restore) makes a new guest O(restore_as) from a backup - its disks are C(qemu-img convert) copies of the
    backup's chain into O(restore_dir)/NEW/NEW-TARGET.qcow2, its definition is the backed-up domain XML with the
    new name, no uuid, no MAC addresses (libvirt makes new ones), the new disks, no read-only disks, empty CD-ROMs
    and a fresh UEFI variable store. It is left shut off. It never overwrites a guest or a file.
  - Idempotent - V(backup) of a name that is a complete backup, and V(restore) into a guest that was restored from
    that backup, change nothing.
  - Runs C(virsh) against C(qemu:///system) and C(qemu-img); standard library only on the target.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options:
  guests:
    description:
      - The guests, as a list or a comma-separated string (the playbook passes C(kvmcloud_guests) as given).
        Each must be a libvirt domain name of letters, digits, C(.) and C(-), at most 63. V(restore) takes one.
    type: raw
    required: true
  action:
    description: What to do (the playbook's C(kvmcloud_backup_action)) - V(backup), V(list) or V(restore).
    type: raw
    required: true
  name:
    description:
      - The backup's name (C(kvmcloud_backup)) - letters, digits, C(.), C(_) and C(-), at most 64, starting with a
        letter or digit. It is also the name of the checkpoint libvirt keeps for the next incremental backup.
        Needed by V(backup) and V(restore).
    type: raw
  backup_dir:
    description:
      - The directory of the backups on this host (C(kvmcloud_backup_dir)).
      - On an SELinux host the directories the module makes get the label the policy's rules give them
        (C(restorecon)); libvirt hands the backup files to the guest's QEMU only when their type is one it may
        relabel, such as C(virt_image_t), which C(kvm_hardening) gives the directories of C(kvm_hardening_backup_dirs).
    type: raw
    default: /var/lib/libvirt/backups
  restore_as:
    description: The new guest's name for V(restore) (C(kvmcloud_backup_restore_as)).
    type: raw
  restore_dir:
    description: Where V(restore) makes the new guest's directory for its disks (C(kvmcloud_backup_restore_dir)).
    type: raw
    default: /var/lib/libvirt/images
  present_only:
    description:
      - Guests not found on this host (not defined for V(backup); without backups and not defined for V(list);
        without the backup for V(restore)) are returned in RV(absent) instead of failing the call. For a play over
        several hosts that works out first where each guest is.
    type: bool
    default: false
  agent_timeout:
    description: Seconds to wait for the guest agent's answer to C(guest-ping) before backing up without a freeze.
    type: int
    default: 5
  job_timeout:
    description: Seconds to wait for a backup job to finish before failing (the job goes on; see C(virsh domjobinfo)).
    type: int
    default: 3600
attributes:
  check_mode:
    support: full
    description: Reads everything and makes every check, then reports what would change without changing it.
  diff_mode:
    support: full
    description: Per guest, its backups and checkpoints (V(backup)) or the new guest (V(restore)) before and after.
notes:
  - Must run as root. The backup files are root's, mode 0600, in directories of mode 0711 (QEMU, which libvirt
    lets write each file while its job runs, must reach them); the directories are not labelled for sVirt by this
    module - libvirt labels each file for the job.
seealso:
  - name: libvirt backup XML format
    description: The domainbackup XML this module hands to virsh.
    link: https://libvirt.org/formatbackup.html
  - name: libvirt checkpoint XML format
    description: The domaincheckpoint XML this module hands to virsh.
    link: https://libvirt.org/formatcheckpoint.html
'''

EXAMPLES = r'''
- name: Guests have the backup nightly-1
  kvmcloud.hypervisor.kvm_guest_backups:
    guests: [web1, db1]
    action: backup
    name: nightly-1

- name: web1-restored is web1 as its backup nightly-1 has it
  kvmcloud.hypervisor.kvm_guest_backups:
    guests: web1
    action: restore
    name: nightly-1
    restore_as: web1-restored
'''

RETURN = r'''
guests:
  description: Per guest found here, after the action (in check mode, as it is now) - its state (null when not
    defined here), its checkpoints and its backups, oldest first.
  returned: always
  type: dict
  sample:
    web1:
      state: running
      checkpoints: [nightly-1, nightly-2]
      backups:
        - name: nightly-1
          complete: true
          kind: full
          parent: null
          created: 1796530000
          disks: {vda: /var/lib/libvirt/backups/web1/nightly-1/vda.qcow2}
results:
  description: One entry per guest acted on here - what the action did (in check mode, would do).
  returned: always
  type: list
  elements: dict
  contains:
    guest:
      description: The guest.
      type: str
    action:
      description: The action.
      type: str
    backup:
      description: The backup's name; null for V(list) without one.
      type: str
    changed:
      description: Whether the host changed (in check mode, would change).
      type: bool
    kind:
      description: For a backup made, V(full) or V(incremental); null otherwise.
      type: str
    parent:
      description: For an incremental backup made, the backup it builds on.
      type: str
    disks:
      description: For a backup made, its file per disk; for a restore, the new guest's disk files; by target.
      type: dict
    note:
      description: What happened, in words.
      type: str
absent:
  description: The guests of O(guests) not found on this host (with O(present_only)).
  returned: always
  type: list
  elements: str
present:
  description: The guests of O(guests) the action is for on this host, in the order given.
  returned: always
  type: list
  elements: str
wanted:
  description: The guest names O(guests) gives, in order, without repeats.
  returned: always
  type: list
  elements: str
restore_as_defined:
  description: For V(restore), whether a guest named O(restore_as) is defined on this host.
  returned: always
  type: bool
done:
  description: What was done (in check mode, what would be), one line per guest and step, in order.
  returned: always
  type: list
  elements: str
report:
  description: Lines for the operator - each guest's result, then its backups.
  returned: always
  type: list
  elements: str
'''

import os
import re
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.backups import (
    DOMAIN_XML, MANIFEST, MANIFEST_FORMAT, backup_disks, backup_path, backup_xml, by_age, chain, checkpoint_xml,
    describe, input_errors, parent_backup, read_manifest, restored_domain, restored_from,
    restored_paths, summary, version_refusal)
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.migration import guest_names, result_line
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.snapshots import daemon_version
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.virsh import LANG_C, Virsh
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.hostfs import HostFS
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.security_facts import selinux_facts

DIR_MODE = 0o711
SELINUX_HINT = (' (SELinux: libvirt may give QEMU only files whose type it may relabel, such as virt_image_t: add the'
                ' backup directory to kvm_hardening_backup_dirs and run playbooks/kvm_host.yml)')
FILE_MODE = 0o600
POLL_SECONDS = 1
THAW_ATTEMPTS = 3


class Host(object):
    """The files of this host the module reads and writes (a seam for the unit tests)."""

    def __init__(self, module):
        self.module = module

    def exists(self, path):
        return os.path.lexists(path)

    def listdir(self, path):
        if not os.path.isdir(path) or os.path.islink(path):
            return []
        return sorted(entry for entry in os.listdir(path)
                      if os.path.isdir(os.path.join(path, entry)) and not os.path.islink(os.path.join(path, entry)))

    def read(self, path):
        try:
            with open(path) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    def makedirs(self, path):
        """Makes path and the directories above it that are missing (mode 0711); returns those made."""
        made, current = [], path
        while not os.path.isdir(current):
            made.insert(0, current)
            current = os.path.dirname(current)
        for directory in made:
            os.mkdir(directory, DIR_MODE)
            os.chmod(directory, DIR_MODE)
        return made

    def write(self, path, text):
        """Writes a file of mode 0600 whole: into a temporary name, then renamed."""
        part = path + '.part'
        with open(part, 'w') as handle:
            handle.write(text)
        os.chmod(part, FILE_MODE)
        os.rename(part, path)

    def chmod(self, path, mode):
        os.chmod(path, mode)

    def rename(self, src, dest):
        os.rename(src, dest)

    def remove(self, paths, dirs):
        for path in paths:
            if os.path.lexists(path):
                os.remove(path)
        for directory in reversed(dirs):
            shutil.rmtree(directory, ignore_errors=True)

    def sleep(self, seconds):
        time.sleep(seconds)

    def selinux_enabled(self):
        return selinux_facts(HostFS('/'))['enabled']


def label_new_dirs(module, host, dirs):
    """On an SELinux host, gives the directories this run made the label the policy's rules
    say (restorecon, not recursive). A new directory otherwise takes its parent's type, and
    what is made in it too, which libvirt may not be allowed to relabel for the guest's QEMU:
    virt_var_lib_t under /var/lib/libvirt. kvm_hardening_backup_dirs holds the rule
    (virt_image_t) for backup directories."""
    if not dirs or not host.selinux_enabled():
        return
    restorecon = module.get_bin_path('restorecon')
    if restorecon is None:
        return
    rc, out, err = module.run_command([restorecon] + dirs, environ_update=LANG_C)
    if rc != 0:
        raise OSError('restorecon %s: %s' % (' '.join(dirs), (err or out).strip()))


def read_backups(host, backup_dir, guest):
    """The backups of a guest in backup_dir, oldest first: {'name', 'manifest' (None when
    incomplete)}."""
    backups = []
    for name in host.listdir(os.path.join(backup_dir, guest)):
        text = host.read(backup_path(backup_dir, guest, name, MANIFEST))
        backups.append({'name': name, 'manifest': read_manifest(text) if text is not None else None})
    return by_age(backups)


def read_guest(virsh, guest):
    state = virsh.must('domstate', guest).strip()
    checkpoints = [line.strip() for line in virsh.must('checkpoint-list', guest, '--name', '--topological')
                   .splitlines() if line.strip()]
    return {'state': state, 'xml': virsh.must('dumpxml', guest), 'checkpoints': checkpoints}


def public(found, backup_dir, guest):
    backups = []
    for backup in found['backups']:
        manifest = backup['manifest'] or {}
        backups.append({'name': backup['name'], 'complete': bool(backup['manifest']),
                        'kind': manifest.get('kind'), 'parent': manifest.get('parent'),
                        'created': manifest.get('created'),
                        'disks': dict((target, backup_path(backup_dir, guest, backup['name'], disk['file']))
                                      for target, disk in (manifest.get('disks') or {}).items())})
    return {'state': found.get('state'), 'checkpoints': found.get('checkpoints', []), 'backups': backups}


def capacity(virsh, guest, target):
    """The disk's size as the guest sees it, in bytes (virsh domblkinfo)."""
    match = re.search(r'^Capacity:\s*(\d+)', virsh.must('domblkinfo', guest, target), re.MULTILINE)
    return int(match.group(1)) if match else None


def plan_backup(virsh, guest, found, name, backup_dir, version):
    """(plan or None, result, refusals, after-summary) of a backup of one guest."""
    result = {'guest': guest, 'action': 'backup', 'backup': name, 'changed': False, 'kind': None, 'parent': None,
              'note': ''}
    backups, checkpoints = found['backups'], found['checkpoints']
    existing = next((b for b in backups if b['name'] == name), None)
    after = summary(backups, checkpoints)
    refusals = []
    if existing and existing['manifest']:
        result['note'] = 'exists already, complete (%s), left as it is' % describe(existing).split(' (', 1)[1][:-1]
        return None, result, refusals, after
    where = backup_path(backup_dir, guest, name)
    if existing:
        refusals.append('kvmcloud_backup=%r: %s: %s holds an incomplete backup (no %s: a run that failed or was '
                        'stopped); check nothing needs it, then remove the directory%s, and run again.'
                        % (name, guest, where, MANIFEST, ' and the checkpoint (virsh checkpoint-delete %s %s)'
                           % (guest, name) if name in checkpoints else ''))
    elif name in checkpoints:
        refusals.append('kvmcloud_backup=%r: %s has a checkpoint of that name already, but %s holds no backup of it; '
                        'choose another name.' % (name, guest, where))
    if found['state'] not in ('running', 'paused'):
        refusals.append('kvmcloud_guests: %s is %s; libvirt backs up running guests only (its backup job runs in '
                        'the guest\'s QEMU); start it (virsh start %s), or copy its disks while it is off.'
                        % (guest, found['state'], guest))
    refusal = version_refusal(version, guest)
    if refusal:
        refusals.append(refusal)
    disks, skipped, disk_refusals = backup_disks(guest, found['xml'])
    refusals.extend(disk_refusals)
    if refusals:
        return None, result, refusals, after
    targets = [disk['target'] for disk in disks]
    parent, why_full = parent_backup(backups, checkpoints, disks)
    files = dict((target, backup_path(backup_dir, guest, name, '%s.qcow2' % target)) for target in targets)
    plan = {'guest': guest, 'name': name, 'dir': where, 'disks': disks, 'skipped': skipped, 'files': files,
            'parent': parent['name'] if parent else None,
            'sizes': dict((target, capacity(virsh, guest, target)) for target in targets)}
    kind = 'incremental' if parent else 'full'
    result.update(changed=True, kind=kind, parent=plan['parent'], disks=files,
                  note='%s from %s' % (kind, plan['parent']) if parent else 'full (%s)' % why_full)
    new = {'name': name, 'manifest': {'parent': plan['parent'], 'created': time.time()}}
    after = summary(backups + [new], checkpoints + [name])
    return plan, result, refusals, after


def plan_restore(host, guest, found, name, backup_dir, restore_as, restore_dir, defined_xml):
    """(plan or None, result, refusals, before, after) of a restore of one guest's backup."""
    result = {'guest': guest, 'action': 'restore', 'backup': name, 'changed': False, 'kind': None, 'parent': None,
              'note': ''}
    refusals = []
    backup = next(b for b in found['backups'] if b['name'] == name)
    targets = sorted(backup['manifest']['disks'])
    paths = restored_paths(restore_dir, restore_as, targets)
    before = '%s: not defined\n' % restore_as
    after = '%s: defined, shut off, from %s\'s backup %s; disks %s\n' % (
        restore_as, guest, name, ', '.join('%s=%s' % item for item in sorted(paths.items())))
    if defined_xml is not None:
        if restored_from(defined_xml) == (guest, name):
            result.update(note='%s was restored from this backup already, left as it is' % restore_as, disks=paths)
            return None, result, refusals, after, after
        refusals.append('kvmcloud_backup_restore_as=%r: a guest of that name is defined on this host already, and a '
                        'restore never overwrites a guest; give a new name, e.g. -e kvmcloud_backup_restore_as=%s-2.'
                        % (restore_as, restore_as))
        return None, result, refusals, before, before
    names, chain_refusals = chain(found['backups'], name)
    refusals.extend('kvmcloud_backup=%r: %s: %s; the chain cannot be read whole.' % (name, guest, why)
                    for why in chain_refusals)
    xml_text = host.read(backup_path(backup_dir, guest, name, DOMAIN_XML))
    xml = restored_domain(xml_text, guest, name, restore_as, paths) if xml_text else None
    if xml is None:
        refusals.append('kvmcloud_backup=%r: %s: %s is missing or unreadable, so there is no definition to restore '
                        'the guest from.' % (name, guest, backup_path(backup_dir, guest, name, DOMAIN_XML)))
    taken = [path for target in targets for path in (paths[target], paths[target] + '.part') if host.exists(path)]
    if taken:
        refusals.append('kvmcloud_backup_restore_as=%r: %s exist%s already, and a restore never overwrites a file; '
                        'move %s away, or give a new name.' % (restore_as, ', '.join(taken),
                                                               's' if len(taken) == 1 else '',
                                                               'it' if len(taken) == 1 else 'them'))
    tops = dict((target, backup_path(backup_dir, guest, name, backup['manifest']['disks'][target]['file']))
                for target in targets)
    plan = {'guest': guest, 'name': name, 'restore_as': restore_as, 'tops': tops, 'paths': paths, 'xml': xml,
            'dir': os.path.join(restore_dir, restore_as)}
    result.update(changed=True, disks=paths, note='into the new guest %s (left shut off), from the chain %s'
                  % (restore_as, ' <- '.join(reversed(names))))
    return plan, result, refusals, before, after


def wait_for_job(virsh, host, guest, timeout):
    """Waits for the guest's backup job to end; returns None when it completed, else why not."""
    deadline = time.time() + timeout
    while True:
        out = virsh.must('domjobinfo', guest)
        if re.search(r'^Job type:\s*None', out, re.MULTILINE):
            break
        if time.time() > deadline:
            virsh.run('domjobabort', guest)
            return 'the backup job ran longer than %d s (job_timeout) and was aborted' % timeout
        host.sleep(POLL_SECONDS)
    rc, out, err = virsh.run('domjobinfo', guest, '--completed')
    if rc != 0 or not re.search(r'^Job type:\s*Completed', out, re.MULTILINE):
        message = re.search(r'^Error message:\s*(.*)$', out or '', re.MULTILINE)
        return 'the backup job did not complete: %s' % (message.group(1) if message else (err or out).strip())
    return None


def thaw(virsh, host, guest):
    """Thaws the guest's filesystems, up to THAW_ATTEMPTS times; returns None, or what to tell the user."""
    for attempt in range(THAW_ATTEMPTS):
        rc, out, err = virsh.run('domfsthaw', guest)
        if rc == 0:
            return None
        if attempt + 1 < THAW_ATTEMPTS:
            host.sleep(POLL_SECONDS)
    return ('virsh domfsthaw failed %d times (%s): the guest\'s filesystems may still be frozen; thaw them with '
            'virsh domfsthaw %s' % (THAW_ATTEMPTS, (err or out).strip(), guest))


def run_backup(module, virsh, host, plan, agent_timeout, job_timeout, version):
    """Makes one backup; on any failure, removes what it made (the files, the checkpoint) and fails."""
    guest, name = plan['guest'], plan['name']
    qemu_img = module.get_bin_path('qemu-img', required=True)
    made_dirs, made_files, begun = [], [], False

    def fail(why):
        if begun:
            virsh.run('checkpoint-delete', guest, name)
        host.remove(made_files, made_dirs)
        module.fail_json(msg='%s: backup %s failed, and what it made is removed: %s' % (guest, name, why),
                         changed=False)

    try:
        made_dirs = host.makedirs(plan['dir'])
        label_new_dirs(module, host, made_dirs)
        domain = virsh.must('dumpxml', guest, '--inactive')
        made_files.append(os.path.join(plan['dir'], DOMAIN_XML))
        host.write(made_files[-1], domain)
        for target, path in sorted(plan['files'].items()):
            argv = [qemu_img, 'create', '-q', '-f', 'qcow2']
            if plan['parent']:
                argv += ['-F', 'qcow2', '-b', os.path.join('..', plan['parent'], '%s.qcow2' % target)]
            made_files.append(path)
            rc, out, err = module.run_command(argv + [path, str(plan['sizes'][target])], environ_update=LANG_C)
            if rc != 0:
                fail('qemu-img create %s: %s' % (path, (err or out).strip()))
        tmpdir = tempfile.mkdtemp(dir=module.tmpdir)
        backup_file, checkpoint_file = os.path.join(tmpdir, 'backup.xml'), os.path.join(tmpdir, 'checkpoint.xml')
        with open(backup_file, 'w') as handle:
            handle.write(backup_xml(plan['files'], plan['skipped'], plan['parent']))
        with open(checkpoint_file, 'w') as handle:
            handle.write(checkpoint_xml(name, plan['disks'], plan['skipped']))
        frozen = virsh.agent_answers(guest, agent_timeout) and virsh.run('domfsfreeze', guest)[0] == 0
        try:
            rc, out, err = virsh.run('backup-begin', guest, '--backupxml', backup_file, '--checkpointxml',
                                     checkpoint_file, '--reuse-external')
        finally:
            still_frozen = thaw(virsh, host, guest) if frozen else None
        if rc != 0:
            fail('virsh backup-begin: %s%s%s' % ((err or out).strip(), SELINUX_HINT if 'security context' in err else '',
                                                 '; ' + still_frozen if still_frozen else ''))
        begun = True
        if still_frozen:
            # A guest left frozen stops writing: that is louder than any backup is worth.
            virsh.run('domjobabort', guest)
            fail(still_frozen)
        why = wait_for_job(virsh, host, guest, job_timeout)
        if why:
            fail(why)
        for path in plan['files'].values():
            host.chmod(path, FILE_MODE)
        manifest = {'format': MANIFEST_FORMAT, 'guest': guest, 'name': name, 'checkpoint': name,
                    'kind': 'incremental' if plan['parent'] else 'full', 'parent': plan['parent'],
                    'created': int(time.time()), 'quiesced': bool(frozen),
                    'libvirt': '.'.join(str(part) for part in version or ()),
                    'disks': dict((disk['target'], {'file': '%s.qcow2' % disk['target'], 'source': disk['file'],
                                                    'capacity': plan['sizes'][disk['target']]})
                                  for disk in plan['disks']),
                    'skipped': plan['skipped']}
        host.write(os.path.join(plan['dir'], MANIFEST), module.jsonify(manifest) + '\n')
        return frozen
    except (IOError, OSError) as exc:
        fail(str(exc))


def run_restore(module, virsh, host, plan):
    """Makes the new guest's disks from the chain and defines it; on failure, removes what it made."""
    qemu_img = module.get_bin_path('qemu-img', required=True)
    made_dirs, made_files = [], []

    def fail(why):
        host.remove(made_files, made_dirs)
        module.fail_json(msg='%s: restore of %s into %s failed, and what it made is removed: %s'
                         % (plan['guest'], plan['name'], plan['restore_as'], why), changed=False)

    try:
        made_dirs = host.makedirs(plan['dir'])
        label_new_dirs(module, host, made_dirs)
        for target, path in sorted(plan['paths'].items()):
            made_files.append(path + '.part')
            rc, out, err = module.run_command([qemu_img, 'convert', '-q', '-O', 'qcow2', plan['tops'][target],
                                               path + '.part'], environ_update=LANG_C)
            if rc != 0:
                fail('qemu-img convert %s: %s' % (plan['tops'][target], (err or out).strip()))
            host.chmod(path + '.part', FILE_MODE)
            host.rename(path + '.part', path)
            made_files.append(path)
        rc, out, err = virsh.run('define', '/dev/stdin', data=plan['xml'], binary_data=True)
        if rc != 0:
            fail('virsh define: %s' % (err or out).strip())
    except (IOError, OSError) as exc:
        fail(str(exc))


def list_note(backups, name):
    note = '%d backup(s)' % len(backups)
    if name:
        note += '; %s %s' % ('has' if any(b['name'] == name for b in backups) else 'has no backup', name)
    return note


def report(results, guests, predicted):
    lines = []
    for result in results:
        lines.append(result_line(result, result['backup'], predicted))
    for guest, found in sorted(guests.items()):
        lines.append('%s: %s; %s' % (guest, found['state'] or 'not defined here', summary(
            [{'name': b['name'], 'manifest': b if b['complete'] else None} for b in found['backups']],
            found['checkpoints']).strip()))
        for backup in found['backups']:
            created = time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(backup['created'])) \
                if backup['created'] else '?'
            lines.append('  %s: %s, %s, disks %s' % (
                backup['name'], describe({'name': backup['name'], 'manifest': backup if backup['complete'] else None})
                .split(' (', 1)[1][:-1], created,
                ', '.join('%s=%s' % item for item in sorted(backup['disks'].items())) or 'none'))
    return lines


def main():
    module = AnsibleModule(
        argument_spec=dict(
            guests=dict(type='raw', required=True),
            action=dict(type='raw', required=True),
            name=dict(type='raw'),
            backup_dir=dict(type='raw', default='/var/lib/libvirt/backups'),
            restore_as=dict(type='raw'),
            restore_dir=dict(type='raw', default='/var/lib/libvirt/images'),
            present_only=dict(type='bool', default=False),
            agent_timeout=dict(type='int', default=5),
            job_timeout=dict(type='int', default=3600),
        ),
        supports_check_mode=True,
    )
    params = module.params
    action, name, backup_dir = params['action'], params['name'] or None, params['backup_dir']
    restore_as, restore_dir = params['restore_as'], params['restore_dir']
    errors = input_errors(params['guests'], action, name, backup_dir, restore_as if action == 'restore' else None,
                          restore_dir)
    if errors:
        module.fail_json(msg='\n'.join(errors), errors=errors)
    virsh, host = Virsh(module), Host(module)

    defined = set(line.strip() for line in virsh.must('list', '--all', '--name').splitlines() if line.strip())
    wanted = guest_names(params['guests'])
    found = {}
    for guest in wanted:
        found[guest] = {'backups': read_backups(host, backup_dir, guest), 'state': None, 'checkpoints': []}
        if guest in defined:
            found[guest].update(read_guest(virsh, guest))
    if action == 'backup':
        present = [guest for guest in wanted if guest in defined]
        where = 'not defined on this host (virsh list --all)'
    elif action == 'list':
        present = [guest for guest in wanted if guest in defined or found[guest]['backups']]
        where = 'neither defined on this host nor backed up in %s' % backup_dir
    else:
        present = [guest for guest in wanted if any(b['name'] == name and b['manifest']
                                                    for b in found[guest]['backups'])]
        where = 'without a complete backup %s in %s' % (name, backup_dir)
    absent = [guest for guest in wanted if guest not in present]
    if absent and not params['present_only']:
        module.fail_json(msg='kvmcloud_guests: %s %s; give guests of this host.' % (', '.join(absent), where),
                         errors=[], absent=absent)

    version = daemon_version(virsh.must('version', '--daemon')) if action == 'backup' and present else None
    plans, results, refusals, diff = [], [], [], {'before': '', 'after': ''}
    for guest in present:
        if action == 'backup':
            plan, result, guest_refusals, after = plan_backup(virsh, guest, found[guest], name, backup_dir, version)
            before = '%s: %s' % (guest, summary(found[guest]['backups'], found[guest]['checkpoints']))
            after = '%s: %s' % (guest, after)
        elif action == 'restore':
            defined_xml = virsh.must('dumpxml', restore_as, '--inactive') if restore_as in defined else None
            plan, result, guest_refusals, before, after = plan_restore(host, guest, found[guest], name, backup_dir,
                                                                       restore_as, restore_dir, defined_xml)
        else:
            plan, guest_refusals, before, after = None, [], '', ''
            result = {'guest': guest, 'action': 'list', 'backup': name, 'changed': False, 'kind': None,
                      'parent': None, 'note': list_note(found[guest]['backups'], name)}
        if plan:
            plans.append(plan)
        results.append(result)
        refusals.extend(guest_refusals)
        diff['before'] += before
        diff['after'] += after
    done = ['%s: %s %s %s' % (result['guest'], result['action'], result['backup'], result['note'])
            for result in results if result['changed']]
    out = dict(changed=bool(plans), results=results, absent=absent, present=present, wanted=wanted, done=done,
               restore_as_defined=action == 'restore' and restore_as in defined,
               guests=dict((guest, public(found[guest], backup_dir, guest)) for guest in present))
    out['report'] = report(results, out['guests'], module.check_mode and bool(plans))
    if refusals:
        out.update(changed=False, errors=refusals)
        module.fail_json(msg='\n'.join(refusals), **out)
    if module._diff and plans:
        out['diff'] = diff
    if module.check_mode or not plans:
        module.exit_json(**out)

    for plan, result in zip(plans, [result for result in results if result['changed']]):
        if action == 'backup':
            frozen = run_backup(module, virsh, host, plan, params['agent_timeout'], params['job_timeout'], version)
            result['quiesced'] = frozen
            result['note'] += ', quiesced by the guest agent' if frozen else ', not quiesced (no agent answered)'
        else:
            run_restore(module, virsh, host, plan)
    for guest in present:
        found[guest]['backups'] = read_backups(host, backup_dir, guest)
        if action == 'backup':
            found[guest].update(read_guest(virsh, guest))
    out['guests'] = dict((guest, public(found[guest], backup_dir, guest)) for guest in present)
    out['report'] = report(results, out['guests'], False)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
