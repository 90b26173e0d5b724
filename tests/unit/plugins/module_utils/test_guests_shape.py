# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kvm_guests' input under one shape, and every input check with its exact message.

The expected messages are those the role's assertions rendered (ansible-core 2.19) before the
checks moved to plugins/module_utils/guests/shape.py; molecule/default/tests/test_bad_input.py
matches fragments of them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import shape
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import kvm_guests_settings, role_vars

ROLE_VARS = role_vars('kvm_guests')

CHECKSUM = 'sha256:' + '0' * 64
IMAGE = {'name': 'debian-13', 'src': '/srv/d13.qcow2', 'checksum': CHECKSUM}


settings = kvm_guests_settings


def guest(name='g1', **keys):
    entry = {'name': name, 'disks': [{'size_gib': 2, 'base_image': 'debian-13'}]}
    entry.update(keys)
    return entry


def errors(**overrides):
    overrides.setdefault('base_images', [IMAGE])
    return shape.build(settings(**overrides))['errors']


# Shape

def test_nothing_declared_is_valid_and_declares_nothing():
    shaped = shape.build(settings())
    assert shaped['errors'] == [] and shaped['declared'] is False and shaped['guests'] == []
    assert list(shaped['profiles']) == ['general', 'secure']


def test_a_fleet_host_without_guests_takes_part_and_works_out_the_baseline():
    shaped = shape.build(settings(cpu_mode='fleet'))
    assert shaped["declared"] is True and shaped["fleet_member"] is True and shaped["fleet_cpu_baseline"] is True
    assert shaped["errors"] == []
    # A named model needs no baseline.
    assert shape.build(settings(cpu_mode='fleet', fleet_cpu_model='EPYC'))['fleet_cpu_baseline'] is False
    assert shape.build(settings())['fleet_cpu_baseline'] is False


def test_a_guest_cpu_mode_wins_over_the_roles():
    shaped = shape.build(settings(guests=[guest('g1', cpu_mode='fleet'), guest('g2')], base_images=[IMAGE]))
    assert [g['cpu_mode'] for g in shaped['guests']] == ['fleet', 'host-passthrough']
    assert shaped['fleet_cpu_baseline'] is True


def test_a_wrong_kvm_guests_cpu_mode_is_blamed_on_the_variable_not_on_the_guests_taking_it():
    assert errors(cpu_mode='host-copy', guests=[guest('g1'), guest('g2', cpu_mode='fleet')]) == [
        'kvm_guests_cpu_mode (host-copy) must be host-passthrough, host-model or fleet.']


def test_profiles_are_merged_over_defaults_and_the_builtin_ones():
    shaped = shape.build(settings(profiles={'fast': {'disk_io': 'threads', 'iothreads': 2},
                                            'secure': {'graphics': 'vnc'}, 'empty': None}))
    defaults = ROLE_VARS['__kvm_guests_profile_defaults']
    assert list(shaped['profiles']) == ['general', 'secure', 'fast', 'empty']
    assert shaped['profiles']['general'] == defaults
    assert shaped['profiles']['secure'] == dict(defaults, tpm=True, memballoon=False, graphics='vnc')
    assert shaped['profiles']['fast'] == dict(defaults, disk_io='threads', iothreads=2)
    assert shaped['profiles']['empty'] == defaults
    # Keys keep the order of the defaults, so "Got {...}" in a message reads the same every time.
    assert list(shaped['profiles']['fast']) == list(defaults)


def test_images_get_their_kind_checksum_parts_and_file():
    shaped = shape.build(settings(base_images=[
        {'name': 'debian-13', 'src': '/srv/d13.qcow2', 'checksum': 'sha256:ABCDEF' + 'a' * 58},
        {'name': 'raw1', 'format': 'raw', 'url': 'https://example.org/raw1.img', 'checksum': CHECKSUM},
        {'name': 'onhost', 'path': '/srv/x.qcow2', 'checksum': CHECKSUM, 'format': ''}]))
    first, raw, onhost = shaped['images']
    assert first == {'name': 'debian-13', 'format': 'qcow2', 'checksum': 'sha256:ABCDEF' + 'a' * 58,
                     'algorithm': 'sha256', 'digest': 'abcdef' + 'a' * 58, 'kind': 'src', 'kinds': ['src'],
                     'source': '/srv/d13.qcow2', 'dest': '/var/lib/libvirt/images/base/debian-13.qcow2'}
    assert raw['dest'] == '/var/lib/libvirt/images/base/raw1.raw' and raw['kind'] == 'url'
    assert onhost['format'] == 'qcow2' and onhost['kind'] == 'path'


