# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
from unittest import mock

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_conf_edit import MARKER
from ansible_collections.kvmcloud.hypervisor.plugins.modules import libvirt_conf
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import fixture_text, run_module_main

DEBIAN = fixture_text('qemu.conf.debian12-default')
SETTINGS = {'user': 'libvirt-qemu', 'namespaces': ['mount'], 'seccomp_sandbox': 1}

# What augtool printed on a Debian 13 host for an unknown key on line 1129.
AUGEAS_ERROR = '''/augeas/files/etc/libvirt/.qemu.conf.x/error = "parse_failed"
/augeas/files/etc/libvirt/.qemu.conf.x/error/pos = "43109"
/augeas/files/etc/libvirt/.qemu.conf.x/error/line = "%d"
/augeas/files/etc/libvirt/.qemu.conf.x/error/char = "0"
/augeas/files/etc/libvirt/.qemu.conf.x/error/lens = "/usr/share/augeas/lenses/libvirtd_qemu.aug:200.13-.43:"
/augeas/files/etc/libvirt/.qemu.conf.x/error/message = "Iterated lens matched less than it should"
'''


def run_module(args, augtool='/usr/bin/augtool', augtool_answer=(0, '', '')):
    """Run the module; returns (result, failed, run_command mock)."""
    runner = mock.Mock(return_value=augtool_answer)
    result, failed = run_module_main(libvirt_conf.main, args, run_command=runner,
                                     get_bin_path=mock.Mock(return_value=augtool))
    return result, failed, runner


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / 'qemu.conf'
    path.write_text(DEBIAN)
    return path


def test_new_keys_are_appended_and_second_run_changes_nothing(conf):
    result, failed, runner = run_module({'path': str(conf), 'settings': SETTINGS})
    assert not failed
    assert result['changed'] is True
    assert result['changed_keys'] == ['namespaces', 'seccomp_sandbox', 'user']
    assert 'diff' not in result
    runner.assert_not_called()
    text = conf.read_text()
    assert text == DEBIAN + MARKER + '\nuser = "libvirt-qemu"\nnamespaces = [ "mount" ]\nseccomp_sandbox = 1\n'

    result, failed, runner = run_module({'path': str(conf), 'settings': SETTINGS, 'lens': 'Libvirtd_qemu.lns'})
    assert (failed, result['changed'], result['changed_keys']) == (False, False, [])
    # Nothing to write, so nothing to validate.
    runner.assert_not_called()
    assert conf.read_text() == text


def test_lens_validates_a_temp_file_beside_the_target_before_replacing_it(conf):
    result, failed, runner = run_module({'path': str(conf), 'settings': SETTINGS, 'lens': 'Libvirtd_qemu.lns'})
    assert not failed and result['changed']
    argv = runner.call_args[0][0]
    assert argv[:3] == ['/usr/bin/augtool', '--noautoload', '--root=/']
    assert argv[4] == 'print /augeas//error'
    lens, incl, candidate = argv[3].split(' ')
    assert (lens, incl) == ('--transform=Libvirtd_qemu.lns', 'incl')
    assert os.path.dirname(candidate) == str(conf.parent)
    assert not os.path.exists(candidate)
    assert sorted(os.listdir(str(conf.parent))) == ['qemu.conf']
    assert conf.read_text().endswith('seccomp_sandbox = 1\n')


def test_lens_error_fails_naming_the_line_and_leaves_the_file(conf):
    settings = dict(SETTINGS, no_such_key=1)
    bad_line = len(DEBIAN.splitlines()) + 5  # marker, the three keys, then no_such_key
    result, failed, runner = run_module({'path': str(conf), 'settings': settings, 'lens': 'Libvirtd_qemu.lns'},
                                        augtool_answer=(0, AUGEAS_ERROR % bad_line, ''))
    assert failed
    assert 'line %d: no_such_key = 1' % bad_line in result['msg']
    assert 'Iterated lens matched less than it should' in result['msg']
    assert conf.read_text() == DEBIAN
    assert sorted(os.listdir(str(conf.parent))) == ['qemu.conf']


def test_augtool_failing_without_a_line_is_reported_raw(conf):
    answer = (0, '/augeas/load/Nosuch/error = "Can not find lens Nosuch.lns"\n', '')
    result, failed, runner = run_module({'path': str(conf), 'settings': SETTINGS, 'lens': 'Nosuch.lns'},
                                        augtool_answer=answer)
    assert failed
    assert 'Can not find lens Nosuch.lns' in result['msg']
    assert conf.read_text() == DEBIAN


def test_missing_augtool_says_what_to_install(conf):
    result, failed, runner = run_module({'path': str(conf), 'settings': SETTINGS, 'lens': 'Libvirtd_qemu.lns'},
                                        augtool=None)
    assert failed
    assert 'augeas-tools' in result['msg'] and 'omit lens' in result['msg']
    assert conf.read_text() == DEBIAN
    assert sorted(os.listdir(str(conf.parent))) == ['qemu.conf']


