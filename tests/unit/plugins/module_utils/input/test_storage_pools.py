# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kvm_host_storage_pools of every type: the preflight's messages, the XML libvirt gets, the
rbd secret (offline: no Ceph runs here), and the plan the role follows."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import shutil
import subprocess
from xml.etree import ElementTree

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.storage_pools import (
    pool_directories, pool_errors, pool_plan, pool_xml, secret_uuid, secret_xml)

# A cephx key as `ceph auth get-key` prints it (28 bytes in base64); made up for the tests.
KEY = 'AQBvaBFZAAAAABAAsLKfgyZ9Y6ZXoQ6E4Q5BVA=='

DIR = {'name': 'default', 'path': '/var/lib/libvirt/images'}
LOGICAL = {'name': 'guests', 'type': 'logical', 'devices': ['/dev/vdb'], 'build': True}
NETFS = {'name': 'shared', 'type': 'netfs', 'host': 'nfs1.example.org', 'export': '/srv/nfs/images',
         'path': '/var/lib/libvirt/shared'}
ISCSI = {'name': 'san', 'type': 'iscsi', 'host': '192.0.2.30', 'port': 3260,
         'iqn': 'iqn.2026-01.org.example:storage.lun1'}
RBD = {'name': 'ceph', 'type': 'rbd', 'monitors': ['192.0.2.41', '192.0.2.42:6789', '[2001:db8::43]:3300'],
       'rbd_pool': 'rbd', 'user': 'libvirt', 'secret_key': KEY}
EVERY_TYPE = [DIR, LOGICAL, NETFS, ISCSI, RBD]


def params(pools, **changes):
    values = {'storage_pools': pools, 'pool_mode_default': '0711', 'pools_now': {}, 'paths': {}, 'vgs': None,
              'pools_info': {}, 'hostname': 'hv01'}
    values.update(changes)
    return values


def only_error(pools, **changes):
    errors = pool_errors(params(pools, **changes))
    assert len(errors) == 1, errors
    return errors[0]


# ---------------------------------------------------------------- validation

def test_one_pool_of_every_type_passes():
    assert pool_errors(params(EVERY_TYPE)) == []


def test_an_entry_without_a_type_is_the_directory_pool_it_always_was():
    assert pool_errors(params([{'name': 'images', 'path': '/srv/images', 'mode': '0750'}])) == []


@pytest.mark.parametrize('change, shown', [
    ({'type': 'zfs'}, "type 'zfs' must be one of dir, logical, netfs, iscsi, rbd, and state 'present'"),
    ({'state': 'gone'}, "and state 'gone' present or absent"),
])
def test_unknown_type_or_state(change, shown):
    assert shown in only_error([dict(DIR, **change)])


@pytest.mark.parametrize('pool, field', [
    (dict(DIR, devices=['/dev/vdb']), 'devices is not for a dir pool (a dir pool takes path, mode)'),
    (dict(LOGICAL, path='/srv/x'), 'path is not for a logical pool'),
    (dict(ISCSI, export='/srv/x'), 'export is not for a iscsi pool'),
    (dict(RBD, devices=['/dev/vdb'], iqn='x'), 'devices, iqn are not for a rbd pool'),
])
def test_fields_of_another_type_are_refused(pool, field):
    assert field in only_error([pool])


def test_messages_start_from_the_variable_and_the_entry():
    message = only_error([DIR, dict(LOGICAL, devices=[])])
    assert message.startswith("kvm_host_storage_pools[1] entry 'guests': a logical pool needs devices")


@pytest.mark.parametrize('devices', [['vdb'], ['/dev/../etc/passwd'], ['/srv/disk.img'], ["/dev/vd'b"],
                                     '/dev/vdb'])
def test_logical_devices_are_paths_under_dev(devices):
    message = only_error([dict(LOGICAL, devices=devices)])
    assert message.startswith("kvm_host_storage_pools[0] entry 'guests': ")
    assert 'devices' in message


@pytest.mark.parametrize('name', ['-vg', 'vg name', 'vg/x', '..'])
def test_logical_volume_group_names_lvm_takes(name):
    assert "vg_name %r is not a volume group name LVM takes" % name in only_error([dict(LOGICAL, vg_name=name)])


def test_logical_devices_are_named_as_lvm_names_them():
    message = only_error([dict(LOGICAL, devices=['/dev/disk/by-id/virtio-data', '/dev/vdc'])])
    assert message == ("kvm_host_storage_pools[0] entry 'guests': devices /dev/disk/by-id/virtio-data are links under "
                       "/dev/disk: libvirt finds a logical pool's volume group by the device names LVM prints (pvs), "
                       "so give the names they point to, such as /dev/sdb.")


