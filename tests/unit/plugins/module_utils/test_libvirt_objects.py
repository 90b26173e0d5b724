# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_objects import (
    LIBVIRT_CONFIG_FILES, UNIT_PROPERTIES, WATCHED_UNITS, first_listen, libvirt_files, libvirt_objects, parse_list,
    path_states, unit_states)
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import FakeRunner, fixture_text, role_vars

POOLS = """ Name      State      Autostart
-----------------------------------
 default   active     yes
 tenants   inactive   no
 my pool   active     no
"""

NETS = """ Name         State    Autostart   Persistent
----------------------------------------------
 default      active   yes         yes
 tenant-iso   active   yes         yes
"""

VIRSH = ('/usr/bin/virsh', '--readonly', '--connect', 'qemu:///system')


def test_pool_table_parsed_by_name_with_state_and_autostart():
    assert parse_list(POOLS, ('state', 'autostart')) == {
        'default': {'state': 'active', 'autostart': 'yes'},
        'tenants': {'state': 'inactive', 'autostart': 'no'},
        'my pool': {'state': 'active', 'autostart': 'no'},
    }


def test_empty_table_has_no_rows():
    assert parse_list(" Name   State   Autostart\n-------------------\n\n", ('state', 'autostart')) == {}


def test_objects_read_through_the_read_only_connection(make_host):
    fs = make_host({'/usr/bin/virsh': ('mode', '', 0o755)})
    runner = FakeRunner({VIRSH + ('pool-list', '--all'): (0, POOLS, ''),
                         VIRSH + ('net-list', '--all'): (0, NETS, '')})
    objects = libvirt_objects(fs, runner)
    assert objects['read'] is True
    assert objects['pools']['tenants'] == {'state': 'inactive', 'autostart': 'no', 'path': None, 'type': None}
    assert objects['networks']['tenant-iso'] == {'state': 'active', 'autostart': 'yes', 'persistent': 'yes'}


def test_failed_listing_is_not_read_and_says_why(make_host):
    fs = make_host({'/usr/bin/virsh': ('mode', '', 0o755)})
    runner = FakeRunner({VIRSH + ('pool-list', '--all'): (1, '', 'failed to connect to the hypervisor'),
                         VIRSH + ('net-list', '--all'): (0, NETS, '')})
    objects = libvirt_objects(fs, runner)
    assert objects['read'] is False and objects['pools'] == {} and objects['networks'] == {}
    assert 'failed to connect' in objects['note']


def test_no_virsh_no_read(make_host):
    objects = libvirt_objects(make_host({}), FakeRunner())
    assert objects == {'read': False, 'note': 'virsh not installed', 'pools': {}, 'networks': {}}


def test_unit_states_from_unit_files_without_systemd(make_host):
    fs = make_host({
        '/lib/systemd/system/libvirtd.socket': '',
        '/etc/systemd/system/sockets.target.wants/libvirtd.socket': ('symlink', '/lib/systemd/system/libvirtd.socket'),
        '/lib/systemd/system/libvirtd-tcp.socket': '',
        '/etc/systemd/system/libvirtd-tcp.socket': ('symlink', '/dev/null'),
        '/lib/systemd/system/libvirtd-tls.socket': '',
    })
    states = unit_states(fs, FakeRunner())
    # Whether it runs, since when and where it listens stay unknown.
    assert states['libvirtd.socket'] == {'file_state': 'enabled', 'active': None, 'since': None, 'listen': None}
    assert states['libvirtd-tcp.socket']['file_state'] == 'masked'
    assert states['libvirtd-tls.socket']['file_state'] == 'disabled'
    assert states['ksmtuned.service']['file_state'] == 'not-found'


SYSTEMCTL = '/usr/bin/systemctl'


def show_argv(units, timestamp=True):
    return ((SYSTEMCTL, 'show') + (('--timestamp=unix',) if timestamp else ())
            + ('--property=Id,' + ','.join(UNIT_PROPERTIES), '--') + tuple(units))


