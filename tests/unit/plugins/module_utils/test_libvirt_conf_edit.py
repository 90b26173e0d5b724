# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_conf import (
    ConfError, parse_libvirt_conf, scan_libvirt_conf)
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_conf_edit import (
    MARKER, edit_libvirt_conf, normalize_value, render_value)
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import fixture_text

CASES = fixture_text('libvirt.conf.edit-cases')


def lines_of(text):
    return text.splitlines()


def test_scan_gives_each_assignment_with_its_span_and_line():
    found = scan_libvirt_conf(CASES)
    names = [item.name for item in found]
    assert names == ['user', 'group', 'cgroup_device_acl', 'seccomp_sandbox', 'seccomp_sandbox',
                     'max_files', 'max_processes', 'vnc_listen']
    acl = found[2]
    assert acl.line == 6
    assert CASES[acl.start:acl.end].startswith('cgroup_device_acl = [')
    assert CASES[acl.start:acl.end].endswith(']')
    assert CASES[found[0].start:found[0].end] == 'user = "root"'


def test_new_keys_are_appended_once_under_the_marker():
    text, changed = edit_libvirt_conf(CASES, {'stdio_handler': 'logd', 'namespaces': ['mount']})
    assert changed == ['namespaces', 'stdio_handler']
    assert text.startswith(CASES)
    assert text[len(CASES):] == MARKER + '\nstdio_handler = "logd"\nnamespaces = [ "mount" ]\n'
    # A later key joins the block without a second marker.
    text, changed = edit_libvirt_conf(text, {'remember_owner': True})
    assert changed == ['remember_owner']
    assert lines_of(text).count(MARKER) == 1
    assert text.endswith('namespaces = [ "mount" ]\nremember_owner = 1\n')


def test_append_to_text_without_final_newline_and_to_empty_text():
    assert edit_libvirt_conf('user = "a"', {'group': 'kvm'})[0] == 'user = "a"\n%s\ngroup = "kvm"\n' % MARKER
    assert edit_libvirt_conf('', {'group': 'kvm'})[0] == '%s\ngroup = "kvm"\n' % MARKER
    assert edit_libvirt_conf(None, {'group': 'kvm'})[0] == '%s\ngroup = "kvm"\n' % MARKER


def test_existing_key_changes_in_place_keeping_its_comment():
    text, changed = edit_libvirt_conf(CASES, {'user': 'libvirt-qemu'})
    assert changed == ['user']
    before, after = lines_of(CASES), lines_of(text)
    assert after[1] == 'user = "libvirt-qemu"   # set by hand'
    assert after[:1] + after[2:] == before[:1] + before[2:]
    assert MARKER not in text


def test_multi_line_list_becomes_one_line():
    text, changed = edit_libvirt_conf(CASES, {'cgroup_device_acl': ['/dev/null', '/dev/kvm']})
    assert changed == ['cgroup_device_acl']
    assert '\ncgroup_device_acl = [ "/dev/null", "/dev/kvm" ]\n\nseccomp_sandbox = 0\n' in text
    assert '# basics' not in text
    assert len(lines_of(text)) == len(lines_of(CASES)) - 3
    assert parse_libvirt_conf(text)['cgroup_device_acl'] == ['/dev/null', '/dev/kvm']


def test_semantically_equal_values_leave_the_text_alone():
    settings = {
        'group': 'kvm',                                        # single quotes in the file
        'cgroup_device_acl': ['/dev/null', '/dev/full', '/dev/kvm'],  # spread over lines with comments
        'max_processes': False,                                # 0 in the file, after a `;`
        'max_files': 1024,
        'vnc_listen': '0.0.0.0',
    }
    assert edit_libvirt_conf(CASES, settings) == (CASES, [])


def test_type_matters_for_equality():
    # libvirt refuses a string where it reads a number, so "1024" is a change.
    text, changed = edit_libvirt_conf(CASES, {'max_files': '1024'})
    assert changed == ['max_files']
    assert 'max_files = "1024"; max_processes = 0\n' in text


def test_duplicates_collapse_to_the_last_position():
    # libvirt reads the first of the two (0): 1 is a change even though the last line says 1.
    text, changed = edit_libvirt_conf(CASES, {'seccomp_sandbox': 1})
    assert changed == ['seccomp_sandbox']
    assert '\n\nseccomp_sandbox = 1\nmax_files = 1024;' in text
    assert [item.name for item in scan_libvirt_conf(text)].count('seccomp_sandbox') == 1


def test_duplicates_holding_the_desired_value_everywhere_are_no_change():
    text = 'a = 1\na = 1\n'
    assert edit_libvirt_conf(text, {'a': True}) == (text, [])


def test_null_removes_every_assignment_and_its_trailing_comment():
    text, changed = edit_libvirt_conf(CASES, {'seccomp_sandbox': None, 'user': None, 'absent_key': None})
    assert changed == ['seccomp_sandbox', 'user']
    assert 'seccomp_sandbox' not in text
    assert 'set by hand' not in text
    assert lines_of(text) == [line for line in lines_of(CASES)
                              if not line.startswith(('seccomp_sandbox', 'user'))]


def test_null_removes_one_statement_of_a_shared_line():
    text, changed = edit_libvirt_conf(CASES, {'max_files': None})
    assert changed == ['max_files']
    assert '\nmax_processes = 0\nvnc_listen' in text
    text, changed = edit_libvirt_conf(CASES, {'max_processes': None})
    assert '\nmax_files = 1024; \nvnc_listen' in text
    assert parse_libvirt_conf(text)['max_files'] == 1024