def test_wipe_needs_build():
    message = only_error([dict(LOGICAL, build=False, wipe=True)])
    assert 'wipe is true but build is false' in message


def test_logical_devices_must_exist_on_the_host():
    paths = {'/dev/vdb': {'exists': False, 'isdir': False}}
    message = only_error([LOGICAL], paths=paths)
    assert message == ("kvm_host_storage_pools[0] entry 'guests': devices /dev/vdb do not exist on "
                       "hv01 (or are directories). Give the block devices the volume group lies on, as LVM names them "
                       "(pvs), such as /dev/sdb.")
    present = {'/dev/vdb': {'exists': True, 'isdir': False}}
    assert pool_errors(params([LOGICAL], paths=present)) == []


def test_an_active_logical_pool_is_not_asked_for_its_devices():
    paths = {'/dev/vdb': {'exists': False, 'isdir': False}}
    now = {'guests': {'state': 'active', 'autostart': 'yes', 'path': '/dev/guests', 'type': 'logical'}}
    assert pool_errors(params([LOGICAL], paths=paths, pools_now=now, vgs=[])) == []


def test_a_missing_volume_group_without_build_is_refused_before_anything_changes():
    message = only_error([dict(LOGICAL, build=False)], vgs=['system'])
    assert message.startswith("kvm_host_storage_pools[0] entry 'guests': the volume group guests does not exist on "
                              "hv01, and build is false. Create it (vgcreate guests /dev/vdb)")
    assert pool_errors(params([dict(LOGICAL, build=False)], vgs=['guests'])) == []
    # Not read (lvm2 not installed yet): the role reads again before it builds.
    assert pool_errors(params([dict(LOGICAL, build=False)], vgs=None)) == []


@pytest.mark.parametrize('change, shown', [
    ({'host': 'nfs_1.example.org'}, "host 'nfs_1.example.org' must be the NFS server's address"),
    ({'host': ''}, "host '' must be the NFS server's"),
    ({'export': 'srv/nfs'}, "export 'srv/nfs' must be the exported directory's absolute path"),
    ({'export': '/srv/../etc'}, "export '/srv/../etc' must be"),
    ({'format': 'cifs'}, "format 'cifs': the role makes NFS pools only"),
    ({'path': '/etc/nfs'}, 'path (/etc/nfs) must not be a top-level directory or inside /bin'),
])
def test_netfs_source_and_mount_point(change, shown):
    assert shown in only_error([dict(NETFS, **change)])


@pytest.mark.parametrize('host', ['127.0.0.1', '2001:db8::20', 'nfs1', 'nfs1.example.org.'])
def test_netfs_hosts_by_address_or_name(host):
    assert pool_errors(params([dict(NETFS, host=host)])) == []


@pytest.mark.parametrize('change, shown', [
    ({'iqn': 'iqn.2026-13.org.example:x'}, "iqn 'iqn.2026-13.org.example:x' is not an iSCSI name"),
    ({'iqn': 'IQN.2026-01.org.example'}, 'is not an iSCSI name'),
    ({'iqn': 'iqn.2026-01.org.example:a b'}, 'is not an iSCSI name'),
    ({'iqn': "iqn.2026-01.org.example:a'/><x"}, 'is not an iSCSI name'),
    ({'initiator_iqn': 'host1'}, "initiator_iqn 'host1' is not an iSCSI name"),
    ({'port': 0}, 'port 0 must be a TCP port, 1-65535'),
    ({'port': 70000}, 'port 70000 must be a TCP port'),
    ({'host': 'target 1'}, "host 'target 1' must be the iSCSI target's address"),
])
def test_iscsi_host_port_and_names(change, shown):
    assert shown in only_error([dict(ISCSI, **change)])


@pytest.mark.parametrize('iqn', ['iqn.2026-01.org.example', 'iqn.2003-01.org.linux-iscsi.hv01:sn.1234',
                                 'eui.02004567A425678D', 'naa.52004567BA64678D'])
def test_iscsi_names_rfc_3720_allows(iqn):
    assert pool_errors(params([dict(ISCSI, iqn=iqn, initiator_iqn='iqn.1993-08.org.debian:01:abc')])) == []


