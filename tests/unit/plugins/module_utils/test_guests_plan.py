# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What kvm_guests does on a host: the read it asks for, the checks of what it finds, the work lists."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest
import yaml

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import plan, shape
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import kvm_guests_settings

GIB = 1073741824
CHECKSUM = 'sha256:' + 'ab' * 32
BASE = '/var/lib/libvirt/images/base/debian-13.qcow2'
STORE = '/var/lib/libvirt/images/guests'
DEFS = '/etc/kvmcloud/guests'
HOST = {'domain_type': 'qemu', 'emulated_cpu_model': 'qemu64', 'emulated_tb_cache_mib': 256, 'nosharepages': True,
        'nwfilter_ip_learning': 'any', 'console_log_dir': '/var/log/libvirt/qemu'}
SETTINGS = kvm_guests_settings(**{
    'guests': [
        {'name': 'g1', 'state': 'running', 'disks': [{'size_gib': 4, 'base_image': 'debian-13'}, {'size_gib': 1}],
         'nics': [{'network': 'br-guest'}, {'network': 'br-guest'}], 'cloud_init': {'user_data': {}}},
        {'name': 'g2', 'state': 'shutoff', 'profile': 'secure', 'disks': [{'size_gib': 4, 'base_image': 'debian-13'}],
         'nics': [{'network': 'br-guest', 'mac': '52:54:00:00:00:02'}]},
        {'name': 'old', 'state': 'undefined', 'remove_disks': True},
    ],
    'base_images': [{'name': 'debian-13', 'src': '/srv/d13.qcow2', 'checksum': CHECKSUM}],
    'storage_dir': STORE, 'definition_dir': DEFS, 'network_bridges': [{'name': 'br-guest'}],
})
Q35 = 'pc-q35-10.0'


def shaped(**overrides):
    settings = copy.deepcopy(SETTINGS)
    settings.update(overrides)
    result = shape.build(settings)
    assert result['errors'] == []
    return result, settings


def domain_xml(name, uuid, macs, domid=None, machine='pc-q35-9.2', secure_boot='yes'):
    """What `virsh dumpxml` prints, as far as the role reads it."""
    nics = ''.join("    <interface type='network'>\n      <mac address='%s'/>\n      <source network='%s'"
                   " portgroup='x'/>\n    </interface>\n" % (mac, network) for mac, network in macs)
    return ("<domain type='qemu'%s>\n  <name>%s</name>\n  <uuid>%s</uuid>\n  <os firmware='efi'>\n"
            "    <type arch='x86_64' machine='%s'>hvm</type>\n    <firmware>\n"
            "      <feature enabled='%s' name='secure-boot'/>\n    </firmware>\n  </os>\n  <devices>\n%s"
            "  </devices>\n</domain>\n" % (" id='%s'" % domid if domid else '', name, uuid, machine, secure_boot, nics))


def qcow2(virtual_gib=4, backing=None, backing_format=None, **extra):
    info = {'format': 'qcow2', 'virtual-size': virtual_gib * GIB, 'format-specific': {'type': 'qcow2', 'data': {}}}
    if backing:
        info.update({'backing-filename': backing, 'full-backing-filename': backing})
        if backing_format:
            info['backing-filename-format'] = backing_format
    info.update(extra)
    return info


def directory(mode, uid=0, gid=0):
    return {'exists': True, 'isdir': True, 'isreg': False, 'islnk': False, 'mode': mode, 'uid': uid, 'gid': gid,
            'mtime': 100.0}


def regular(mtime=100.0):
    return {'exists': True, 'isdir': False, 'isreg': True, 'islnk': False, 'mode': '0600', 'uid': 0, 'gid': 0,
            'mtime': mtime}


G1_UUID = '0f8e3b8a-5d0c-5a43-9d3e-3c1f5c1a2b7e'
G2_UUID = '1f8e3b8a-5d0c-5a43-9d3e-3c1f5c1a2b7e'


