# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import stat
from unittest import mock

import pytest

from ansible.module_utils import basic

from ansible_collections.kvmcloud.hypervisor.plugins.modules import config_files
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import run_module_main

# The tests chown files, so they run as root (as in the sandbox and in ansible-test's units run).
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='needs root to chown')


def run_module(args, validate_answer=(0, '', '')):
    """Run the module; returns (result, failed, run_command mock, log mock)."""
    runner = mock.Mock(return_value=validate_answer)
    log = mock.Mock()
    result, failed = run_module_main(config_files.main, args, run_command=runner, log=log)
    return result, failed, runner, log


def run_module_under_umask(umask, args):
    """run_module with the process umask set to umask: what the module creates must not depend on it."""
    old_umask = os.umask(umask)
    try:
        return run_module(args)
    finally:
        os.umask(old_umask)


def attrs(path):
    st = os.stat(str(path))
    return st.st_uid, st.st_gid, '%04o' % stat.S_IMODE(st.st_mode)


def listing(directory):
    return sorted(os.listdir(str(directory)))


def test_new_file_is_created_with_owner_group_and_mode_then_left_alone(tmp_path):
    path = tmp_path / 'daemon.conf'
    entry = {'path': str(path), 'content': 'listen = 1\n', 'owner': 'daemon', 'group': 'bin', 'mode': '0640'}
    result, failed, runner, log = run_module({'files': [entry]})
    assert not failed, result
    assert result['changed'] is True
    assert result['changed_paths'] == [str(path)]
    assert result['files'] == [{'path': str(path), 'changed': True, 'state': 'present'}]
    assert 'diff' not in result
    assert path.read_bytes() == b'listen = 1\n'
    assert attrs(path) == (1, 2, '0640')
    assert listing(tmp_path) == ['daemon.conf']
    runner.assert_not_called()

    result, failed, runner, log = run_module({'files': [entry], '_ansible_diff': True})
    assert (failed, result['changed'], result['changed_paths']) == (False, False, [])
    assert result['files'] == [{'path': str(path), 'changed': False, 'state': 'present'}]
    assert 'diff' not in result


def test_numeric_owner_and_group_and_short_mode(tmp_path):
    path = tmp_path / 'a.conf'
    result, failed, runner, log = run_module({'files': [{'path': str(path), 'content': 'x', 'owner': '65534',
                                                         'group': '65534', 'mode': '644'}]})
    assert not failed and result['changed']
    assert attrs(path) == (65534, 65534, '0644')


def test_content_change_is_written_with_a_diff_and_keeps_owner(tmp_path):
    path = tmp_path / 'qemu.conf'
    path.write_text('user = "root"\n')
    os.chown(str(path), 1, 1)
    os.chmod(str(path), 0o600)
    inode = os.stat(str(path)).st_ino
    result, failed, runner, log = run_module({'_ansible_diff': True, 'files': [
        {'path': str(path), 'content': 'user = "libvirt-qemu"\n', 'mode': '0600'}]})
    assert not failed and result['changed']
    assert result['diff'] == [{'before_header': str(path), 'after_header': str(path),
                               'before': 'user = "root"\n', 'after': 'user = "libvirt-qemu"\n'}]
    assert path.read_text() == 'user = "libvirt-qemu"\n'
    # Replaced by a new file (atomic move), owner and group kept as neither was asked for.
    assert os.stat(str(path)).st_ino != inode
    assert attrs(path) == (1, 1, '0600')
    assert listing(tmp_path) == ['qemu.conf']


