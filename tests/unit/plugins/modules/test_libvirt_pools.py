# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""libvirt_pools: a whole storage pool plan in one call, in order, with secrets on stdin."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.kvmcloud.hypervisor.plugins.modules import libvirt_pools
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import run_module_main

VIRSH = '/usr/bin/virsh'
URI = ('--connect', 'qemu:///system')
SECRET = {'name': 'ceph', 'uuid': '5d1e2c7a-0000-4000-8000-000000000001', 'xml': '<secret/>', 'index': 1}
KEY = 'QVFCY2VwaGtleW5vdGZvcmxvZ3M='
PLAN = {'secrets': [SECRET], 'secret_values': ['', KEY],
        'define': [{'name': 'ceph', 'xml': '<pool type="rbd"/>'}, {'name': 'vg', 'xml': '<pool type="logical"/>'}],
        'build': [{'name': 'vg', 'mode': 'no_overwrite'}], 'start': ['ceph', 'vg'], 'autostart': ['ceph', 'vg'],
        'undefine': ['old', 'idle']}


def run_module(args, failing=None, check_mode=False, diff=False):
    """Run the module; returns (result, failed, [(argv, stdin)] of every command it ran)."""
    calls = []

    def run_command(module, argv, **kwargs):
        calls.append((tuple(argv), kwargs.get('data')))
        assert kwargs.get('environ_update', {}).get('LC_ALL') == 'C'
        if argv[3:] == ['pool-list', '--active', '--name']:
            return 0, 'default\nold\n\n', ''
        if failing and failing in argv:
            return 1, '', 'error: %s went wrong' % failing
        return 0, '', ''

    def get_bin_path(module, name, required=False, opt_dirs=None):
        return VIRSH

    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    result, failed = run_module_main(libvirt_pools.main, args, get_bin_path=get_bin_path, run_command=run_command)
    return result, failed, calls


def test_the_plan_runs_in_order_with_xml_and_key_on_stdin():
    result, failed, calls = run_module(PLAN)
    assert not failed and result['changed']
    assert calls == [
        ((VIRSH,) + URI + ('pool-list', '--active', '--name'), None),
        ((VIRSH,) + URI + ('secret-define', '--file', '/dev/stdin'), '<secret/>'),
        ((VIRSH,) + URI + ('secret-set-value', '--secret', SECRET['uuid'], '--file', '/dev/stdin'), KEY),
        ((VIRSH,) + URI + ('pool-define', '/dev/stdin'), '<pool type="rbd"/>'),
        ((VIRSH,) + URI + ('pool-define', '/dev/stdin'), '<pool type="logical"/>'),
        ((VIRSH,) + URI + ('pool-build', 'vg', '--no-overwrite'), None),
        ((VIRSH,) + URI + ('pool-start', 'ceph'), None),
        ((VIRSH,) + URI + ('pool-start', 'vg'), None),
        ((VIRSH,) + URI + ('pool-autostart', 'ceph'), None),
        ((VIRSH,) + URI + ('pool-autostart', 'vg'), None),
        # Only the running one is stopped first.
        ((VIRSH,) + URI + ('pool-destroy', 'old'), None),
        ((VIRSH,) + URI + ('pool-undefine', 'old'), None),
        ((VIRSH,) + URI + ('pool-undefine', 'idle'), None),
    ]
    assert result['done'][:3] == ['secret of ceph: defined', 'secret of ceph: value set', 'pool ceph: defined']
    assert KEY not in str(result)


def test_an_empty_plan_runs_nothing_and_changes_nothing():
    result, failed, calls = run_module({})
    assert not failed and not result['changed'] and calls == [] and result['done'] == []


def test_check_mode_reports_the_plan_and_runs_nothing():
    result, failed, calls = run_module(PLAN, check_mode=True, diff=True)
    assert not failed and result['changed'] and calls == []
    assert 'pool vg: built (no_overwrite)\n' in result['diff']['after'] and result['diff']['before'] == ''


def test_wipe_builds_with_overwrite():
    _result, _failed, calls = run_module({'build': [{'name': 'vg', 'mode': 'overwrite'}]})
    assert calls == [((VIRSH,) + URI + ('pool-build', 'vg', '--overwrite'), None)]


def test_a_failed_step_stops_the_plan_and_says_what_was_done():
    result, failed, calls = run_module(PLAN, failing='pool-start')
    assert failed and result['changed']
    assert result['msg'] == 'pool ceph: virsh pool-start failed: error: pool-start went wrong'
    assert result['done'][-1] == 'pool vg: built (no_overwrite)' and calls[-1][0][-2:] == ('pool-start', 'ceph')


def test_a_secret_without_its_value_fails_before_anything_runs():
    result, failed, calls = run_module({'secrets': [SECRET], 'secret_values': [KEY]})
    assert failed and calls == [] and 'secret_values[1]' in result['msg']