def test_guests_get_every_default_filled_in():
    shaped = shape.build(settings(
        base_images=[IMAGE],
        guests=[{'name': 'web1', 'profile': 'secure', 'vcpus': 2, 'memory_mib': 2048,
                 'disks': [{'size_gib': 20, 'base_image': 'debian-13'}, {'size_gib': 5, 'format': 'raw'}],
                 'nics': [{'network': 'br-guest'}, {'network': 'br-open', 'nwfilter': '', 'mac': '52:54:00:AA:BB:CC',
                                                    'portgroup': 'pg1'}, {'network': 'br-guest', 'nwfilter': None}],
                 'cloud_init': {'user_data': {}}},
                {'name': 'db1', 'vcpus': None, 'state': 'shutoff', 'autostart': True,
                 'disks': [{'size_gib': 4, 'base_image': 'debian-13'}], 'cloud_init': {}},
                {'name': 'old', 'state': 'undefined', 'remove_disks': True},
                {'name': 'plain', 'profile': '', 'state': '', 'disks': [{'size_gib': 4, 'base_image': 'debian-13'}],
                 'autostart': False}]))
    web1, db1, old, plain = shaped['guests']
    assert web1 == {
        'name': 'web1', 'profile': 'secure', 'vcpus': 2, 'cpu_mode': 'host-passthrough', 'memory_mib': 2048,
        'disks': [{'index': 0, 'size_gib': 20, 'format': 'qcow2', 'base_image': 'debian-13',
                   'base_path': '/var/lib/libvirt/images/base/debian-13.qcow2', 'base_format': 'qcow2',
                   'pool': '', 'lun': None, 'pool_type': '', 'volume': '', 'kind': 'file', 'creatable': True,
                   'overlay': True, 'path': '/var/lib/libvirt/images/guests/web1/disk0.qcow2'},
                  {'index': 1, 'size_gib': 5, 'format': 'raw', 'base_image': '', 'base_path': '', 'base_format': '',
                   'pool': '', 'lun': None, 'pool_type': '', 'volume': '', 'kind': 'file', 'creatable': True,
                   'overlay': False, 'path': '/var/lib/libvirt/images/guests/web1/disk1.raw'}],
        'nics': [{'network': 'br-guest', 'portgroup': '', 'mac': '', 'nwfilter': 'clean-traffic'},
                 {'network': 'br-open', 'portgroup': 'pg1', 'mac': '52:54:00:aa:bb:cc', 'nwfilter': ''},
                 {'network': 'br-guest', 'portgroup': '', 'mac': '', 'nwfilter': 'clean-traffic'}],
        'cloud_init': {'user_data': {}}, 'state': 'running', 'autostart': True, 'remove_disks': False,
        'dir': '/var/lib/libvirt/images/guests/web1', 'seed_path': '/var/lib/libvirt/images/guests/web1/seed.iso'}
    # Only a missing (or null) size takes the default.
    assert (db1['vcpus'], db1['memory_mib'], db1['autostart'], db1['seed_path']) == (1, 1024, True, '')
    assert (old['state'], old['autostart'], old['remove_disks'], old['disks']) == ('undefined', False, True, [])
    assert (plain['profile'], plain['state'], plain['autostart']) == ('general', 'running', False)
    assert [g['name'] for g in shaped['wanted']] == ['web1', 'db1', 'plain']
    assert [g['name'] for g in shaped['unwanted']] == ['old']
    assert shaped['declared'] is True and shaped['tpm'] is True and shaped['errors'] == []


def test_tpm_packages_only_for_a_guest_that_stays_defined():
    shaped = shape.build(settings(base_images=[IMAGE], guests=[guest('s1', profile='secure', state='undefined'),
                                                               guest('g2')]))
    assert shaped['tpm'] is False


def test_restricted_networks_follow_kvm_network():
    assert shape.restricted_networks(settings(
        network_bridges=[{'name': 'br-guest'}, {'name': 'br-open', 'restricted': False},
                         {'name': 'br-x', 'libvirt_network': False}],
        network_libvirt_networks=[{'name': 'net-r'}, {'name': 'net-o', 'restricted': False}])) == ['br-guest', 'net-r']


# Input checks: one message per rule, worded exactly as the role worded it.

