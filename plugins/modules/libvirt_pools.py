#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: libvirt_pools
short_description: Define, build, start, autostart and undefine libvirt storage pools in one call
version_added: 0.4.0
description:
  - Carries out a plan for libvirt's storage pools in one module call - the secrets of new C(rbd) pools, the pools
    to define, the volume groups of C(logical) pools to build, the pools to start and to mark for autostart, and
    the pools to undefine. It replaces a loop of M(community.libvirt.virt_pool) calls per step, which cost a module
    call per pool and step.
  - The plan comes from the filter P(kvmcloud.hypervisor.kvm_host_pool_plan#filter), which compares the declared
    pools with the host facts; this module does what it lists, in that order, and nothing else.
    Every list may be empty; with all of them empty nothing runs and nothing changes.
  - Runs C(virsh) against C(qemu:///system). XML and secret values go to C(virsh) on standard input, never on a
    command line or into a file.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options:
  secrets:
    description:
      - libvirt secrets to define and fill, before the pools that name them are defined.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The pool the secret belongs to, for messages.
        type: str
        required: true
      uuid:
        description: The secret's UUID, as its XML has it.
        type: str
        required: true
      xml:
        description: The secret's XML, as C(virsh secret-define) takes it. Holds no value.
        type: str
        required: true
      index:
        description: The place in O(secret_values) of this secret's value.
        type: int
        required: true
  secret_values:
    description:
      - The secrets' values (an C(rbd) pool's cephx key, base64), by the place O(secrets[].index) names. Never
        logged.
    type: list
    elements: str
    default: []
  define:
    description: Pools to define, each with C(name) and its C(xml).
    type: list
    elements: dict
    default: []
    suboptions:
      name: &pool_name
        description: The pool's name.
        type: str
        required: true
      xml:
        description: The pool's XML, as C(virsh pool-define) takes it.
        type: str
        required: true
  build:
    description:
      - Pools to build (C(virsh pool-build)), after they are defined. For a C(logical) pool, that makes the volume
        group on its devices.
    type: list
    elements: dict
    default: []
    suboptions:
      name: *pool_name
      mode:
        description:
          - V(no_overwrite) lets libvirt refuse a device that holds a partition table, a filesystem or LVM data;
            V(overwrite) formats it whatever it holds.
        type: str
        choices: [no_overwrite, overwrite]
        default: no_overwrite
  start:
    description: Pools to start (C(virsh pool-start)).
    type: list
    elements: str
    default: []
  autostart:
    description: Pools to mark to start at boot (C(virsh pool-autostart)).
    type: list
    elements: str
    default: []
  undefine:
    description:
      - Pools to stop, when running, and undefine. Only libvirt's definition goes; the directory, volume group,
        export or target stays as it is.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Reports the changes the plan lists without running C(virsh).
  diff_mode:
    support: full
    description: Before and after, one line per pool and step the plan lists.
notes:
  - Standard library only on the target; runs C(virsh). Must run as root.
seealso:
  - module: community.libvirt.virt_pool
  - plugin: kvmcloud.hypervisor.kvm_host_pool_plan
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Storage pools are defined, built, active and start at boot
  kvmcloud.hypervisor.libvirt_pools:
    define: "{{ plan.define }}"
    secrets: "{{ plan.secrets }}"
    secret_values: "{{ kvm_host_storage_pools | map(attribute='secret_key', default='') | list }}"
    build: "{{ plan.build }}"
    start: "{{ plan.start }}"
    autostart: "{{ plan.autostart }}"
    undefine: "{{ plan.undefine }}"
  vars:
    plan: "{{ kvm_host_storage_pools | kvmcloud.hypervisor.kvm_host_pool_plan(ansible_facts.kvm_host.libvirt.pools) }}"
'''

RETURN = r'''
done:
  description: What was done (in check mode, what would be), one line per pool and step, in order.
  returned: always
  type: list
  elements: str
  sample: ["secret of ceph: defined", "pool ceph: defined", "pool ceph: started", "pool ceph: autostart"]
'''

from ansible.module_utils.basic import AnsibleModule

URI = ['--connect', 'qemu:///system']
LANG_C = {'LC_ALL': 'C', 'LANG': 'C'}


def steps(params):
    """(line, virsh arguments, standard input) of each step, in the order they run."""
    todo = []
    for secret in params['secrets']:
        todo.append(('secret of %s: defined' % secret['name'], ['secret-define', '--file', '/dev/stdin'],
                     secret['xml']))
        todo.append(('secret of %s: value set' % secret['name'],
                     ['secret-set-value', '--secret', secret['uuid'], '--file', '/dev/stdin'],
                     params['secret_values'][secret['index']]))
    for pool in params['define']:
        todo.append(('pool %s: defined' % pool['name'], ['pool-define', '/dev/stdin'], pool['xml']))
    for pool in params['build']:
        flag = '--overwrite' if pool['mode'] == 'overwrite' else '--no-overwrite'
        todo.append(('pool %s: built (%s)' % (pool['name'], pool['mode']), ['pool-build', pool['name'], flag], None))
    for name in params['start']:
        todo.append(('pool %s: started' % name, ['pool-start', name], None))
    for name in params['autostart']:
        todo.append(('pool %s: autostart' % name, ['pool-autostart', name], None))
    for name in params['undefine']:
        todo.append(('pool %s: undefined' % name, ['pool-undefine', name], None))
    return todo


def main():
    module = AnsibleModule(
        argument_spec=dict(
            # The secrets' XML and UUIDs: their values are in secret_values.
            secrets=dict(type='list', elements='dict', default=[], no_log=False, options=dict(
                name=dict(type='str', required=True),
                uuid=dict(type='str', required=True),
                xml=dict(type='str', required=True),
                index=dict(type='int', required=True))),
            secret_values=dict(type='list', elements='str', default=[], no_log=True),
            define=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                xml=dict(type='str', required=True))),
            build=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                mode=dict(type='str', choices=['no_overwrite', 'overwrite'], default='no_overwrite'))),
            start=dict(type='list', elements='str', default=[]),
            autostart=dict(type='list', elements='str', default=[]),
            undefine=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    for secret in params['secrets']:
        if not 0 <= secret['index'] < len(params['secret_values']) or not params['secret_values'][secret['index']]:
            module.fail_json(msg='secrets: the secret of %s has no value in secret_values[%d]'
                             % (secret['name'], secret['index']), done=[])
    todo = steps(params)
    result = dict(changed=bool(todo), done=[line for line, _args, _data in todo])
    if module._diff and todo:
        result['diff'] = dict(before='', after=''.join(line + '\n' for line in result['done']))
    if module.check_mode or not todo:
        module.exit_json(**result)

    virsh = module.get_bin_path('virsh', required=True)
    # A pool to undefine may still run: it is stopped first (the preflight found it empty).
    active = []
    if params['undefine']:
        rc, out, err = module.run_command([virsh] + URI + ['pool-list', '--active', '--name'], environ_update=LANG_C)
        if rc != 0:
            module.fail_json(msg='virsh pool-list failed: %s' % (err or out).strip(), done=[])
        active = out.split()
    done = []
    for line, args, data in todo:
        if args[0] == 'pool-undefine' and args[1] in active:
            rc, out, err = module.run_command([virsh] + URI + ['pool-destroy', args[1]], environ_update=LANG_C)
            if rc != 0:
                module.fail_json(msg='pool %s: virsh pool-destroy failed: %s' % (args[1], (err or out).strip()),
                                 changed=bool(done), done=done)
        rc, out, err = module.run_command([virsh] + URI + args, environ_update=LANG_C, data=data,
                                          binary_data=data is not None)
        if rc != 0:
            module.fail_json(msg='%s: virsh %s failed: %s' % (line.split(':')[0], args[0], (err or out).strip()),
                             changed=bool(done), done=done)
        done.append(line)
    result['done'] = done
    module.exit_json(**result)


if __name__ == '__main__':
    main()
