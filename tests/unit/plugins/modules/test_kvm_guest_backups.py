# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kvm_guest_backups against a fake virsh, qemu-img and file tree: every check before any change."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.backups import restored_domain
from ansible_collections.kvmcloud.hypervisor.plugins.modules import kvm_guest_backups
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import run_with_commands

VIRSH = '/usr/bin/virsh'
QEMU_IMG = '/usr/bin/qemu-img'
RESTORECON = '/usr/sbin/restorecon'
BINS = {'virsh': VIRSH, 'qemu-img': QEMU_IMG, 'restorecon': RESTORECON}
DIR = '/var/lib/libvirt/images/guests/web1'
BACKUPS = '/var/lib/libvirt/backups'
DOMAIN = """<domain type='qemu'><name>web1</name><uuid>0b8c1d4e-1111-2222-3333-444455556666</uuid><devices>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s/vda.qcow2'/>
    <target dev='vda' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s/vdb.qcow2'/>
    <target dev='vdb' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s/seed.iso'/>
    <target dev='vdc' bus='virtio'/><readonly/></disk>
  <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>
</devices></domain>""" % (DIR, DIR, DIR)


class FakeFS(object):
    """The module's Host seam: files and directories in dicts."""

    def __init__(self, files=None, dirs=()):
        self.files, self.dirs, self.writes = dict(files or {}), set(dirs), []
        self.selinux = False
        for path in self.files:
            self.dirs.update(self.parents(path))

    @staticmethod
    def parents(path):
        found, current = [], os.path.dirname(path)
        while current not in ('/', ''):
            found.append(current)
            current = os.path.dirname(current)
        return found

    def exists(self, path):
        return path in self.files or path in self.dirs

    def listdir(self, path):
        return sorted(os.path.basename(d) for d in self.dirs if os.path.dirname(d) == path)

    def read(self, path):
        return self.files.get(path)

    def makedirs(self, path):
        made = [d for d in reversed([path] + self.parents(path)) if d not in self.dirs]
        self.dirs.update(made)
        self.writes.append(('makedirs', path))
        return made

    def write(self, path, text):
        self.files[path] = text
        self.writes.append(('write', path))

    def chmod(self, path, mode):
        self.writes.append(('chmod', path, oct(mode)))

    def rename(self, src, dest):
        self.files[dest] = self.files.pop(src)
        self.writes.append(('rename', src, dest))

    def remove(self, paths, dirs):
        for path in paths:
            self.files.pop(path, None)
        self.dirs.difference_update(dirs)
        self.writes.append(('remove', tuple(paths), tuple(dirs)))

    def sleep(self, seconds):
        pass

    def selinux_enabled(self):
        return self.selinux


def manifest(name, parent=None, created=1796530000):
    return json.dumps({'format': 1, 'guest': 'web1', 'name': name, 'checkpoint': name, 'created': created,
                       'kind': 'incremental' if parent else 'full', 'parent': parent,
                       'disks': {'vda': {'file': 'vda.qcow2', 'source': DIR + '/vda.qcow2'},
                                 'vdb': {'file': 'vdb.qcow2', 'source': DIR + '/vdb.qcow2'}}})


def backup_files(name, parent=None, created=1796530000, complete=True):
    where = '%s/web1/%s/' % (BACKUPS, name)
    files = {where + 'vda.qcow2': '', where + 'vdb.qcow2': '', where + 'domain.xml': DOMAIN}
    if complete:
        files[where + 'backup.json'] = manifest(name, parent, created)
    return files