PATH_RULE = "must be an absolute path without quotes, '<', '>', '&', control characters or a trailing '/'."
DISTINCT = ('kvm_guests_base_image_dir, kvm_guests_storage_dir, kvm_guests_definition_dir, kvm_guests_console_log_dir'
            ' must be four different directories (got %s).')


@pytest.mark.parametrize('overrides, messages', [
    ({'base_image_dir': 'images/base'}, ['kvm_guests_base_image_dir (images/base) ' + PATH_RULE]),
    ({'storage_dir': '/var/lib/guests/'}, ['kvm_guests_storage_dir (/var/lib/guests/) ' + PATH_RULE]),
    ({'definition_dir': '/etc/kvm"x'}, ['kvm_guests_definition_dir (/etc/kvm"x) ' + PATH_RULE]),
    ({'storage_dir': '/var/lib/libvirt/images/base'},
     [DISTINCT % '/var/lib/libvirt/images/base, /var/lib/libvirt/images/base, /etc/kvmcloud/guests,'
                 ' /var/log/libvirt/qemu']),
    ({'emulated_cpu_model': '-qemu'}, ['kvm_guests_emulated_cpu_model (-qemu) must be a CPU model name such as qemu64.']),
    ({'cpu_mode': 'host-copy'}, ['kvm_guests_cpu_mode (host-copy) must be host-passthrough, host-model or fleet.']),
    ({'fleet_cpu_model': 'EPYC<'},
     ["kvm_guests_fleet_cpu_model (EPYC<) must be empty (the baseline of the play's hosts) or a CPU model name libvirt"
      " knows, such as Skylake-Server-IBRS (virsh cpu-models x86_64)."]),
    ({'nwfilter': 'bad filter'}, ['kvm_guests_nwfilter (bad filter) must be a filter name such as clean-traffic.']),
    ({'nwfilter_ip_learning': 'static'}, ['kvm_guests_nwfilter_ip_learning (static) must be any or dhcp.']),
    ({'shutdown_timeout_seconds': 5}, ['kvm_guests_shutdown_timeout_seconds (5) must be at least 10: a guest needs'
                                       ' time to shut down over ACPI.']),
    ({'emulated_tb_cache_mib': 16}, ['kvm_guests_emulated_tb_cache_mib (16) must be at least 32.']),
    # Python's $ matches before a trailing newline; the patterns end in \Z.
    ({'storage_dir': '/srv/guests\n'}, ['kvm_guests_storage_dir (/srv/guests\n) ' + PATH_RULE]),
    ({'storage_dir': '/srv/a\n/b'}, ['kvm_guests_storage_dir (/srv/a\n/b) ' + PATH_RULE]),
    ({'emulated_cpu_model': 'qemu64\n'},
     ['kvm_guests_emulated_cpu_model (qemu64\n) must be a CPU model name such as qemu64.']),
    ({'emulated_cpu_model': '-q', 'emulated_tb_cache_mib': 1},
     ['kvm_guests_emulated_cpu_model (-q) must be a CPU model name such as qemu64.',
      'kvm_guests_emulated_tb_cache_mib (1) must be at least 32.']),
], ids=['relative', 'trailing-slash', 'quote', 'not-distinct', 'cpu-model', 'cpu-mode', 'fleet-model', 'nwfilter', 'ip-learning', 'timeout',
        'tb-cache', 'dir-trailing-newline', 'dir-inner-newline', 'cpu-model-newline', 'one-message-per-rule'])
def test_directories_and_names_of_the_settings(overrides, messages):
    assert errors(**overrides) == messages


PLACES_TAIL = ('. The role removes guest directories under kvm_guests_storage_dir: give it and the base image'
               ' directory places of their own, such as /var/lib/libvirt/images/guests and'
               ' /var/lib/libvirt/images/base.')
SYSTEM = '/bin, /boot, /dev, /etc, /lib, /lib32, /lib64, /proc, /root, /run, /sbin, /sys, /usr'