def converged_state():
    """A host as SETTINGS declares it, g1 running with domain id 7."""
    return {
        'domains': {
            'g1': {'defined': True, 'running': True, 'autostart': True,
                   'xml': domain_xml('g1', G1_UUID, [('52:54:00:aa:00:01', 'br-guest'), ('52:54:00:aa:00:02', 'br-guest')],
                                     domid=7)},
            'g2': {'defined': True, 'running': False, 'autostart': False,
                   'xml': domain_xml('g2', G2_UUID, [('52:54:00:00:00:02', 'br-guest')])},
            'old': {'defined': False, 'running': False, 'autostart': False, 'xml': ''},
        },
        'networks': ['br-guest'],
        'domcapabilities': {'machine': Q35, 'firmware': ['bios', 'efi']},
        'images': {
            BASE: {'exists': True, 'checksum': 'ab' * 32, 'info': {'format': 'qcow2', 'virtual-size': 3 * GIB}},
            STORE + '/g1/disk0.qcow2': {'exists': True, 'info': qcow2(4, BASE, 'qcow2')},
            STORE + '/g1/disk1.qcow2': {'exists': True, 'info': qcow2(1)},
            STORE + '/g2/disk0.qcow2': {'exists': True, 'info': qcow2(4, BASE, 'qcow2')},
        },
        'paths': {
            '/var/lib/libvirt/images/base': directory('0711'),
            STORE + '/g1': directory('0711'), STORE + '/g1/seed': directory('0700'), STORE + '/g2': directory('0711'),
            DEFS: directory('0700'), STORE + '/g1/seed.iso': regular(), STORE + '/g2/seed': {'exists': False},
            DEFS + '/g1.xml': regular(100.0), DEFS + '/g2.xml': regular(100.0),
            '/etc/libvirt/qemu/g1.xml': regular(200.0), '/etc/libvirt/qemu/g2.xml': regular(200.0),
            STORE + '/old': {'exists': False},
        },
        'restart_markers': [],
    }


def fresh_state():
    state = converged_state()
    state['domains'] = dict((name, {'defined': False, 'running': False, 'autostart': False, 'xml': ''})
                            for name in ('g1', 'g2', 'old'))
    state['images'] = dict((path, {'exists': False, 'info': None}) for path in state['images'])
    state['paths'] = dict((path, {'exists': False}) for path in state['paths'])
    return state


def to_yaml(data):
    return yaml.safe_dump(data, default_flow_style=False, indent=2)


def decide(state, **overrides):
    result, settings = shaped(**overrides)
    return plan.decide(result, settings, state, 'h1', 'qemu', HOST, to_yaml), result


# The read

def test_the_read_covers_every_guest_image_disk_and_file_the_role_decides_on():
    result, settings = shaped()
    query = plan.state_query(result, settings)
    assert query['domains'] == ['g1', 'g2', 'old']
    assert query['moved_record_dir'] == '/var/lib/kvmcloud/moved-guests'
    assert query['images'] == [
        {'path': BASE, 'checksum_algorithm': 'sha256'},
        {'path': STORE + '/g1/disk0.qcow2'}, {'path': STORE + '/g1/disk1.qcow2'}, {'path': STORE + '/g2/disk0.qcow2'}]
    assert query['paths'] == [
        '/var/lib/libvirt/images/base', STORE + '/g1', STORE + '/g1/seed', STORE + '/g2', DEFS,
        STORE + '/g1/seed.iso', DEFS + '/g1.xml', '/etc/libvirt/qemu/g1.xml',
        STORE + '/g2/seed', DEFS + '/g2.xml', '/etc/libvirt/qemu/g2.xml', STORE + '/old',
        STORE + '/old/.kvmcloud-guest', plan.MAINTENANCE_FACT]


# Converged and fresh hosts

