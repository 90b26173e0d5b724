#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvm_guest_snapshots
short_description: List, create, revert and delete external disk-only snapshots of libvirt guests
version_added: 0.5.0
description:
  - Does one snapshot action for a list of guests in one call. Every guest is read and every check made before
    anything changes; if any guest cannot take the action, nothing changes on any of them.
  - V(create) makes an external, disk-only snapshot (C(virsh snapshot-create --disk-only --atomic)) - each writable
    file disk gets a qcow2 overlay next to it, named C(GUEST-TARGET.NAME.qcow2), and the guest goes on writing
    there. It is quiesced (C(--quiesce), the guest's filesystems frozen by its agent) when the guest runs and its
    agent answers a C(guest-ping); RV(results[].quiesced) says which. Read-only disks (the cloud-init seed,
    CD-ROMs) are left out; a guest with a writable disk that is not a file, or a shareable one, is refused.
    The UEFI variables and vTPM state are not part of a disk-only snapshot.
  - V(revert) powers a running guest off, then has libvirt put its disks back as they were at the snapshot (new,
    empty overlays on the snapshot's files); the guest is left shut off, to be started when wanted. It needs
    libvirt 9.9.0 or later for external snapshots (libvirt 9.0 of Debian 12 refuses it, and so does this module,
    before anything changes).
  - V(delete) has libvirt merge the snapshot's overlays back (block commit) and forget it; it needs libvirt 9.0.0
    or later for external snapshots.
  - Idempotent - V(create) of a snapshot that exists and V(delete) of one that does not change nothing. V(revert)
    changes nothing when the guest already is at the snapshot - it is the current snapshot, has no later
    snapshot, the guest is shut off, and no disk was written since (each disk's top overlay holds no data,
    by C(qemu-img map)). libvirt itself does not know whether a guest's disks changed since a snapshot; a guest
    that runs writes to them, so a revert of a running guest always reverts.
  - Runs C(virsh) against C(qemu:///system) and C(qemu-img); standard library only on the target.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options:
  guests:
    description:
      - The guests, as a list or a comma-separated string (the playbook passes C(kvmcloud_guests) as given).
        Each must be a libvirt domain name of letters, digits, C(.) and C(-), at most 63.
    type: raw
    required: true
  action:
    description: What to do (the playbook's C(kvmcloud_snapshot_action)).
    type: raw
    required: true
  name:
    description:
      - The snapshot's name (C(kvmcloud_snapshot)) - letters, digits, C(.), C(_) and C(-), at most 64, starting with
        a letter or digit. Needed by every action but V(list); given there, each result says whether the guest
        has it.
    type: raw
  present_only:
    description:
      - Guests not defined on this host are returned in RV(absent) instead of failing the call. For a play over
        several hosts that works out first where each guest is.
    type: bool
    default: false
  agent_timeout:
    description: Seconds to wait for the guest agent's answer to C(guest-ping) before snapshotting without quiesce.
    type: int
    default: 5
attributes:
  check_mode:
    support: full
    description: Reads everything and makes every check, then reports what would change without changing it.
  diff_mode:
    support: full
    description: Per guest, its state and snapshots (the current one marked) before and after.
notes:
  - Must run as root. libvirt labels the overlays for the guest (owner, SELinux label, AppArmor profile) as it
    does the disks; they sit next to the disks, where sVirt already lets the guest's QEMU work.
seealso:
  - name: libvirt snapshot XML format
    description: The domainsnapshot XML this module hands to virsh.
    link: https://libvirt.org/formatsnapshot.html
'''

EXAMPLES = r'''
- name: Guests have the snapshot before-upgrade
  kvmcloud.hypervisor.kvm_guest_snapshots:
    guests: [web1, db1]
    action: create
    name: before-upgrade

- name: The snapshots of web1
  kvmcloud.hypervisor.kvm_guest_snapshots:
    guests: web1
    action: list
  register: snapshots
'''

RETURN = r'''
guests:
  description: Per guest defined here, after the action (in check mode, as it is now) - its state, its current
    snapshot and its snapshots, oldest first.
  returned: always
  type: dict
  sample:
    web1:
      state: running
      current: before-upgrade
      snapshots:
        - name: before-upgrade
          state: disk-snapshot
          created: 1796530000
          parent: null
          overlays: {vda: /var/lib/libvirt/images/web1/web1-vda.before-upgrade.qcow2}
results:
  description: One entry per guest defined here - what the action did (in check mode, would do) to it.
  returned: always
  type: list
  elements: dict
  contains:
    guest:
      description: The guest.
      type: str
    action:
      description: The action.
      type: str
    snapshot:
      description: The snapshot's name; null for V(list) without one.
      type: str
    changed:
      description: Whether the guest changed (in check mode, would change).
      type: bool
    quiesced:
      description:
        - For a snapshot V(create) made, whether the guest agent froze the guest's filesystems for it; null
          otherwise.
      type: bool
    overlays:
      description: For a snapshot V(create) made, the overlay of each disk, by target.
      type: dict
      returned: when a snapshot is created
    note:
      description: What happened, in words.
      type: str
  sample:
    - {guest: web1, action: create, snapshot: before-upgrade, changed: true, quiesced: true,
       note: "created, quiesced by the guest agent"}
absent:
  description: The guests of O(guests) not defined on this host (with O(present_only)).
  returned: always
  type: list
  elements: str
present:
  description: The guests of O(guests) defined on this host, in the order given.
  returned: always
  type: list
  elements: str
wanted:
  description: The guest names O(guests) gives, in order, without repeats.
  returned: always
  type: list
  elements: str
done:
  description: What was done (in check mode, what would be), one line per guest and step, in order.
  returned: always
  type: list
  elements: str
  sample: ["web1: snapshot before-upgrade created"]
report:
  description: Lines for the operator - each guest's result, then its snapshots.
  returned: always
  type: list
  elements: str
'''

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.migration import guest_names, result_line
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.snapshots import (
    create_plan, daemon_version, domain_disks, input_errors, snapshot_info, summary, too_old)
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.virsh import LANG_C, Virsh


def read_guest(virsh, guest):
    """A guest's state, live XML and snapshots as libvirt has them now."""
    state = virsh.must('domstate', guest).strip()
    xml = virsh.must('dumpxml', guest)
    names = [line.strip() for line in virsh.must('snapshot-list', guest, '--name', '--topological').splitlines()
             if line.strip()]
    rc, out, _err = virsh.run('snapshot-current', guest, '--name')
    current = out.strip() if rc == 0 and out.strip() else None
    snapshots = []
    for name in names:
        info = snapshot_info(virsh.must('snapshot-dumpxml', guest, name))
        snapshots.append({'name': name, 'state': info['state'], 'created': info['created'], 'parent': info['parent'],
                          'overlays': info['external'], 'internal': info['internal']})
    return {'state': state, 'xml': xml, 'current': current, 'snapshots': snapshots}


def public(found):
    return {'state': found['state'], 'current': found['current'],
            'snapshots': [dict((key, value) for key, value in snap.items() if key != 'internal')
                          for snap in found['snapshots']]}


def top_written(module, qemu_img, path):
    """Whether the guest wrote to the top image of a disk: qemu-img maps any of it to the image
    itself (depth 0). Unknown (no qemu-img, an unreadable map) counts as written."""
    if not qemu_img or not path:
        return True
    rc, out, _err = module.run_command([qemu_img, 'map', '--output=json', '-U', path], environ_update=LANG_C)
    if rc != 0:
        return True
    try:
        extents = json.loads(out)
    except ValueError:
        return True
    return any(extent.get('depth') == 0 and extent.get('present', True) for extent in extents)


def at_snapshot(module, found, snap, disks):
    """Whether a revert to snap would change nothing (see the module's description)."""
    # Only our kind of snapshot: an internal one keeps no overlay to tell whether disks moved on.
    if found['current'] != snap['name'] or found['state'] != 'shut off' or not snap['overlays']:
        return False
    if any(other['parent'] == snap['name'] for other in found['snapshots']):
        return False
    qemu_img = module.get_bin_path('qemu-img')
    return not any(top_written(module, qemu_img, disk['file']) for disk in disks
                   if disk['target'] in snap['overlays'])


def plan_guest(module, virsh, guest, found, action, name, version, agent_timeout):
    """(steps, result, refusals, after-summary) for one guest; steps are (line, virsh args, stdin)."""
    snap = next((s for s in found['snapshots'] if s['name'] == name), None)
    result = {'guest': guest, 'action': action, 'snapshot': name or None, 'changed': False, 'quiesced': None,
              'note': ''}
    names = [s['name'] for s in found['snapshots']]
    steps, refusals, after = [], [], summary(names, found['current'], found['state'])
    if action == 'list':
        result['note'] = '%d snapshot(s)%s' % (len(names), '' if not name else
                                               '; %s %s' % ('has' if snap else 'has no snapshot', name))
    elif action == 'create':
        if snap is not None:
            result['note'] = 'exists already (%s), left as it is' % (snap['state'] or 'unknown state')
        else:
            xml, overlays, refusals = create_plan(guest, name, found['xml'], module_exists)
            quiesce = False
            if found['state'] == 'running':
                quiesce = virsh.agent_answers(guest, agent_timeout)
            args = ['snapshot-create', guest, '--xmlfile', '/dev/stdin', '--disk-only', '--atomic']
            steps.append(('%s: snapshot %s created' % (guest, name), args + (['--quiesce'] if quiesce else []), xml))
            if quiesce:
                why = 'quiesced by the guest agent'
            elif found['state'] == 'running':
                why = 'not quiesced (its agent did not answer)'
            else:
                why = 'not quiesced (the guest is %s)' % found['state']
            result.update(changed=True, quiesced=quiesce, overlays=overlays, note='created, ' + why)
            after = summary(names + [name], name, found['state'])
    elif snap is None and action == 'delete':
        result['note'] = 'absent, nothing to delete'
    elif snap is None:
        refusals.append('kvmcloud_snapshot=%r: %s has no such snapshot (it has: %s); list them with '
                        '-e kvmcloud_snapshot_action=list.' % (name, guest, ', '.join(names) or 'none'))
    else:
        refusal = too_old(action, version, guest) if snap['overlays'] else None
        if refusal:
            refusals.append(refusal)
        elif action == 'delete':
            steps.append(('%s: snapshot %s deleted' % (guest, name), ['snapshot-delete', guest, name], None))
            result.update(changed=True, note='deleted, its overlays merged back')
            rest = [n for n in names if n != name]
            after = summary(rest, found['current'] if found['current'] != name else snap['parent'], found['state'])
        elif at_snapshot(module, found, snap, domain_disks(found['xml'])):
            result['note'] = 'at the snapshot already (current, no later snapshot, shut off, disks unwritten)'
        else:
            if found['state'] not in ('shut off', 'crashed'):
                steps.append(('%s: powered off' % guest, ['destroy', guest], None))
            steps.append(('%s: reverted to %s' % (guest, name), ['snapshot-revert', guest, name], None))
            result.update(changed=True, note='reverted, left shut off')
            after = summary(names, name, 'shut off')
    return steps, result, refusals, after


def report(results, guests, predicted):
    """Lines for the operator: what the action did to each guest, then each guest's snapshots."""
    lines = []
    for result in results:
        lines.append(result_line(result, result['snapshot'], predicted))
    for guest, found in sorted(guests.items()):
        lines.append('%s: %s' % (guest, summary([s['name'] for s in found['snapshots']], found['current'],
                                                found['state']).strip()))
        for snap in found['snapshots']:
            created = time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(snap['created'])) if snap['created'] else '?'
            lines.append('  %s: %s, %s, parent %s, overlays %s' % (
                snap['name'], snap['state'], created, snap['parent'] or 'none',
                ', '.join('%s=%s' % item for item in sorted(snap['overlays'].items())) or 'none'))
    return lines


def module_exists(path):
    return os.path.lexists(path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            guests=dict(type='raw', required=True),
            action=dict(type='raw', required=True),
            name=dict(type='raw'),
            present_only=dict(type='bool', default=False),
            agent_timeout=dict(type='int', default=5),
        ),
        supports_check_mode=True,
    )
    params = module.params
    errors = input_errors(params['guests'], params['action'], params['name'])
    if errors:
        module.fail_json(msg='\n'.join(errors), errors=errors)
    action, name = params['action'], params['name'] or None
    virsh = Virsh(module)

    defined = set(line.strip() for line in virsh.must('list', '--all', '--name').splitlines() if line.strip())
    wanted = guest_names(params['guests'])
    absent = [guest for guest in wanted if guest not in defined]
    if absent and not params['present_only']:
        module.fail_json(msg='kvmcloud_guests: %s not defined on this host (virsh list --all); give guests of this '
                         'host.' % ', '.join(absent), errors=[], absent=absent)
    present = [guest for guest in wanted if guest in defined]
    found = dict((guest, read_guest(virsh, guest)) for guest in present)

    version = None
    if action in ('revert', 'delete') and any(s['name'] == name and s['overlays']
                                              for guest in present for s in found[guest]['snapshots']):
        version = daemon_version(virsh.must('version', '--daemon'))

    steps, results, refusals, diff = [], [], [], {'before': '', 'after': ''}
    for guest in present:
        guest_steps, result, guest_refusals, after = plan_guest(module, virsh, guest, found[guest], action, name,
                                                                version, params['agent_timeout'])
        steps.extend(guest_steps)
        results.append(result)
        refusals.extend(guest_refusals)
        before = found[guest]
        diff['before'] += '%s: %s' % (guest, summary([s['name'] for s in before['snapshots']], before['current'],
                                                     before['state']))
        diff['after'] += '%s: %s' % (guest, after)
    out = dict(changed=bool(steps), results=results, absent=absent, present=present, wanted=wanted,
               done=[line for line, _a, _d in steps], guests=dict((guest, public(found[guest])) for guest in present))
    out['report'] = report(results, out['guests'], module.check_mode and bool(steps))
    if refusals:
        out.update(changed=False, errors=refusals)
        module.fail_json(msg='\n'.join(refusals), **out)
    if module._diff and steps:
        out['diff'] = diff
    if module.check_mode or not steps:
        module.exit_json(**out)

    done = []
    for line, args, data in steps:
        rc, stdout, err = virsh.run(*args, data=data, binary_data=data is not None)
        if rc != 0:
            module.fail_json(msg='%s: virsh %s failed: %s' % (line.split(':')[0], args[0], (err or stdout).strip()),
                             changed=bool(done), done=done, results=results)
        done.append(line)
    out['done'] = done
    out['guests'] = dict((guest, public(read_guest(virsh, guest))) for guest in present)
    out['report'] = report(results, out['guests'], False)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