class FakeHost(object):
    """What virsh and qemu-img answer; records every command that would change something."""

    def __init__(self, fs, state='running', checkpoints=(), version='11.3.0', agent=True, job='Completed',
                 others=('db9',), thaw_fails=0):
        self.fs, self.state, self.checkpoints = fs, state, list(checkpoints)
        self.version, self.agent, self.job, self.others = version, agent, job, others
        self.thaw_fails = thaw_fails
        self.calls, self.changes, self.job_polls = [], [], 0
        self.begin_error = None

    def run_command(self, module, argv, **kwargs):
        assert kwargs.get('environ_update', {}).get('LC_ALL') == 'C'
        self.calls.append(tuple(argv))
        if argv[0] == RESTORECON:
            self.changes.append(tuple(argv))
            return 0, '', ''
        if argv[0] == QEMU_IMG:
            self.changes.append(tuple(argv[1:]))
            self.fs.files[argv[-1] if argv[1] == 'convert' else argv[-2]] = 'image'
            return 0, '', ''
        assert argv[1:3] == ['--connect', 'qemu:///system']
        cmd, args = argv[3], argv[4:]
        if cmd == 'list':
            return 0, '\n'.join(('web1',) + tuple(self.others)) + '\n\n', ''
        if cmd == 'domstate':
            return 0, self.state + '\n\n', ''
        if cmd == 'dumpxml':
            return 0, DOMAIN if args[0] == 'web1' else self.other_xml(args[0]), ''
        if cmd == 'checkpoint-list':
            return 0, ''.join(name + '\n' for name in self.checkpoints) + '\n', ''
        if cmd == 'domblkinfo':
            return 0, 'Capacity:       4294967296\nAllocation:     1\nPhysical:       1\n', ''
        if cmd == 'version':
            return 0, 'Compiled against library: libvirt 11.3.0\nRunning against daemon: %s\n' % self.version, ''
        if cmd == 'qemu-agent-command':
            return (0, '{"return":{}}', '') if self.agent else (1, '', 'error: Guest agent is not responding')
        if cmd == 'domjobinfo':
            if '--completed' in args:
                return 0, 'Job type:         %s\nOperation:        Backup\n%s' % (
                    self.job, 'Error message:    No space left on device\n' if self.job == 'Failed' else ''), ''
            self.job_polls += 1
            return 0, 'Job type:         %s\n' % ('Unbounded' if self.job_polls < 2 else 'None'), ''
        record = (cmd,) + tuple(args)
        if cmd == 'domfsthaw' and self.thaw_fails:
            self.thaw_fails -= 1
            self.changes.append(record)
            return 1, '', 'error: Guest agent is not responding'
        if cmd == 'backup-begin' and self.begin_error:
            return 1, '', self.begin_error
        if cmd == 'backup-begin':
            record += (open(args[2]).read(), open(args[4]).read())  # the backup XML, the checkpoint XML
            self.checkpoints.append(re.search(r'<name>([^<]+)</name>', record[-1]).group(1))
        self.changes.append(record + ((kwargs['data'],) if kwargs.get('data') else ()))
        return 0, '', ''

    def other_xml(self, name):
        return restored_domain(DOMAIN, 'web1', 'b1', name, {'vda': '/x/vda', 'vdb': '/x/vdb'}) \
            if name == 'web1-new' else '<domain><name>%s</name></domain>' % name


def run(host, args, check_mode=False, diff=False):
    original = kvm_guest_backups.Host
    kvm_guest_backups.Host = lambda module: host.fs
    try:
        return run_with_commands(kvm_guest_backups.main, args, host, BINS, check_mode, diff)
    finally:
        kvm_guest_backups.Host = original


BACKUP = {'guests': 'web1', 'action': 'backup', 'name': 'b1'}
RESTORE = {'guests': 'web1', 'action': 'restore', 'name': 'b2', 'restore_as': 'web1-new'}


@pytest.mark.parametrize('args, starts', [
    ({'guests': 'web1', 'action': 'backup', 'name': 'a b'}, "kvmcloud_backup='a b' is not a backup name"),
    ({'guests': 'web1', 'action': 'backup', 'name': 'b1', 'backup_dir': 'rel'}, "kvmcloud_backup_dir='rel'"),
    ({'guests': 'web1', 'action': 'restore', 'name': 'b1'}, "kvmcloud_backup_restore_as=None is not a guest name"),
    ({'guests': '', 'action': 'list'}, "kvmcloud_guests='' names no guest"),
])
def test_bad_input_fails_from_the_variable_before_virsh_runs(args, starts):
    host = FakeHost(FakeFS())
    result, failed = run(host, args)
    assert failed and result['msg'].startswith(starts), result['msg']
    assert host.calls == []