def test_a_converged_host_needs_nothing_but_the_files_call():
    todo, _result = decide(converged_state())
    assert todo['errors'] == [] and todo['size_reports'] == []
    for key in ('destroy', 'undefine', 'remove_guest_dirs', 'remove_seed_dirs', 'dirs', 'images_missing',
                'disks_missing', 'verify_images', 'verify_disks', 'autostart', 'secure_boot_changed'):
        assert todo[key] == [], key
    assert [d['define'] for d in todo['definitions']] == [False, False]
    assert [s['iso_exists'] for s in todo['seeds']] == [True]
    assert (todo['defined'], todo['running']) == (['g1', 'g2'], ['g1'])


def test_the_files_are_seeds_without_diff_and_validated_definitions():
    todo, result = decide(converged_state())
    by_path = dict((entry['path'], entry) for entry in todo['files'])
    assert list(by_path) == [
        STORE + '/g1/seed/user-data', STORE + '/g1/seed/meta-data', STORE + '/g1/seed/network-config',
        STORE + '/g2/seed.iso', DEFS + '/g1.xml', DEFS + '/g2.xml', DEFS + '/old.xml',
        STORE + '/g1/.kvmcloud-guest', STORE + '/g2/.kvmcloud-guest']
    assert by_path[STORE + '/g2/.kvmcloud-guest'] == {
        'path': STORE + '/g2/.kvmcloud-guest', 'content': 'g2\n', 'owner': 'root', 'group': 'root', 'mode': '0600'}
    assert by_path[STORE + '/g1/seed/user-data'] == {
        'path': STORE + '/g1/seed/user-data', 'content': '#cloud-config\n{}\n', 'owner': 'root', 'group': 'root',
        'mode': '0600', 'diff': False}
    assert by_path[STORE + '/g1/seed/meta-data']['content'] == 'instance-id: g1\nlocal-hostname: g1\n'
    assert by_path[STORE + '/g1/seed/network-config'] == {'path': STORE + '/g1/seed/network-config',
                                                          'state': 'absent'}
    assert by_path[STORE + '/g2/seed.iso'] == {'path': STORE + '/g2/seed.iso', 'state': 'absent'}
    g1 = by_path[DEFS + '/g1.xml']
    assert (g1['template'], g1['mode'], g1['validate']) == ('domain.xml.j2', '0600', 'virt-xml-validate %s domain')
    assert g1['vars']['guest'] == result['wanted'][0] and g1['vars']['host'] == HOST
    assert g1['vars']['profile'] == result['profiles']['general']
    assert by_path[DEFS + '/old.xml'] == {'path': DEFS + '/old.xml', 'state': 'absent'}


def test_seed_documents_merge_meta_data_and_keep_text_user_data():
    todo, _result = decide(converged_state(), guests=[
        {'name': 'g1', 'disks': [{'size_gib': 4, 'base_image': 'debian-13'}],
         'cloud_init': {'user_data': '#!/bin/sh\necho hi\n', 'meta_data': {'instance-id': 'i-2'},
                        'network_config': {'version': 2}}}])
    contents = dict((entry['path'].rsplit('/', 1)[-1], entry.get('content')) for entry in todo['files'][:3])
    assert contents == {'user-data': '#!/bin/sh\necho hi\n', 'meta-data': 'instance-id: i-2\nlocal-hostname: g1\n',
                        'network-config': 'version: 2\n'}
    assert todo['seeds'][0]['iso_files'] == ['user-data', 'meta-data', 'network-config']


def test_a_fresh_host_gets_everything():
    todo, result = decide(fresh_state())
    assert todo['dirs'] == [
        {'path': '/var/lib/libvirt/images/base', 'mode': '0711'}, {'path': STORE + '/g1', 'mode': '0711'},
        {'path': STORE + '/g1/seed', 'mode': '0700'}, {'path': STORE + '/g2', 'mode': '0711'},
        {'path': DEFS, 'mode': '0700'}]
    assert todo['base_dir_exists'] is False
    assert todo['images_missing'] == result['images'] and todo['verify_images'] == [{'path': BASE}]
    assert [(d['guest'], d['path']) for d in todo['disks_missing']] == [
        ('g1', STORE + '/g1/disk0.qcow2'), ('g1', STORE + '/g1/disk1.qcow2'), ('g2', STORE + '/g2/disk0.qcow2')]
    assert todo['verify_disks'] == [{'path': d['path']} for d in todo['disks_missing']]
    assert [d['define'] for d in todo['definitions']] == [True, True]
    assert todo['seeds'][0]['iso_exists'] is False
    # A new guest starts without autostart: only those declared with it need it.
    assert todo['autostart'] == [{'name': 'g1', 'autostart': True}]
    assert todo['remove_seed_dirs'] == [] and todo['remove_guest_dirs'] == []


