# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/migrate.yml's decisions: the request, where each guest is, what blocks a move, what the target makes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import migration, plan
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import ROLES

STORE = '/var/lib/libvirt/images/guests'
NVRAM = '/var/lib/libvirt/qemu/nvram/web1_VARS.fd'
BASE = '/var/lib/libvirt/images/base/debian-13.qcow2'
HOSTS = ['hv01', 'hv02', 'hv03']
ENABLED = {'hv01': True, 'hv02': True, 'hv03': False}


def xml(cpu='custom', extra_devices='', disk_type='file'):
    return ("<domain type='kvm' id='3'><name>web1</name><cpu mode='%s'/>"
            "<os firmware='efi'><nvram>%s</nvram></os><devices>"
            "<disk type='%s' device='disk'><driver name='qemu' type='qcow2'/>"
            "<source file='%s/web1/disk0.qcow2'/><backingStore type='file'><format type='qcow2'/>"
            "<source file='/var/lib/libvirt/images/base/debian-13.qcow2'/></backingStore><target dev='vda'/></disk>"
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            "<source file='%s/web1/disk1.raw'/><target dev='vdb'/></disk>"
            "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
            "<source file='%s/web1/seed/seed.iso'/><target dev='sda'/><readonly/></disk>"
            "%s</devices></domain>" % (cpu, NVRAM, disk_type, STORE, STORE, STORE, extra_devices))


def found(maintenance=(), **where):
    """Each host's kvm_guests_state read: where={'hv01': 'running'} puts web1 there."""
    reads = dict((host, {'domains': {'web1': {'defined': False, 'running': False, 'xml': ''}},
                         'paths': {migration.MAINTENANCE_FACT: {'exists': host in maintenance}}}) for host in HOSTS)
    for host, state in where.items():
        reads[host]['domains']['web1'] = {'defined': True, 'running': state == 'running', 'autostart': state == 'running',
                                          'xml': xml()}
    return reads


@pytest.mark.parametrize('guests, names', [
    ('web1,db1', ['web1', 'db1']), (' web1 , web1,', ['web1']), ('web1\n', ['web1\n']), (['db1'], ['db1']), ('', []), (None, None)])
def test_guests_come_as_a_list_or_a_comma_separated_string(guests, names):
    assert migration.guest_names(guests) == names


@pytest.mark.parametrize('guests, target, expected', [
    ('', 'hv02', 'kvmcloud_guests: \'\' names no guest'),
    ('web1\n', 'hv02', "kvmcloud_guests[0]: 'web1\\n' is not a guest name"),
    ('web 1', 'hv02', 'kvmcloud_guests[0]: \'web 1\' is not a guest name'),
    ('web1,-x', 'hv02', 'kvmcloud_guests[1]: \'-x\' is not a guest name'),
    ('web1', 'hv09', 'kvmcloud_target: \'hv09\' is not a host of the play'),
])
def test_the_request_is_checked_before_anything_is_read(guests, target, expected):
    errors = migration.request_errors(guests, target, HOSTS)
    if expected is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith(expected)


def test_a_running_guest_moves_from_its_host():
    planned = migration.plan(found(hv01='running'), 'web1', 'hv02', HOSTS, ENABLED)
    assert planned['errors'] == []
    assert [(m['guest'], m['source'], m['target'], m['autostart']) for m in planned['moves']] == [
        ('web1', 'hv01', 'hv02', True)]
    prepared = planned['moves'][0]['prepare']
    assert prepared['disks'] == [{'path': STORE + '/web1/disk0.qcow2', 'format': 'qcow2'},
                                 {'path': STORE + '/web1/disk1.raw', 'format': 'raw'}]
    assert prepared['files'] == [STORE + '/web1/seed/seed.iso', NVRAM]
    assert prepared['dirs'] == [STORE, STORE + '/web1', STORE + '/web1/seed', '/var/lib/libvirt/qemu',
                                '/var/lib/libvirt/qemu/nvram']
    assert STORE + '/web1/.kvmcloud-guest' in prepared['markers']
    # The source reads its disks' headers; both sides stat every path.
    # ... and both sides checksum the base image the boot disk is an overlay of.
    base = {'path': BASE, 'checksum_algorithm': 'sha256'}
    assert planned['reads']['hv01']['images'] == [{'path': STORE + '/web1/disk0.qcow2'},
                                                  {'path': STORE + '/web1/disk1.raw'}, base]
    assert planned['reads']['hv02']['images'] == [base]
    assert planned['reads']['hv01']['paths'] == planned['reads']['hv02']['paths']