def test_unit_states_from_one_systemctl_call(make_host):
    fs = make_host({SYSTEMCTL: ('mode', '', 0o755)})
    # Recorded on Debian 13 with the monolithic layout converged: the modular units do not exist.
    runner = FakeRunner({show_argv(WATCHED_UNITS): (0, fixture_text('systemctl-show-libvirt-trixie.txt'), '')})
    states = unit_states(fs, runner)
    assert runner.calls == [show_argv(WATCHED_UNITS)]
    assert set(states) == set(WATCHED_UNITS)
    assert states['libvirtd.socket'] == {'file_state': 'enabled', 'active': 'active', 'since': 1796326592,
                                         'listen': '/run/libvirt/libvirt-sock'}
    # A service listens on nothing, even though systemd shows its socket's Listen beside it.
    assert states['libvirtd.service'] == {'file_state': 'enabled', 'active': 'active', 'since': 1796326615,
                                          'listen': None}
    assert states['libvirtd-tcp.socket'] == {'file_state': 'masked', 'active': 'inactive', 'since': None,
                                             'listen': None}
    # systemctl's empty UnitFileState for a unit it cannot find.
    assert states['virtqemud.socket'] == {'file_state': 'not-found', 'active': 'inactive', 'since': None,
                                          'listen': None}
    assert states['virtlogd.socket']['listen'] == '/run/libvirt/virtlogd-sock'


def test_first_of_several_listen_addresses_without_its_type(make_host):
    fs = make_host({SYSTEMCTL: ('mode', '', 0o755)})
    units = ('virtproxyd-tcp.socket', 'virtqemud.socket')
    shown = ("Listen=[::]:16509 (Stream)\nId=virtproxyd-tcp.socket\nActiveState=active\n"
             "UnitFileState=enabled\nActiveEnterTimestamp=@1700000000\n\n"
             "Listen=/run/libvirt/virtqemud-sock (Stream)\nListen=/run/libvirt/other sock (Stream)\n"
             "Id=virtqemud.socket\nActiveState=active\nUnitFileState=enabled\nActiveEnterTimestamp=@1700000001\n")
    states = unit_states(fs, FakeRunner({show_argv(units): (0, shown, '')}), units)
    assert states['virtproxyd-tcp.socket']['listen'] == '[::]:16509'
    assert states['virtqemud.socket']['listen'] == '/run/libvirt/virtqemud-sock'
    assert first_listen('/run/with space/sock (Stream)') == '/run/with space/sock'
    assert first_listen('') is None


def test_systemd_before_248_is_asked_again_without_unix_timestamps(make_host):
    fs = make_host({SYSTEMCTL: ('mode', '', 0o755)})
    units = ('libvirtd.service',)
    shown = ("Id=libvirtd.service\nActiveState=active\nUnitFileState=enabled\n"
             "ActiveEnterTimestamp=Wed 2025-12-03 10:00:00 UTC\n")
    runner = FakeRunner({show_argv(units): (1, '', "systemctl: unrecognized option '--timestamp=unix'"),
                         show_argv(units, timestamp=False): (0, shown, '')})
    states = unit_states(fs, runner, units)
    assert runner.calls == [show_argv(units), show_argv(units, timestamp=False)]
    # Enablement and state as before; when it started stays unknown.
    assert states['libvirtd.service'] == {'file_state': 'enabled', 'active': 'active', 'since': None, 'listen': None}


def test_watched_units_cover_every_unit_of_both_daemon_layouts():
    layouts = role_vars('kvm_host')['__kvm_host_layouts']
    for name, layout in layouts.items():
        units = layout['services'] + layout['sockets'] + layout['disabled_units'] + list(layout['socket_modes'])
        assert set(units) <= set(WATCHED_UNITS), name
        # The daemon's config is among the files whose times the facts give.
        assert layout['daemon_conf'] in LIBVIRT_CONFIG_FILES, name


def socket_units(**listen):
    return dict((unit, {'file_state': 'enabled', 'active': 'active', 'since': 1, 'listen': path})
                for unit, path in listen.items())


