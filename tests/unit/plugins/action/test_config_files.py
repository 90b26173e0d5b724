# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
from unittest import mock

import pytest

from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.kvmcloud.hypervisor.plugins.action.config_files import ActionModule


@pytest.fixture
def layout(tmp_path):
    """A play directory with templates/ and a role with its own templates/ and tasks/main.yml."""
    play = tmp_path / 'play'
    role = play / 'roles' / 'demo'
    for directory in (play / 'templates', role / 'templates', role / 'tasks'):
        directory.mkdir(parents=True)
    (role / 'tasks' / 'main.yml').write_text('---\n[]\n')
    (role / 'templates' / 'daemon.conf.j2').write_text(
        '# {{ ansible_managed }}\n'
        'name = "{{ daemon_name }}"\n'
        '{% if listen %}\n'
        'listen = {{ port }}\n'
        '{% endif %}\n'
        '{% include "footer.j2" %}\n')
    (role / 'templates' / 'footer.j2').write_text('# for {{ template_destpath }}\n')
    (role / 'templates' / 'same.j2').write_text('from the role\n')
    (play / 'templates' / 'same.j2').write_text('from the play\n')
    (play / 'templates' / 'play-only.j2').write_text('{{ greeting }} from the play\n')
    (role / 'templates' / 'broken.j2').write_text('{{ no_such_variable }}\n')
    (role / 'files').mkdir()
    (role / 'files' / 'ca.pem').write_text('-----BEGIN CERTIFICATE-----\nrole\n')
    return play, role


def run_action(layout, args, extra_task_vars=None):
    """Run the action plugin with _execute_module replaced; returns (result, module_args or None)."""
    play, role = layout
    loader = DataLoader()
    loader.set_basedir(str(play))
    task_vars = {'ansible_search_path': [str(role), str(play)], 'daemon_name': 'virtqemud', 'listen': True,
                 'port': 16509, 'greeting': 'hello'}
    task_vars.update(extra_task_vars or {})
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    task.get_search_path.return_value = [str(role), str(role / 'tasks')]
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, mock.MagicMock(), loader, Templar(loader=loader, variables=task_vars),
                          None)
    execute = mock.Mock(return_value={'changed': True, 'changed_paths': ['/etc/x']})
    with mock.patch.object(ActionModule, '_execute_module', execute):
        result = action.run(task_vars=task_vars)
    if not execute.called:
        return result, None
    assert execute.call_count == 1
    kwargs = execute.call_args[1]
    assert kwargs['module_name'] == 'kvmcloud.hypervisor.config_files'
    return result, kwargs['module_args']


def test_templates_are_rendered_on_the_controller_and_the_module_called_once(layout):
    files = [
        {'path': '/etc/libvirt/virtqemud.conf', 'template': 'daemon.conf.j2', 'mode': '0644'},
        {'path': '/etc/libvirt/virtproxyd.conf', 'template': 'daemon.conf.j2', 'mode': '0644',
         'vars': {'daemon_name': 'virtproxyd', 'listen': False}},
        {'path': '/etc/motd', 'content': 'plain\n', 'mode': '0644', 'owner': 'root', 'diff': False},
        {'path': '/etc/same', 'template': 'same.j2', 'mode': '0644'},
        {'path': '/etc/play-only', 'template': 'play-only.j2', 'mode': '0644'},
        {'path': '/etc/old', 'state': 'absent', 'template': 'gone.j2', 'vars': {'a': 1}},
        {'path': '/var/lib/guests', 'state': 'directory', 'mode': '0711'},
    ]
    result, module_args = run_action(layout, {'files': files, 'parents': False})
    assert result == {'changed': True, 'changed_paths': ['/etc/x']}
    assert module_args['parents'] is False
    sent = module_args['files']
    assert [entry['path'] for entry in sent] == [entry['path'] for entry in files]
    assert all('template' not in entry and 'vars' not in entry for entry in sent)
    assert all('content' in entry for entry in sent[:5])

    lines = sent[0]['content'].split('\n')
    assert lines[0].startswith('# Ansible managed')
    assert lines[1:] == ['name = "virtqemud"', 'listen = 16509', '# for /etc/libvirt/virtqemud.conf', '']
    # Per-file vars win over the task's; trim_blocks drops the newline after block tags.
    assert sent[1]['content'].split('\n')[1:] == ['name = "virtproxyd"', '# for /etc/libvirt/virtproxyd.conf', '']
    assert sent[2] == files[2]
    # The role's templates/ comes before the play's, which is still searched.
    assert sent[3]['content'] == 'from the role\n'
    assert sent[4]['content'] == 'hello from the play\n'
    # Nothing is rendered for an absent file.
    assert sent[5] == {'path': '/etc/old', 'state': 'absent'}
    # A directory needs neither content nor template.
    assert sent[6] == files[6]
    # The task's own arguments are left alone.
    assert files[0]['template'] == 'daemon.conf.j2'


