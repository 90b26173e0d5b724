#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: libvirt_conf
short_description: Set several keys of a libvirt configuration file in one step
version_added: 0.1.0
description:
  - Sets or removes keys in a libvirt configuration file such as C(/etc/libvirt/qemu.conf) or
    C(/etc/libvirt/libvirtd.conf), written in libvirt's own syntax, and leaves every other line as it is.
  - Meant for several roles owning different keys of the same file; keys not in O(settings) are never touched.
  - A key whose assignment already holds the desired value is left alone, even when written differently
    (for example V(1) for V(true), single quotes, or a list spread over several lines).
  - A key to change is rewritten where it stands, as one line (a multi-line list included). If it is assigned
    more than once, the last assignment is rewritten and the earlier ones are dropped.
  - Keys not yet in the file are appended at the end, below the comment line
    C(# Managed by kvmcloud.hypervisor (keys below and any key set in place above)), which is added once.
  - With O(lens), the new content is checked with libvirt's augeas lens before it replaces the file.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options:
  path:
    description:
      - The libvirt configuration file.
      - Required unless O(files) is given.
    type: path
  files:
    description:
      - Several libvirt configuration files in one call, instead of O(path), O(settings) and O(lens).
        Each entry takes C(path), C(settings), C(lens), C(record), C(owner), C(group) and C(mode), with the meaning
        of the options of the same name.
      - Every file is edited and, when changed, validated with its lens before the first one is replaced,
        so a refused value leaves all of them as they were.
      - O(create) and O(backup) apply to every file; the other file options (SELinux context, attributes)
        are only for O(path).
    type: list
    elements: dict
    version_added: 0.4.0
  settings:
    description:
      - Keys to set, with their values.
      - A boolean is written V(1) or V(0), an integer as it is, a string in double quotes (in single quotes when
        it holds a double quote; libvirt's syntax has no escapes), a list of strings or integers as
        C([ "a", "b" ]) on one line.
      - A value of V(null) removes every assignment of the key.
      - Strings with a line break or with both quote characters cannot be written and fail the task.
      - Required unless O(files) is given.
    type: dict
  lens:
    description:
      - Augeas lens to validate the new content with before it replaces the file, for example
        V(Libvirtd_qemu.lns) for C(qemu.conf) or V(Libvirtd.lns) for C(libvirtd.conf).
      - The lens knows every key and its type, so a misspelt key or a string where a number belongs fails
        the task, naming the line, and the file stays as it was.
      - Needs C(augtool) on the target (package C(augeas-tools) on Debian, C(augeas) on RHEL).
      - Only checked when the content changes. In check mode the new content is checked from a copy in the
        temporary directory when C(augtool) is there, and not at all when it is not.
      - The lenses accept less than libvirt does (no comment after a value, no single quotes, no C(;)), so a
        file that already uses those forms fails validation.
    type: str
  record:
    description:
      - A name for the caller, such as V(kvm_host). The keys it sets are then listed in a comment line
        C(# Keys set by NAME) (then a colon and the keys) below the module's marker line, and on a later call
        with the same name, keys listed there but no longer in O(settings) are removed, so libvirt uses its
        default again.
      - Without it, keys not in O(settings) are never touched.
    type: str
    version_added: 0.4.0
  create:
    description:
      - Create the file when it does not exist. When false, a missing file fails the task unless O(settings)
        only removes keys.
    type: bool
    default: true
  backup:
    description:
      - Keep a timestamped copy of the file before it is changed.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    description:
      - Reports the change and the diff without writing. O(lens) validation runs on a copy in the temporary
        directory when C(augtool) is there.
      - A file whose directory does not exist yet is reported as a new file instead of failing, as an earlier
        step of the same run (a package install) may make it.
  diff_mode:
    support: full
    description: Shows the file text before and after, and any change of file attributes.
notes:
  - Standard library only on the target.
  - The file is replaced atomically from a temporary file in the same directory, keeping its owner, group
    and mode unless those options say otherwise.
  - Comments and blank lines are kept. A comment after a rewritten value on the same line is kept; a comment
    after a removed value goes with it.
seealso:
  - module: community.general.ini_file
    description: Sets one key per call and does not understand libvirt's multi-line lists.
'''

EXAMPLES = r'''
- name: Confine QEMU guests
  kvmcloud.hypervisor.libvirt_conf:
    path: /etc/libvirt/qemu.conf
    lens: Libvirtd_qemu.lns
    owner: root
    group: root
    mode: "0600"
    settings:
      security_driver: [apparmor]
      security_default_confined: true
      security_require_confined: true
      seccomp_sandbox: 1
      namespaces: [mount]
  notify: Restart libvirtd

- name: Drop a key another tool used to set
  kvmcloud.hypervisor.libvirt_conf:
    path: /etc/libvirt/libvirtd.conf
    lens: Libvirtd.lns
    settings:
      listen_tcp: null

# Keys an inventory override no longer names are removed on the next run.
- name: The operator's qemu.conf overrides, and only those
  kvmcloud.hypervisor.libvirt_conf:
    path: /etc/libvirt/qemu.conf
    lens: Libvirtd_qemu.lns
    record: site_overrides
    settings: "{{ site_qemu_conf }}"
'''

RETURN = r'''
files:
  description: With O(files), for each file C(path), C(changed) and C(changed_keys).
  returned: when O(files) is given
  type: list
  elements: dict
  version_added: 0.4.0
changed_keys:
  description: Keys whose assignment was added, changed or removed, sorted.
  returned: always
  type: list
  elements: str
  sample: [namespaces, seccomp_sandbox]
backup_file:
  description: The copy made before the change.
  returned: when O(backup=true) and the file was changed
  type: str
  sample: /etc/libvirt/qemu.conf.12345.2025-01-01@12:00:00~
'''

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_conf import ConfError
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_conf_edit import edit_libvirt_conf

# What one entry of files may hold.
FILE_KEYS = ('path', 'settings', 'lens', 'record', 'owner', 'group', 'mode')

_AUG_LINE = re.compile(r'/error/line = "(\d+)"')
_AUG_MESSAGE = re.compile(r'/error/message = "(.*)"')


def read_text(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return to_text(handle.read(), errors='surrogate_or_strict')
    except FileNotFoundError:
        return None


def augeas_problem(module, lens, candidate, text):
    """None if the lens parses candidate (a file holding text), else a message naming the first bad line."""
    augtool = module.get_bin_path('augtool')
    if augtool is None:
        module.fail_json(msg='lens=%s needs augtool on the target: install augeas-tools (Debian) or augeas (RHEL), '
                             'or omit lens' % lens)
    rc, out, err = module.run_command([augtool, '--noautoload', '--root=/',
                                       '--transform=%s incl %s' % (lens, candidate),
                                       'print /augeas//error'])
    report = (out + err).strip()
    if rc == 0 and not report:
        return None
    line = _AUG_LINE.search(report)
    if line is None:
        # Not about a line: an unknown lens, or augtool itself failing.
        return 'augtool (lens %s) rc=%d: %s' % (lens, rc, report)
    number = int(line.group(1))
    lines = text.splitlines()
    bad = lines[number - 1] if 0 < number <= len(lines) else ''
    message = _AUG_MESSAGE.search(report)
    return 'lens %s rejects line %d: %s (%s)' % (lens, number, bad, message.group(1) if message else report)


def validated_candidate(module, path, text, lens, directory=None):
    """A temporary file beside path (or in directory) holding text, checked with lens. Fails
    the module (the candidate removed) when libvirt would refuse it."""
    handle, candidate = tempfile.mkstemp(dir=directory or os.path.dirname(path), prefix='.%s.' % os.path.basename(path))
    accepted = False
    try:
        with os.fdopen(handle, 'wb') as out:
            out.write(to_bytes(text, errors='surrogate_or_strict'))
        problem = augeas_problem(module, lens, candidate, text) if lens else None
        if problem:
            module.fail_json(msg='%s: not changed, libvirt would refuse the new content: %s' % (path, problem))
        accepted = True
        return candidate
    finally:
        if not accepted:
            os.unlink(candidate)


def plan(module, spec):
    """Reads one file and works out its new text: {path, before, after, changed_keys}."""
    path = os.path.realpath(spec['path'])
    settings = spec['settings'] or {}
    try:
        before = read_text(path)
    except (IOError, OSError) as exc:
        module.fail_json(msg='Cannot read %s: %s' % (path, to_native(exc)))
    if before is None:
        if not module.params['create'] and any(value is not None for value in settings.values()):
            module.fail_json(msg='%s does not exist and create=false' % path)
        # In check mode an earlier step of the run (the package that brings the file) may not
        # have made it yet: the preview shows the file as new.
        if not os.path.isdir(os.path.dirname(path)) and not module.check_mode:
            module.fail_json(msg='%s: directory %s does not exist' % (path, os.path.dirname(path)))
    try:
        after, changed_keys = edit_libvirt_conf(before, settings, record=spec.get('record'))
    except ConfError as exc:
        module.fail_json(msg='%s does not parse as a libvirt config file, not changed: %s' % (path, to_native(exc)))
    except ValueError as exc:
        module.fail_json(msg=to_native(exc))
    return dict(spec, path=path, before=before, after=after, changed_keys=changed_keys)


def file_specs(module):
    params = module.params
    if params['files'] is None:
        if params['path'] is None or params['settings'] is None:
            module.fail_json(msg='path and settings are required unless files is given')
        return [dict(params, path=params['path'])]
    specs = []
    for index, entry in enumerate(params['files']):
        unknown = set(entry) - set(FILE_KEYS)
        if unknown or not entry.get('path') or not isinstance(entry.get('settings'), dict):
            module.fail_json(msg='files[%d]: needs path and settings (a dict), and takes only %s; got %s'
                                 % (index, ', '.join(FILE_KEYS), ', '.join(sorted(entry))))
        spec = dict((key, None) for key in module.params if key not in ('files', 'settings'))
        spec.update(dict((key, entry.get(key)) for key in FILE_KEYS))
        specs.append(spec)
    return specs


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path'),
            files=dict(type='list', elements='dict'),
            settings=dict(type='dict'),
            lens=dict(type='str'),
            record=dict(type='str'),
            create=dict(type='bool', default=True),
            backup=dict(type='bool', default=False),
        ),
        add_file_common_args=True,
        mutually_exclusive=[('files', 'path'), ('files', 'settings'), ('files', 'lens'), ('files', 'record')],
        supports_check_mode=True,
    )
    # Every file is read, edited and validated before the first one is replaced.
    plans = [plan(module, spec) for spec in file_specs(module)]
    candidates = {}
    try:
        for item in plans:
            if item['after'] == (item['before'] or ''):
                continue
            if not module.check_mode:
                candidates[item['path']] = validated_candidate(module, item['path'], item['after'], item['lens'])
            elif item['lens'] and module.get_bin_path('augtool'):
                # Check mode gives the lens's verdict too, from a copy outside the config directory.
                os.unlink(validated_candidate(module, item['path'], item['after'], item['lens'],
                                              directory=tempfile.gettempdir()))
        result = dict(changed=False, files=[], diff=[])
        for item in plans:
            path = item['path']
            # A missing file that nothing would be written to stays missing.
            changed = item['after'] != (item['before'] or '')
            if path in candidates:
                if module.params['backup'] and os.path.exists(path):
                    result['backup_file'] = module.backup_local(path)
                module.atomic_move(candidates.pop(path), path, unsafe_writes=module.params['unsafe_writes'])
            attr_diff = {}
            if os.path.exists(path):
                file_args = module.load_file_common_arguments(item, path=path)
                changed = module.set_fs_attributes_if_different(file_args, changed, diff=attr_diff)
            result['changed'] = result['changed'] or changed
            result['files'].append(dict(path=path, changed=changed, changed_keys=item['changed_keys']))
            result['diff'].append(dict(before=item['before'] or '', after=item['after'],
                                       before_header=path, after_header=path))
            if attr_diff:
                attr_diff['before_header'] = attr_diff['after_header'] = '%s (file attributes)' % path
                result['diff'].append(attr_diff)
    finally:
        for candidate in candidates.values():
            os.unlink(candidate)
    if module.params['files'] is None:
        result['changed_keys'] = result.pop('files')[0]['changed_keys']
    else:
        result['changed_keys'] = sorted(set(key for entry in result['files'] for key in entry['changed_keys']))
    if not module._diff:
        del result['diff']
    module.exit_json(**result)


if __name__ == '__main__':
    main()