@pytest.mark.parametrize('change, shown', [
    ({'monitors': []}, 'an rbd pool needs monitors'),
    ({'monitors': ['mon1:99999', 'mon 2']}, "monitors 'mon1:99999', 'mon 2' are not HOST, HOST:PORT"),
    ({'rbd_pool': 'rbd/x'}, "rbd_pool 'rbd/x' must be a Ceph name"),
    ({'user': 'client.libvirt'}, "user 'client.libvirt': give the cephx user without its client. prefix"),
])
def test_rbd_monitors_pool_and_user(change, shown):
    assert shown in only_error([dict(RBD, **change)])


@pytest.mark.parametrize('key', ['', 'not a key', KEY[:-4], KEY + 'AAAA', None])
def test_a_bad_cephx_key_is_refused_without_being_shown(key):
    message = only_error([dict(RBD, secret_key=key)])
    assert message.startswith("kvm_host_storage_pools[0] entry 'ceph': secret_key is not a cephx key")
    if key:
        assert key not in message


def test_no_message_ever_shows_the_key():
    # Every other field of the entry wrong at once: the key still appears nowhere.
    bad = dict(RBD, monitors=['a b'], rbd_pool='x/y', user='client.u', devices=['/dev/vdb'])
    errors = pool_errors(params([bad, dict(bad)]))
    assert errors and not [message for message in errors if KEY in message]


def test_duplicate_names_directories_devices_and_targets():
    pools = [DIR, dict(DIR, name='images'), LOGICAL, dict(LOGICAL, name='more', vg_name='more'),
             ISCSI, dict(ISCSI, name='san2'), NETFS, dict(NETFS, name='shared2', path='/srv/shared2')]
    assert pool_errors(params(pools)) == [
        'kvm_host_storage_pools has duplicate names or paths: /var/lib/libvirt/images',
        'kvm_host_storage_pools: pools shared, shared2 share the NFS export nfs1.example.org:/srv/nfs/images; give '
        'each pool its own.',
        'kvm_host_storage_pools: pools guests, more share the device /dev/vdb; give each pool '
        'its own.',
        'kvm_host_storage_pools: pools san, san2 share the iSCSI target 192.0.2.30 '
        'iqn.2026-01.org.example:storage.lun1; give each pool its own.']


def test_a_pool_libvirt_has_under_another_type_is_refused():
    now = {'guests': {'state': 'active', 'autostart': 'yes', 'path': '/srv/guests', 'type': 'dir'}}
    assert only_error([LOGICAL], pools_now=now) == (
        "kvm_host_storage_pools[0] entry 'guests': libvirt already has a pool guests of type dir, not logical. The "
        "role does not redefine a pool: give its type, or another name.")


def test_a_netfs_mount_point_is_held_to_the_directory_rules_of_libvirts_pools():
    now = {'default': {'state': 'active', 'autostart': 'yes', 'path': '/var/lib/libvirt/images', 'type': 'dir'}}
    message = only_error([dict(NETFS, path='/var/lib/libvirt/images')], pools_now=now)
    assert "/var/lib/libvirt/images is already the directory of libvirt's pool default" in message


ABSENT = {'name': 'old', 'state': 'absent'}
NOW_OLD = {'old': {'state': 'active', 'autostart': 'yes', 'path': '/srv/old', 'type': 'dir'}}


def test_an_absent_pool_needs_only_its_name_and_passes_when_empty_or_gone():
    assert pool_errors(params([ABSENT])) == []
    assert pool_errors(params([ABSENT], pools_now=NOW_OLD, pools_info={'old': {'volume_count': 0}})) == []


def test_an_absent_pool_holding_volumes_is_refused():
    message = only_error([ABSENT], pools_now=NOW_OLD, pools_info={'old': {'volume_count': 2}})
    assert message == ("kvm_host_storage_pools[0] entry 'old': state is absent, but libvirt lists 2 volume(s) in it. "
                       "The role removes only an empty pool: move or delete its volumes first (virsh vol-list old), "
                       "or keep the pool.")


def test_an_absent_pool_that_is_inactive_is_refused_as_unknown():
    message = only_error([ABSENT], pools_now=NOW_OLD, pools_info={'old': {'volume_count': -1}})
    assert 'the pool is inactive, so libvirt cannot list its volumes' in message


def test_an_absent_pool_is_not_held_to_libvirts_path():
    # Declared absent under a path it no longer has: no collision, it goes.
    assert pool_errors(params([dict(ABSENT, path='/srv/elsewhere')], pools_now=NOW_OLD,
                              pools_info={'old': {'volume_count': 0}})) == []