def test_disks_on_pools_are_made_or_found_and_a_copy_names_no_backing_file():
    pools = [{'name': 'lvm', 'type': 'logical', 'devices': ['/dev/sdb'], 'vg_name': 'vg0'},
             {'name': 'san', 'type': 'iscsi', 'host': '10.0.0.5', 'iqn': 'iqn.2026-01.example:t1'}]
    guests = [{'name': 'g1', 'disks': [{'size_gib': 4, 'base_image': 'debian-13', 'pool': 'lvm'},
                                       {'pool': 'san', 'lun': 0}]}]
    lun = '/dev/disk/by-path/ip-10.0.0.5:3260-iscsi-iqn.2026-01.example:t1-lun-0'
    state = fresh_state()
    state['images'][lun] = {'exists': True, 'info': {'format': 'raw', 'virtual-size': 268435456}}
    todo, _result = decide(state, guests=guests, storage_pools=pools)
    # The LUN is there: only the volume is made, and the LUN's size is its own.
    assert [(d['path'], d['kind'], d['pool'], d['volume']) for d in todo['disks_missing']] == [
        ('/dev/vg0/g1-disk0', 'block', 'lvm', 'g1-disk0')]
    assert todo['errors'] == [] and todo['size_reports'] == []
    # Once made, the volume holds a raw copy: no backing file is right, one is refused.
    state['images']['/dev/vg0/g1-disk0'] = {'exists': True, 'info': {'format': 'raw', 'virtual-size': 4 * GIB}}
    todo, _result = decide(state, guests=guests, storage_pools=pools)
    assert todo['disks_missing'] == [] and todo['errors'] == []
    state['images']['/dev/vg0/g1-disk0']['info'].update({'full-backing-filename': BASE, 'backing-filename': BASE})
    assert 'Guest g1: /dev/vg0/g1-disk0 is refused' in decide(state, guests=guests, storage_pools=pools)[0]['errors'][0]


def test_a_missing_lun_stops_the_run_and_is_never_made():
    pools = [{'name': 'san', 'type': 'iscsi', 'host': '10.0.0.5', 'iqn': 'iqn.2026-01.example:t1'}]
    guests = [{'name': 'g1', 'disks': [{'size_gib': 4, 'base_image': 'debian-13'}, {'pool': 'san', 'lun': 3}]}]
    todo, _result = decide(fresh_state(), guests=guests, storage_pools=pools)
    assert [d['path'] for d in todo['disks_missing']] == [STORE + '/g1/disk0.qcow2']
    assert todo['errors'] == []
    assert todo['luns_missing'] == [
        'Guest g1: disks[1] is LUN 3 of iSCSI pool san, and'
        ' /dev/disk/by-path/ip-10.0.0.5:3260-iscsi-iqn.2026-01.example:t1-lun-3 does not exist on h1. The role does'
        ' not make LUNs: check the target exports it (virsh vol-list san), or fix lun.']


def test_directories_with_another_mode_or_owner_are_corrected():
    state = converged_state()
    state['paths'][STORE + '/g1'] = directory('0755')
    state['paths'][STORE + '/g1/seed'] = directory('0700', uid=1000)
    state['paths'][DEFS] = dict(regular(), mode='0700')
    todo, _result = decide(state)
    assert [d['path'] for d in todo['dirs']] == [STORE + '/g1', STORE + '/g1/seed', DEFS]


# Identity

