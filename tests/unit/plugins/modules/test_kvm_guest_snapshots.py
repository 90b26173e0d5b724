# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kvm_guest_snapshots against a fake virsh: every check before any change, one action for all guests."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.snapshots import create_plan
from ansible_collections.kvmcloud.hypervisor.plugins.modules import kvm_guest_snapshots
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import run_with_commands

VIRSH = '/usr/bin/virsh'
QEMU_IMG = '/usr/bin/qemu-img'
BINS = {'virsh': VIRSH, 'qemu-img': QEMU_IMG}
DIR = '/var/lib/libvirt/images/web1'
# web1 as kvm_guests defines it: two qcow2 file disks and the read-only seed.
DOMAIN = """<domain type='qemu'><name>web1</name><devices>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{vda}'/>{backing}
    <target dev='vda' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s/vdb.qcow2'/>
    <target dev='vdb' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s/seed.iso'/>
    <target dev='vdc' bus='virtio'/><readonly/></disk>
</devices></domain>""" % (DIR, DIR)
SNAPSHOT = """<domainsnapshot><name>{name}</name><state>disk-snapshot</state>{parent}
  <creationTime>1796530000</creationTime><disks>
  <disk name='vda' snapshot='external' type='file'><source file='%s/web1-vda.{name}.qcow2'/></disk>
  <disk name='vdb' snapshot='external' type='file'><source file='%s/web1-vdb.{name}.qcow2'/></disk>
  <disk name='vdc' snapshot='no'/></disks></domainsnapshot>""" % (DIR, DIR)


def domain(vda=DIR + '/vda.qcow2', backing=''):
    return DOMAIN.format(vda=vda, backing=backing)


def snapshot(name, parent=None):
    return SNAPSHOT.format(name=name, parent='<parent><name>%s</name></parent>' % parent if parent else '')


class FakeHost(object):
    """What virsh and qemu-img answer; records every command that would change something."""

    def __init__(self, state='running', snapshots=(), current=None, version='11.3.0', agent=True, written=True,
                 others=('db9',)):
        self.state, self.snapshots, self.current = state, dict(snapshots), current
        self.version, self.agent, self.written, self.others = version, agent, written, others
        self.calls, self.changes = [], []

    def run_command(self, module, argv, **kwargs):
        assert kwargs.get('environ_update', {}).get('LC_ALL') == 'C'
        self.calls.append(tuple(argv))
        if argv[0] == QEMU_IMG:
            depth = 0 if self.written else 1
            return 0, json.dumps([{'start': 0, 'length': 65536, 'depth': depth, 'present': True, 'zero': False,
                                   'data': True}]), ''
        assert argv[1:3] == ['--connect', 'qemu:///system']
        cmd, args = argv[3], argv[4:]
        if cmd == 'list':
            return 0, '\n'.join(('web1',) + tuple(self.others)) + '\n\n', ''
        if cmd == 'domstate':
            return 0, self.state + '\n\n', ''
        if cmd == 'dumpxml':
            return 0, domain(), ''
        if cmd == 'snapshot-list':
            return 0, ''.join(name + '\n' for name in self.snapshots) + '\n', ''
        if cmd == 'snapshot-current':
            return (0, self.current + '\n', '') if self.current else (1, '', 'error: no current snapshot')
        if cmd == 'snapshot-dumpxml':
            return 0, self.snapshots[args[1]], ''
        if cmd == 'version':
            return 0, 'Compiled against library: libvirt 11.3.0\nRunning against daemon: %s\n' % self.version, ''
        if cmd == 'qemu-agent-command':
            return (0, '{"return":{}}', '') if self.agent else (1, '', 'error: Guest agent is not responding')
        self.changes.append((cmd,) + tuple(args) + ((kwargs['data'],) if kwargs.get('data') else ()))
        return 0, '', ''


def run(host, args, check_mode=False, diff=False, existing=()):
    original = kvm_guest_snapshots.module_exists
    kvm_guest_snapshots.module_exists = lambda path: path in existing
    try:
        return run_with_commands(kvm_guest_snapshots.main, args, host, BINS, check_mode, diff)
    finally:
        kvm_guest_snapshots.module_exists = original


CREATE = {'guests': 'web1', 'action': 'create', 'name': 'before-upgrade'}