def test_check_mode_predicts_a_full_backup_and_changes_nothing():
    host = FakeHost(FakeFS())
    result, failed = run(host, BACKUP, check_mode=True, diff=True)
    assert not failed and result['changed'] and host.changes == [] and host.fs.writes == []
    assert result['diff'] == {'before': 'web1: backups: none; checkpoints: none\n',
                              'after': 'web1: backups: b1 (full); checkpoints: b1\n'}
    assert result['report'][0] == 'web1: backup b1: would be full (the first backup)'


def test_a_first_backup_is_full_quiesced_and_complete_only_once_its_job_completed():
    host = FakeHost(FakeFS())
    result, failed = run(host, BACKUP)
    assert not failed and result['changed'], result
    where = BACKUPS + '/web1/b1'
    creates = [change for change in host.changes if change[0] == 'create']
    assert creates == [('create', '-q', '-f', 'qcow2', where + '/vda.qcow2', '4294967296'),
                       ('create', '-q', '-f', 'qcow2', where + '/vdb.qcow2', '4294967296')]
    cmds = [change[0] for change in host.changes]
    assert cmds == ['create', 'create', 'domfsfreeze', 'backup-begin', 'domfsthaw']
    begin = host.changes[3]
    assert begin[1] == 'web1' and begin[6] == '--reuse-external'
    assert '<incremental>' not in begin[7] and "<target file='%s/vda.qcow2'/>" % where in begin[7]
    assert "<disk name='vdc' backup='no'/>" in begin[7]
    assert "<name>b1</name>" in begin[8] and "<disk name='vda' checkpoint='bitmap'/>" in begin[8]
    writes = host.fs.writes
    assert writes[0] == ('makedirs', where) and writes[-1] == ('write', where + '/backup.json')
    assert ('chmod', where + '/vda.qcow2', '0o600') in writes
    saved = json.loads(host.fs.files[where + '/backup.json'])
    assert saved['kind'] == 'full' and saved['parent'] is None and saved['quiesced'] is True
    assert saved['disks']['vdb'] == {'file': 'vdb.qcow2', 'source': DIR + '/vdb.qcow2', 'capacity': 4294967296}
    assert saved['skipped'] == {'vdc': 'read-only'}
    assert host.fs.files[where + '/domain.xml'] == DOMAIN
    assert result['results'][0]['note'] == 'full (the first backup), quiesced by the guest agent'


@pytest.mark.parametrize('selinux', [True, False])
def test_on_selinux_the_directories_a_backup_makes_get_their_label_before_any_file(selinux):
    fs = FakeFS(dirs=[BACKUPS] + FakeFS.parents(BACKUPS))
    fs.selinux = selinux
    host = FakeHost(fs)
    result, failed = run(host, BACKUP)
    assert not failed and result['changed'], result
    labelled = [change for change in host.changes if change[0] == RESTORECON]
    if selinux:
        # The guest's directory and the backup's, both new; before qemu-img makes a file in them.
        assert labelled == [(RESTORECON, BACKUPS + '/web1', BACKUPS + '/web1/b1')]
        assert host.changes.index(labelled[0]) < [change[0] for change in host.changes].index('create')
    else:
        assert labelled == []


def test_a_backup_libvirt_may_not_label_names_the_fix():
    host = FakeHost(FakeFS())
    host.begin_error = "error: unable to set security context 'x' on '/b/vda.qcow2': Permission denied"
    result, failed = run(host, BACKUP)
    assert failed and 'Permission denied (SELinux: ' in result['msg'] and 'kvm_hardening_backup_dirs' in result['msg']
    assert not [path for path in host.fs.files if '/b1/' in path]


def test_a_later_backup_is_incremental_onto_the_previous_files():
    fs = FakeFS(backup_files('b1'))
    host = FakeHost(fs, checkpoints=['b1'], agent=False)
    result, failed = run(host, dict(BACKUP, name='b2'), diff=True)
    assert not failed and result['changed'], result
    where = BACKUPS + '/web1/b2'
    assert ('create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', '../b1/vda.qcow2', where + '/vda.qcow2',
            '4294967296') in host.changes
    assert 'domfsfreeze' not in [change[0] for change in host.changes]
    begin = next(change for change in host.changes if change[0] == 'backup-begin')
    assert '<incremental>b1</incremental>' in begin[7]
    assert result['diff']['after'] == 'web1: backups: b1 (full), b2 (incremental from b1); checkpoints: b1, b2\n'
    assert json.loads(fs.files[where + '/backup.json'])['parent'] == 'b1'
    assert result['results'][0]['note'] == 'incremental from b1, not quiesced (no agent answered)'