def test_mode_change_only(tmp_path):
    path = tmp_path / 'auth.conf'
    path.write_text('secret\n')
    os.chmod(str(path), 0o644)
    inode = os.stat(str(path)).st_ino
    entry = {'path': str(path), 'content': 'secret\n', 'mode': '0600', 'owner': 'root'}
    result, failed, runner, log = run_module({'_ansible_diff': True, 'files': [entry]})
    assert not failed
    assert result['changed'] is True
    assert result['changed_paths'] == [str(path)]
    header = '%s (file attributes)' % path
    assert result['diff'] == [{'before_header': header, 'after_header': header,
                               'before': {'mode': '0644'}, 'after': {'mode': '0600'}}]
    assert attrs(path)[2] == '0600'
    # The content was not rewritten.
    assert os.stat(str(path)).st_ino == inode
    runner.assert_not_called()


def test_owner_change_only_shows_names(tmp_path):
    path = tmp_path / 'x.conf'
    path.write_text('x')
    os.chmod(str(path), 0o644)
    result, failed, runner, log = run_module({'_ansible_diff': True, 'files': [
        {'path': str(path), 'content': 'x', 'mode': '0644', 'owner': 'daemon', 'group': 'root'}]})
    assert not failed and result['changed']
    assert result['diff'][0]['before'] == {'owner': 'root'}
    assert result['diff'][0]['after'] == {'owner': 'daemon'}
    assert attrs(path) == (1, 0, '0644')


def test_check_mode_reports_what_a_real_run_changes_and_writes_nothing(tmp_path):
    changed = tmp_path / 'changed.conf'
    changed.write_text('old\n')
    os.chmod(str(changed), 0o644)
    mode_only = tmp_path / 'mode.conf'
    mode_only.write_text('same\n')
    os.chmod(str(mode_only), 0o644)
    same = tmp_path / 'same.conf'
    same.write_text('same\n')
    os.chmod(str(same), 0o644)
    gone = tmp_path / 'gone.conf'
    gone.write_text('bye\n')
    new_dir = tmp_path / 'new.d'
    files = [
        {'path': str(changed), 'content': 'new\n', 'mode': '0644', 'validate': 'false %s'},
        {'path': str(mode_only), 'content': 'same\n', 'mode': '0600'},
        {'path': str(same), 'content': 'same\n', 'mode': '0644'},
        {'path': str(gone), 'state': 'absent'},
        {'path': str(new_dir / 'a.conf'), 'content': 'a\n', 'mode': '0644'},
        {'path': str(new_dir / 'b.conf'), 'content': 'b\n', 'mode': '0644'},
        {'path': str(tmp_path / 'never.conf'), 'state': 'absent'},
    ]
    before = {name: (tmp_path / name).read_bytes() for name in listing(tmp_path)}

    checked, failed, runner, log = run_module({'files': files, '_ansible_check_mode': True, '_ansible_diff': True})
    assert not failed, checked
    assert checked['changed'] is True
    assert checked['changed_paths'] == [str(changed), str(mode_only), str(gone), str(new_dir),
                                        str(new_dir / 'a.conf'), str(new_dir / 'b.conf')]
    assert [entry['changed'] for entry in checked['files']] == [True, True, False, True, True, True, False]
    # Nothing written, nothing validated.
    runner.assert_not_called()
    assert {name: (tmp_path / name).read_bytes() for name in listing(tmp_path)} == before
    assert attrs(mode_only)[2] == '0644'

    real, failed, runner, log = run_module({'files': [dict(entry, validate=None) for entry in files],
                                            '_ansible_diff': True})
    assert not failed, real
    for key in ('changed', 'changed_paths', 'files', 'diff'):
        assert real[key] == checked[key], key
    assert listing(tmp_path) == ['changed.conf', 'mode.conf', 'new.d', 'same.conf']


def test_check_mode_with_an_unknown_owner_warns_instead_of_failing(tmp_path):
    path = tmp_path / 'x.conf'
    path.write_text('x')
    os.chmod(str(path), 0o644)
    entry = {'path': str(path), 'content': 'x', 'mode': '0644', 'group': 'no-such-group-kvmcloud'}
    with mock.patch.object(basic.AnsibleModule, 'warn') as warn:
        result, failed, runner, log = run_module({'files': [entry], '_ansible_check_mode': True})
    assert not failed and result['changed']
    assert 'no-such-group-kvmcloud does not exist' in warn.call_args[0][0]

    result, failed, runner, log = run_module({'files': [entry]})
    assert failed
    assert result['msg'] == ('config_files: files[0] (%s): group no-such-group-kvmcloud does not exist on the target'
                             % path)


