# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils/guests/backups.py: input, disks, chains, and the XML of backups and restored guests."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import backups

DIR = '/var/lib/libvirt/images/guests/web1'
# web1 as kvm_guests defines it, trimmed: two qcow2 disks, the seed, a CD-ROM, a NIC, UEFI, a console log.
DOMAIN = """<domain type='qemu'><name>web1</name><uuid>0b8c1d4e-1111-2222-3333-444455556666</uuid>
  <metadata><kvmcloud:guest xmlns:kvmcloud='https://github.com/kvmcloud/hypervisor/xmlns/guest/1' profile='x'/>
  </metadata>
  <os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>
    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/var/lib/libvirt/qemu/nvram/web1_VARS.fd</nvram></os>
  <devices>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='%(dir)s/vda.qcow2'/>
    <backingStore type='file'><format type='qcow2'/><source file='/var/lib/libvirt/images/base/debian-13.qcow2'/>
    </backingStore><target dev='vda' bus='virtio'/><boot order='1'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%(dir)s/vdb.qcow2'/>
    <target dev='vdb' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%(dir)s/seed.iso'/>
    <target dev='vdc' bus='virtio'/><readonly/></disk>
  <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/srv/install.iso'/>
    <target dev='sda' bus='sata'/><readonly/></disk>
  <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/><target dev='vnet3'/>
    <model type='virtio'/></interface>
  <serial type='pty'><log file='/var/log/libvirt/qemu/web1-console.log' append='on'/></serial>
  <channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-1-web1/agent'/>
    <target type='virtio' name='org.qemu.guest_agent.0'/></channel>
  </devices></domain>""" % {'dir': DIR}


@pytest.mark.parametrize('args, starts', [
    (('web1', 'backup', 'b1', '/srv/b', None, '/srv/i'), None),
    (('web1', 'list', '', '/srv/b', None, '/srv/i'), None),
    (('web1', 'restore', 'b1', '/srv/b', 'web1-new', '/srv/i'), None),
    (('web1', 'backup', 'b/1', '/srv/b', None, '/srv/i'), "kvmcloud_backup='b/1' is not a backup name"),
    (('web1', 'backup', '', '/srv/b', None, '/srv/i'), "kvmcloud_backup='' is not a backup name"),
    (('web1', 'snap', 'b1', '/srv/b', None, '/srv/i'), "kvmcloud_backup_action='snap' is not an action"),
    (('web1', 'backup', 'b1', 'backups', None, '/srv/i'), "kvmcloud_backup_dir='backups' is not a directory"),
    (('web1', 'backup', 'b1', '/srv/../etc', None, '/srv/i'), "kvmcloud_backup_dir='/srv/../etc' is not a"),
    (('web1', 'backup', 'b1', '/', None, '/srv/i'), "kvmcloud_backup_dir='/' is not a directory"),
    (('web1', 'backup', 'b1', "/srv/b'x", None, '/srv/i'), 'kvmcloud_backup_dir="/srv/b\'x" is not a'),
    (('web1,db1', 'restore', 'b1', '/srv/b', 'new', '/srv/i'), "kvmcloud_guests='web1,db1': restore takes"),
    (('web1', 'restore', 'b1', '/srv/b', '', '/srv/i'), "kvmcloud_backup_restore_as='' is not a guest name"),
    (('web1', 'restore', 'b1', '/srv/b', 'web1', '/srv/i'), "kvmcloud_backup_restore_as='web1' is the guest"),
    (('web1\n', 'list', None, '/srv/b', None, '/srv/i'), "kvmcloud_guests[0]='web1\\n' is not a guest name"),
])
def test_input_errors_start_from_the_variable(args, starts):
    errors = backups.input_errors(*args)
    if starts is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith(starts), errors
        assert ' e.g. ' in errors[0]