def test_a_guest_already_running_on_the_target_is_left_as_it_is():
    planned = migration.plan(found(hv02='running'), ['web1'], 'hv02', HOSTS, ENABLED)
    assert planned['errors'] == [] and planned['moves'] == [] and planned['in_place'] == ['web1']


@pytest.mark.parametrize('where, target, expected', [
    ({}, 'hv02', 'web1 is defined on no host'),
    ({'hv01': 'running', 'hv02': 'shutoff'}, 'hv02', 'web1 is defined on hv01, hv02'),
    ({'hv01': 'shutoff'}, 'hv02', 'web1 is not running on hv01'),
    ({'hv02': 'shutoff'}, 'hv02', 'web1 is on hv02 already, but not running'),
    ({'hv03': 'running'}, 'hv02', 'web1 runs on hv03, which has kvm_hardening_migration_enabled off'),
    ({'hv01': 'running'}, 'hv03', 'kvmcloud_target: hv03 does not accept migrations'),
    ({'hv01': 'running', 'maintenance': ['hv02']}, 'hv02', 'kvmcloud_target: hv02 is in maintenance'),
])
def test_guests_that_cannot_move_are_refused_by_name(where, target, expected):
    planned = migration.plan(found(**where), 'web1', target, HOSTS, ENABLED)
    assert planned['moves'] == [] and planned['errors'][0].startswith(expected)


@pytest.mark.parametrize('domain, expected', [
    (xml(cpu='host-passthrough'), 'web1 has CPU mode host-passthrough'),
    (xml(extra_devices="<hostdev mode='subsystem' type='pci'/>"), 'web1 has a host device (hostdev type pci)'),
    (xml(disk_type='block'), 'web1: disk vda is of type block'),
    (xml().replace("<target dev='vdb'/>", "<target dev='vdb'/><shareable/>"), 'web1: disk vdb is shareable'),
    ('<domain', 'web1: libvirt printed no readable XML'),
])
def test_devices_that_cannot_move_block_the_guest(domain, expected):
    reads = found(hv01='running')
    reads['hv01']['domains']['web1']['xml'] = domain
    planned = migration.plan(reads, 'web1', 'hv02', HOSTS, ENABLED)
    assert planned['moves'] == [] and planned['errors'][0].startswith(expected)


def stat(exists=True, mode='0600', uid=0, gid=0):
    return {'exists': exists, 'mode': mode, 'uid': uid, 'gid': gid}


def reads_for(planned, source_has_marker=True, target_paths=None, target_base='ab'):
    paths = planned['reads']['hv01']['paths']
    overlay = {'format': 'qcow2', 'virtual-size': 4096, 'full-backing-filename': BASE, 'backing-filename-format': 'qcow2'}
    source = {'images': {STORE + '/web1/disk0.qcow2': {'exists': True, 'info': overlay},
                         STORE + '/web1/disk1.raw': {'exists': True, 'info': {'format': 'raw', 'virtual-size': 1024}},
                         BASE: {'exists': True, 'checksum': 'ab', 'info': {'format': 'qcow2'}}},
              'paths': dict((path, stat(mode='0711')) for path in paths)}
    if not source_has_marker:
        source['paths'][STORE + '/web1/.kvmcloud-guest'] = stat(False)
    target = {'images': {BASE: {'exists': bool(target_base), 'checksum': target_base}},
              'paths': dict((path, stat(False)) for path in paths)}
    for path in ('/var/lib/libvirt/qemu', '/var/lib/libvirt/qemu/nvram', STORE):
        target['paths'][path] = stat(mode='0755')
    target['paths'].update(target_paths or {})
    return {'hv01': source, 'hv02': target}