def test_validate_runs_on_a_temp_file_beside_the_target_with_the_final_mode(tmp_path):
    path = tmp_path / 'sudoers'
    seen = {}

    def check(argv):
        seen['argv'] = argv
        seen['content'] = open(argv[2], 'rb').read()
        seen['attrs'] = attrs(argv[2])
        return 0, '', ''

    args = {'files': [{'path': str(path), 'content': 'root ALL=(ALL) ALL\n', 'mode': '0440',
                       'validate': 'visudo -cf %s'}]}
    result, failed = run_module_main(config_files.main, args, run_command=mock.Mock(side_effect=check))
    assert not failed, result
    assert seen['argv'][:2] == ['visudo', '-cf']
    assert os.path.dirname(seen['argv'][2]) == str(tmp_path)
    assert seen['content'] == b'root ALL=(ALL) ALL\n'
    assert seen['attrs'] == (0, 0, '0440')
    assert listing(tmp_path) == ['sudoers']
    assert attrs(path) == (0, 0, '0440')


def test_validate_failure_leaves_the_live_file_and_reports_earlier_changes(tmp_path):
    first = tmp_path / 'first.conf'
    path = tmp_path / 'sudoers'
    path.write_text('good\n')
    os.chmod(str(path), 0o440)
    files = [{'path': str(first), 'content': 'one\n', 'mode': '0644'},
             {'path': str(path), 'content': 'bad\n', 'mode': '0440', 'validate': 'visudo -cf %s'}]
    result, failed, runner, log = run_module({'files': files},
                                             validate_answer=(1, '', '>>> sudoers: syntax error near line 1 <<<\n'))
    assert failed
    assert result['msg'].startswith('config_files: files[1] (%s): not changed, validate command ' % path)
    assert 'visudo -cf %s' in result['msg']
    assert result['msg'].endswith('syntax error near line 1 <<<')
    assert path.read_text() == 'good\n'
    assert attrs(path)[2] == '0440'
    # The first file was written before; the result says so.
    assert result['changed_paths'] == [str(first)]
    assert first.read_text() == 'one\n'
    assert listing(tmp_path) == ['first.conf', 'sudoers']


def test_validate_failure_in_a_new_directory_reports_the_directory(tmp_path):
    path = tmp_path / 'sudoers.d' / 'admins'
    result, failed, runner, log = run_module({'files': [{'path': str(path), 'content': 'bad\n', 'mode': '0440',
                                                         'validate': 'visudo -cf %s'}]},
                                             validate_answer=(1, '', 'syntax error'))
    assert failed and result['msg'].endswith('syntax error')
    assert (result['changed'], result['changed_paths']) == (True, [str(tmp_path / 'sudoers.d')])
    assert listing(tmp_path / 'sudoers.d') == []


def test_validate_without_placeholder_fails(tmp_path):
    path = tmp_path / 'x'
    result, failed, runner, log = run_module({'files': [{'path': str(path), 'content': 'x', 'mode': '0644',
                                                         'validate': 'true'}]})
    assert failed and 'must contain %s' in result['msg']
    assert listing(tmp_path) == []