def test_a_backup_whose_checkpoint_is_gone_is_no_parent():
    host = FakeHost(FakeFS(backup_files('b1')), checkpoints=[])
    result, failed = run(host, dict(BACKUP, name='b2'), check_mode=True)
    assert not failed and result['results'][0]['kind'] == 'full'
    assert result['results'][0]['note'] == 'full (libvirt has no checkpoint b1 (of the newest backup))'


def test_a_complete_backup_is_left_as_it_is():
    host = FakeHost(FakeFS(backup_files('b1')), checkpoints=['b1'])
    result, failed = run(host, BACKUP)
    assert not failed and not result['changed'] and host.changes == [] and host.fs.writes == []
    assert result['results'][0]['note'] == 'exists already, complete (full), left as it is'


@pytest.mark.parametrize('case, starts', [
    ('incomplete', "kvmcloud_backup='b1': web1: %s/web1/b1 holds an incomplete backup" % BACKUPS),
    ('shut off', 'kvmcloud_guests: web1 is shut off; libvirt backs up running guests only'),
    ('old', 'kvmcloud_backup_action=backup: web1: libvirt 7.5.0 on this host has no backup API'),
    ('checkpoint', "kvmcloud_backup='b1': web1 has a checkpoint of that name already"),
])
def test_what_cannot_be_backed_up_is_refused_before_any_change(case, starts):
    fs = FakeFS(backup_files('b1', complete=False) if case == 'incomplete' else {})
    host = FakeHost(fs, state='shut off' if case == 'shut off' else 'running', version='7.5.0' if case == 'old'
                    else '11.3.0', checkpoints=['b1'] if case == 'checkpoint' else [])
    result, failed = run(host, BACKUP)
    assert failed and result['msg'].startswith(starts), result['msg']
    assert host.changes == [] and fs.writes == []


def test_a_failed_job_removes_its_files_and_checkpoint():
    host = FakeHost(FakeFS(), job='Failed')
    result, failed = run(host, BACKUP)
    assert failed and not result['changed']
    assert result['msg'] == ('web1: backup b1 failed, and what it made is removed: the backup job did not complete: '
                             'No space left on device')
    assert host.changes[-1] == ('checkpoint-delete', 'web1', 'b1')
    assert not [path for path in host.fs.files if '/b1/' in path]
    assert BACKUPS + '/web1/b1' not in host.fs.dirs


def test_a_thaw_that_fails_once_is_tried_again():
    host = FakeHost(FakeFS(), thaw_fails=1)
    result, failed = run(host, BACKUP)
    assert not failed and result['changed'], result
    assert [change[0] for change in host.changes] == ['create', 'create', 'domfsfreeze', 'backup-begin', 'domfsthaw',
                                                      'domfsthaw']


def test_a_guest_left_frozen_fails_the_backup_loudly_and_removes_what_it_made():
    host = FakeHost(FakeFS(), thaw_fails=3)
    result, failed = run(host, BACKUP)
    assert failed and not result['changed']
    assert result['msg'] == ("web1: backup b1 failed, and what it made is removed: virsh domfsthaw failed 3 times "
                             "(error: Guest agent is not responding): the guest's filesystems may still be frozen; "
                             "thaw them with virsh domfsthaw web1")
    assert [change[0] for change in host.changes][-5:] == ['domfsthaw'] * 3 + ['domjobabort', 'checkpoint-delete']
    assert not [path for path in host.fs.files if '/b1/' in path]


def test_a_job_that_runs_too_long_is_aborted_and_its_files_and_checkpoint_removed():
    host = FakeHost(FakeFS())
    result, failed = run(host, dict(BACKUP, job_timeout=-1))
    assert failed and result['msg'].endswith('the backup job ran longer than -1 s (job_timeout) and was aborted')
    assert [change[0] for change in host.changes][-2:] == ['domjobabort', 'checkpoint-delete']
    assert not [path for path in host.fs.files if '/b1/' in path]


