# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of kvmcloud.hypervisor.config_files: renders the templates and reads the controller
files (src), then calls the module once, or not at all when the files' state the play read
earlier (current) shows nothing to change."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os

from ansible.errors import AnsibleActionFail, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible.template import generate_ansible_template_vars

from ansible.template import trust_as_template
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.config_files import MODE_PATTERN

MODULE = 'kvmcloud.hypervisor.config_files'
# What ansible.builtin.template renders with unless told otherwise.
TEMPLATE_OVERRIDES = dict(trim_blocks=True, lstrip_blocks=False)
NEWLINE_SEQUENCE = '\n'


# The keys of an entry once templates and src are rendered into content: an entry the module would
# refuse (another key, or a mode outside MODE_PATTERN) always goes to the module.
ENTRY_KEYS = frozenset(('path', 'content', 'owner', 'group', 'mode', 'validate', 'state', 'diff'))


def octal(mode):
    """A mode the module accepts ('0644', '644') as a number; None for anything else."""
    if isinstance(mode, str) and MODE_PATTERN.match(mode):
        return int(mode, 8)
    return None


def entry_matches(entry, known):
    """Whether KNOWN, a path's state as kvmcloud.hypervisor.kvm_host_facts reads it (its `paths`),
    shows the present or directory ENTRY already as asked: the same content (sha256), owner,
    group and mode. Anything the state cannot show counts as a difference."""
    if not isinstance(known, dict) or not known.get('exists') or not set(entry) <= ENTRY_KEYS:
        return False
    for key in ('owner', 'group'):
        if entry.get(key) is not None and entry[key] != known.get(key):
            return False
    if octal(entry.get('mode')) is None or octal(entry.get('mode')) != octal(known.get('mode')):
        return False
    if entry.get('state', 'present') == 'directory':
        return known.get('isdir') is True
    content = entry.get('content')
    return (known.get('isdir') is False and isinstance(content, str)
            and hashlib.sha256(to_bytes(content, errors='surrogate_or_strict')).hexdigest() == known.get('sha256'))


def unchanged_result(module_args, current):
    """The module's own result for a call that changes nothing, when CURRENT (path to state, read
    earlier in the play) shows every file and directory already as asked; None when the module
    must look for itself: an entry CURRENT does not show or that differs, an absent entry (a link
    left dangling is only seen there), or a manifest (its record is not read)."""
    if not isinstance(current, dict) or module_args.get('manifest'):
        return None
    files = module_args['files']
    for entry in files:
        if entry.get('state', 'present') not in ('present', 'directory'):
            return None
        if not entry_matches(entry, current.get(entry['path'])):
            return None
    return dict(changed=False, changed_paths=[], from_current=True,
                files=[dict(path=entry['path'], changed=False, state=entry.get('state', 'present')) for entry in files])


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = dict()
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        try:
            module_args = self._module_args(task_vars)
            current = module_args.pop('current', None)
            unchanged = unchanged_result(module_args, current)
            if unchanged is not None:
                result.update(unchanged)
                return result
            result.update(self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _module_args(self, task_vars):
        """The task's arguments with every template rendered into content."""
        args = dict(self._task.args)
        files = args.get('files')
        if not isinstance(files, list):
            raise AnsibleActionFail('config_files: files must be a list of dicts, got %s' % type(files).__name__)
        rendered = []
        for index, entry in enumerate(files):
            if not isinstance(entry, dict):
                raise AnsibleActionFail('config_files: files[%d] must be a dict, got %s'
                                        % (index, type(entry).__name__))
            rendered.append(self._entry(index, dict(entry), task_vars))
        args['files'] = rendered
        return args

    def _entry(self, index, entry, task_vars):
        path = entry.get('path')
        if not path or not isinstance(path, str):
            raise AnsibleActionFail('config_files: files[%d]: path is required' % index)
        label = 'config_files: files[%d] (%s)' % (index, path)
        if entry.get('state', 'present') == 'absent':
            # Nothing is written, so nothing is rendered.
            for key in ('content', 'template', 'src', 'vars'):
                entry.pop(key, None)
            return entry
        if entry.get('state') == 'directory':
            # The module refuses content, template and vars here, naming the entry.
            return entry
        given = [key for key in ('content', 'template', 'src') if entry.get(key) is not None]
        if len(given) != 1:
            raise AnsibleActionFail('%s: give exactly one of content, template and src, not %s'
                                    % (label, ' and '.join(given) if given else 'none'))
        extra_vars = entry.pop('vars', None)
        if given == ['src']:
            if extra_vars is not None:
                raise AnsibleActionFail('%s: vars only go with template' % label)
            entry['content'] = self._read(label, entry.pop('src'))
            return entry
        if given == ['content']:
            if extra_vars is not None:
                raise AnsibleActionFail('%s: vars only go with template' % label)
            if not isinstance(entry['content'], str):
                raise AnsibleActionFail('%s: content must be a string, got %s (a filter such as to_nice_json '
                                        'makes one)' % (label, type(entry['content']).__name__))
            return entry
        if extra_vars is not None and not isinstance(extra_vars, dict):
            raise AnsibleActionFail('%s: vars must be a dict, got %s' % (label, type(extra_vars).__name__))
        entry['content'] = self._render(label, entry.pop('template'), path, extra_vars or {}, task_vars)
        return entry

    def _read(self, label, name):
        """The text of a controller file, found as ansible.builtin.copy finds its src (vault-encrypted too)."""
        try:
            source = self._find_needle('files', name)
        except AnsibleError:
            raise AnsibleActionFail('%s: src %s not found on the controller' % (label, name))
        try:
            return to_text(self._loader.get_text_file_contents(source))
        except UnicodeError:
            raise AnsibleActionFail('%s: src %s is not UTF-8 text' % (label, name))
        except AnsibleError as exc:
            raise AnsibleActionFail('%s: src %s: %s' % (label, name, to_text(exc)))

    def _render(self, label, name, dest, extra_vars, task_vars):
        """name rendered as ansible.builtin.template renders its src, with extra_vars on top of task_vars."""
        try:
            source = self._find_needle('templates', name)
        except AnsibleFileNotFound:
            raise AnsibleActionFail('%s: template %s not found' % (label, name))

        # Jinja includes are looked up in the search path, in 'templates' below each entry first.
        searchpath = []
        for path in list(task_vars.get('ansible_search_path', [])) + [self._loader._basedir, os.path.dirname(source)]:
            searchpath.extend([os.path.join(path, 'templates'), path])

        variables = task_vars.copy()
        template_vars = generate_ansible_template_vars(name, source, dest)
        if 'ansible_managed' in task_vars:  # set by the user: keep it, as ansible.builtin.template does since 2.19
            template_vars.pop('ansible_managed', None)
        variables.update(template_vars)
        variables.update(extra_vars)

        try:
            # Templates from files must be marked as trusted to be rendered (ansible-core 2.19 and later).
            data = trust_as_template(self._loader.get_text_file_contents(source))
            templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
            overrides = dict(TEMPLATE_OVERRIDES, newline_sequence=NEWLINE_SEQUENCE)
            rendered = templar.template(data, escape_backslashes=False, overrides=overrides)
        except AnsibleError as exc:
            raise AnsibleActionFail('%s: template %s: %s' % (label, name, to_text(exc)))
        except UnicodeError:
            raise AnsibleActionFail('%s: template %s is not UTF-8' % (label, name))
        if rendered is None:
            return ''
        return rendered if isinstance(rendered, str) else to_text(rendered)
