#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: selinux_local
short_description: Set SELinux booleans, file-context rules, local policy modules and labels in one call
version_added: 0.4.0
description:
  - Makes the SELinux local customisations of a host what a role wants, in one module call - booleans set now
    and persistently, file-context rules, CIL policy modules, and the labels of a few paths.
    It replaces loops of M(ansible.posix.seboolean), M(community.general.sefcontext) and C(semodule) tasks,
    which cost a module call each, and most of them a run of C(semanage) loading the whole policy.
  - Reads the current state once and cheaply (C(getsebool -a), C(semodule --list-modules=full), and the files of
    the policy store that C(semanage export) would print), and changes only what differs, each kind in one
    transaction, so the policy is rebuilt at most once per kind. A host that needs no change gets no
    C(semodule), C(setsebool) or C(semanage) call.
  - Applied in this order, so that later kinds may use what earlier ones add - O(policy_modules), O(booleans),
    O(fcontexts), then O(restorecon). The options are checked before anything changes; boolean names are
    checked against the policy once O(policy_modules) is applied, since a module may add a boolean.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options:
  booleans:
    description:
      - Booleans and the value each must have, now and after every boot, as C(setsebool -P) sets them.
      - A boolean is left alone when its active value (C(getsebool -a)) and its local value in the policy store
        (C(booleans.local), what C(setsebool -P) and C(semanage boolean -m) record) both have the wanted value.
        The policy's default is not read, so a boolean without a local value is recorded once, also when its
        default is already the wanted value.
      - All booleans that differ are set by one C(setsebool -P) call, one policy rebuild.
      - A name the loaded policy does not have fails the task, naming it.
    type: dict
  fcontexts:
    description:
      - File-context rules, as C(semanage fcontext) keeps them. A rule survives a relabel; C(chcon) would not.
      - A rule is compared by O(fcontexts[].target) and O(fcontexts[].ftype), and only its type. A rule the
        policy itself has with the wanted type needs nothing; with another type, a local rule is put over it.
      - All rules that differ are applied by one C(semanage import), one transaction.
    type: list
    elements: dict
    suboptions:
      target:
        description:
          - The path regular expression, for example V(/srv/images(/.*\)?). No spaces or quotes.
        type: str
        required: true
      setype:
        description:
          - The SELinux type of the files the rule matches, for example V(virt_image_t).
          - Required with O(fcontexts[].state=present).
        type: str
      ftype:
        description:
          - The file type the rule is for, as C(semanage fcontext -f) takes it. V(a) is all files, V(f) regular
            files, V(d) directories, V(c) character devices, V(b) block devices, V(s) sockets, V(l) symbolic
            links, V(p) named pipes.
        type: str
        choices: [a, f, d, c, b, s, l, p]
        default: a
      state:
        description:
          - V(present) makes the rule exist with O(fcontexts[].setype); V(absent) removes a local rule. Rules of
            the policy itself cannot be removed and are left alone.
        type: str
        choices: [present, absent]
        default: present
  policy_modules:
    description:
      - CIL policy modules, installed from files already on the target.
      - A module is installed when it is not, or when the source installed differs from the file, byte for byte
        (read from the policy store, the text C(semodule --extract --cil) would write), and enabled when it was
        disabled. All changes are made by one C(semodule) call, one policy rebuild.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The module's name. C(semodule) names a CIL module after its file, so it must be the file's name
            without C(.cil).
        type: str
        required: true
      path:
        description:
          - The C(.cil) file on the target. Required with O(policy_modules[].state=present).
          - It must be where C(semodule) may read it; for example C(/usr/local/share/...) (C(usr_t)), not
            C(/etc/selinux) or a home directory.
          - In check mode a missing file counts as written by an earlier task, and the module as to be installed.
        type: path
      state:
        description:
          - V(present) installs the module; V(absent) removes it from priority 400, where C(semodule --install)
            puts modules. Only the modules named here are removed.
        type: str
        choices: [present, absent]
        default: present
  restorecon:
    description:
      - Paths whose label is set from the file-context rules, after O(fcontexts) is applied, by one
        C(restorecon -v) call. Not recursive.
      - A path that does not exist is left out; it gets its label when it is created.
      - In check mode C(restorecon -n) says what would change, and a path matched by a rule this call would add
        or change is predicted from that rule.
    type: list
    elements: path