def test_existing_guests_keep_uuid_machine_and_macs_by_network_and_position():
    todo, _result = decide(converged_state())
    assert todo['identity']['g1'] == {'uuid': G1_UUID, 'machine': 'pc-q35-9.2',
                                      'macs': ['52:54:00:aa:00:01', '52:54:00:aa:00:02'], 'domid': '7',
                                      'secure_boot': 'yes'}
    assert todo['identity']['g2']['macs'] == ['52:54:00:00:00:02'] and todo['identity']['g2']['domid'] == ''


def test_new_guests_get_derived_uuid_and_macs_and_the_versioned_q35():
    # The values Ansible's to_uuid and hash('sha256') filters gave for host h1 before this code existed.
    todo, _result = decide(fresh_state())
    assert todo['identity']['g1'] == {'uuid': '03d1a890-5ed5-521f-b66b-49ffa042d428', 'machine': Q35,
                                      'macs': ['52:54:00:80:73:04', '52:54:00:f7:64:dd'], 'domid': '',
                                      'secure_boot': ''}
    # A MAC given in kvm_guests_list wins.
    assert todo['identity']['g2']['macs'] == ['52:54:00:00:00:02']


def test_a_nic_added_on_another_network_keeps_the_existing_macs():
    state = converged_state()
    todo, _result = decide(state, guests=[
        {'name': 'g1', 'disks': [{'size_gib': 4, 'base_image': 'debian-13'}],
         'nics': [{'network': 'br-other'}, {'network': 'br-guest'}, {'network': 'br-guest'}]}])
    macs = todo['identity']['g1']['macs']
    assert macs[1:] == ['52:54:00:aa:00:01', '52:54:00:aa:00:02'] and macs[0].startswith('52:54:00:')


# Checks of what the read found

def test_no_q35_or_no_uefi_stops_the_run():
    state = converged_state()
    state['domcapabilities'] = {'machine': 'pc-i440fx-9.2', 'firmware': ['bios']}
    todo, _result = decide(state)
    assert todo['errors'] == [
        'libvirt on h1 offers no q35 machine (pc-i440fx-9.2) or no UEFI firmware for domain type qemu: is the ovmf'
        ' package installed, with its descriptors in /usr/share/qemu/firmware?']
    state['domcapabilities'] = {'machine': Q35, 'firmware': ['bios']}
    assert len(decide(state)[0]['errors']) == 1
    state['domcapabilities'] = {}
    assert '(none)' in decide(state)[0]['errors'][0]


def test_every_network_a_guest_uses_exists():
    state = converged_state()
    state['networks'] = ['default']
    todo, _result = decide(state)
    assert todo['errors'] == [
        'These guests use libvirt networks that do not exist on h1: g1: br-guest; g1: br-guest; g2: br-guest. Define'
        ' them first (kvm_network), or fix the network names. Existing: default.']
    state['networks'] = []
    assert decide(state)[0]['errors'][0].endswith('Existing: none.')


def test_no_two_nics_share_a_mac():
    state = converged_state()
    state['domains']['g1']['xml'] = domain_xml('g1', G1_UUID, [('52:54:00:00:00:02', 'br-guest')])
    todo, _result = decide(state)
    assert todo['errors'] == ['These MAC addresses would be used twice: 52:54:00:00:00:02. Set mac on the NICs'
                              ' concerned in kvm_guests_list.']


def test_an_imported_base_image_with_other_content_is_never_replaced():
    state = converged_state()
    state['images'][BASE]['checksum'] = 'cd' * 32
    todo, _result = decide(state)
    assert todo['errors'] == [
        "Base image debian-13 (%s) has sha256 %s, not the declared %s. Guests' disks are overlays of it, so kvm_guests"
        " never replaces it: give a new image a new name, or remove the file yourself once no guest uses it."
        % (BASE, 'cd' * 32, 'ab' * 32)]