def test_the_target_makes_the_missing_directories_empty_disks_and_copies_the_small_files():
    planned = migration.plan(found(hv01='running'), 'web1', 'hv02', HOSTS, ENABLED)
    worked = migration.work(planned, reads_for(planned))
    work = worked['moves'][0]['work']
    assert worked['errors'] == []
    assert [d['path'] for d in work['dirs']] == [STORE + '/web1', STORE + '/web1/seed']
    assert work['disks'] == [
        {'path': STORE + '/web1/disk0.qcow2', 'format': 'qcow2', 'size': 4096, 'mode': '0711',
         'backing': BASE, 'backing_format': 'qcow2'},
        {'path': STORE + '/web1/disk1.raw', 'format': 'raw', 'size': 1024, 'mode': '0711', 'backing': '',
         'backing_format': ''}]
    # The same base image on the target: only the guest's own layer crosses the wire.
    assert work['copy_storage'] == 'inc'
    assert [f['path'] for f in work['files']] == [STORE + '/web1/seed/seed.iso', NVRAM, STORE + '/web1/.kvmcloud-guest']
    assert work['remove_on_source'] == [STORE + '/web1/disk0.qcow2', STORE + '/web1/disk1.raw',
                                        STORE + '/web1/seed/seed.iso', NVRAM]


def test_a_guest_the_role_did_not_make_leaves_its_files_on_the_source():
    planned = migration.plan(found(hv01='running'), 'web1', 'hv02', HOSTS, ENABLED)
    work = migration.work(planned, reads_for(planned, source_has_marker=False))['moves'][0]['work']
    assert work['remove_on_source'] == []


@pytest.mark.parametrize('path', [STORE + '/web1/disk0.qcow2', NVRAM])
def test_a_file_already_on_the_target_is_never_written_over(path):
    planned = migration.plan(found(hv01='running'), 'web1', 'hv02', HOSTS, ENABLED)
    worked = migration.work(planned, reads_for(planned, target_paths={path: stat()}))
    assert len(worked['errors']) == 1 and worked['errors'][0].startswith('web1: ')
    assert path in worked['errors'][0] and 'exists on the target already' in worked['errors'][0]


@pytest.mark.parametrize('target_base', ['cd', None])
def test_without_the_same_base_image_on_the_target_every_disk_is_copied_whole(target_base):
    planned = migration.plan(found(hv01='running'), 'web1', 'hv02', HOSTS, ENABLED)
    work = migration.work(planned, reads_for(planned, target_base=target_base))['moves'][0]['work']
    assert work['copy_storage'] == 'all'
    assert [disk['backing'] for disk in work['disks']] == ['', '']


# playbooks/evacuate.yml

def guest_xml(name, memory_mib, vcpus=1):
    return xml().replace('web1', name).replace('<cpu', "<memory unit='KiB'>%d</memory><vcpu placement='static'>%d</vcpu><cpu"
                                               % (memory_mib * 1024, vcpus))


def fleet(guests, available_mib, threads=4, maintenance=(), enabled=None):
    """hv01 runs GUESTS ({name: (memory_mib, vcpus)}); the others have AVAILABLE_MIB each ({host: mib})."""
    reads = dict((host, {'domains': {}, 'paths': {migration.MAINTENANCE_FACT: {'exists': host in maintenance}}})
                 for host in HOSTS)
    for name, (memory_mib, vcpus) in guests.items():
        reads['hv01']['domains'][name] = {'defined': True, 'running': True, 'autostart': True,
                                          'xml': guest_xml(name, memory_mib, vcpus)}
    facts = dict((host, {'memory': {'available_kib': available_mib.get(host, 0) * 1024}, 'cpu': {'threads': threads}})
                 for host in HOSTS)
    return reads, facts, dict(enabled or dict((host, True) for host in HOSTS))


def test_the_largest_guests_go_first_each_to_the_host_with_the_most_memory_left():
    reads, facts, enabled = fleet({'a': (2048, 1), 'b': (4096, 2), 'c': (1024, 1)}, {'hv02': 7168, 'hv03': 6144})
    planned = migration.evacuation(reads, 'hv01', HOSTS, enabled, facts, reserve_mib=1024)
    assert planned['errors'] == []
    # Room after the 1024 MiB reserve: hv02 6144, hv03 5120. b (4096) to hv02 (2048 left),
    # a (2048) to hv03 (3072 left), c (1024) to hv03 (the most left).
    assert [(m['guest'], m['target']) for m in planned['moves']] == [('b', 'hv02'), ('a', 'hv03'), ('c', 'hv03')]
    assert set(planned['reads']) == {'hv01', 'hv02', 'hv03'}