@pytest.mark.parametrize('overrides, problems', [
    ({'storage_dir': '/etc'}, ['kvm_guests_storage_dir (/etc) is a top-level directory or inside ' + SYSTEM,
                               'kvm_guests_definition_dir (/etc/kvmcloud/guests) lies inside kvm_guests_storage_dir'
                               ' (/etc)']),
    ({'storage_dir': '/srv'}, ['kvm_guests_storage_dir (/srv) is a top-level directory or inside ' + SYSTEM]),
    ({'base_image_dir': '/usr/share/images'},
     ['kvm_guests_base_image_dir (/usr/share/images) is a top-level directory or inside ' + SYSTEM]),
    # A guest named "base" would take the base images along.
    ({'storage_dir': '/var/lib/libvirt/images'},
     ['kvm_guests_base_image_dir (/var/lib/libvirt/images/base) lies inside kvm_guests_storage_dir'
      ' (/var/lib/libvirt/images)']),
    ({'definition_dir': '/var/lib/libvirt/images/guests/defs'},
     ['kvm_guests_definition_dir (/var/lib/libvirt/images/guests/defs) lies inside kvm_guests_storage_dir'
      ' (/var/lib/libvirt/images/guests)']),
], ids=['etc', 'top-level', 'usr', 'base-inside-storage', 'definitions-inside-storage'])
def test_the_role_removes_only_from_places_of_its_own(overrides, problems):
    assert errors(**overrides) == ['; '.join(problems) + PLACES_TAIL]


def test_places_side_by_side_pass():
    assert errors(storage_dir='/srv/kvm/guests', base_image_dir='/srv/kvm/base') == []
    # A common prefix is not a parent.
    assert errors(storage_dir='/var/lib/libvirt/images/base2') == []


def test_no_filter_at_all_is_a_valid_setting_and_renders_empty():
    assert errors(nwfilter=None) == []
    assert errors(nwfilter=None, emulated_tb_cache_mib='x') == ['kvm_guests_emulated_tb_cache_mib (x) must be at least 32.']


@pytest.mark.parametrize('profile, problem', [
    ({'disk_bus': 'ide'}, 'disk_bus (ide) must be one of virtio/scsi'),
    ({'disk_io': 'native', 'disk_cache': 'writethrough'},
     'disk_io native needs cache none or directsync (got disk_cache writethrough)'),
    ({'iothreads': 0}, 'iothreads 1-16, a whole number (got 0)'),
    # A string of digits is read as the number it is.
    ({'iothreads': '17'}, 'iothreads 1-16, a whole number (got 17)'),
    ({'iothreads': True}, 'iothreads 1-16, a whole number (got True)'),
    # Jinja's int reads this as 0, which passed ">= 0"; the template then copied the string.
    ({'memballoon_stats_period_seconds': "10'/><alias name='x"},
     "memballoon_stats_period_seconds 0-86400, a whole number (got 10'/><alias name='x)"),
    ({'memballoon_stats_period_seconds': '10\n'}, 'memballoon_stats_period_seconds 0-86400, a whole number (got 10\n)'),
    ({'memballoon_stats_period_seconds': -1}, 'memballoon_stats_period_seconds 0-86400, a whole number (got -1)'),
    ({'memballoon': 'yes'}, 'memballoon (yes) must be true or false'),
    ({'tpm': 1}, 'tpm (1) must be true or false'),
    ({'colour': 'blue'}, 'keys must be among disk_bus, disk_cache, disk_io, disk_discard, iothreads, memballoon,'
                         ' memballoon_stats_period_seconds, secure_boot, tpm, graphics, console_log (unknown: colour)'),
    ({'graphics': 'spice'}, 'graphics (spice) must be one of none/vnc'),
], ids=['bus', 'native-io-cached', 'no-iothread', 'too-many-iothreads', 'boolean-iothreads', 'xml-in-period',
        'newline-in-period', 'negative-period', 'string-boolean', 'number-boolean', 'unknown-key', 'graphics'])
def test_profiles(profile, problem):
    assert errors(profiles={'p1': profile}) == ['kvm_guests_profiles entry p1: %s.' % problem]


def test_a_profile_that_is_not_a_mapping():
    assert errors(profiles={'p1': 'fast'}) == ['kvm_guests_profiles entry p1: it must be a mapping of settings (got "fast").']


def test_numbers_given_as_digit_strings_become_numbers():
    built = shape.build(settings(base_images=[IMAGE], profiles={'p1': {'iothreads': '4',
                                                                       'memballoon_stats_period_seconds': '0'}}))
    assert built['errors'] == []
    assert (built['profiles']['p1']['iothreads'], built['profiles']['p1']['memballoon_stats_period_seconds']) == (4, 0)


SOURCES = ('give exactly one of src (an absolute path on the controller), path (an absolute path on the host) or'
           ' url (http, https or ftp), found %s')