def test_check_mode_reports_change_and_diff_without_writing(conf):
    args = {'path': str(conf), 'settings': SETTINGS, 'lens': 'Libvirtd_qemu.lns',
            '_ansible_check_mode': True, '_ansible_diff': True}
    result, failed, runner = run_module(args)
    assert not failed
    assert result['changed'] is True
    assert result['changed_keys'] == ['namespaces', 'seccomp_sandbox', 'user']
    text_diff = result['diff'][0]
    assert text_diff['before'] == DEBIAN
    assert text_diff['after'].endswith('seccomp_sandbox = 1\n')
    # The lens read a copy outside the config directory, which stays as it was.
    assert runner.call_count == 1 and os.path.dirname(runner.call_args[0][0][3].split(' incl ')[1]) != str(conf.parent)
    assert conf.read_text() == DEBIAN
    assert sorted(os.listdir(str(conf.parent))) == ['qemu.conf']


def test_check_mode_reports_what_the_lens_would_refuse(conf):
    args = {'path': str(conf), 'settings': {'max_files': 'plenty'}, 'lens': 'Libvirtd_qemu.lns', '_ansible_check_mode': True}
    result, failed, _runner = run_module(args, augtool_answer=(0, AUGEAS_ERROR % 1, ''))
    assert failed and 'libvirt would refuse the new content' in result['msg']
    assert conf.read_text() == DEBIAN


def test_check_mode_without_augtool_skips_the_lens(conf):
    args = {'path': str(conf), 'settings': SETTINGS, 'lens': 'Libvirtd_qemu.lns', '_ansible_check_mode': True}
    result, failed, runner = run_module(args, augtool=None)
    assert (failed, result['changed']) == (False, True)
    runner.assert_not_called()


def test_check_mode_on_a_missing_file_does_not_create_it(tmp_path):
    path = tmp_path / 'libvirtd.conf'
    result, failed, runner = run_module({'path': str(path), 'settings': {'listen_tls': 0},
                                         '_ansible_check_mode': True})
    assert (failed, result['changed']) == (False, True)
    assert not path.exists()


def test_in_place_change_and_removal_with_diff(tmp_path):
    path = tmp_path / 'qemu.conf'
    original = fixture_text('libvirt.conf.edit-cases')
    path.write_text(original)
    result, failed, runner = run_module({'path': str(path), '_ansible_diff': True,
                                         'settings': {'user': 'libvirt-qemu', 'group': 'kvm',
                                                      'seccomp_sandbox': None}})
    assert not failed
    assert result['changed_keys'] == ['seccomp_sandbox', 'user']
    text = path.read_text()
    assert 'user = "libvirt-qemu"   # set by hand\n' in text
    assert 'seccomp_sandbox' not in text and MARKER not in text
    assert result['diff'][0]['before'] == original
    assert result['diff'][0]['after'] == text


def test_mode_is_applied_and_counts_as_a_change(conf):
    os.chmod(str(conf), 0o644)
    result, failed, runner = run_module({'path': str(conf), 'settings': SETTINGS, 'mode': '0600'})
    assert not failed and result['changed']
    assert stat.S_IMODE(os.stat(str(conf)).st_mode) == 0o600
    # The content is right; only the mode differs.
    os.chmod(str(conf), 0o644)
    result, failed, runner = run_module({'path': str(conf), 'settings': SETTINGS, 'mode': '0600',
                                         '_ansible_diff': True})
    assert (result['changed'], result['changed_keys']) == (True, [])
    assert result['diff'][1]['after']['mode'] == '0600'
    assert stat.S_IMODE(os.stat(str(conf)).st_mode) == 0o600
    result, failed, runner = run_module({'path': str(conf), 'settings': SETTINGS, 'mode': '0600'})
    assert result['changed'] is False


def test_create_and_create_false(tmp_path):
    path = tmp_path / 'libvirtd.conf'
    result, failed, runner = run_module({'path': str(path), 'settings': {'listen_tls': 0}, 'create': False})
    assert failed and 'does not exist' in result['msg']
    assert not path.exists()
    # Removing keys from a missing file is already done.
    result, failed, runner = run_module({'path': str(path), 'settings': {'listen_tls': None}, 'create': False})
    assert (failed, result['changed']) == (False, False)
    assert not path.exists()
    result, failed, runner = run_module({'path': str(path), 'settings': {'listen_tls': 0}, 'mode': '0640'})
    assert (failed, result['changed']) == (False, True)
    assert path.read_text() == MARKER + '\nlisten_tls = 0\n'
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o640


def test_a_missing_directory_fails_the_run_but_check_mode_previews_a_new_file(tmp_path):
    path = tmp_path / 'libvirt' / 'qemu.conf'
    result, failed, runner = run_module({'path': str(path), 'settings': {'max_files': 4096}})
    assert failed and 'directory %s does not exist' % path.parent in result['msg']
    result, failed, runner = run_module({'path': str(path), 'settings': {'max_files': 4096}, 'lens': 'Libvirtd_qemu.lns',
                                         '_ansible_check_mode': True, '_ansible_diff': True})
    assert (failed, result['changed']) == (False, True)
    assert result['diff'][0]['before'] == '' and 'max_files = 4096' in result['diff'][0]['after']
    assert not path.parent.exists()