def test_a_user_set_ansible_managed_is_kept(layout):
    result, module_args = run_action(layout, {'files': [{'path': '/etc/x', 'template': 'daemon.conf.j2',
                                                         'mode': '0644'}]},
                                     extra_task_vars={'ansible_managed': 'Managed by kvmcloud'})
    assert module_args['files'][0]['content'].startswith('# Managed by kvmcloud\n')


@pytest.mark.parametrize('entry, message', [
    ({'template': 'foo.j2'}, 'config_files: files[2] (/etc/x): template foo.j2 not found'),
    ({'template': 'daemon.conf.j2', 'content': 'x'}, 'config_files: files[2] (/etc/x): give exactly one of '
                                                     'content, template and src, not content and template'),
    ({}, 'config_files: files[2] (/etc/x): give exactly one of content, template and src, not none'),
    ({'src': 'ca.pem', 'content': 'x'}, 'config_files: files[2] (/etc/x): give exactly one of '
                                        'content, template and src, not content and src'),
    ({'src': 'no-such.pem'}, 'config_files: files[2] (/etc/x): src no-such.pem not found on the controller'),
    ({'src': 'ca.pem', 'vars': {'a': 1}}, 'config_files: files[2] (/etc/x): vars only go with template'),
    ({'content': {'a': 1}}, 'config_files: files[2] (/etc/x): content must be a string, got dict'),
    ({'content': 'x', 'vars': {'a': 1}}, 'config_files: files[2] (/etc/x): vars only go with template'),
    ({'template': 'daemon.conf.j2', 'vars': ['a']}, 'config_files: files[2] (/etc/x): vars must be a dict'),
])
def test_bad_entries_fail_before_the_module_runs(layout, entry, message):
    files = [{'path': '/etc/a', 'content': 'a', 'mode': '0644'},
             {'path': '/etc/b', 'template': 'same.j2', 'mode': '0644'},
             dict(entry, path='/etc/x', mode='0644')]
    with pytest.raises(AnsibleActionFail) as caught:
        run_action(layout, {'files': files})
    assert str(caught.value).startswith(message)


def test_template_errors_name_the_entry(layout):
    with pytest.raises(AnsibleActionFail) as caught:
        run_action(layout, {'files': [{'path': '/etc/x', 'template': 'broken.j2', 'mode': '0644'}]})
    assert str(caught.value).startswith('config_files: files[0] (/etc/x): template broken.j2: ')
    assert 'no_such_variable' in str(caught.value)


@pytest.mark.parametrize('args, message', [
    ({'files': 'x'}, 'config_files: files must be a list of dicts, got str'),
    ({}, 'config_files: files must be a list of dicts, got NoneType'),
    ({'files': ['x']}, 'config_files: files[0] must be a dict, got str'),
    ({'files': [{'content': 'x'}]}, 'config_files: files[0]: path is required'),
])
def test_bad_arguments(layout, args, message):
    with pytest.raises(AnsibleActionFail) as caught:
        run_action(layout, args)
    assert str(caught.value).startswith(message)


def test_src_is_read_on_the_controller_from_the_role_or_an_absolute_path(layout, tmp_path):
    key = tmp_path / 'host.key'
    key.write_text('-----BEGIN PRIVATE KEY-----\n{{ not a template }}\n')
    files = [{'path': '/etc/pki/qemu/ca-cert.pem', 'src': 'ca.pem', 'mode': '0644'},
             {'path': '/etc/pki/qemu/server-key.pem', 'src': str(key), 'mode': '0640', 'diff': False}]
    result, module_args = run_action(layout, {'files': files})
    sent = module_args['files']
    assert sent[0] == {'path': '/etc/pki/qemu/ca-cert.pem', 'content': '-----BEGIN CERTIFICATE-----\nrole\n',
                       'mode': '0644'}
    # Read as it is: never rendered as a template.
    assert sent[1]['content'] == '-----BEGIN PRIVATE KEY-----\n{{ not a template }}\n'
    assert 'src' not in sent[1] and sent[1]['diff'] is False