@pytest.mark.parametrize('info, seen', [
    ({'format': 'raw', 'virtual-size': GIB}, 'format raw (declared qcow2), backing file none, data file none,'
                                             ' encrypted False'),
    (qcow2(1, '/etc/shadow', 'raw'), 'format qcow2 (declared qcow2), backing file /etc/shadow, data file none,'
                                     ' encrypted False'),
    (qcow2(1, **{'format-specific': {'type': 'qcow2', 'data': {'data-file': '/dev/sda'}}}),
     'format qcow2 (declared qcow2), backing file none, data file /dev/sda, encrypted False'),
    (qcow2(1, encrypted=True), 'format qcow2 (declared qcow2), backing file none, data file none, encrypted True'),
], ids=['format', 'backing-file', 'data-file', 'encrypted'])
def test_a_base_image_must_be_self_contained_of_the_declared_format(info, seen):
    state = converged_state()
    state['images'][BASE]['info'] = info
    errors = plan.verify(shaped()[0], state)['images']
    assert errors == ['Base image debian-13 (%s) is refused: qemu-img sees %s. A base image must be a self-contained,'
                      ' unencrypted image of the declared format.' % (BASE, seen)]


def test_a_boot_disk_is_at_least_as_large_as_its_base_image():
    state = converged_state()
    state['images'][BASE]['info']['virtual-size'] = 5 * GIB
    assert decide(state)[0]['errors'] == [
        'Guest g1: size_gib 4 is smaller than base image debian-13 (5.0 GiB).',
        'Guest g2: size_gib 4 is smaller than base image debian-13 (5.0 GiB).']


@pytest.mark.parametrize('info, seen, declared', [
    (qcow2(4), 'format qcow2, backing file none (no format recorded), data file none',
     'format qcow2, backing file %s (qcow2)' % BASE),
    (qcow2(4, '/srv/other.qcow2', 'qcow2'), 'format qcow2, backing file /srv/other.qcow2 (qcow2), data file none',
     'format qcow2, backing file %s (qcow2)' % BASE),
    (qcow2(4, BASE), 'format qcow2, backing file %s (no format recorded), data file none' % BASE,
     'format qcow2, backing file %s (qcow2)' % BASE),
    ({'format': 'raw', 'virtual-size': 4 * GIB}, 'format raw, backing file none (no format recorded), data file none',
     'format qcow2, backing file %s (qcow2)' % BASE),
], ids=['rebased-to-nothing', 'other-base', 'base-format-not-recorded', 'replaced-by-raw'])
def test_a_guest_disk_has_exactly_its_declared_format_and_backing_file(info, seen, declared):
    state = converged_state()
    state['images'][STORE + '/g1/disk0.qcow2']['info'] = info
    assert decide(state)[0]['errors'] == [
        'Guest g1: %s/g1/disk0.qcow2 is refused: qemu-img sees %s; declared: %s. The role does not touch an existing'
        ' disk: fix or remove it by hand.' % (STORE, seen, declared)]


def test_an_empty_disk_that_gained_a_backing_file_is_refused():
    state = converged_state()
    state['images'][STORE + '/g1/disk1.qcow2']['info'] = qcow2(1, BASE, 'qcow2')
    assert decide(state)[0]['errors'] == [
        'Guest g1: %s/g1/disk1.qcow2 is refused: qemu-img sees format qcow2, backing file %s (qcow2), data file none;'
        ' declared: format qcow2, backing file none . The role does not touch an existing disk: fix or remove it by'
        ' hand.' % (STORE, BASE)]


def test_disks_of_another_size_are_reported_not_changed():
    state = converged_state()
    state['images'][STORE + '/g1/disk1.qcow2']['info'] = qcow2(2)
    todo, _result = decide(state)
    assert todo['errors'] == []
    assert todo['size_reports'] == ['Guest g1: %s/g1/disk1.qcow2 is 2.0 GiB, declared 1 GiB. kvm_guests does not'
                                    ' resize existing disks.' % STORE]