def test_absent_removes_and_then_does_nothing(tmp_path):
    path = tmp_path / 'old.conf'
    path.write_text('old\n')
    link = tmp_path / 'link.conf'
    link.symlink_to(tmp_path / 'elsewhere')
    args = {'_ansible_diff': True, 'files': [{'path': str(path), 'state': 'absent', 'content': 'ignored'},
                                             {'path': str(link), 'state': 'absent'}]}
    result, failed, runner, log = run_module(args)
    assert not failed
    assert result['changed_paths'] == [str(path), str(link)]
    assert result['files'][0] == {'path': str(path), 'changed': True, 'state': 'absent'}
    assert result['diff'][0] == {'before_header': str(path), 'after_header': str(path), 'before': 'old\n', 'after': ''}
    assert listing(tmp_path) == []

    result, failed, runner, log = run_module(args)
    assert (failed, result['changed'], result['changed_paths']) == (False, False, [])


def test_absent_refuses_a_directory(tmp_path):
    result, failed, runner, log = run_module({'files': [{'path': str(tmp_path), 'state': 'absent'}]})
    assert failed and 'is a directory' in result['msg']


def test_missing_parents_are_created_root_0755_and_reported(tmp_path):
    top = tmp_path / 'etc' / 'kvm'
    files = [{'path': str(top / 'a' / 'one.conf'), 'content': '1\n', 'mode': '0600'},
             {'path': str(top / 'a' / 'two.conf'), 'content': '2\n', 'mode': '0600'},
             {'path': str(top / 'b.conf'), 'content': 'b\n', 'mode': '0600'}]
    result, failed, runner, log = run_module_under_umask(0o077, {'files': files, '_ansible_diff': True})
    assert not failed, result
    assert result['changed_paths'] == [str(tmp_path / 'etc'), str(top), str(top / 'a'), str(top / 'a' / 'one.conf'),
                                       str(top / 'a' / 'two.conf'), str(top / 'b.conf')]
    for directory in (tmp_path / 'etc', top, top / 'a'):
        assert attrs(directory) == (0, 0, '0755')
    assert result['diff'][0] == {'before_header': str(tmp_path / 'etc'), 'after_header': str(tmp_path / 'etc'),
                                 'before': {'path': str(tmp_path / 'etc'), 'state': 'absent'},
                                 'after': {'path': str(tmp_path / 'etc'), 'state': 'directory', 'owner': 'root',
                                           'group': 'root', 'mode': '0755'}}
    assert (top / 'a' / 'two.conf').read_text() == '2\n'

    result, failed, runner, log = run_module({'files': files})
    assert (failed, result['changed']) == (False, False)


def test_parents_false_fails_before_changing_anything(tmp_path):
    first = tmp_path / 'first.conf'
    files = [{'path': str(first), 'content': '1', 'mode': '0644'},
             {'path': str(tmp_path / 'missing' / 'x.conf'), 'content': 'x', 'mode': '0644'}]
    result, failed, runner, log = run_module({'files': files, 'parents': False})
    assert failed
    assert result['msg'] == 'config_files: files[1] (%s): directory %s does not exist and parents=false' % (
        tmp_path / 'missing' / 'x.conf', tmp_path / 'missing')
    assert result['changed_paths'] == []
    assert listing(tmp_path) == []


def test_diff_false_hides_the_content_in_the_diff_and_the_returned_arguments(tmp_path):
    path = tmp_path / 'auth.conf'
    path.write_text('password = old-secret\n')
    os.chmod(str(path), 0o600)
    new = b'password = new-secret\n'
    result, failed, runner, log = run_module({'_ansible_diff': True, 'files': [
        {'path': str(path), 'content': new.decode(), 'mode': '0640', 'diff': False}]})
    assert not failed and result['changed']
    old = b'password = old-secret\n'
    assert result['diff'][0] == {
        'before_header': str(path), 'after_header': str(path),
        'before': 'content hidden (%d bytes, sha256 %s)\n' % (len(old), hashlib.sha256(old).hexdigest()),
        'after': 'content hidden (%d bytes, sha256 %s)\n' % (len(new), hashlib.sha256(new).hexdigest())}
    assert result['diff'][1]['after'] == {'mode': '0640'}
    assert 'secret' not in json.dumps(result)
    # The journal gets the paths only.
    assert 'secret' not in str(log.call_args_list)
    assert str(path) in log.call_args[0][0]
    assert path.read_bytes() == new


