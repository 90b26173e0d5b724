# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dpkg_recover runs nothing on a healthy host, configures a left journal, and reinstalls what
dpkg stopped unpacking before configuring again."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
from unittest import mock

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.modules import dpkg_recover
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import build_tree, run_module_main

INSTALLED = 'Package: qemu-utils\nStatus: install ok installed\nVersion: 1:10.0\n'
REINSTREQ = 'Package: augeas-tools\nStatus: install reinstreq half-installed\nVersion: 1.14\n'
BINS = {'dpkg': '/usr/bin/dpkg', 'apt-get': '/usr/bin/apt-get'}


def commands_of(host):
    """run_command's stand-in, as AnsibleModule calls it (the module first)."""
    def run_command(module, argv, **kwargs):
        return host.run_command(module, argv, **kwargs)
    return run_command


class Host:
    """A dpkg database under tmp_path, and the commands a run made. An answer may be a function
    of the host, to change the database as the real command would."""

    def __init__(self, root, status, journal=(), answers=None):
        self.root = root
        build_tree(root, {'var/lib/dpkg/status': status, 'var/lib/dpkg/updates': None})
        for name in journal:
            build_tree(root, {'var/lib/dpkg/updates/' + name: ''})
        self.answers = answers or {}
        self.calls = []

    def write_status(self, text):
        with open(os.path.join(str(self.root), 'var/lib/dpkg/status'), 'w') as handle:
            handle.write(text)

    def run_command(self, module, argv, **kwargs):
        assert kwargs['environ_update']['DEBIAN_FRONTEND'] == 'noninteractive'
        self.calls.append(tuple(argv))
        answer = self.answers.get(tuple(argv), (0, '', ''))
        return answer(self) if callable(answer) else answer


def run(host, check_mode=False, diff=False):
    with mock.patch.object(dpkg_recover, 'ROOT', str(host.root)):
        return run_module_main(
            dpkg_recover.main, dict(_ansible_check_mode=check_mode, _ansible_diff=diff),
            run_command=commands_of(host),
            get_bin_path=lambda module, name, required=False, opt_dirs=None: BINS[name])


def test_healthy_database_runs_nothing(tmp_path):
    host = Host(tmp_path, INSTALLED)
    result, failed = run(host)
    assert not failed and not result['changed']
    assert host.calls == []


def test_left_journal_is_configured_once(tmp_path):
    host = Host(tmp_path, INSTALLED, journal=['0001'])
    result, failed = run(host)
    assert not failed and result['changed']
    assert (result['journal_entries'], result['reinstalled']) == (1, [])
    assert host.calls == [('/usr/bin/dpkg', '--configure', '-a')]


def test_package_dpkg_stopped_unpacking_is_reinstalled_then_configured(tmp_path):
    host = Host(tmp_path, INSTALLED + '\n' + REINSTREQ, answers={
        # dpkg refuses the package it stopped unpacking; apt's reinstall puts it right.
        ('/usr/bin/dpkg', '--configure', '-a'): (1, '', 'augeas-tools is in a very bad inconsistent state'),
        ('/usr/bin/apt-get', 'install', '-y', '-qq', '--reinstall', '--no-install-recommends', 'augeas-tools'):
            lambda host: host.write_status(INSTALLED) or (0, '', ''),
    })
    # The last dpkg pass finds nothing to refuse any more.
    first = host.answers.pop(('/usr/bin/dpkg', '--configure', '-a'))
    passes = iter([first, (0, '', '')])
    host.answers[('/usr/bin/dpkg', '--configure', '-a')] = lambda host: next(passes)
    result, failed = run(host)
    assert not failed and result['changed']
    assert result['reinstalled'] == ['augeas-tools']
    assert host.calls == [
        ('/usr/bin/dpkg', '--configure', '-a'),
        ('/usr/bin/apt-get', 'update', '-qq'),
        ('/usr/bin/apt-get', 'install', '-y', '-qq', '--reinstall', '--no-install-recommends', 'augeas-tools'),
        ('/usr/bin/dpkg', '--configure', '-a'),
    ]


def test_unfinished_configure_fails_with_what_dpkg_said(tmp_path):
    host = Host(tmp_path, INSTALLED, journal=['0001'], answers={
        ('/usr/bin/dpkg', '--configure', '-a'): (1, '', 'dpkg: error processing package libvirt-daemon'),
    })
    result, failed = run(host)
    assert failed
    assert 'dpkg --configure -a failed (exit code 1)' in result['msg']
    assert 'libvirt-daemon' in result['msg']


def test_failed_reinstall_stops_before_configuring_again(tmp_path):
    host = Host(tmp_path, REINSTREQ, answers={
        ('/usr/bin/apt-get', 'install', '-y', '-qq', '--reinstall', '--no-install-recommends', 'augeas-tools'):
            (100, '', 'E: Unable to locate package augeas-tools'),
    })
    result, failed = run(host)
    assert failed and 'Unable to locate package' in result['msg']
    assert host.calls[-1][:2] == ('/usr/bin/apt-get', 'install')


@pytest.mark.parametrize('diff', [False, True])
def test_check_mode_names_the_packages_and_runs_nothing(tmp_path, diff):
    host = Host(tmp_path, INSTALLED + '\n' + REINSTREQ, journal=['0001', '0002'])
    result, failed = run(host, check_mode=True, diff=diff)
    assert not failed and result['changed']
    assert (result['journal_entries'], result['reinstalled']) == (2, ['augeas-tools'])
    assert host.calls == []
    if diff:
        assert 'marked reinstreq: augeas-tools' in result['diff']['before']
        assert result['diff']['after'] == 'journal entries: 0\nmarked reinstreq: none\n'
    else:
        assert 'diff' not in result


def test_host_without_dpkg_is_left_alone(tmp_path):
    host = Host(tmp_path, INSTALLED, journal=['0001'])
    with mock.patch.object(dpkg_recover, 'ROOT', str(tmp_path / 'elsewhere')):
        result, failed = run_module_main(
            dpkg_recover.main, {}, run_command=commands_of(host))
    assert not failed and not result['changed']
    assert host.calls == []