def test_verify_reads_only_what_the_state_holds():
    state = {'images': {STORE + '/g2/disk0.qcow2': {'exists': True, 'info': qcow2(4)}}}
    checks = plan.verify(shaped()[0], state)
    assert checks['images'] == [] and checks['sizes'] == [] and len(checks['disks']) == 1


# Work lists

def test_guests_declared_undefined_go_with_their_disks_where_asked():
    state = converged_state()
    state['domains']['old'] = {'defined': True, 'running': True, 'autostart': True, 'xml': ''}
    state['paths'][STORE + '/old'] = directory('0711')
    state['paths'][STORE + '/old/.kvmcloud-guest'] = regular()
    todo, _result = decide(state)
    assert (todo['destroy'], todo['undefine'], todo['remove_guest_dirs']) == (['old'], ['old'], [STORE + '/old'])
    assert todo['errors'] == []


@pytest.mark.parametrize('marker', [None, directory('0700'), dict(regular(), uid=1000)],
                         ids=['missing', 'a-directory', 'not-root'])
def test_a_directory_the_role_did_not_make_is_never_removed(marker):
    state = converged_state()
    state['paths'][STORE + '/old'] = directory('0755')
    if marker:
        state['paths'][STORE + '/old/.kvmcloud-guest'] = marker
    todo, _result = decide(state)
    assert todo['remove_guest_dirs'] == []
    assert todo['errors'] == [
        "kvm_guests_list entry old: remove_disks is true, but %s/old has no .kvmcloud-guest file, which kvm_guests"
        " writes into every guest directory it keeps: it was not made by this role, and stays. Remove it by hand if"
        " it is this guest's, or set remove_disks to false." % STORE]


def test_a_guest_without_cloud_init_loses_its_seed():
    state = converged_state()
    state['paths'][STORE + '/g2/seed'] = directory('0700')
    todo, _result = decide(state)
    assert todo['remove_seed_dirs'] == [STORE + '/g2/seed']


def test_autostart_is_set_where_it_differs():
    state = converged_state()
    state['domains']['g1']['autostart'] = False
    state['domains']['g2']['autostart'] = True
    todo, _result = decide(state)
    assert todo['autostart'] == [{'name': 'g1', 'autostart': True}, {'name': 'g2', 'autostart': False}]


def test_a_rendered_definition_newer_than_libvirts_copy_is_defined_again():
    state = converged_state()
    state['paths'][DEFS + '/g2.xml'] = regular(300.0)
    todo, _result = decide(state)
    assert [d['define'] for d in todo['definitions']] == [False, True]


def test_a_secure_boot_switch_is_noticed_from_the_current_xml():
    state = converged_state()
    state['domains']['g2']['xml'] = domain_xml('g2', G2_UUID, [('52:54:00:00:00:02', 'br-guest')], secure_boot='no')
    todo, _result = decide(state)
    assert todo['secure_boot_changed'] == ['g2']


# Power

def power(todo, result, defined_now=(), check_mode=False, restart_changed=False):
    return plan.power(result, todo, list(defined_now), check_mode, restart_changed)


def test_a_running_guest_with_a_new_definition_needs_a_restart_and_a_marker():
    todo, result = decide(converged_state())
    out = power(todo, result, defined_now=['g1', 'g2'])
    assert out['restarts'] == {'g1': 'g1@7.restart'}
    assert (out['markers_missing'], out['markers_stale'], out['restart_needed']) == (['g1@7.restart'], [], ['g1'])
    assert (out['restarting'], out['shutdown'], out['start'], out['nvram_resets']) == ([], [], [], [])
    # Markers and reports only: the power steps have nothing to do.
    assert out['acts'] is False


def test_an_earlier_marker_for_the_same_domain_id_still_counts_and_stale_ones_go():
    state = converged_state()
    state['restart_markers'] = ['g1@7.restart', 'g1@6.restart', 'gone@3.nvram.restart']
    todo, result = decide(state)
    out = power(todo, result)
    assert out['restarts'] == {'g1': 'g1@7.restart'} and out['markers_missing'] == []
    assert out['markers_stale'] == ['g1@6.restart', 'gone@3.nvram.restart']