def test_binary_file_is_summarised_in_the_diff(tmp_path):
    path = tmp_path / 'blob'
    path.write_bytes(b'\xff\xfe')
    result, failed, runner, log = run_module({'_ansible_diff': True, 'files': [
        {'path': str(path), 'content': 'text\n', 'mode': '0644'}]})
    assert not failed
    assert result['diff'][0]['before'].startswith('binary content (2 bytes, sha256 ')


def test_symlink_is_followed_for_present(tmp_path):
    real = tmp_path / 'real.conf'
    real.write_text('old')
    os.chmod(str(real), 0o644)
    link = tmp_path / 'link.conf'
    link.symlink_to(real)
    result, failed, runner, log = run_module({'files': [{'path': str(link), 'content': 'new', 'mode': '0644'}]})
    assert not failed and result['changed_paths'] == [str(link)]
    assert link.is_symlink()
    assert real.read_text() == 'new'


@pytest.mark.parametrize('entry, message', [
    ({'content': 'x'}, 'mode is required with state=present'),
    ({'content': 'x', 'mode': 420}, 'mode must be a quoted octal string such as "0644", not 420'),
    ({'content': 'x', 'mode': 'u=rw'}, 'mode must be a quoted octal string'),
    ({'mode': '0644'}, 'content is required with state=present'),
    ({'template': 'x.j2', 'mode': '0644'}, 'template needs the action plugin'),
    ({'src': 'ca.pem', 'mode': '0644'}, 'src needs the action plugin'),
    ({'content': 'x', 'mode': '0644', 'owner': 'no-such-user-kvmcloud'},
     'owner no-such-user-kvmcloud does not exist on the target'),
])
def test_bad_entries_fail_naming_the_entry(tmp_path, entry, message):
    path = tmp_path / 'x.conf'
    result, failed, runner, log = run_module({'files': [dict(entry, path=str(path))]})
    assert failed
    assert result['msg'].startswith('config_files: files[0] (%s): ' % path)
    assert message in result['msg']
    assert listing(tmp_path) == []


def test_relative_and_duplicate_paths_fail(tmp_path):
    result, failed, runner, log = run_module({'files': [{'path': 'etc/x', 'content': 'x', 'mode': '0644'}]})
    assert failed and result['msg'] == 'config_files: files[0] (etc/x): path must be absolute'
    path = str(tmp_path / 'x')
    result, failed, runner, log = run_module({'files': [{'path': path, 'content': 'x', 'mode': '0644'},
                                                        {'path': path, 'content': 'y', 'mode': '0644'}]})
    assert failed and result['msg'] == 'config_files: files[1] (%s): path already in files[0]' % path
    assert listing(tmp_path) == []


def test_a_directory_in_the_way_fails(tmp_path):
    (tmp_path / 'conf').mkdir()
    result, failed, runner, log = run_module({'files': [{'path': str(tmp_path / 'conf'), 'content': 'x',
                                                         'mode': '0644'}]})
    assert failed and 'is not a regular file' in result['msg']


