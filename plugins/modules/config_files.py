#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: config_files
short_description: Write or remove many files, some rendered from templates, and make directories, in one round trip
version_added: 0.4.0
description:
  - Makes every file of O(files) hold the given content, owner, group and mode, or be absent, in one module call.
    A role hands over its whole list of files instead of looping over M(ansible.builtin.copy) or
    M(ansible.builtin.template), which cost several round trips per file even when nothing changes.
  - Templates are rendered on the controller by the action plugin of the same name, found as
    M(ansible.builtin.template) finds them (the role's C(templates/) directory first) and with all the task's
    variables; the module on the target only receives content.
  - A file whose content (compared as bytes), owner, group and mode are already right is not touched.
  - New content is written to a temporary file in the file's own directory, checked with O(files[].validate)
    when given, then moved over the file atomically. The temporary file has the wanted owner, group and mode
    before it is checked and moved, so the new content is never readable more widely than O(files[].mode) allows.
  - An entry with O(files[].state=directory) makes a directory, or corrects the owner, group and mode of an
    existing one, so that a role's directories take the same single call.
  - Files are applied in the order given; all entries are checked before the first one is changed.
  - With O(manifest), the module records what it wrote and which directories it created, and an V(absent)
    entry removes only what that record lists, so that a role turning a feature off removes its own files and
    leaves anything else at those paths alone.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options:
  files:
    description:
      - The files, in the order they are applied.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute path of the file.
          - A symlink is followed for V(present) (the file it points to is compared and replaced) and removed
            itself for V(absent).
        type: path
        required: true
      content:
        description:
          - The text the file holds, written as UTF-8.
          - With O(files[].state=present), exactly one of O(files[].content), O(files[].template) and
            O(files[].src) is needed.
        type: str
      template:
        description:
          - Name of a Jinja2 template rendered on the controller into O(files[].content), looked up as
            M(ansible.builtin.template) looks up its O(ansible.builtin.template#module:src) (the role's
            C(templates/) directory, then the play's), with all the task's variables,
            C(ansible_managed) and the C(template_*) variables.
          - Rendered with M(ansible.builtin.template)'s defaults (C(trim_blocks), trailing newline kept).
          - Handled by the action plugin; the module on the target only ever sees O(files[].content).
        type: str
      src:
        description:
          - A file on the controller whose text the file holds, found as M(ansible.builtin.copy) finds its
            O(ansible.builtin.copy#module:src) (the role's C(files/) directory first; an absolute path as it is),
            read as UTF-8 text; a vault-encrypted file is decrypted.
          - Handled by the action plugin; the module on the target only ever sees O(files[].content).
        type: str
        version_added: 0.4.0
      vars:
        description:
          - Extra variables for this one template, on top of the task's variables, like
            O(ansible.builtin.template#lookup:template_vars) of the template lookup.
        type: dict
      owner:
        description:
          - Name or uid of the file's owner. When omitted, an existing file keeps its owner and a new one
            belongs to the user the module runs as.
        type: str
      group:
        description:
          - Name or gid of the file's group. When omitted, an existing file keeps its group and a new one gets the
            user's group (or the directory's with a setgid directory).
        type: str
      mode:
        description:
          - The file's permissions as a quoted octal string such as V('0644') or V('0640').
          - Required for V(present) files and directories, so that nothing depends on the umask. Numbers and symbolic modes are
            refused, because YAML turns an unquoted C(0644) into a number.
        type: raw
      validate:
        description:
          - Command to check the new content with before it replaces the file, where C(%s) stands for the
            temporary file, for example V(visudo -cf %s). It is split like a shell would split it, but run
            without a shell.
          - When the command fails, the file is left as it was and the task fails, naming the file and the
            command's error output.
          - Runs only when the content changes, and not in check mode.
        type: str
      state:
        description:
          - V(present) makes the file hold O(files[].content); V(absent) removes it. For V(absent), every other
            option but O(files[].path) and O(files[].diff) is ignored and no template is rendered; set
            O(files[].diff=false) there too for a file holding secrets, since the diff shows what is removed.
          - With O(manifest), V(absent) removes a file only when the manifest lists it, and a directory only when
            the manifest lists it as created by the module and nothing is left in it once the entries before
            this one are applied (list the files inside first). Without O(manifest), V(absent) refuses a
            directory.
          - V(directory) makes a directory with O(files[].owner), O(files[].group) and O(files[].mode), or gives
            an existing one those. Its contents are left alone; a directory that an earlier entry's missing
            parents would create must come before that entry.
        type: str
        choices: [present, absent, directory]
        default: present
      diff:
        description:
          - Show the content in the diff. When false, the diff only says the content changed, as
            C(content hidden (N bytes, sha256 ...)) for the old and the new content. Meant for files
            holding secrets.
          - The content of such a file is also replaced by that marker in the module arguments returned at
            C(-vvv).
        type: bool
        default: true
  current:
    description:
      - The state of the paths as a fact module read it earlier in the play, by path, with the keys of
        RV(kvmcloud.hypervisor.kvm_host_facts#module:ansible_facts.kvm_host.paths) (C(exists), C(isdir), C(owner),
        C(group), C(mode), C(sha256)).
      - When it shows every entry already as asked (each a V(present) file with the same content, owner, group and
        mode, or a V(directory) with the same owner, group and mode), the action plugin returns the module's
        unchanged result without a round trip to the target.
      - An entry it does not show or shows otherwise, an V(absent) entry, or O(manifest) makes the module run and
        look for itself, as without this option. Read the state in the same play, before anything else writes
        those paths.
      - Handled by the action plugin; the module on the target never sees it.
    type: dict
    version_added: 0.4.0
  parents:
    description:
      - Create missing parent directories, owned by C(root:root) with mode C(0755). Each one created is
        reported as a change.
      - When false, a file whose directory is missing fails the task.
    type: bool
    default: true
  manifest:
    description:
      - Absolute path of a JSON file, owned by the user the module runs as with mode C(0644), in which the module
        keeps what it wrote through the entries of the calls naming this manifest. It lists the file of each
        V(present) entry, and each directory it created (a V(directory) entry or a missing parent), not one
        that was there before.
      - An V(absent) entry then removes only what the manifest lists, and takes it off the list; anything else at
        that path is left as it is, and the entry's result says why (RV(files[].kept)). A listed directory that
        still holds something is left in place with a warning, and taken off the list.
      - The manifest is written after the entries, shown in the diff and in RV(changed_paths) like a file, and
        removed once it lists nothing. Keep it outside the directories its calls may remove.
    type: path
    version_added: 0.4.0
attributes:
  check_mode:
    support: full
    description: Reports exactly the files and directories a real run would change, and their diffs, without
      writing anything; O(files[].validate) is not run.
  diff_mode:
    support: full
    description: Returns one diff per changed file (its path as header, old and new content), one per changed set
      of file attributes (owner, group, mode) and one per created directory.
notes:
  - Standard library only on the target.
  - SELinux labels are left to the policy, as M(ansible.builtin.copy) does without C(se*) options. A new file
    gets the default label for its path; an existing file keeps its label when its content is replaced.
  - The target's journal gets only the paths of the files, not their content.
  - Text only; a binary file can be removed but not written. The diff shows a file that is not UTF-8 as
    C(binary content (N bytes, sha256 ...)).
  - Use C(no_log) on the task to hide everything, file paths included; O(files[].diff=false) hides the content
    of one file.
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.template
'''

EXAMPLES = r'''
- name: The libvirt daemons read the collection's configuration
  kvmcloud.hypervisor.config_files:
    files:
      - path: /etc/libvirt/virtqemud.conf
        template: virtqemud.conf.j2
        owner: root
        group: root
        mode: "0644"
      - path: /etc/libvirt/virtproxyd.conf
        template: daemon.conf.j2
        vars:
          daemon_name: virtproxyd
        mode: "0644"
      - path: /etc/sudoers.d/libvirt-admins
        content: "%libvirt-admins ALL=(root) /usr/bin/virsh\n"
        mode: "0440"
        validate: visudo -cf %s
      - path: /etc/libvirt/auth.conf
        content: "{{ kvm_host_libvirt_auth_conf }}"
        group: libvirt
        mode: "0640"
        diff: false
      - path: /etc/libvirt/libvirt-admin.conf.dpkg-old
        state: absent
      - path: /var/lib/kvmcloud/seeds
        state: directory
        owner: root
        group: root
        mode: "0700"
  register: kvm_host_config_files
  notify: Restart libvirt daemons

- name: Restart only what reads a changed file
  ansible.builtin.debug:
    msg: "{{ kvm_host_config_files.changed_paths }}"
'''

RETURN = r'''
changed_paths:
  description:
    - Paths created, changed or removed, in the order of O(files). A created parent directory comes just before
      the first file that needed it.
  returned: always
  type: list
  elements: str
  sample: [/etc/libvirt/virtqemud.conf, /etc/sudoers.d, /etc/sudoers.d/libvirt-admins]
from_current:
  description:
    - True when O(current) showed every entry already as asked, so the action plugin answered without calling the
      module on the target.
  returned: when O(current) showed every entry already as asked
  type: bool
  sample: true
  version_added: 0.4.0
files:
  description: One entry per entry of O(files), in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path as given.
      type: str
      sample: /etc/libvirt/virtqemud.conf
    changed:
      description: Whether the file was (in check mode, would be) created, changed or removed.
      type: bool
      sample: true
    state:
      description: The state asked for.
      type: str
      sample: present
      choices: [present, absent, directory]
    kept:
      description: Why an V(absent) entry left its path in place (with O(manifest) only).
      type: str
      returned: when an absent entry found something it does not remove
      sample: not listed in the manifest /var/lib/kvmcloud/kvm_hardening-files.json
  sample:
    - {path: /etc/libvirt/virtqemud.conf, changed: true, state: present}
    - {path: /etc/libvirt/libvirt-admin.conf.dpkg-old, changed: false, state: absent}
'''

import grp
import hashlib
import json
import os
import pwd
import shlex
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.config_files import MODE_PATTERN

DIR_MODE = 0o755


class ConfigFilesModule(AnsibleModule):
    """AnsibleModule whose journal entry names the files but leaves out their content."""

    def _log_invocation(self):
        # The default logs every parameter, so every file's content (secrets included) would end up in the
        # target's journal.
        paths = [to_native(entry.get('path')) for entry in self.params.get('files') or []]
        self.log('Invoked with files=%s parents=%s' % (','.join(paths), self.params.get('parents')))


class FileError(Exception):
    pass


def summary(data, kind):
    return '%s (%d bytes, sha256 %s)' % (kind, len(data), hashlib.sha256(data).hexdigest())


def shown(data, visible):
    """What the diff shows for data (bytes, or None for no file)."""
    if data is None:
        return ''
    if not visible:
        return summary(data, 'content hidden') + '\n'
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return summary(data, 'binary content') + '\n'


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def resolve_id(value, lookup):
    """uid or gid for a name or number, None if the name is unknown."""
    if value.isdigit():
        return int(value)
    try:
        return lookup(value)[2]
    except KeyError:
        return None


def missing_parents(directory):
    """Missing directories above and including directory, outermost first."""
    missing = []
    while not os.path.lexists(directory):
        missing.insert(0, directory)
        directory = os.path.dirname(directory)
    if not os.path.isdir(directory):
        raise FileError('%s is not a directory' % directory)
    return missing


class Plan:
    """What one entry of files needs, worked out before anything is changed."""

    def __init__(self, index, entry):
        self.index = index
        self.path = entry['path']
        self.state = entry['state']
        self.visible = entry['diff']
        self.validate = entry['validate']
        self.real = None
        self.new_dirs = []
        self.before = None       # bytes, or None when there is no file
        self.after = None        # bytes, or None for absent
        self.stat = None
        self.owner = entry['owner']
        self.group = entry['group']
        self.uid = self.gid = self.mode = None
        self.attr_before = {}
        self.attr_after = {}
        self.content_changed = False
        self.create_dir = False
        self.remove_dir = False
        self.kept = None

    @property
    def label(self):
        if self.index is None:
            return 'config_files: manifest (%s)' % self.path
        return 'config_files: files[%d] (%s)' % (self.index, self.path)

    @property
    def changed(self):
        return bool(self.new_dirs or self.create_dir or self.remove_dir or self.content_changed or self.attr_after)


class Manifest:
    """What the calls naming one manifest wrote: files, and the directories they created."""

    def __init__(self, path):
        self.path = path
        self.files, self.directories = set(), set()
        if not os.path.lexists(path):
            return
        try:
            with open(path, 'rb') as handle:
                record = json.loads(handle.read().decode('utf-8'))
            files, directories = record['files'], record['created_directories']
            if not all(isinstance(item, str) for item in list(files) + list(directories)):
                raise ValueError('the lists hold something other than paths')
        except (ValueError, KeyError, TypeError) as exc:
            raise FileError('manifest %s is not a manifest of this module (%s): nothing is removed by a record '
                            'that cannot be read. Remove it; the next run lists the files again, and removes no '
                            'directory made before' % (path, to_native(exc)))
        self.files, self.directories = set(files), set(directories)

    def content(self):
        """The manifest's text, or None when it lists nothing."""
        if not self.files and not self.directories:
            return None
        return json.dumps({'about': 'Written by kvmcloud.hypervisor.config_files: the files and directories it made, '
                                    'which its absent entries may remove.',
                           'files': sorted(self.files), 'created_directories': sorted(self.directories)},
                          indent=2, sort_keys=True) + '\n'


def inside(path, directory):
    return path.startswith(directory.rstrip('/') + '/')


def plan_absent(plan, manifest=None, leaving=(), staying=(), warnings=None):
    """What an absent entry removes. With a manifest, only what it lists; leaving: the paths earlier
    entries remove, staying: the paths any entry writes."""
    plan.real = plan.path
    if os.path.isdir(plan.path) and not os.path.islink(plan.path):
        if manifest is None:
            raise FileError('is a directory; only files can be removed (an empty directory this module created '
                            'can be, with a manifest)')
        plan_absent_directory(plan, manifest, leaving, staying, warnings)
        return
    if manifest is not None:
        listed = plan.path in manifest.files
        manifest.files.discard(plan.path)
        if not listed:
            if os.path.lexists(plan.path):
                plan.kept = 'not listed in the manifest %s' % manifest.path
            return
    if not os.path.lexists(plan.path):
        return
    plan.before = b''
    if os.path.isfile(plan.path) and not os.path.islink(plan.path):
        with open(plan.path, 'rb') as handle:
            plan.before = handle.read()
    plan.content_changed = True


def plan_absent_directory(plan, manifest, leaving, staying, warnings):
    if plan.path not in manifest.directories:
        plan.kept = 'a directory the manifest %s does not list as created by this module' % manifest.path
        return
    # Forgotten either way: a directory that holds what the module did not write is no longer its own.
    manifest.directories.discard(plan.path)
    directory = os.path.normpath(plan.path)
    left = sorted(name for name in os.listdir(directory) if os.path.join(directory, name) not in leaving)
    left += sorted(os.path.relpath(path, directory) for path in staying
                   if inside(path, directory) and os.path.relpath(path, directory) not in left)
    if left:
        plan.kept = 'not empty: it holds %s' % ', '.join(left)
        warnings.append('%s: left in place and taken off the manifest %s, because it holds %s, which this call '
                        'does not remove' % (plan.label, manifest.path, ', '.join(left)))
        return
    plan.remove_dir = True


def plan_attributes(module, plan, entry, warnings):
    """The wanted mode, uid and gid of a file or directory entry."""
    mode = entry['mode']
    if mode is None:
        raise FileError('mode is required with state=%s, as a quoted octal string such as "0644"' % plan.state)
    if not isinstance(mode, str) or not MODE_PATTERN.match(mode):
        raise FileError('mode must be a quoted octal string such as "0644", not %r' % (mode,))
    plan.mode = int(mode, 8)
    for attr, value, lookup in (('owner', plan.owner, pwd.getpwnam), ('group', plan.group, grp.getgrnam)):
        if value is None:
            continue
        resolved = resolve_id(value, lookup)
        if resolved is None:
            if not module.check_mode:
                raise FileError('%s %s does not exist on the target' % (attr, value))
            warnings.append('%s: %s %s does not exist (yet); the %s counts as changed'
                            % (plan.label, attr, value, 'directory' if plan.state == 'directory' else 'file'))
        setattr(plan, 'uid' if attr == 'owner' else 'gid', resolved)


def plan_attribute_changes(plan):
    current = plan.stat
    if plan.owner is not None and plan.uid != current.st_uid:
        plan.attr_before['owner'] = user_name(current.st_uid)
        plan.attr_after['owner'] = plan.owner
    if plan.group is not None and plan.gid != current.st_gid:
        plan.attr_before['group'] = group_name(current.st_gid)
        plan.attr_after['group'] = plan.group
    if stat.S_IMODE(current.st_mode) != plan.mode:
        plan.attr_before['mode'] = '%04o' % stat.S_IMODE(current.st_mode)
        plan.attr_after['mode'] = '%04o' % plan.mode


def plan_new_parents(module, plan, directory, planned_dirs):
    """Whether directory is missing; its missing directories not planned yet go to plan.new_dirs."""
    missing = missing_parents(directory)
    if missing and not module.params['parents']:
        raise FileError('directory %s does not exist and parents=false' % missing[0])
    plan.new_dirs = [d for d in missing if d not in planned_dirs]
    planned_dirs.update(plan.new_dirs)
    return bool(missing)


def plan_present(module, plan, entry, planned_dirs, warnings):
    for option in ('template', 'src'):
        if entry[option] is not None:
            raise FileError('%s needs the action plugin on the controller; call the module as '
                            'kvmcloud.hypervisor.config_files, not through ansible.legacy or a module path' % option)
    if entry['content'] is None:
        raise FileError('content is required with state=present')
    plan_attributes(module, plan, entry, warnings)
    plan.after = to_bytes(entry['content'], errors='surrogate_or_strict')

    plan.real = os.path.realpath(plan.path)
    if plan_new_parents(module, plan, os.path.dirname(plan.real), planned_dirs):
        plan.content_changed = True
        return

    if os.path.lexists(plan.real):
        plan.stat = os.stat(plan.real)
        if not stat.S_ISREG(plan.stat.st_mode):
            raise FileError('%s exists and is not a regular file' % plan.real)
        with open(plan.real, 'rb') as handle:
            plan.before = handle.read()
    plan.content_changed = plan.before != plan.after
    if plan.stat is not None:
        plan_attribute_changes(plan)


def plan_directory(module, plan, entry, planned_dirs, warnings):
    for option in ('content', 'template', 'src', 'vars', 'validate'):
        if entry[option] is not None:
            raise FileError('%s does not apply to state=directory' % option)
    plan_attributes(module, plan, entry, warnings)
    plan.real = os.path.realpath(plan.path)
    if plan.real in planned_dirs:
        raise FileError('an earlier entry creates it as a missing parent (root, 0755); list this entry '
                        'before the entries inside it')
    if plan_new_parents(module, plan, plan.real, planned_dirs):
        # missing_parents counted the directory itself: it is this entry's, not a parent.
        plan.new_dirs = [d for d in plan.new_dirs if d != plan.real]
        plan.create_dir = True
        return
    # missing_parents refused anything but a directory at plan.real.
    plan.stat = os.stat(plan.real)
    plan_attribute_changes(plan)


def make_dir(module, path, mode, uid=-1, gid=-1):
    """A new directory with its owner, group and mode (made root-only first: never open wider than asked),
    and the SELinux label the policy gives its path."""
    os.mkdir(path, 0o700)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    if module.selinux_enabled():
        module.set_context_if_different(path, module.selinux_default_context(path), False)


def make_dirs(module, directories):
    for directory in directories:
        make_dir(module, directory, DIR_MODE, 0, 0)


def run_validate(module, plan, candidate):
    if '%s' not in plan.validate:
        raise FileError('validate must contain %%s for the file to check: %s' % plan.validate)
    argv = [arg.replace('%s', candidate) for arg in shlex.split(plan.validate)]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        raise FileError('not changed, validate command %r failed (rc=%d): %s'
                        % (plan.validate, rc, (err or out).strip()))


def write_file(module, plan):
    directory = os.path.dirname(plan.real)
    handle, candidate = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(plan.real))
    try:
        with os.fdopen(handle, 'wb') as out:
            out.write(plan.after)
            out.flush()
            uid = plan.uid if plan.uid is not None else (plan.stat.st_uid if plan.stat else -1)
            gid = plan.gid if plan.gid is not None else (plan.stat.st_gid if plan.stat else -1)
            os.fchown(out.fileno(), uid, gid)
            os.fchmod(out.fileno(), plan.mode)
        if plan.validate:
            run_validate(module, plan, candidate)
        old_context = None
        if plan.stat is not None and module.selinux_enabled():
            old_context = module.selinux_context(plan.real)
        # keep_dest_attrs=False keeps the candidate's owner and mode instead of the old file's. atomic_move
        # gives a new file umask-based permissions and its own owner; a strict umask keeps the content private
        # until the wanted attributes are set.
        umask = os.umask(0o077)
        try:
            module.atomic_move(candidate, plan.real, unsafe_writes=False, keep_dest_attrs=False)
        finally:
            os.umask(umask)
        if old_context is not None:
            module.set_context_if_different(plan.real, old_context, False)
    finally:
        if os.path.exists(candidate):
            os.unlink(candidate)


def apply_plan(module, plan):
    if plan.state == 'absent':
        if plan.remove_dir:
            os.rmdir(plan.path)
        elif plan.content_changed:
            os.unlink(plan.path)
        return
    make_dirs(module, plan.new_dirs)
    if plan.create_dir:
        # An owner or group not given stays the user's (-1: chown leaves it).
        make_dir(module, plan.real, plan.mode,
                 -1 if plan.uid is None else plan.uid, -1 if plan.gid is None else plan.gid)
    elif plan.content_changed:
        write_file(module, plan)
    file_args = module.load_file_common_arguments(
        dict(owner=plan.owner, group=plan.group, mode='%04o' % plan.mode), path=plan.real)
    module.set_fs_attributes_if_different(file_args, False)


def plan_diffs(plan):
    diffs = []
    for directory in plan.new_dirs:
        diffs.append(dict(before_header=directory, after_header=directory,
                          before=dict(path=directory, state='absent'),
                          after=dict(path=directory, state='directory', owner='root', group='root', mode='0755')))
    if plan.create_dir:
        after = dict(path=plan.path, state='directory', mode='%04o' % plan.mode)
        after.update(dict((key, value) for key, value in (('owner', plan.owner), ('group', plan.group)) if value))
        diffs.append(dict(before_header=plan.path, after_header=plan.path,
                          before=dict(path=plan.path, state='absent'), after=after))
    if plan.remove_dir:
        diffs.append(dict(before_header=plan.path, after_header=plan.path,
                          before=dict(path=plan.path, state='directory'), after=dict(path=plan.path, state='absent')))
    if plan.content_changed:
        diffs.append(dict(before_header=plan.path, after_header=plan.path,
                          before=shown(plan.before, plan.visible), after=shown(plan.after, plan.visible)))
    if plan.attr_after:
        header = '%s (file attributes)' % plan.path
        diffs.append(dict(before_header=header, after_header=header,
                          before=dict(plan.attr_before), after=dict(plan.attr_after)))
    return diffs


def record(manifest, plan):
    """A present file is the module's now; a directory is when it is created here (or was before)."""
    manifest.directories.update(plan.new_dirs)
    if plan.state == 'directory':
        if plan.create_dir:
            manifest.directories.add(plan.path)
    else:
        manifest.files.add(plan.path)


def plan_manifest(module, plan, manifest, planned_dirs, warnings):
    """The manifest as one more file, written (or removed, once it lists nothing) after the entries.
    Directories made for it are not listed in it: they hold it."""
    content = manifest.content()
    entry = dict(path=manifest.path, validate=None, owner=None, group=None, mode='0644', content=content,
                 template=None, src=None)
    if content is None:
        plan.state = 'absent'
        plan_absent(plan)
    else:
        plan_present(module, plan, entry, planned_dirs, warnings)


def shown_args(params):
    """The module arguments as returned at -vvv, without the content of files with diff=false."""
    files = []
    for entry in params['files']:
        entry = dict(entry)
        if not entry['diff'] and entry['content'] is not None:
            entry['content'] = summary(to_bytes(entry['content'], errors='surrogate_or_strict'), 'content hidden')
        files.append(entry)
    return dict(params, files=files)


def main():
    module = ConfigFilesModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='path', required=True),
                content=dict(type='str'),
                template=dict(type='str'),
                src=dict(type='str'),
                vars=dict(type='dict'),
                owner=dict(type='str'),
                group=dict(type='str'),
                mode=dict(type='raw'),
                validate=dict(type='str'),
                state=dict(type='str', choices=['present', 'absent', 'directory'], default='present'),
                diff=dict(type='bool', default=True),
            )),
            parents=dict(type='bool', default=True),
            manifest=dict(type='path'),
            # Handled by the action plugin (documented above).
            current=dict(type='dict'),
        ),
        supports_check_mode=True,
    )
    invocation = dict(module_args=shown_args(module.params))
    result = dict(changed=False, changed_paths=[], files=[])

    def fail(msg):
        module.fail_json(msg=msg, invocation=invocation, **result)

    plans = []
    seen = {}
    planned_dirs = set()
    warnings = []
    manifest = None
    manifest_path = module.params['manifest']
    try:
        if manifest_path is not None:
            if not os.path.isabs(manifest_path):
                raise FileError('manifest %s: path must be absolute' % manifest_path)
            manifest = Manifest(manifest_path)
    except (FileError, IOError, OSError) as exc:
        fail('config_files: %s' % to_native(exc))
    # What entries write stays; what earlier entries remove leaves (for an absent directory's emptiness).
    staying = set(os.path.normpath(entry['path']) for entry in module.params['files'] if entry['state'] != 'absent')
    if manifest_path is not None:
        staying.add(os.path.normpath(manifest_path))
    leaving = set()
    for index, entry in enumerate(module.params['files']):
        plan = Plan(index, entry)
        try:
            if not os.path.isabs(plan.path):
                raise FileError('path must be absolute')
            if plan.path in seen:
                raise FileError('path already in files[%d]' % seen[plan.path])
            if plan.path == manifest_path:
                raise FileError('path is the manifest\'s')
            seen[plan.path] = index
            if plan.state == 'absent':
                plan_absent(plan, manifest, leaving, staying, warnings)
                if plan.content_changed or plan.remove_dir:
                    leaving.add(os.path.normpath(plan.path))
            elif plan.state == 'directory':
                plan_directory(module, plan, entry, planned_dirs, warnings)
            else:
                plan_present(module, plan, entry, planned_dirs, warnings)
            if manifest is not None and plan.state != 'absent':
                record(manifest, plan)
        except (FileError, IOError, OSError) as exc:
            fail('%s: %s' % (plan.label, to_native(exc)))
        plans.append(plan)
    if manifest is not None:
        plan = Plan(None, dict(path=manifest.path, state='present', diff=True, validate=None, owner=None, group=None))
        try:
            plan_manifest(module, plan, manifest, planned_dirs, warnings)
        except (FileError, IOError, OSError) as exc:
            fail('%s: %s' % (plan.label, to_native(exc)))
        plans.append(plan)
    for warning in warnings:
        module.warn(warning)

    diffs = []
    for plan in plans:
        if plan.changed and not module.check_mode:
            try:
                apply_plan(module, plan)
            except (FileError, IOError, OSError) as exc:
                # Report what was already done: earlier files and this file's new directories.
                result['changed_paths'].extend(d for d in plan.new_dirs if os.path.isdir(d))
                result['changed'] = bool(result['changed_paths'])
                fail('%s: %s' % (plan.label, to_native(exc)))
        result['changed_paths'].extend(plan.new_dirs)
        if plan.create_dir or plan.remove_dir or plan.content_changed or plan.attr_after:
            result['changed_paths'].append(plan.path)
        if plan.index is not None:
            result['files'].append(dict(path=plan.path, changed=plan.changed, state=plan.state,
                                        **(dict(kept=plan.kept) if plan.kept else {})))
        result['changed'] = result['changed'] or plan.changed
        diffs.extend(plan_diffs(plan))

    if module._diff and diffs:
        result['diff'] = diffs
    module.exit_json(invocation=invocation, **result)


if __name__ == '__main__':
    main()