@pytest.mark.parametrize('image, problem', [
    ({'name': 'bad name', 'src': '/x', 'checksum': CHECKSUM}, "the name may hold letters, digits, '.', '_' and '-'"),
    ({'name': 'two', 'src': '/x', 'url': 'http://x/y', 'checksum': CHECKSUM}, SOURCES % 'src, url'),
    ({'name': 'none', 'checksum': CHECKSUM}, SOURCES % 'none'),
    ({'name': 'fileurl', 'url': 'file:///x', 'checksum': CHECKSUM}, 'url (file:///x) must be http, https or ftp'),
    ({'name': 'relpath', 'path': 'x/y', 'checksum': CHECKSUM}, 'path (x/y) must be an absolute path'),
    ({'name': 'md5', 'src': '/x', 'checksum': 'md5:00'}, 'checksum must be sha256:, sha384: or sha512: with the hex digest'),
    ({'name': 'nosum', 'src': '/x'}, 'checksum must be sha256:, sha384: or sha512: with the hex digest'),
    ({'name': 'vmdk', 'src': '/x', 'format': 'vmdk', 'checksum': CHECKSUM}, 'format must be qcow2 or raw (got vmdk)'),
], ids=['name', 'two-sources', 'no-source', 'file-url', 'relative-path', 'md5', 'no-checksum', 'vmdk'])
def test_base_images(image, problem):
    assert errors(base_images=[image]) == ['kvm_guests_base_images[0] entry %s: %s.' % (image['name'], problem)]


def test_base_image_names_are_unique():
    duplicate = {'name': 'debian-13', 'src': '/y', 'checksum': CHECKSUM}
    assert errors(base_images=[IMAGE, duplicate]) == [
        'kvm_guests_base_images[%d] entry debian-13: the name is given more than once.' % index for index in (0, 1)]


def test_guest_names_are_unique_and_valid_and_the_default_profile_exists():
    assert errors(default_profile='nosuch', guests=[
        guest('g1'), guest('g1'), guest('-bad'), {'name': 'g_2', 'state': 'undefined'},
        {'name': '-bad', 'state': 'undefined'}])[:2] == [
        "kvm_guests_list: guest names must be unique and 1-63 letters, digits, '.' or '-', starting and ending with a"
        " letter or digit (they are also hostnames and directory names): check -bad, g_2, -bad, g1, -bad.",
        "kvm_guests_default_profile (nosuch) must be one of general, secure."]
    assert errors(guests=[guest('g1')] * 2)[0].startswith('kvm_guests_list: guest names must be unique')
    assert 'check g1\n.' in errors(guests=[guest('g1\n')])[0]
    assert errors(guests=[guest('g1')] * 2)[0].endswith('check g1.')


FIRST_DISK = ('the first disk must be an overlay of a base image (base_image), because the guest boots from it:'
              ' give it base_image, one of kvm_guests_base_images')


@pytest.mark.parametrize('entry, problems', [
    (guest(profile='fast'), ['profile (fast) must be one of general, secure: pick one, or declare it in'
                             ' kvm_guests_profiles']),
    (guest(memory_mib=-512), ['memory_mib 256-4194304 (got -512): a guest booting UEFI needs at least 256']),
    (guest(memory_mib=5000000), ['memory_mib 256-4194304 (got 5000000): a guest booting UEFI needs at least 256']),
    (guest(vcpus=300), ['vcpus 1-255 (got 300): give a whole number in that range']),
    (guest(cpu_mode='max'), ['cpu_mode (max) must be host-passthrough, host-model or fleet, or left out for'
                             ' kvm_guests_cpu_mode']),
    (guest(vcpus=-1), ['vcpus 1-255 (got -1): give a whole number in that range']),
    (guest(state='paused'), ['state (paused) must be running, shutoff or undefined']),
    (guest(autostart='yes'), ['autostart (yes) must be true or false']),
    ({'name': 'g1'}, [FIRST_DISK]),
    (guest(disks=[{'size_gib': 2}]), [FIRST_DISK]),
    (guest(disks=[{'size_gib': 2, 'base_image': 'debian-13'}] + [{'size_gib': 1}] * 20),
     ['it has 21 disks, at most 20 are allowed']),
    (guest(vcpus=0), ['vcpus 1-255 (got 0): give a whole number in that range']),
    (guest(memory_mib=0), ['memory_mib 256-4194304 (got 0): a guest booting UEFI needs at least 256']),
    (guest(vcpus=0, memory_mib=0, profile='fast'),
     ['profile (fast) must be one of general, secure: pick one, or declare it in kvm_guests_profiles',
      'vcpus 1-255 (got 0): give a whole number in that range',
      'memory_mib 256-4194304 (got 0): a guest booting UEFI needs at least 256']),
], ids=['profile', 'negative-memory', 'too-much-memory', 'too-many-vcpus', 'cpu-mode', 'negative-vcpus', 'state',
        'string-autostart', 'no-disk', 'first-disk-not-an-overlay', 'too-many-disks', 'zero-vcpus', 'zero-memory',
        'one-message-per-rule'])