attributes:
  check_mode:
    support: full
    description: Reads the same state and reports the same changes a real run would make, without running
      C(semodule), C(setsebool), C(semanage) or C(restorecon) (C(restorecon -n) only).
  diff_mode:
    support: full
    description: One diff per kind given, before and after - the booleans (active and persistent value), the
      rules (type, and whether local or the policy's), the modules (installed, and as the file) and the
      labels of the paths relabelled.
notes:
  - Standard library only on the target; runs C(getsebool), C(setsebool), C(semodule), C(semanage) and
    C(restorecon). Must run as root, which may read the policy store.
  - The policy store is found from C(SELINUXTYPE) in C(/etc/selinux/config) and C(store-root) in
    C(/etc/selinux/semanage.conf) (default C(/var/lib/selinux)).
seealso:
  - module: ansible.posix.seboolean
  - module: community.general.sefcontext
  - module: ansible.posix.selinux
'''

EXAMPLES = r'''
- name: Guests may use NFS and TCG, and the image directory is virt_image_t
  kvmcloud.hypervisor.selinux_local:
    policy_modules:
      - name: kvmcloud_libvirt
        path: /usr/local/share/selinux/kvmcloud/kvmcloud_libvirt.cil
    booleans:
      virt_use_nfs: true
      virt_use_execmem: true
      virt_use_samba: false
    fcontexts:
      - target: /srv/images(/.*)?
        setype: virt_image_t
      - target: /etc/libvirt/hooks/qemu\.d/old-hook
        ftype: f
        state: absent
    restorecon:
      - /srv/images
  register: selinux_changes

- name: What changed
  ansible.builtin.debug:
    msg: "{{ selinux_changes.changed_booleans }} {{ selinux_changes.relabelled_paths }}"
'''

RETURN = r'''
changed_policy_modules:
  description: Modules installed, enabled or removed (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [kvmcloud_libvirt]
changed_booleans:
  description: Booleans set, sorted.
  returned: always
  type: list
  elements: str
  sample: [virt_use_execmem]
changed_fcontexts:
  description: Targets of the rules added, changed or removed, in the order of O(fcontexts).
  returned: always
  type: list
  elements: str
  sample: ['/srv/images(/.*)?']
relabelled_paths:
  description: Paths whose label changed, as C(restorecon -v) names them.
  returned: always
  type: list
  elements: str
  sample: [/srv/images]
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.selinux_policy import (
    PolicyError, apply_fcontext_plan, boolean_plan, check_booleans, check_policy_modules, describe_booleans,
    describe_fcontexts, fcontext_plan, file_type_letter, import_text, module_plan, module_source,
    normalize_fcontexts, parse_booleans_local, parse_file_contexts, parse_getsebool, parse_restorecon,
    parse_semodule_list, rule_for_path, store_path, with_type)

SELINUX_CONFIG = '/etc/selinux/config'
SEMANAGE_CONF = '/etc/selinux/semanage.conf'


def read_bytes(module, path):
    """The file's bytes, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (IOError, OSError) as exc:
        module.fail_json(msg='Cannot read %s (the module must run as root): %s' % (path, to_native(exc)))


def read_text(module, path):
    data = read_bytes(module, path)
    return None if data is None else to_text(data, errors='surrogate_or_strict')


def run(module, argv, what, data=None):
    """stdout of argv; fails naming what was being done and the command's error output."""
    rc, out, err = module.run_command(argv, data=data)
    if rc != 0:
        module.fail_json(msg='%s: %s failed (rc=%d): %s' % (what, ' '.join(argv), rc, (err or out).strip()),
                         rc=rc, stdout=out, stderr=err)
    return out


def diff_entry(header, before, after):
    return dict(before_header=header, after_header=header, before=before, after=after)


def apply_policy_modules(module, store, entries, result):
    semodule = module.get_bin_path('semodule', required=True)
    installed = parse_semodule_list(run(module, [semodule, '--list-modules=full'], 'policy_modules'))
    files, sources = {}, {}
    for entry in entries:
        if entry['state'] != 'present':
            continue
        files[entry['path']] = read_bytes(module, entry['path'])
        if files[entry['path']] is None and not module.check_mode:
            module.fail_json(msg='policy_modules (%s): %s does not exist' % (entry['name'], entry['path']))
        versions = installed.get(entry['name'])
        if versions and files[entry['path']] is not None:
            stored = '%s/modules/%d/%s/cil' % (store, versions[0][0], entry['name'])
            data = read_bytes(module, stored)
            if data is None:
                module.fail_json(msg='policy_modules (%s): semodule lists it, but its source is not at %s'
                                     % (entry['name'], stored))
            try:
                sources[entry['name']] = module_source(data)
            except (IOError, OSError, ValueError) as exc:
                module.fail_json(msg='policy_modules (%s): cannot read %s: %s' % (entry['name'], stored, to_native(exc)))
    plan = module_plan(entries, installed, sources, files)
    argv = [semodule]
    for _name, _before, _after, args in plan:
        argv += args
    changed = [name for name, _before, _after, args in plan if args]
    if changed and not module.check_mode:
        run(module, argv, 'policy_modules (%s)' % ', '.join(changed))
    result['changed_policy_modules'] = changed
    return diff_entry('SELinux policy modules', ''.join('%s: %s\n' % (name, before) for name, before, _a, _x in plan),
                      ''.join('%s: %s\n' % (name, after) for name, _b, after, _x in plan))


def apply_booleans(module, store, booleans, result):
    active = parse_getsebool(run(module, [module.get_bin_path('getsebool', required=True), '-a'], 'booleans'))
    check_booleans(booleans, active)
    persistent = parse_booleans_local(read_text(module, store + '/booleans.local'))
    names = boolean_plan(booleans, active, persistent)
    if names and not module.check_mode:
        run(module, [module.get_bin_path('setsebool', required=True), '-P']
            + ['%s=%d' % (name, booleans[name]) for name in names], 'booleans (%s)' % ', '.join(names))
    result['changed_booleans'] = names
    after_active, after_persistent = dict(active), dict(persistent)
    after_active.update(booleans)
    after_persistent.update(booleans)
    return diff_entry('SELinux booleans', describe_booleans(booleans, active, persistent),
                      describe_booleans(booleans, after_active, after_persistent))


def apply_fcontexts(module, store, rules, result):
    local = parse_file_contexts(read_text(module, store + '/file_contexts.local'))
    policy = parse_file_contexts(read_text(module, store + '/file_contexts'))
    plan = fcontext_plan(rules, local, policy)
    if plan and not module.check_mode:
        run(module, [module.get_bin_path('semanage', required=True), 'import'],
            'fcontexts (%s; nothing was changed)' % ', '.join(rule['target'] for _action, rule in plan),
            data=import_text(plan))
    result['changed_fcontexts'] = [rule['target'] for _action, rule in plan]
    return plan, diff_entry('SELinux file-context rules', describe_fcontexts(rules, local, policy),
                            describe_fcontexts(rules, apply_fcontext_plan(local, plan), policy))


def predicted_by_rule(path, fplan):
    """For check mode, where restorecon -n still sees the old rules: (path, old, new) when a rule
    this call adds or changes matches path, new being old when the label has the rule's type
    already; None when no such rule matches or the label cannot be read."""
    try:
        setype = rule_for_path(fplan, path, file_type_letter(os.lstat(path).st_mode))
        if setype is None:
            return None
        context = to_text(os.getxattr(path, 'security.selinux', follow_symlinks=False)).rstrip('\0')
    except (IOError, OSError):
        return None
    return (path, context, with_type(context, setype))


def apply_restorecon(module, paths, fplan, result):
    # A path that is not there yet gets its label when it is created.
    paths = [path for path in paths if os.path.lexists(path)]
    changes, ask = [], []
    for path in paths:
        predicted = predicted_by_rule(path, fplan) if module.check_mode else None
        if predicted is None:
            ask.append(path)
        elif predicted[1] != predicted[2]:
            changes.append(predicted)
    if ask:
        argv = [module.get_bin_path('restorecon', required=True), '-v'] + (['-n'] if module.check_mode else [])
        out = run(module, argv + ['--'] + ask, 'restorecon')
        changes += parse_restorecon(out)
        if out.strip() and not parse_restorecon(out):
            # Relabelled, in words this module does not know.
            changes += [(line, '', '') for line in out.strip().splitlines()]
    result['relabelled_paths'] = [path for path, _old, _new in changes]
    return diff_entry('SELinux labels', ''.join('%s: %s\n' % (path, old) for path, old, _new in changes),
                      ''.join('%s: %s\n' % (path, new) for path, _old, new in changes))


def checked_booleans(booleans):
    checked = {}
    for name, value in booleans.items():
        try:
            checked[name] = boolean(value, strict=True)
        except TypeError:
            raise PolicyError('booleans: %s must be true or false, not %r' % (name, value))
    return checked


def main():
    module = AnsibleModule(
        argument_spec=dict(
            booleans=dict(type='dict'),
            fcontexts=dict(type='list', elements='dict', options=dict(
                target=dict(type='str', required=True),
                setype=dict(type='str'),
                ftype=dict(type='str', choices=['a', 'f', 'd', 'c', 'b', 's', 'l', 'p'], default='a'),
                state=dict(type='str', choices=['present', 'absent'], default='present'),
            )),
            policy_modules=dict(type='list', elements='dict', options=dict(
                name=dict(type='str', required=True),
                path=dict(type='path'),
                state=dict(type='str', choices=['present', 'absent'], default='present'),
            )),
            restorecon=dict(type='list', elements='path'),
        ),
        supports_check_mode=True,
    )
    # The output of restorecon and getsebool is parsed.
    module.run_command_environ_update = dict(LANG='C', LC_ALL='C', LC_MESSAGES='C')
    params = module.params
    result = dict(changed=False, changed_policy_modules=[], changed_booleans=[], changed_fcontexts=[],
                  relabelled_paths=[])
    diffs = []
    try:
        booleans = checked_booleans(params['booleans'] or {})
        rules = normalize_fcontexts(params['fcontexts'] or [])
        entries = check_policy_modules(params['policy_modules'] or [])
        store = None
        if entries or booleans or rules:
            store = store_path(read_text(module, SELINUX_CONFIG), read_text(module, SEMANAGE_CONF))
        if entries:
            diffs.append(apply_policy_modules(module, store, entries, result))
        if booleans:
            diffs.append(apply_booleans(module, store, booleans, result))
        fplan = []
        if rules:
            fplan, diff = apply_fcontexts(module, store, rules, result)
            diffs.append(diff)
        if params['restorecon']:
            diffs.append(apply_restorecon(module, params['restorecon'], fplan, result))
    except PolicyError as exc:
        module.fail_json(msg=to_native(exc), **result)
    result['changed'] = any(result[key] for key in ('changed_policy_modules', 'changed_booleans',
                                                    'changed_fcontexts', 'relabelled_paths'))
    if module._diff:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