def known_file(content, mode='0644', owner='root', group='root'):
    """A path's state as kvm_host_facts reads it."""
    return {'exists': True, 'isdir': False, 'mode': mode, 'owner': owner, 'group': group, 'mtime': 1,
            'sha256': hashlib.sha256(content.encode()).hexdigest()}


KNOWN_DIR = {'exists': True, 'isdir': True, 'mode': '0755', 'owner': 'root', 'group': 'root', 'mtime': 1,
             'sha256': None}
DROPIN = {'path': '/etc/systemd/system/libvirtd.socket.d/kvmcloud.conf', 'content': '[Socket]\nSocketMode=0660\n',
          'owner': 'root', 'group': 'root', 'mode': '0644'}
STATE_DIR = {'path': '/var/lib/kvmcloud', 'state': 'directory', 'owner': 'root', 'group': 'root', 'mode': '0755'}


def test_files_the_play_read_as_asked_cost_no_round_trip(layout):
    current = {DROPIN['path']: known_file(DROPIN['content']), STATE_DIR['path']: KNOWN_DIR}
    result, module_args = run_action(layout, {'files': [DROPIN, STATE_DIR], 'current': current})
    assert module_args is None
    assert result['changed'] is False
    assert result['from_current'] is True
    assert result['changed_paths'] == []
    assert result['files'] == [{'path': DROPIN['path'], 'changed': False, 'state': 'present'},
                               {'path': STATE_DIR['path'], 'changed': False, 'state': 'directory'}]


def test_a_rendered_template_is_compared_as_written(layout):
    rendered = '# Ansible managed\nname = "virtqemud"\nlisten = 16509\n# for /etc/libvirt/virtqemud.conf\n'
    entry = {'path': '/etc/libvirt/virtqemud.conf', 'template': 'daemon.conf.j2', 'mode': '0644'}
    result, module_args = run_action(layout, {'files': [entry], 'current': {entry['path']: known_file(rendered)}},
                                     {'ansible_managed': 'Ansible managed'})
    assert module_args is None and result['changed'] is False


@pytest.mark.parametrize('known, why', [
    (known_file('[Socket]\nSocketMode=0666\n'), 'other content'),
    (known_file(DROPIN['content'], mode='0640'), 'other mode'),
    (known_file(DROPIN['content'], owner='libvirt-qemu'), 'other owner'),
    (known_file(DROPIN['content'], group='libvirt'), 'other group'),
    (dict(KNOWN_DIR, mode='0644'), 'a directory there'),
    ({'exists': False, 'isdir': False, 'mode': None, 'owner': None, 'group': None, 'mtime': None, 'sha256': None},
     'missing'),
    (dict(known_file(DROPIN['content']), sha256=None), 'a file too large to checksum'),
    (None, 'not read'),
])
def test_a_file_that_differs_or_was_not_read_goes_to_the_module(layout, known, why):
    current = {STATE_DIR['path']: KNOWN_DIR}
    if known is not None:
        current[DROPIN['path']] = known
    result, module_args = run_action(layout, {'files': [STATE_DIR, DROPIN], 'current': current})
    assert module_args is not None, why
    # The module never sees the state the play read.
    assert 'current' not in module_args
    assert module_args['files'][1] == DROPIN
    assert result['changed'] is True
    assert 'from_current' not in result


@pytest.mark.parametrize('args', [
    {'files': [DROPIN, {'path': '/etc/old.conf', 'state': 'absent'}]},
    {'files': [DROPIN], 'manifest': '/var/lib/kvmcloud/files.json'},
    {'files': [dict(DROPIN, mode=None)]},
    {'files': [dict(STATE_DIR, mode='0700')]},
    # What the module refuses is never answered for it.
    {'files': [dict(DROPIN, mode='000644')]},
    {'files': [dict(DROPIN, mdoe='0644')]},
])
def test_absent_entries_a_manifest_or_another_mode_go_to_the_module(layout, args):
    current = {DROPIN['path']: known_file(DROPIN['content']), STATE_DIR['path']: KNOWN_DIR,
               '/etc/old.conf': {'exists': False, 'isdir': False}}
    result, module_args = run_action(layout, dict(args, current=current))
    assert module_args is not None
    assert 'current' not in module_args