# ---------------------------------------------------------------- XML

def parsed(pool):
    return ElementTree.fromstring(pool_xml(pool))


def test_dir_xml_keeps_the_directory_root_owned_with_its_mode():
    root = parsed(dict(DIR, mode='0750'))
    assert root.get('type') == 'dir' and root.findtext('name') == 'default'
    assert root.findtext('target/path') == '/var/lib/libvirt/images'
    assert [root.findtext('target/permissions/' + key) for key in ('mode', 'owner', 'group')] == ['0750', '0', '0']
    assert parsed(DIR).findtext('target/permissions/mode') == '0711'


def test_logical_xml_names_devices_and_volume_group():
    root = parsed(dict(LOGICAL, devices=['/dev/vdb', '/dev/vdc'], vg_name='vg_guests'))
    assert root.get('type') == 'logical'
    assert [d.get('path') for d in root.findall('source/device')] == ['/dev/vdb', '/dev/vdc']
    assert root.findtext('source/name') == 'vg_guests'
    assert root.find('source/format').get('type') == 'lvm2'
    assert root.findtext('target/path') == '/dev/vg_guests'
    # Without vg_name, the pool's name.
    assert parsed(LOGICAL).findtext('source/name') == 'guests'


def test_netfs_xml_mounts_the_export_without_setting_its_owner():
    root = parsed(NETFS)
    assert root.get('type') == 'netfs'
    assert root.find('source/host').get('name') == 'nfs1.example.org'
    assert root.find('source/dir').get('path') == '/srv/nfs/images'
    assert root.find('source/format').get('type') == 'nfs'
    assert root.findtext('target/path') == '/var/lib/libvirt/shared'
    assert root.find('target/permissions') is None


def test_iscsi_xml_names_target_port_and_initiator():
    root = parsed(dict(ISCSI, initiator_iqn='iqn.1993-08.org.debian:01:abc'))
    assert root.get('type') == 'iscsi'
    assert root.find('source/host').attrib == {'name': '192.0.2.30', 'port': '3260'}
    assert root.find('source/device').get('path') == 'iqn.2026-01.org.example:storage.lun1'
    assert root.find('source/initiator/iqn').get('name') == 'iqn.1993-08.org.debian:01:abc'
    assert root.findtext('target/path') == '/dev/disk/by-path'
    plain = parsed(dict(ISCSI, port=None))
    assert plain.find('source/host').attrib == {'name': '192.0.2.30'} and plain.find('source/initiator') is None


def test_rbd_xml_names_its_secret_by_uuid_and_never_holds_the_key():
    text = pool_xml(RBD)
    assert KEY not in text
    root = ElementTree.fromstring(text)
    assert root.get('type') == 'rbd' and root.findtext('source/name') == 'rbd'
    assert [h.attrib for h in root.findall('source/host')] == [
        {'name': '192.0.2.41'}, {'name': '192.0.2.42', 'port': '6789'}, {'name': '2001:db8::43', 'port': '3300'}]
    auth = root.find('source/auth')
    assert auth.attrib == {'type': 'ceph', 'username': 'libvirt'}
    assert auth.find('secret').attrib == {'uuid': secret_uuid(RBD)}
    assert root.find('target') is None


def test_rbd_secret_is_private_persistent_and_holds_no_value():
    text = secret_xml(RBD)
    assert KEY not in text
    root = ElementTree.fromstring(text)
    assert root.attrib == {'ephemeral': 'no', 'private': 'yes'}
    assert root.findtext('uuid') == secret_uuid(RBD)
    assert root.find('usage').get('type') == 'ceph'
    assert root.findtext('usage/name') == 'client.libvirt kvmcloud pool ceph'
    assert root.find('value') is None


def test_secret_uuid_is_stable_and_per_pool():
    assert secret_uuid(RBD) == secret_uuid(dict(RBD, secret_key='other'))
    assert secret_uuid(RBD) != secret_uuid(dict(RBD, name='ceph2'))


def test_names_are_escaped_in_xml():
    # The preflight refuses such names; the XML stays well-formed all the same.
    root = parsed({'name': 'a<b&c', 'path': '/srv/a'})
    assert root.findtext('name') == 'a<b&c'


@pytest.mark.skipif(shutil.which('virt-xml-validate') is None, reason="libvirt's schemas are not installed here")
@pytest.mark.parametrize('pool', EVERY_TYPE + [dict(ISCSI, initiator_iqn='iqn.1993-08.org.debian:01:abc')],
                         ids=['dir', 'logical', 'netfs', 'iscsi', 'rbd', 'iscsi-initiator'])