def test_only_writable_qcow2_disks_are_backed_up():
    found, skipped, refusals = backups.backup_disks('web1', DOMAIN)
    assert found == [{'target': 'vda', 'file': DIR + '/vda.qcow2',
                      'chain': [DIR + '/vda.qcow2', '/var/lib/libvirt/images/base/debian-13.qcow2']},
                     {'target': 'vdb', 'file': DIR + '/vdb.qcow2', 'chain': [DIR + '/vdb.qcow2']}]
    assert skipped == {'vdc': 'read-only', 'sda': 'cdrom'} and refusals == []


def test_a_raw_or_shareable_writable_disk_is_refused():
    xml = ("<domain><devices><disk type='file' device='disk'><driver type='raw'/><source file='/a.img'/>"
           "<target dev='vda'/></disk><disk type='file' device='disk'><driver type='qcow2'/><source file='/b'/>"
           "<target dev='vdb'/><shareable/></disk></devices></domain>")
    found, _skipped, refusals = backups.backup_disks('web1', xml)
    assert found == []
    assert refusals[0].startswith('kvmcloud_guests: web1: disk vda is in format raw; libvirt keeps the checkpoints')
    assert refusals[1].startswith('kvmcloud_guests: web1: disk vdb is shareable')


def backup(name, created, parent=None, targets=('vda', 'vdb'), checkpoint=True, top='%s/%s.qcow2'):
    return {'name': name, 'manifest': {'format': 1, 'created': created, 'parent': parent,
                                       'checkpoint': name if checkpoint else None,
                                       'disks': dict((t, {'file': t + '.qcow2', 'source': top % (DIR, t)})
                                                     for t in targets)}}


def disks(top='%s/%s.qcow2', base=None):
    return [{'target': t, 'file': top % (DIR, t), 'chain': [top % (DIR, t)] + ([base % (DIR, t)] if base else [])}
            for t in ('vda', 'vdb')]


def test_the_parent_is_the_newest_backup_whose_checkpoint_libvirt_has_on_the_same_disks():
    found = [backup('b1', 10), backup('b2', 20, 'b1'), backup('b3', 30, 'b2', targets=('vda',))]
    assert backups.parent_backup(found, ['b1', 'b2', 'b3'], disks())[0]['name'] == 'b2'
    assert backups.parent_backup(found, ['b1'], disks())[0]['name'] == 'b1'
    assert backups.parent_backup(found, [], disks()) == (None, 'libvirt has no checkpoint b3 (of the newest backup)')
    assert backups.parent_backup([], [], disks()) == (None, 'the first backup')


def test_a_backup_of_images_a_snapshot_revert_dropped_is_no_parent():
    """b1 of the disks, b2 while a snapshot's overlays were on top of them (still parents while the
    overlays or the disks under them are the guest's); after a revert, new overlays on the disks:
    b2's images are gone, b1's are still under the new overlays."""
    found = [backup('b1', 10), backup('b2', 20, 'b1', top='%s/web1-%s.s1.qcow2')]
    during = disks(top='%s/web1-%s.s1.qcow2', base='%s/%s.qcow2')
    assert backups.parent_backup(found, ['b1', 'b2'], during)[0]['name'] == 'b2'
    reverted = disks(top='%s/web1-%s.s1-revert.qcow2', base='%s/%s.qcow2')
    assert backups.parent_backup(found, ['b1', 'b2'], reverted)[0]['name'] == 'b1'
    parent, why = backups.parent_backup(found[1:], ['b1', 'b2'], reverted)
    assert parent is None and why.startswith('the disk images backup b2 was taken of are no longer the guest')