def test_guests(entry, problems):
    assert errors(guests=[guest('ok'), entry]) == ['kvm_guests_list[1] entry g1: %s.' % problem for problem in problems]


def test_an_undefined_guest_needs_no_disk():
    assert errors(guests=[{'name': 'g1', 'state': 'undefined'}]) == []


@pytest.mark.parametrize('disk, name, problem', [
    ({'size_gib': 0}, 'disk1.qcow2', 'size_gib must be a whole number 1-65536 (got 0)'),
    ({'size_gib': -3}, 'disk1.qcow2', 'size_gib must be a whole number 1-65536 (got -3)'),
    ({'size_gib': '1.5'}, 'disk1.qcow2', 'size_gib must be a whole number 1-65536 (got 1.5)'),
    ({'size_gib': 70000}, 'disk1.qcow2', 'size_gib must be a whole number 1-65536 (got 70000)'),
    ({'size_gib': 2, 'format': 'vmdk'}, 'disk1.vmdk', 'format must be qcow2 or raw (got vmdk)'),
    ({'size_gib': 2, 'base_image': 'nosuch'}, 'disk1.qcow2',
     'base_image nosuch must name one of kvm_guests_base_images (debian-13)'),
    ({'size_gib': 2, 'base_image': 'debian-13', 'format': 'raw'}, 'disk1.raw',
     'an overlay of base_image debian-13 must be qcow2 (got raw): raw has no header to name its backing file'),
], ids=['zero', 'negative', 'fraction', 'too-large', 'vmdk', 'unknown-base', 'raw-overlay'])
def test_disks(disk, name, problem):
    entry = guest(disks=[{'size_gib': 2, 'base_image': 'debian-13'}, disk])
    assert errors(guests=[entry]) == ['kvm_guests_list[0] entry g1 disk %s: %s.' % (name, problem)]


# Disks on kvm_host's pools

POOLS = [{'name': 'default', 'path': '/var/lib/libvirt/images'},
         {'name': 'shared', 'type': 'netfs', 'host': 'nfs1', 'export': '/exports/vm', 'path': '/srv/shared/'},
         {'name': 'lvm', 'type': 'logical', 'devices': ['/dev/sdb'], 'vg_name': 'vg0'},
         {'name': 'san', 'type': 'iscsi', 'host': '10.0.0.5', 'iqn': 'iqn.2026-01.example:t1'},
         {'name': 'ceph', 'type': 'rbd'},
         {'name': 'gone', 'path': '/srv/gone', 'state': 'absent'}]


def test_a_disk_on_a_pool_lives_where_the_pool_keeps_its_volumes():
    entry = guest('web1', disks=[{'size_gib': 8, 'base_image': 'debian-13', 'pool': 'lvm'},
                                 {'size_gib': 2, 'pool': 'shared'}, {'size_gib': 3, 'pool': 'default', 'format': 'raw'},
                                 {'pool': 'san', 'lun': 2}, {'size_gib': 1}])
    shaped = shape.build(settings(guests=[entry], base_images=[IMAGE], storage_pools=POOLS))
    assert shaped['errors'] == []
    places = [(d['path'], d['kind'], d['format'], d['pool_type'], d['volume'], d['overlay'], d['creatable'])
              for d in shaped['guests'][0]['disks']]
    assert places == [
        # A copy of the base image on a new logical volume, raw by default.
        ('/dev/vg0/web1-disk0', 'block', 'raw', 'logical', 'web1-disk0', False, True),
        ('/srv/shared/web1-disk1.qcow2', 'file', 'qcow2', 'netfs', 'web1-disk1.qcow2', False, True),
        ('/var/lib/libvirt/images/web1-disk2.raw', 'file', 'raw', 'dir', 'web1-disk2.raw', False, True),
        # The target's LUN, by the link udev makes for it; the role never makes one.
        ('/dev/disk/by-path/ip-10.0.0.5:3260-iscsi-iqn.2026-01.example:t1-lun-2', 'block', 'raw', 'iscsi', '',
         False, False),
        ('/var/lib/libvirt/images/guests/web1/disk4.qcow2', 'file', 'qcow2', '', '', False, True)]
    # A boot disk on a file pool overlays its base image as in the guest's directory.
    entry = guest('web2', disks=[{'size_gib': 8, 'base_image': 'debian-13', 'pool': 'shared'}])
    disk = shape.build(settings(guests=[entry], base_images=[IMAGE], storage_pools=POOLS))['guests'][0]['disks'][0]
    assert (disk['path'], disk['overlay']) == ('/srv/shared/web2-disk0.qcow2', True)