def test_restart_changed_stops_and_starts_the_guest_and_secure_boot_switches_reset_nvram():
    state = converged_state()
    state['domains']['g1']['xml'] = state['domains']['g1']['xml'].replace("enabled='yes'", "enabled='no'")
    todo, result = decide(state)
    out = power(todo, result, defined_now=['g1'], restart_changed=True)
    assert out['restarts'] == {'g1': 'g1@7.nvram.restart'}
    assert (out['restarting'], out['shutdown'], out['nvram_resets'], out['start'], out['restart_needed']) == (
        ['g1'], ['g1'], ['g1'], [], [])
    # Without restart_changed it is only reported.
    out = power(todo, result, defined_now=['g1'])
    assert (out['restarting'], out['nvram_resets'], out['restart_needed']) == ([], [], ['g1'])


def test_guests_declared_shutoff_stop_and_running_ones_start():
    state = converged_state()
    state['domains']['g1']['running'] = False
    state['domains']['g2']['running'] = True
    state['domains']['g2']['xml'] = domain_xml('g2', G2_UUID, [('52:54:00:00:00:02', 'br-guest')], domid=3,
                                               secure_boot='no')
    todo, result = decide(state)
    out = power(todo, result)
    assert (out['shutdown'], out['start'], out['left_off']) == (['g2'], ['g1'], ['g2'])
    assert out['acts'] is True


def test_a_converged_host_has_no_power_steps_but_an_autostart_change_is_one():
    todo, result = decide(converged_state())
    assert power(todo, result)['acts'] is False
    todo['autostart'] = [{'name': 'g2', 'autostart': True}]
    assert power(todo, result)['acts'] is True


def test_check_mode_concludes_nothing_about_restarts():
    state = converged_state()
    state['restart_markers'] = ['g1@7.restart']
    todo, result = decide(state)
    out = power(todo, result, defined_now=['g1'], check_mode=True, restart_changed=True)
    assert out['restarts'] == {} and out['restart_needed'] == [] and out['shutdown'] == []


# Guests playbooks/migrate.yml moved away

def test_a_guest_moved_away_is_left_alone_and_reported():
    state = converged_state()
    state['domains']['g1'] = {'defined': False, 'running': False, 'autostart': False, 'xml': ''}
    state['images'][STORE + '/g1/disk0.qcow2'] = {'exists': False, 'info': None}
    state['moved'] = {'g1': 'hv02'}
    todo, result = decide(state)
    assert todo['errors'] == []
    assert todo['moved_away'] == [{'name': 'g1', 'host': 'hv02'}]
    assert [d['name'] for d in todo['definitions']] == ['g2']
    assert todo['disks_missing'] == [] and todo['seeds'] == []
    assert not [f for f in todo['files'] if '/g1' in f['path']]
    assert 'g1' not in power(todo, result)['start']


def test_a_guest_that_came_back_is_managed_again_whatever_the_record_says():
    state = converged_state()
    state['moved'] = {'g1': 'hv02'}
    todo, _result = decide(state)
    assert todo['moved_away'] == []
    assert [d['name'] for d in todo['definitions']] == ['g1', 'g2']


def test_a_host_in_maintenance_holds_back_every_guest_that_does_not_run_there():
    state = converged_state()
    state['paths'][plan.MAINTENANCE_FACT] = regular()
    todo, result = decide(state)
    # g1 runs and stays managed; g2 (shut off) is neither defined again nor started.
    assert todo['held'] == [{'name': 'g2', 'host': ''}]
    assert [d['name'] for d in todo['definitions']] == ['g1']
    fresh = fresh_state()
    fresh['paths'][plan.MAINTENANCE_FACT] = regular()
    todo, result = decide(fresh)
    assert [g['name'] for g in todo['held']] == ['g1', 'g2']
    assert todo['definitions'] == [] and todo['disks_missing'] == [] and power(todo, result)['start'] == []