def test_directories_are_made_with_their_attributes_files_go_inside_then_nothing_changes(tmp_path):
    guest = tmp_path / 'guests' / 'web'
    files = [{'path': str(guest), 'state': 'directory', 'owner': 'root', 'group': 'bin', 'mode': '0711'},
             {'path': str(guest / 'seed'), 'state': 'directory', 'owner': 'daemon', 'mode': '0700'},
             {'path': str(guest / 'seed' / 'user-data'), 'content': '#cloud-config\n', 'mode': '0600'}]
    result, failed, runner, log = run_module({'files': files, '_ansible_check_mode': True, '_ansible_diff': True})
    assert not failed, result
    expected_paths = [str(tmp_path / 'guests'), str(guest), str(guest / 'seed'), str(guest / 'seed' / 'user-data')]
    assert (result['changed'], result['changed_paths']) == (True, expected_paths)
    assert listing(tmp_path) == []
    check_diff = result['diff']

    result, failed, runner, log = run_module_under_umask(0o022, {'files': files, '_ansible_diff': True})
    assert not failed, result
    assert result['changed_paths'] == expected_paths
    assert result['files'][1] == {'path': str(guest / 'seed'), 'changed': True, 'state': 'directory'}
    assert result['diff'] == check_diff
    assert result['diff'][1] == {'before_header': str(guest), 'after_header': str(guest),
                                 'before': {'path': str(guest), 'state': 'absent'},
                                 'after': {'path': str(guest), 'state': 'directory', 'owner': 'root',
                                           'group': 'bin', 'mode': '0711'}}
    assert attrs(tmp_path / 'guests') == (0, 0, '0755')
    assert attrs(guest) == (0, 2, '0711')
    assert attrs(guest / 'seed')[0::2] == (1, '0700')
    assert (guest / 'seed' / 'user-data').read_text() == '#cloud-config\n'

    result, failed, runner, log = run_module({'files': files})
    assert (failed, result['changed'], result['changed_paths']) == (False, False, [])


def test_an_existing_directory_gets_its_mode_and_owner_and_keeps_its_contents(tmp_path):
    directory = tmp_path / 'images'
    directory.mkdir(mode=0o755)
    (directory / 'base.qcow2').write_text('x')
    os.chown(str(directory), 1, 1)
    entry = {'path': str(directory), 'state': 'directory', 'owner': 'root', 'group': 'root', 'mode': '0711'}
    result, failed, runner, log = run_module({'files': [entry], '_ansible_diff': True})
    assert not failed, result
    assert result['changed_paths'] == [str(directory)]
    header = '%s (file attributes)' % directory
    assert result['diff'] == [{'before_header': header, 'after_header': header,
                               'before': {'owner': 'daemon', 'group': 'daemon', 'mode': '0755'},
                               'after': {'owner': 'root', 'group': 'root', 'mode': '0711'}}]
    assert attrs(directory) == (0, 0, '0711')
    assert listing(directory) == ['base.qcow2']


@pytest.mark.parametrize('entry, message', [
    ({}, 'mode is required with state=directory, as a quoted octal string such as "0644"'),
    ({'mode': '0700', 'content': 'x'}, 'content does not apply to state=directory'),
    ({'mode': '0700', 'validate': 'true %s'}, 'validate does not apply to state=directory'),
])
def test_bad_directory_entries_fail_naming_the_entry(tmp_path, entry, message):
    path = tmp_path / 'd'
    result, failed, runner, log = run_module({'files': [dict(entry, path=str(path), state='directory')]})
    assert failed
    assert result['msg'] == 'config_files: files[0] (%s): %s' % (path, message)
    assert listing(tmp_path) == []


def test_a_file_where_a_directory_belongs_fails(tmp_path):
    (tmp_path / 'd').write_text('x')
    result, failed, runner, log = run_module({'files': [{'path': str(tmp_path / 'd'), 'state': 'directory',
                                                         'mode': '0700'}]})
    assert failed and result['msg'].endswith('%s is not a directory' % (tmp_path / 'd'))
    assert (tmp_path / 'd').read_text() == 'x'


def test_a_directory_listed_after_an_entry_inside_it_fails_before_any_change(tmp_path):
    inner = tmp_path / 'guest' / 'disk.conf'
    files = [{'path': str(inner), 'content': 'x', 'mode': '0600'},
             {'path': str(tmp_path / 'guest'), 'state': 'directory', 'mode': '0700'}]
    result, failed, runner, log = run_module({'files': files})
    assert failed
    assert result['msg'] == ('config_files: files[1] (%s): an earlier entry creates it as a missing parent (root, '
                             '0755); list this entry before the entries inside it' % (tmp_path / 'guest'))
    assert listing(tmp_path) == []


