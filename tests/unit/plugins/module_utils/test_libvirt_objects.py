# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_objects import (
    libvirt_objects, parse_list, unit_states)
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import FakeRunner

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
    assert objects['pools']['tenants'] == {'state': 'inactive', 'autostart': 'no'}
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
    assert states['libvirtd.socket'] == {'file_state': 'enabled', 'active': None}
    assert states['libvirtd-tcp.socket'] == {'file_state': 'masked', 'active': None}
    assert states['libvirtd-tls.socket']['file_state'] == 'disabled'
    assert states['ksmtuned.service']['file_state'] == 'not-found'


def test_unit_states_from_one_systemctl_call(make_host):
    fs = make_host({'/usr/bin/systemctl': ('mode', '', 0o755)})
    units = ('libvirtd.socket', 'libvirtd-tcp.socket', 'ksmtuned.service')
    shown = ("Id=libvirtd.socket\nActiveState=active\nUnitFileState=enabled\n\n"
             "Id=libvirtd-tcp.socket\nActiveState=inactive\nUnitFileState=masked\n\n"
             "Id=ksmtuned.service\nActiveState=inactive\nUnitFileState=\n")
    argv = ('/usr/bin/systemctl', 'show', '--property=Id,ActiveState,UnitFileState', '--') + units
    runner = FakeRunner({argv: (0, shown, '')})
    states = unit_states(fs, runner, units)
    assert runner.calls == [argv]
    assert states == {'libvirtd.socket': {'file_state': 'enabled', 'active': 'active'},
                      'libvirtd-tcp.socket': {'file_state': 'masked', 'active': 'inactive'},
                      'ksmtuned.service': {'file_state': 'not-found', 'active': 'inactive'}}