def test_a_guest_that_fits_nowhere_stops_every_move_and_is_named():
    reads, facts, enabled = fleet({'big': (8192, 1), 'small': (512, 1)}, {'hv02': 4096, 'hv03': 4096})
    planned = migration.evacuation(reads, 'hv01', HOSTS, enabled, facts)
    assert planned['moves'] == []
    assert planned['errors'] == [
        'kvmcloud_drain: no host can take big (8192 MiB, 1 vCPUs) from hv01 (room left, 1024 MiB kept free on each: '
        'hv02 2560 MiB and 4 threads, hv03 3072 MiB and 4 threads). Add capacity, un-drain a host or stop those '
        'guests, then run again.']


def test_hosts_in_maintenance_without_migration_or_with_too_few_threads_take_none():
    reads, facts, _enabled = fleet({'a': (512, 8)}, {'hv02': 8192, 'hv03': 8192}, maintenance=['hv02'],
                                   enabled={'hv01': True, 'hv02': True, 'hv03': True})
    planned = migration.evacuation(reads, 'hv01', HOSTS, {'hv01': True, 'hv02': True, 'hv03': True}, facts)
    assert planned['moves'] == [] and 'no host can take a (512 MiB, 8 vCPUs)' in planned['errors'][0]
    assert 'hv02' not in planned['errors'][0]
    reads, facts, _enabled = fleet({'a': (512, 1)}, {'hv02': 8192, 'hv03': 8192})
    planned = migration.evacuation(reads, 'hv01', HOSTS, {'hv01': True, 'hv02': True, 'hv03': False}, facts)
    assert [(m['guest'], m['target']) for m in planned['moves']] == [('a', 'hv02')]


def test_the_drained_host_is_one_of_the_play_with_migration_on_and_its_guests_can_move():
    reads, facts, enabled = fleet({'a': (512, 1)}, {'hv02': 8192})
    assert migration.evacuation(reads, 'hv09', HOSTS, enabled, facts)['errors'][0].startswith(
        "kvmcloud_drain: 'hv09' is not a host of the play")
    planned = migration.evacuation(reads, 'hv01', HOSTS, dict(enabled, hv01=False), facts)
    assert planned['errors'][0].startswith('kvmcloud_drain: hv01 has kvm_hardening_migration_enabled off')
    reads['hv01']['domains']['a']['xml'] = reads['hv01']['domains']['a']['xml'].replace('custom', 'host-passthrough')
    assert migration.evacuation(reads, 'hv01', HOSTS, enabled, facts)['errors'][0].startswith(
        'a has CPU mode host-passthrough')


@pytest.mark.parametrize('reserve', ['1024', -1, 1.5, True, None])
def test_the_reserve_is_a_whole_number_of_mib(reserve):
    reads, facts, enabled = fleet({'a': (512, 1)}, {'hv02': 8192})
    planned = migration.evacuation(reads, 'hv01', HOSTS, enabled, facts, reserve_mib=reserve)
    assert planned['moves'] == [] and planned['errors'] == [
        'kvmcloud_evacuate_reserve_mib: %r is not a whole number of MiB of 0 or more; give the memory each target '
        'keeps free for itself, such as 1024.' % (reserve,)]


def test_a_drained_host_with_no_running_guest_moves_nothing():
    reads, facts, enabled = fleet({}, {'hv02': 8192})
    planned = migration.evacuation(reads, 'hv01', HOSTS, enabled, facts)
    assert planned == {'moves': [], 'in_place': [], 'errors': [], 'reads': {}}


def test_the_playbooks_mark_hosts_where_kvm_guests_and_the_filters_look():
    with open(os.path.join(ROLES, '..', 'playbooks', 'vars', 'migration.yml')) as handle:
        paths = yaml.safe_load(handle)
    assert paths == {'__kvmcloud_maintenance_fact': plan.MAINTENANCE_FACT,
                     '__kvmcloud_moved_record_dir': plan.MOVED_RECORD_DIR}