def test_backup_and_checkpoint_xml():
    disks = [{'target': 'vda'}, {'target': 'vdb'}]
    assert backups.checkpoint_xml('b2', disks, {'vdc': 'read-only'}) == (
        "<domaincheckpoint><name>b2</name><description>kvmcloud.hypervisor backup.yml</description><disks>"
        "<disk name='vda' checkpoint='bitmap'/><disk name='vdb' checkpoint='bitmap'/><disk name='vdc' "
        "checkpoint='no'/></disks></domaincheckpoint>")
    xml = backups.backup_xml({'vda': '/b/web1/b2/vda.qcow2'}, {'vdc': 'read-only'}, 'b1')
    assert xml == ("<domainbackup mode='push'><incremental>b1</incremental><disks><disk name='vda' backup='yes' "
                   "type='file'><driver type='qcow2'/><target file='/b/web1/b2/vda.qcow2'/></disk>"
                   "<disk name='vdc' backup='no'/></disks></domainbackup>")
    assert '<incremental>' not in backups.backup_xml({'vda': '/x'}, {}, None)


def test_a_restored_domain_is_a_new_guest_on_new_disks():
    paths = backups.restored_paths('/srv/i', 'web1-new', ['vda', 'vdb'])
    assert paths == {'vda': '/srv/i/web1-new/web1-new-vda.qcow2', 'vdb': '/srv/i/web1-new/web1-new-vdb.qcow2'}
    xml = backups.restored_domain(DOMAIN, 'web1', 'b2', 'web1-new', paths)
    root = ET.fromstring(xml)
    assert root.findtext('name') == 'web1-new' and root.find('uuid') is None
    assert root.find('os/nvram') is None and root.find('os').get('firmware') == 'efi'
    disks = root.findall('devices/disk')
    assert [d.find('target').get('dev') for d in disks] == ['vda', 'vdb', 'sda']
    assert disks[0].find('source').get('file') == paths['vda'] and disks[0].find('backingStore') is None
    assert disks[0].find('driver').get('type') == 'qcow2' and disks[0].find('boot').get('order') == '1'
    assert disks[2].find('source') is None
    interface = root.find('devices/interface')
    assert interface.find('mac') is None and interface.find('target') is None
    assert root.find('devices/serial/log').get('file') == '/var/log/libvirt/qemu/web1-new-console.log'
    assert root.find('devices/channel/source').get('path') is None
    assert root.find('metadata/{%s}guest' % backups.GUEST_NS) is None
    assert backups.restored_from(xml) == ('web1', 'b2')
    assert backups.restored_from(DOMAIN) is None
    assert backups.restored_domain('<not xml', 'web1', 'b2', 'x', paths) is None


def test_a_chain_is_read_back_to_its_full_backup_and_a_missing_link_refused():
    found = [backup('b1', 10), backup('b2', 20, 'b1'), backup('b3', 30, 'b2')]
    assert backups.chain(found, 'b3') == (['b3', 'b2', 'b1'], [])
    names, refusals = backups.chain([found[0], found[2], {'name': 'b2', 'manifest': None}], 'b3')
    assert names == ['b3'] and refusals == ['backup b2, which b3 builds on, is incomplete']
    assert backups.chain(found[1:], 'b3')[1] == ['backup b1, which b2 builds on, is missing']


def test_the_version_gate():
    assert backups.version_refusal((7, 6, 0), 'web1') is None
    assert backups.version_refusal((9, 0, 0), 'web1') is None
    assert backups.version_refusal((7, 5, 0), 'web1').startswith(
        'kvmcloud_backup_action=backup: web1: libvirt 7.5.0 on this host has no backup API')


def test_manifests_of_another_kind_are_not_ours():
    assert backups.read_manifest('{"format": 1, "disks": {}}') == {'format': 1, 'disks': {}}
    assert backups.read_manifest('{"format": 2, "disks": {}}') is None
    assert backups.read_manifest('garbage') is None
    assert backups.summary([backup('b1', 1), backup('b2', 2, 'b1'), {'name': 'b3', 'manifest': None}], ['b1', 'b2']) \
        == 'backups: b1 (full), b2 (incremental from b1), b3 (incomplete); checkpoints: b1, b2\n'