@pytest.mark.parametrize('args, starts', [
    ({'guests': 'web1\n', 'action': 'create', 'name': 'a'}, "kvmcloud_guests[0]='web1\\n' is not a guest name"),
    ({'guests': ['web/1'], 'action': 'create', 'name': 'a'}, "kvmcloud_guests[0]='web/1' is not a guest name"),
    ({'guests': '', 'action': 'list'}, "kvmcloud_guests='' names no guest"),
    ({'guests': 'web1', 'action': 'undo', 'name': 'a'}, "kvmcloud_snapshot_action='undo' is not an action"),
    ({'guests': 'web1', 'action': 'create', 'name': 'x' * 65}, "kvmcloud_snapshot='xxx"),
    ({'guests': 'web1', 'action': 'create', 'name': 'a\x1bb'}, "kvmcloud_snapshot='a\\x1bb' is not a snapshot name"),
    ({'guests': 'web1', 'action': 'delete', 'name': 'ok\n'}, "kvmcloud_snapshot='ok\\n' is not a snapshot name"),
    ({'guests': 'web1', 'action': 'revert', 'name': ''}, "kvmcloud_snapshot='' is not a snapshot name"),
])
def test_bad_input_fails_from_the_variable_before_virsh_runs(args, starts):
    host = FakeHost()
    result, failed = run(host, args)
    assert failed and result['msg'].startswith(starts) and ' e.g. -e ' in result['msg']
    assert host.calls == []


def test_a_guest_not_defined_here_fails_unless_present_only():
    host = FakeHost()
    result, failed = run(host, dict(CREATE, guests='web1,web9'))
    assert failed and result['msg'].startswith('kvmcloud_guests: web9 not defined on this host') and not host.changes
    result, failed = run(host, dict(CREATE, guests='web1,web9', present_only=True), check_mode=True)
    assert not failed and result['absent'] == ['web9'] and result['present'] == ['web1']


def test_create_quiesces_a_running_guest_whose_agent_answers_with_overlays_next_to_the_disks():
    host = FakeHost()
    result, failed = run(host, CREATE)
    assert not failed and result['changed'], result
    (cmd, guest, *flags, xml), = host.changes
    assert (cmd, guest) == ('snapshot-create', 'web1')
    assert flags == ['--xmlfile', '/dev/stdin', '--disk-only', '--atomic', '--quiesce']
    assert "<disk name='vda' snapshot='external'><driver type='qcow2'/><source file='%s/web1-vda.before-upgrade" \
           ".qcow2'/></disk>" % DIR in xml
    assert "<disk name='vdc' snapshot='no'/>" in xml and '<name>before-upgrade</name>' in xml
    assert result['results'][0]['quiesced'] is True
    assert result['results'][0]['overlays'] == {'vda': DIR + '/web1-vda.before-upgrade.qcow2',
                                                'vdb': DIR + '/web1-vdb.before-upgrade.qcow2'}


def test_create_without_an_answering_agent_is_not_quiesced_and_says_so():
    host = FakeHost(agent=False)
    result, failed = run(host, CREATE)
    assert not failed and '--quiesce' not in host.changes[0]
    assert result['results'][0]['quiesced'] is False and 'agent did not answer' in result['results'][0]['note']


def test_create_of_a_shut_off_guest_asks_no_agent():
    host = FakeHost(state='shut off')
    result, failed = run(host, CREATE)
    assert not failed and '--quiesce' not in host.changes[0]
    assert not [call for call in host.calls if 'qemu-agent-command' in call]
    assert result['results'][0]['note'] == 'created, not quiesced (the guest is shut off)'


def test_create_of_an_existing_snapshot_changes_nothing():
    host = FakeHost(snapshots={'before-upgrade': snapshot('before-upgrade')}, current='before-upgrade')
    result, failed = run(host, CREATE)
    assert not failed and not result['changed'] and host.changes == []
    assert result['guests']['web1']['snapshots'][0]['overlays']['vdb'] == DIR + '/web1-vdb.before-upgrade.qcow2'


def test_check_mode_predicts_the_create_and_changes_nothing():
    host = FakeHost()
    result, failed = run(host, CREATE, check_mode=True, diff=True)
    assert not failed and result['changed'] and host.changes == []
    assert result['diff'] == {'before': 'web1: running; snapshots: none\n',
                              'after': 'web1: running; snapshots: before-upgrade (current)\n'}
    assert result['report'][0] == 'web1: create before-upgrade: would be created, quiesced by the guest agent'


def test_create_refuses_a_leftover_overlay_before_any_change():
    host = FakeHost()
    result, failed = run(host, CREATE, existing=(DIR + '/web1-vdb.before-upgrade.qcow2',))
    assert failed and host.changes == []
    assert "the overlay %s/web1-vdb.before-upgrade.qcow2 for disk vdb exists already" % DIR in result['msg']