# A role turning a feature off removes what it wrote when the feature was on, and nothing else.
def feature_files(directory, state):
    """The entries of a feature's files in their own directory, as a role lists them on and off."""
    if state == 'present':
        return [{'path': str(directory), 'state': 'directory', 'owner': 'root', 'group': 'root', 'mode': '0755'},
                {'path': str(directory / 'cert.pem'), 'content': 'cert\n', 'mode': '0644'},
                {'path': str(directory / 'key.pem'), 'content': 'key\n', 'mode': '0640', 'diff': False}]
    return [{'path': str(directory / 'cert.pem'), 'state': 'absent'},
            {'path': str(directory / 'key.pem'), 'state': 'absent', 'diff': False},
            {'path': str(directory), 'state': 'absent'}]


def read_manifest(path):
    with open(str(path)) as handle:
        return json.load(handle)


def test_a_manifest_lets_absent_entries_remove_what_the_module_wrote_and_the_directory_it_made(tmp_path):
    directory, manifest = tmp_path / 'pki' / 'qemu', tmp_path / 'state' / 'feature.json'
    on = {'files': feature_files(directory, 'present'), 'manifest': str(manifest), '_ansible_diff': True}
    result, failed, runner, log = run_module(on)
    assert not failed, result
    assert result['changed_paths'] == [str(tmp_path / 'pki'), str(directory), str(directory / 'cert.pem'),
                                       str(directory / 'key.pem'), str(tmp_path / 'state'), str(manifest)]
    record = read_manifest(manifest)
    assert (record['files'], record['created_directories']) == (
        [str(directory / 'cert.pem'), str(directory / 'key.pem')], [str(tmp_path / 'pki'), str(directory)])
    assert attrs(manifest)[2] == '0644'
    assert len(result['files']) == 3
    result, failed, runner, log = run_module(on)
    assert (failed, result['changed']) == (False, False)

    off = {'files': feature_files(directory, 'absent'), 'manifest': str(manifest), '_ansible_diff': True}
    result, failed, runner, log = run_module(dict(off, _ansible_check_mode=True))
    assert not failed, result
    check = result
    assert listing(directory) == ['cert.pem', 'key.pem']
    result, failed, runner, log = run_module(off)
    assert not failed, result
    assert (result['changed_paths'], result['diff']) == (check['changed_paths'], check['diff'])
    assert result['changed_paths'] == [str(directory / 'cert.pem'), str(directory / 'key.pem'), str(directory),
                                       str(manifest)]
    assert result['diff'][1]['before'].startswith('content hidden (4 bytes, sha256 ')
    assert result['diff'][2] == {'before_header': str(directory), 'after_header': str(directory),
                                 'before': {'path': str(directory), 'state': 'directory'},
                                 'after': {'path': str(directory), 'state': 'absent'}}
    # The parent was made for the feature too; no entry removes it, so the manifest keeps it.
    assert listing(tmp_path) == ['pki', 'state']
    assert listing(tmp_path / 'pki') == []
    assert read_manifest(manifest)['created_directories'] == [str(tmp_path / 'pki')]
    assert read_manifest(manifest)['files'] == []
    result, failed, runner, log = run_module(off)
    assert (failed, result['changed']) == (False, False)
    assert [entry.get('kept') for entry in result['files']] == [None, None, None]