def test_every_pool_xml_passes_libvirts_schema(pool, tmp_path):
    target = tmp_path / 'pool.xml'
    target.write_text(pool_xml(pool))
    result = subprocess.run(['virt-xml-validate', str(target), 'storagepool'], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which('virt-xml-validate') is None, reason="libvirt's schemas are not installed here")
def test_the_rbd_secret_passes_libvirts_schema(tmp_path):
    target = tmp_path / 'secret.xml'
    target.write_text(secret_xml(RBD))
    result = subprocess.run(['virt-xml-validate', str(target), 'secret'], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- plan

CONVERGED = {
    'default': {'state': 'active', 'autostart': 'yes'}, 'guests': {'state': 'active', 'autostart': 'yes'},
    'shared': {'state': 'active', 'autostart': 'yes'}, 'san': {'state': 'active', 'autostart': 'yes'},
    'ceph': {'state': 'active', 'autostart': 'yes'},
}
EMPTY_PLAN = {'define': [], 'secrets': [], 'build': [], 'start': [], 'autostart': [], 'undefine': []}


def test_a_converged_host_has_nothing_to_do():
    assert pool_plan(EVERY_TYPE + [ABSENT], CONVERGED, vgs=None) == EMPTY_PLAN


def test_a_fresh_host_defines_builds_starts_and_marks_every_pool():
    plan = pool_plan(EVERY_TYPE, {}, vgs=['system'])
    assert [p['name'] for p in plan['define']] == ['default', 'guests', 'shared', 'san', 'ceph']
    assert plan['define'][1]['xml'] == pool_xml(LOGICAL)
    assert plan['build'] == [{'name': 'guests', 'mode': 'no_overwrite'}]
    assert plan['start'] == plan['autostart'] == ['default', 'guests', 'shared', 'san', 'ceph']
    assert plan['secrets'] == [{'name': 'ceph', 'index': 4, 'uuid': secret_uuid(RBD), 'xml': secret_xml(RBD)}]
    assert KEY not in repr(plan)


def test_build_only_for_a_missing_volume_group_and_overwrite_only_with_wipe():
    assert pool_plan([LOGICAL], {}, vgs=['guests'])['build'] == []
    assert pool_plan([LOGICAL], {}, vgs=None)['build'] == []
    assert pool_plan([dict(LOGICAL, build=False)], {}, vgs=[])['build'] == []
    assert pool_plan([dict(LOGICAL, wipe=True)], {}, vgs=[])['build'] == [{'name': 'guests', 'mode': 'overwrite'}]
    # An active pool has its volume group.
    assert pool_plan([LOGICAL], {'guests': {'state': 'active', 'autostart': 'no'}}, vgs=[])['build'] == []


def test_check_mode_acts_only_on_pools_libvirt_has():
    now = {'default': {'state': 'inactive', 'autostart': 'no'}}
    plan = pool_plan([DIR, LOGICAL], now, vgs=[], check_mode=True)
    assert [p['name'] for p in plan['define']] == ['guests']
    assert plan['build'] == [] and plan['start'] == ['default'] and plan['autostart'] == ['default']


def test_absent_pools_libvirt_has_are_undefined():
    assert pool_plan([ABSENT, dict(ABSENT, name='never')], NOW_OLD)['undefine'] == ['old']


def test_directories_made_or_fixed_from_the_facts():
    ok = {'exists': True, 'isdir': True, 'owner': 'root', 'group': 'root', 'mode': '0711'}
    paths = {'/var/lib/libvirt/images': ok,
             # Mounted: the export's root, the server's owner and mode. Left alone.
             '/var/lib/libvirt/shared': dict(ok, owner='nobody', mode='0777')}
    assert pool_directories([DIR, NETFS, LOGICAL, ISCSI, RBD], paths) == []
    assert pool_directories([dict(DIR, mode='0750'), NETFS], {'/var/lib/libvirt/images': ok}) == [
        {'name': 'default', 'path': '/var/lib/libvirt/images', 'mode': '0750'},
        {'name': 'shared', 'path': '/var/lib/libvirt/shared', 'mode': '0711'}]
    assert pool_directories([DIR], {'/var/lib/libvirt/images': dict(ok, group='libvirt')})[0]['name'] == 'default'
    assert pool_directories([dict(DIR, state='absent')], {}) == []