def test_revert_needs_libvirt_9_9_and_says_so_before_any_change():
    host = FakeHost(snapshots={'s1': snapshot('s1')}, current='s1', version='9.0.0')
    result, failed = run(host, {'guests': 'web1', 'action': 'revert', 'name': 's1'})
    assert failed and host.changes == []
    assert result['msg'].startswith('kvmcloud_snapshot_action=revert: web1: libvirt 9.0.0 on this host cannot revert')


def test_delete_works_from_libvirt_9_0():
    host = FakeHost(snapshots={'s1': snapshot('s1')}, current='s1', version='9.0.0')
    result, failed = run(host, {'guests': 'web1', 'action': 'delete', 'name': 's1'}, diff=True)
    assert not failed and host.changes == [('snapshot-delete', 'web1', 's1')]
    assert result['diff']['after'] == 'web1: running; snapshots: none\n'


def test_delete_of_an_absent_snapshot_changes_nothing():
    host = FakeHost()
    result, failed = run(host, {'guests': 'web1', 'action': 'delete', 'name': 's1'})
    assert not failed and not result['changed'] and host.changes == []


def test_revert_of_a_running_guest_powers_it_off_first_and_leaves_it_off():
    host = FakeHost(snapshots={'s1': snapshot('s1'), 's2': snapshot('s2', 's1')}, current='s2')
    result, failed = run(host, {'guests': 'web1', 'action': 'revert', 'name': 's1'}, diff=True)
    assert not failed and host.changes == [('destroy', 'web1'), ('snapshot-revert', 'web1', 's1')]
    assert result['diff']['after'] == 'web1: shut off; snapshots: s1 (current), s2\n'


def test_revert_of_a_shut_off_guest_at_the_snapshot_with_unwritten_disks_changes_nothing():
    host = FakeHost(state='shut off', snapshots={'s1': snapshot('s1')}, current='s1', written=False)
    result, failed = run(host, {'guests': 'web1', 'action': 'revert', 'name': 's1'})
    assert not failed and not result['changed'] and host.changes == []
    assert len([call for call in host.calls if call[0] == QEMU_IMG]) == 2


@pytest.mark.parametrize('why', ['written', 'later snapshot', 'not current'])
def test_revert_reverts_a_shut_off_guest_that_moved_on(why):
    snapshots = {'s1': snapshot('s1')}
    if why == 'later snapshot':
        snapshots['s2'] = snapshot('s2', 's1')
    host = FakeHost(state='shut off', snapshots=snapshots, current=None if why == 'not current' else 's1',
                    written=why == 'written')
    result, failed = run(host, {'guests': 'web1', 'action': 'revert', 'name': 's1'})
    assert not failed and host.changes == [('snapshot-revert', 'web1', 's1')]


def test_revert_to_an_unknown_snapshot_is_refused_by_name():
    host = FakeHost(snapshots={'s1': snapshot('s1')}, current='s1')
    result, failed = run(host, {'guests': 'web1', 'action': 'revert', 'name': 's9'})
    assert failed and host.changes == []
    assert result['msg'] == ("kvmcloud_snapshot='s9': web1 has no such snapshot (it has: s1); list them with "
                             "-e kvmcloud_snapshot_action=list.")


def test_list_reports_each_snapshot_and_changes_nothing():
    host = FakeHost(snapshots={'s1': snapshot('s1'), 's2': snapshot('s2', 's1')}, current='s2')
    result, failed = run(host, {'guests': ['web1'], 'action': 'list'})
    assert not failed and not result['changed'] and host.changes == []
    assert result['report'][1] == 'web1: running; snapshots: s1, s2 (current)'
    assert result['report'][3].startswith('  s2: disk-snapshot, 2026-')
    assert 'parent s1, overlays vda=%s/web1-vda.s2.qcow2' % DIR in result['report'][3]


def test_a_writable_block_or_shareable_disk_is_refused_rather_than_left_out():
    xml = ("<domain><devices><disk type='block' device='disk'><source dev='/dev/vg0/web1'/><target dev='vda'/></disk>"
           "<disk type='file' device='disk'><source file='/srv/shared.img'/><target dev='vdb'/><shareable/></disk>"
           "<disk type='file' device='cdrom'><source file='/srv/install.iso'/><target dev='sda'/></disk>"
           "</devices></domain>")
    _xml, overlays, refusals = create_plan('web1', 's1', xml, lambda path: False)
    assert overlays == {}
    assert refusals[0].startswith('kvmcloud_guests: web1: disk vda is of type block;')
    assert refusals[1].startswith('kvmcloud_guests: web1: disk vdb is shareable:')