def test_commented_out_default_is_not_an_assignment():
    # `# vnc_tls = 1` stays a comment; the key is appended.
    text, changed = edit_libvirt_conf(CASES, {'vnc_tls': 1})
    assert '# vnc_tls = 1\n' + MARKER + '\nvnc_tls = 1\n' in text


@pytest.mark.parametrize('settings', [
    {'user': 'libvirt-qemu', 'group': 'kvm', 'namespaces': ['mount'], 'seccomp_sandbox': 1},
    {'cgroup_device_acl': ['/dev/null'], 'seccomp_sandbox': 1, 'max_files': None, 'vnc_tls': True},
])
@pytest.mark.parametrize('fixture', ['libvirt.conf.edit-cases', 'qemu.conf.debian12-default', 'qemu.conf.hardened'])
def test_second_apply_is_byte_identical(fixture, settings):
    first, changed = edit_libvirt_conf(fixture_text(fixture), settings)
    assert changed
    second, changed = edit_libvirt_conf(first, settings)
    assert (second, changed) == (first, [])
    for name, value in settings.items():
        assert parse_libvirt_conf(second).get(name) == (None if value is None else normalize_value(name, value))


@pytest.mark.parametrize('value, rendered', [
    (True, '1'),
    (False, '0'),
    (0, '0'),
    (-5, '-5'),
    (65536, '65536'),
    ('0770', '"0770"'),
    ('', '""'),
    ('C:\\path\\x', '"C:\\path\\x"'),     # backslashes are literal to libvirt
    ('say "hi"', "'say \"hi\"'"),         # libvirt has no escapes: switch quotes
    (['a', 1, True], '[ "a", 1, 1 ]'),
    ([], '[ ]'),
])
def test_rendering_round_trips_through_the_parser(value, rendered):
    normalized = normalize_value('k', value)
    assert render_value(normalized) == rendered
    assert parse_libvirt_conf('k = %s\n' % rendered) == {'k': normalized}


@pytest.mark.parametrize('settings, message', [
    ({'k': 'both " and \''}, '^k: .*both quote characters'),
    ({'k': 'two\nlines'}, '^k: .*line break'),
    ({'k': 1.5}, 'got a float'),
    ({'k': {'a': 1}}, 'got a mapping'),
    ({'k': [['nested']]}, 'list items'),
    ({'k': [None]}, 'list items'),
    ({'bad-name': 1}, 'not a valid libvirt setting name'),
    ({'1st': 1}, 'not a valid libvirt setting name'),
])
def test_values_libvirt_cannot_read_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        edit_libvirt_conf(CASES, settings)


def test_unparseable_text_raises():
    with pytest.raises(ConfError, match='line 2'):
        edit_libvirt_conf('a = 1\nb = yes\n', {'a': 2})


def test_record_lists_the_callers_keys_under_the_marker():
    text, changed = edit_libvirt_conf('# docs\n', {'max_files': 4096, 'user': 'libvirt-qemu'}, record='kvm_host')
    assert text == ('# docs\n' + MARKER + '\n# Keys set by kvm_host: max_files user\n'
                    'max_files = 4096\nuser = "libvirt-qemu"\n')
    assert changed == ['max_files', 'user']
    assert edit_libvirt_conf(text, {'max_files': 4096, 'user': 'libvirt-qemu'}, record='kvm_host') == (text, [])


def test_a_recorded_key_no_longer_set_is_removed_and_others_stay():
    text = (MARKER + '\n# Keys set by kvm_host: max_files user\n# Keys set by other: vnc_tls\n'
            'max_files = 4096\nuser = "libvirt-qemu"\nvnc_tls = 1\nmax_processes = 10\n')
    after, changed = edit_libvirt_conf(text, {'user': 'libvirt-qemu'}, record='kvm_host')
    assert after == (MARKER + '\n# Keys set by kvm_host: user\n# Keys set by other: vnc_tls\n'
                     'user = "libvirt-qemu"\nvnc_tls = 1\nmax_processes = 10\n')
    assert changed == ['max_files']


def test_without_record_nothing_is_removed_and_no_comment_written():
    text = MARKER + '\n# Keys set by kvm_host: max_files\nmax_files = 4096\n'
    assert edit_libvirt_conf(text, {}) == (text, [])


def test_a_record_comment_in_a_file_without_keys_left_goes():
    text = 'a = 1\n' + MARKER + '\n# Keys set by kvm_host: max_files\nmax_files = 4096\n'
    assert edit_libvirt_conf(text, {}, record='kvm_host') == ('a = 1\n' + MARKER + '\n', ['max_files'])


def test_record_is_added_to_a_file_whose_keys_were_set_in_place():
    text = 'max_files = 4096\n'
    after, changed = edit_libvirt_conf(text, {'max_files': 4096}, record='kvm_host')
    assert (after, changed) == ('max_files = 4096\n' + MARKER + '\n# Keys set by kvm_host: max_files\n', [])
    assert edit_libvirt_conf(after, {'max_files': 4096}, record='kvm_host') == (after, [])


def test_a_record_name_must_be_a_plain_word():
    with pytest.raises(ValueError, match='record='):
        edit_libvirt_conf('', {'max_files': 1}, record='a: b\n')