@pytest.mark.parametrize('disk, problem', [
    ({'size_gib': 2, 'pool': 'nosuch'},
     'pool nosuch must name a pool of kvm_host_storage_pools declared present (have: ceph, default, lvm, san, shared)'),
    ({'size_gib': 2, 'pool': 'gone'},
     'pool gone must name a pool of kvm_host_storage_pools declared present (have: ceph, default, lvm, san, shared)'),
    ({'size_gib': 2, 'pool': 'ceph'},
     'pool ceph is of type rbd, which cannot hold guest disks yet: use a dir, netfs, logical or iscsi pool'),
    ({'size_gib': 2, 'pool': 'lvm', 'format': 'qcow2'},
     'format must be raw on logical pool lvm (got qcow2): the disk is a block device'),
    ({'pool': 'san'}, 'lun (None) must be the number of a LUN of the target of iSCSI pool san, such as 0'),
    ({'pool': 'san', 'lun': 'x'}, 'lun (x) must be the number of a LUN of the target of iSCSI pool san, such as 0'),
    ({'size_gib': 1, 'pool': 'san', 'lun': 0},
     'size_gib must be left out on iSCSI pool san (got 1): a LUN has the size its target gives it'),
    ({'pool': 'san', 'lun': 0, 'base_image': 'debian-13'},
     'base_image debian-13 cannot go onto a LUN of iSCSI pool san: the target owns the LUN, and kvm_guests writes'
     ' only onto volumes it makes. Put the boot disk on a logical or file pool'),
    ({'size_gib': 2, 'pool': 'shared', 'lun': 0},
     'lun (0) is for a disk on an iSCSI pool, and pool shared is of type netfs: leave lun out'),
    ({'size_gib': 2, 'lun': 0}, 'lun (0) is for a disk on an iSCSI pool: give pool too, or leave lun out'),
], ids=['unknown', 'absent', 'rbd', 'qcow2-on-lvm', 'no-lun', 'bad-lun', 'lun-size', 'base-on-lun', 'lun-on-netfs',
        'lun-without-pool'])
def test_a_disk_on_a_pool_is_checked_against_the_pool(disk, problem):
    entry = guest(disks=[{'size_gib': 2, 'base_image': 'debian-13'}, disk])
    found = errors(guests=[entry], storage_pools=POOLS)
    label = 'disks[1]' if disk.get('pool') else 'disk disk1.qcow2'
    assert found == ['kvm_guests_list[0] entry g1 %s: %s.' % (label, problem)]


def test_disks_without_any_base_image_declared_name_none():
    assert errors(base_images=[], guests=[guest()]) == [
        'kvm_guests_list[0] entry g1 disk disk0.qcow2: base_image debian-13 must name one of kvm_guests_base_images'
        ' (none).']


def test_disks_of_undefined_guests_are_not_checked():
    assert errors(guests=[{'name': 'g1', 'state': 'undefined', 'disks': [{'size_gib': 0}]}]) == []


RESTRICTED = ('nwfilter must not be "" on %s, a restricted network of kvm_network (restricted: br-guest, net-r): its'
              ' hook would refuse to start the guest; leave nwfilter out to get the role\'s')