def test_libvirt_files_are_the_config_files_and_the_unix_sockets_listening(make_host):
    fs = make_host({'/etc/libvirt/qemu.conf': ('mode', 'user = "libvirt-qemu"\n', 0o600),
                    '/etc/libvirt/libvirtd.conf': ('mode', '', 0o644),
                    '/run/libvirt/libvirt-sock': ('mode', '', 0o666),
                    '/etc/group': 'root:x:0:\nlibvirt:x:997:\n'})
    os.utime(fs.path('/etc/libvirt/qemu.conf'), (1700000500, 1700000500.7))
    units = dict(socket_units(**{'libvirtd.socket': '/run/libvirt/libvirt-sock',
                                 'libvirtd-ro.socket': '/run/libvirt/libvirt-sock-ro',
                                 'libvirtd-tcp.socket': '[::]:16509',
                                 'virtqemud.socket': None}),
                 **{'libvirtd.service': {'file_state': 'enabled', 'active': 'active', 'since': 1, 'listen': None}})
    files = libvirt_files(fs, units)
    assert sorted(files) == sorted(LIBVIRT_CONFIG_FILES + ('/run/libvirt/libvirt-sock', '/run/libvirt/libvirt-sock-ro'))
    qemu_conf = files['/etc/libvirt/qemu.conf']
    assert (qemu_conf['exists'], qemu_conf['mode'], qemu_conf['mtime']) == (True, '0600', 1700000500)
    assert files['/run/libvirt/libvirt-sock']['mode'] == '0666'
    assert files['/etc/libvirt/virtqemud.conf'] == {'exists': False, 'isdir': False, 'mode': None, 'owner': None,
                                                    'group': None, 'mtime': None, 'sha256': None}
    assert files['/run/libvirt/libvirt-sock-ro']['exists'] is False


def test_libvirt_files_name_the_group(make_host):
    fs = make_host({'/run/libvirt/libvirt-sock': ''},
                   owners={'/run/libvirt/libvirt-sock': {'group': 'libvirt', 'mode': '0660'}})
    files = libvirt_files(fs, socket_units(**{'libvirtd.socket': '/run/libvirt/libvirt-sock'}))
    assert (files['/run/libvirt/libvirt-sock']['group'], files['/run/libvirt/libvirt-sock']['mode']) == ('libvirt', '0660')


def test_path_states_say_whether_each_is_a_directory_and_its_owner(make_host):
    fs = make_host({'/var/lib/libvirt/images': None, '/srv/file': 'abc', '/srv/link': ('symlink', '../var/lib/libvirt/images')},
                   owners={'/var/lib/libvirt/images': {'owner': 'root', 'group': 'root', 'mode': '0711'},
                           '/srv/link': {'owner': 'root', 'group': 'root', 'mode': '0711'}})
    states = path_states(fs, ['/var/lib/libvirt/images', '/srv/file', '/srv/link', '/srv/missing'])
    images = dict(states['/var/lib/libvirt/images'])
    assert isinstance(images.pop('mtime'), int)
    assert images == {'exists': True, 'isdir': True, 'mode': '0711', 'owner': 'root', 'group': 'root', 'sha256': None}
    assert states['/srv/file']['isdir'] is False and states['/srv/file']['exists'] is True
    # A regular file's content, as a role compares it with what it would write.
    assert states['/srv/file']['sha256'] == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    # A link to a directory is the directory, as the file module sees it.
    assert states['/srv/link']['isdir'] is True
    assert states['/srv/missing'] == {'exists': False, 'isdir': False, 'mode': None, 'owner': None, 'group': None,
                                      'mtime': None, 'sha256': None}
    assert path_states(fs, []) == {}


def read_pools(make_host, definitions):
    """The pools libvirt_objects reads with POOLS listed and these files in /etc/libvirt/storage."""
    files = dict(('/etc/libvirt/storage/%s.xml' % name, text) for name, text in definitions.items())
    fs = make_host(dict(files, **{'/usr/bin/virsh': ('mode', '', 0o755)}))
    runner = FakeRunner({VIRSH + ('pool-list', '--all'): (0, POOLS, ''),
                         VIRSH + ('net-list', '--all'): (0, NETS, '')})
    return libvirt_objects(fs, runner)['pools']


def test_each_pool_has_the_path_and_type_of_its_persistent_definition(make_host):
    pools = read_pools(make_host, {
        'default': "<pool type='dir'><name>default</name><target><path>/var/lib/libvirt/images</path></target></pool>",
        'tenants': "<pool type='dir'><name>tenants</name><broken>"})
    assert (pools['default']['path'], pools['default']['type']) == ('/var/lib/libvirt/images', 'dir')
    # Unparsable, and no file at all (a transient pool): no path or type rather than a guess.
    assert pools['tenants']['path'] is None and pools['my pool']['path'] is None
    assert pools['tenants']['type'] is None and pools['my pool']['type'] is None


def test_a_pool_without_a_target_path_still_has_its_type(make_host):
    pools = read_pools(make_host, {'tenants': "<pool type='rbd'><name>tenants</name><source><name>rbd</name>"
                                              "</source></pool>"})
    assert (pools['tenants']['path'], pools['tenants']['type']) == (None, 'rbd')