def test_without_a_record_absent_entries_leave_files_and_directories_alone(tmp_path):
    directory, manifest = tmp_path / 'qemu', tmp_path / 'feature.json'
    directory.mkdir()
    (directory / 'cert.pem').write_text('the operator\'s\n')
    result, failed, runner, log = run_module({'files': feature_files(directory, 'absent'), 'manifest': str(manifest)})
    assert not failed, result
    assert result['changed'] is False
    assert result['files'] == [
        {'path': str(directory / 'cert.pem'), 'changed': False, 'state': 'absent',
         'kept': 'not listed in the manifest %s' % manifest},
        {'path': str(directory / 'key.pem'), 'changed': False, 'state': 'absent'},
        {'path': str(directory), 'changed': False, 'state': 'absent',
         'kept': 'a directory the manifest %s does not list as created by this module' % manifest}]
    assert listing(directory) == ['cert.pem']
    assert not manifest.exists()


def test_a_directory_that_was_there_before_is_not_recorded_and_stays(tmp_path):
    directory, manifest = tmp_path / 'qemu', tmp_path / 'feature.json'
    directory.mkdir()
    result, failed, runner, log = run_module({'files': feature_files(directory, 'present'), 'manifest': str(manifest)})
    assert not failed, result
    assert read_manifest(manifest)['created_directories'] == []
    result, failed, runner, log = run_module({'files': feature_files(directory, 'absent'), 'manifest': str(manifest)})
    assert not failed, result
    assert listing(directory) == []
    assert not manifest.exists()


def test_a_made_directory_holding_other_files_stays_with_a_warning_and_is_forgotten(tmp_path):
    directory, manifest = tmp_path / 'qemu', tmp_path / 'feature.json'
    run_module({'files': feature_files(directory, 'present'), 'manifest': str(manifest)})
    (directory / 'dh-params.pem').write_text('the operator\'s\n')
    off = {'files': feature_files(directory, 'absent'), 'manifest': str(manifest)}
    with mock.patch.object(basic.AnsibleModule, 'warn') as warn:
        result, failed, runner, log = run_module(off)
    assert not failed, result
    assert listing(directory) == ['dh-params.pem']
    assert result['files'][2]['kept'] == 'not empty: it holds dh-params.pem'
    warn.assert_called_once_with(
        'config_files: files[2] (%s): left in place and taken off the manifest %s, because it holds dh-params.pem, '
        'which this call does not remove' % (directory, manifest))
    assert not manifest.exists()
    result, failed, runner, log = run_module(off)
    assert (failed, result['changed']) == (False, False)


def test_a_directory_listed_before_its_files_is_not_empty_yet(tmp_path):
    directory, manifest = tmp_path / 'qemu', tmp_path / 'feature.json'
    run_module({'files': feature_files(directory, 'present'), 'manifest': str(manifest)})
    files = feature_files(directory, 'absent')
    result, failed, runner, log = run_module({'files': files[2:] + files[:2], 'manifest': str(manifest)})
    assert not failed, result
    assert result['files'][0]['kept'] == 'not empty: it holds cert.pem, key.pem'
    assert listing(directory) == []


def test_a_manifest_of_another_shape_fails_before_any_change(tmp_path):
    directory, manifest = tmp_path / 'qemu', tmp_path / 'feature.json'
    run_module({'files': feature_files(directory, 'present'), 'manifest': str(manifest)})
    manifest.write_text('{"files": "all"}')
    result, failed, runner, log = run_module({'files': feature_files(directory, 'absent'), 'manifest': str(manifest)})
    assert failed
    assert result['msg'].startswith('config_files: manifest %s is not a manifest of this module (' % manifest)
    assert listing(directory) == ['cert.pem', 'key.pem']


def test_the_manifest_is_not_an_entry_and_is_absolute(tmp_path):
    manifest = tmp_path / 'feature.json'
    result, failed, runner, log = run_module({'files': [{'path': str(manifest), 'content': 'x', 'mode': '0644'}],
                                              'manifest': str(manifest)})
    assert failed and result['msg'] == "config_files: files[0] (%s): path is the manifest's" % manifest
    result, failed, runner, log = run_module({'files': [], 'manifest': 'feature.json'})
    assert failed and result['msg'] == 'config_files: manifest feature.json: path must be absolute'