@pytest.mark.parametrize('nic, problem', [
    ({'network': 'bad net'}, 'the network (bad net) must be the name of a libvirt network'),
    ({'network': ''}, 'the network () must be the name of a libvirt network'),
    ({'network': 'br-guest', 'portgroup': 'bad pg'}, 'portgroup (bad pg) must be a name'),
    ({'network': 'br-guest', 'mac': '01:54:00:12:34:56'},
     'mac (01:54:00:12:34:56) must be a unicast address such as 52:54:00:12:34:56'),
    ({'network': 'br-guest', 'mac': '52:54:00:12:34'}, 'mac (52:54:00:12:34) must be a unicast address such as'
     ' 52:54:00:12:34:56'),
    ({'network': 'br-guest', 'nwfilter': 'bad f'}, 'nwfilter (bad f) must be a filter name'),
    ({'network': 'br-guest', 'nwfilter': ''}, RESTRICTED % 'br-guest'),
    ({'network': 'net-r', 'nwfilter': ''}, RESTRICTED % 'net-r'),
], ids=['network-name', 'no-network', 'portgroup', 'multicast-mac', 'short-mac', 'nwfilter-name',
        'no-filter-on-restricted-bridge', 'no-filter-on-restricted-network'])
def test_nics(nic, problem):
    kvm_network = {'network_bridges': [{'name': 'br-guest'}, {'name': 'br-x', 'libvirt_network': False}],
                   'network_libvirt_networks': [{'name': 'net-r'}, {'name': 'net-o', 'restricted': False}]}
    assert errors(guests=[guest(nics=[{'network': 'net-o'}, nic])], **kvm_network) == [
        "kvm_guests_list[0] entry g1 nics[1] on '%s': %s." % (nic['network'], problem)]
    # Without the filter is fine where kvm_network does not restrict the network.
    assert errors(guests=[guest(nics=[{'network': 'net-o', 'nwfilter': ''}, {'network': 'br-x', 'nwfilter': ''}])],
                  **kvm_network) == []


def test_macs_given_by_hand_are_unique_case_insensitively():
    assert errors(guests=[
        guest('g1', nics=[{'network': 'n1', 'mac': '52:54:00:00:00:01'}, {'network': 'n1', 'mac': '52:54:00:00:00:AB'}]),
        guest('g2', nics=[{'network': 'n1', 'mac': '52:54:00:00:00:01'}, {'network': 'n1', 'mac': '52:54:00:00:00:ab'},
                          {'network': 'n1'}]),
        {'name': 'g3', 'state': 'undefined', 'nics': [{'network': 'n1', 'mac': '52:54:00:00:00:01'}]},
    ]) == ['kvm_guests_list gives these MAC addresses more than once: 52:54:00:00:00:01, 52:54:00:00:00:ab.']


CLOUD_INIT_MESSAGE = (
    'kvm_guests_list[0] entry g1: cloud_init takes user_data (a dict, written as #cloud-config, or text starting with'
    ' #cloud-config, #!, #include or Content-Type:), meta_data (a dict) and network_config (a dict, network config'
    ' version 2); got %s.')


@pytest.mark.parametrize('cloud_init, got', [
    ({'user_data': {}, 'vendor_data': {}}, 'keys user_data, vendor_data'),
    ({'user_data': 'hello'}, 'keys user_data'),
    ({'user_data': None}, 'keys user_data'),
    ({'user_data': ['a']}, 'keys user_data'),
    ({'meta_data': [1]}, 'keys meta_data'),
    ({'network_config': 'v2'}, 'keys network_config'),
    ('user_data: {}', 'a str'),
], ids=['unknown-key', 'text-without-header', 'null-user-data', 'list-user-data', 'list-meta-data',
        'text-network-config', 'not-a-dict'])
def test_cloud_init(cloud_init, got):
    assert errors(guests=[guest(cloud_init=cloud_init)]) == [CLOUD_INIT_MESSAGE % got]


@pytest.mark.parametrize('cloud_init', [
    {'user_data': '#cloud-config\n', 'meta_data': None, 'network_config': {}},
    {'user_data': 'Content-Type: multipart/mixed'},
    {'user_data': '#!/bin/sh\necho hi\n'},
    {'user_data': '#include https://example.org/x'},
    {'meta_data': {'instance-id': 'x'}, 'network_config': {'version': 2}},
])
def test_cloud_init_that_nocloud_takes(cloud_init):
    assert errors(guests=[guest(cloud_init=cloud_init)]) == []


def test_every_error_is_reported_at_once_in_the_order_of_the_checks():
    found = errors(emulated_tb_cache_mib=1, profiles={'p1': {'tpm': 'no'}},
                   guests=[guest(memory_mib=1, cloud_init={'user_data': 'x'})])
    assert [message.split(' ')[0] for message in found] == [
        'kvm_guests_emulated_tb_cache_mib', 'kvm_guests_profiles', 'kvm_guests_list[0]', 'kvm_guests_list[0]']