def test_a_guest_not_defined_here_fails_unless_present_only():
    host = FakeHost(FakeFS())
    result, failed = run(host, dict(BACKUP, guests='web1,web9'))
    assert failed and result['msg'].startswith('kvmcloud_guests: web9 not defined on this host')
    result, failed = run(host, dict(BACKUP, guests='web1,web9', present_only=True), check_mode=True)
    assert not failed and result['absent'] == ['web9'] and result['present'] == ['web1']


def test_list_reports_each_backup():
    fs = FakeFS(dict(backup_files('b1'), **backup_files('b2', 'b1', created=1796540000)))
    host = FakeHost(fs, checkpoints=['b1', 'b2'])
    result, failed = run(host, {'guests': 'web1', 'action': 'list'})
    assert not failed and not result['changed'] and host.changes == []
    assert result['report'][1] == 'web1: running; backups: b1 (full), b2 (incremental from b1); checkpoints: b1, b2'
    assert result['report'][3].startswith('  b2: incremental from b1, 2026-')
    assert result['guests']['web1']['backups'][1]['disks']['vda'] == BACKUPS + '/web1/b2/vda.qcow2'


def chain_fs():
    return FakeFS(dict(backup_files('b1'), **backup_files('b2', 'b1', created=1796540000)))


def test_restore_check_mode_predicts_a_new_guest_and_changes_nothing():
    host = FakeHost(chain_fs())
    result, failed = run(host, RESTORE, check_mode=True, diff=True)
    assert not failed and result['changed'] and host.changes == [] and host.fs.writes == []
    assert result['diff']['before'] == 'web1-new: not defined\n'
    assert result['diff']['after'].startswith("web1-new: defined, shut off, from web1's backup b2; disks vda=")
    assert result['report'][0] == ('web1: restore b2: would be into the new guest web1-new (left shut off), from the '
                                   'chain b1 <- b2')


def test_restore_converts_the_chain_into_new_files_and_defines_a_new_guest():
    host = FakeHost(chain_fs())
    result, failed = run(host, RESTORE)
    assert not failed and result['changed'], result
    new = '/var/lib/libvirt/images/web1-new/web1-new-vda.qcow2'
    assert ('convert', '-q', '-O', 'qcow2', BACKUPS + '/web1/b2/vda.qcow2', new + '.part') in host.changes
    assert ('rename', new + '.part', new) in host.fs.writes
    define = host.changes[-1]
    assert define[:2] == ('define', '/dev/stdin')
    assert '<name>web1-new</name>' in define[2] and '<uuid>' not in define[2] and '<mac ' not in define[2]
    assert "file=\"%s\"" % new in define[2] and 'seed.iso' not in define[2]


def test_restore_into_the_guest_it_made_changes_nothing():
    host = FakeHost(chain_fs(), others=('web1-new',))
    result, failed = run(host, dict(RESTORE, name='b1'))
    assert not failed and not result['changed'] and host.changes == []
    assert result['restore_as_defined'] is True


@pytest.mark.parametrize('case, starts', [
    ('defined', "kvmcloud_backup_restore_as='other': a guest of that name is defined on this host already"),
    ('file', "kvmcloud_backup_restore_as='other': /var/lib/libvirt/images/other/other-vdb.qcow2 exists already"),
    ('incomplete parent', "kvmcloud_backup='b2': web1: backup b1, which b2 builds on, is incomplete"),
])
def test_a_restore_never_overwrites_a_guest_or_a_file(case, starts):
    fs = chain_fs()
    if case == 'file':
        fs.files['/var/lib/libvirt/images/other/other-vdb.qcow2'] = 'data'
    if case == 'incomplete parent':
        del fs.files[BACKUPS + '/web1/b1/backup.json']
    host = FakeHost(fs, others=('other',) if case == 'defined' else ())
    result, failed = run(host, dict(RESTORE, restore_as='other'))
    assert failed and result['msg'].startswith(starts), result['msg']
    assert host.changes == [] and fs.writes == []


def test_restore_of_a_backup_not_here_fails_unless_present_only():
    host = FakeHost(FakeFS())
    result, failed = run(host, RESTORE)
    assert failed and result['msg'].startswith('kvmcloud_guests: web1 without a complete backup b2 in')
    result, failed = run(host, dict(RESTORE, present_only=True))
    assert not failed and result['present'] == [] and result['absent'] == ['web1']