def test_backup_keeps_the_old_content(conf):
    result, failed, runner = run_module({'path': str(conf), 'settings': SETTINGS, 'backup': True})
    assert not failed
    with open(result['backup_file']) as handle:
        assert handle.read() == DEBIAN
    result, failed, runner = run_module({'path': str(conf), 'settings': SETTINGS, 'backup': True})
    assert 'backup_file' not in result


def test_unparseable_file_is_left_alone(tmp_path):
    path = tmp_path / 'qemu.conf'
    path.write_text('user = yes\n')
    result, failed, runner = run_module({'path': str(path), 'settings': {'user': 'root'}})
    assert failed and 'does not parse' in result['msg'] and 'line 1' in result['msg']
    assert path.read_text() == 'user = yes\n'


def test_unwritable_value_fails(conf):
    result, failed, runner = run_module({'path': str(conf), 'settings': {'user': 'a"b\'c'}})
    assert failed and 'both quote characters' in result['msg']
    assert conf.read_text() == DEBIAN


def test_files_edits_several_files_in_one_call(tmp_path):
    qemu, daemon = tmp_path / 'qemu.conf', tmp_path / 'libvirtd.conf'
    qemu.write_text(u'user = "libvirt-qemu"\n')
    daemon.write_text(u'# libvirtd\n')
    args = {'files': [{'path': str(qemu), 'settings': {'user': 'libvirt-qemu', 'seccomp_sandbox': 1},
                       'lens': 'Libvirtd_qemu.lns', 'mode': '0600'},
                      {'path': str(daemon), 'settings': {'listen_tcp': 0}, 'lens': 'Libvirtd.lns'}],
            '_ansible_diff': True}
    result, failed, _runner = run_module(args)
    assert not failed, result
    assert result['changed'] and result['changed_keys'] == ['listen_tcp', 'seccomp_sandbox']
    assert [(entry['path'], entry['changed']) for entry in result['files']] == [(str(qemu), True), (str(daemon), True)]
    assert 'seccomp_sandbox = 1' in qemu.read_text() and 'listen_tcp = 0' in daemon.read_text()
    assert oct(os.stat(str(qemu)).st_mode & 0o777) == '0o600'
    assert [diff['before_header'] for diff in result['diff']] == [str(qemu), '%s (file attributes)' % qemu, str(daemon)]
    again, failed, _runner = run_module(args)
    assert not failed and not again['changed']
    assert sorted(os.listdir(str(tmp_path))) == ['libvirtd.conf', 'qemu.conf']


def test_files_refused_by_a_lens_leave_every_file_as_it_was(tmp_path):
    qemu, daemon = tmp_path / 'qemu.conf', tmp_path / 'libvirtd.conf'
    qemu.write_text(u'# qemu\n')
    daemon.write_text(u'# libvirtd\n')
    args = {'files': [{'path': str(qemu), 'settings': {'seccomp_sandbox': 1}, 'lens': 'Libvirtd_qemu.lns'},
                      {'path': str(daemon), 'settings': {'max_clients': 'lots'}, 'lens': 'Libvirtd.lns'}]}
    answer = (0, '/augeas/files/x/error/line = "2"\n/augeas/files/x/error/message = "bad"\n', '')
    result, failed, _runner = run_module(args, augtool_answer=answer)
    assert failed and 'libvirt would refuse the new content' in result['msg']
    assert qemu.read_text() == u'# qemu\n' and daemon.read_text() == u'# libvirtd\n'
    assert sorted(os.listdir(str(tmp_path))) == ['libvirtd.conf', 'qemu.conf']


def test_files_entry_without_settings_is_refused(tmp_path):
    result, failed, _runner = run_module({"files": [{"path": str(tmp_path / "qemu.conf")}]})
    assert failed and result['msg'].startswith('files[0]: needs path and settings')


def test_a_key_the_caller_no_longer_sets_goes_back_to_the_default(tmp_path):
    path = tmp_path / 'qemu.conf'
    path.write_text(DEBIAN)
    entry = {'path': str(path), 'settings': {'max_files': 4096, 'user': 'libvirt-qemu'}, 'record': 'kvm_host'}
    result, failed, _runner = run_module({'files': [entry]})
    assert (failed, result['changed']) == (False, True)
    assert '# Keys set by kvm_host: max_files user\n' in path.read_text()
    result, failed, _runner = run_module({'files': [dict(entry, settings={'user': 'libvirt-qemu'})], '_ansible_diff': True})
    assert (failed, result['changed'], result['changed_keys']) == (False, True, ['max_files'])
    assert 'max_files = 4096' in result['diff'][0]['before'] and 'max_files = 4096' not in result['diff'][0]['after']
    assert path.read_text() == DEBIAN + MARKER + '\n# Keys set by kvm_host: user\nuser = "libvirt-qemu"\n'


def test_a_record_name_that_is_not_a_plain_word_is_refused(conf):
    result, failed, _runner = run_module({'path': str(conf), 'settings': {}, 'record': 'x: y\n'})
    assert failed and 'record=' in result['msg']
