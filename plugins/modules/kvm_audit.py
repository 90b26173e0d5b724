#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvm_audit
short_description: Check a KVM host against the kvmcloud hardening baseline
version_added: 0.1.0
description:
  - Evaluates the host-side controls of the kvmcloud.hypervisor hardening baseline (H1-H5, L1-L8, Q1-Q10,
    S1-S3, N1-N7) on the live host and returns one result per control.
  - Reads libvirt configuration files (with libvirt's own syntax), systemd socket units and drop-ins, live
    sockets, TCP listeners, running QEMU processes, bridges, nwfilter bindings, the nftables ruleset, sysctls and
    KSM state.
  - With socket activation the socket units are judged, not the C(listen_*) and C(unix_sock_*) settings
    that libvirt then ignores.
  - A control whose piece is not installed is C(not_applicable) with the reason; what cannot be seen is
    C(unknown). A control is C(pass) only on evidence read from the host.
  - Read-only. If a libvirt socket exists, C(virsh --readonly capabilities) is asked, which may start an
    idle socket-activated daemon.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options:
  controls:
    description:
      - Evaluate only these control ids (for example C(L2), C(Q2)). Empty means all.
    type: list
    elements: str
    default: []
  skip:
    description:
      - Control ids not to evaluate.
    type: list
    elements: str
    default: []
  fail_on_fail:
    description:
      - Fail the task when any control has status C(fail).
    type: bool
    default: false
  virt_host_validate:
    description:
      - Run C(virt-host-validate qemu) for control H5. When false, H5 is C(unknown).
    type: bool
    default: true
  guest_bridges:
    description:
      - Bridges that guests attach to and that must carry no host address (N1-N4, N6).
      - Empty means detect them, bridges of libvirt C(bridge) networks and bridges with tap ports,
        excluding bridges of libvirt NAT, routed, open and isolated networks.
    type: list
    elements: str
    default: []
  allowed_networks:
    description:
      - Libvirt networks that may be active or autostarted (N7). List C(default) to allow libvirt's default
        NAT network.
    type: list
    elements: str
    default: []
  migration_peers:
    description:
      - Where live migration is configured (L8), the addresses or networks that must be the only sources, besides
        loopback, the firewall lets open a TCP connection to libvirt's TLS port and to the migration port range.
      - Empty means any list passes, as long as the firewall names its sources and drops the rest; the evidence
        lists them.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - kvmcloud.hypervisor.read_only
notes:
  - Standard library only on the target.
  - In containers the LSM and kernel modules belong to the container host; the evidence says so.
seealso:
  - module: kvmcloud.hypervisor.kvm_host_facts
'''

EXAMPLES = r'''
- name: Audit the host against the baseline
  kvmcloud.hypervisor.kvm_audit:
  register: kvm_audit_result

- name: Show the failed controls
  ansible.builtin.debug:
    msg: "{{ kvm_audit_result.controls | selectattr('status', 'equalto', 'fail') | list }}"

- name: Check only the remote access controls and fail on a finding
  kvmcloud.hypervisor.kvm_audit:
    controls: [L2, L3, L4]
    fail_on_fail: true

- name: Audit a host whose guests use br-guest, where the default network is wanted
  kvmcloud.hypervisor.kvm_audit:
    guest_bridges: [br-guest]
    allowed_networks: [default]
    virt_host_validate: false
'''

RETURN = r'''
controls:
  description: One result per evaluated control, in baseline order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Control id from the baseline.
      type: str
      sample: L2
    title:
      description: Short title of the control.
      type: str
      sample: No plain TCP
    status:
      description: C(pass), C(fail), C(not_applicable) or C(unknown).
      type: str
      sample: fail
    evidence:
      description: What was read on the host to decide.
      type: str
      sample: "libvirtd-tcp.socket is not masked; libvirtd-tcp.socket: disabled; listeners on 16509: none"
    remediation:
      description: What to do; empty for C(pass) and C(not_applicable).
      type: str
    follows_from:
      description:
        - The control whose failure this one follows from, else empty. C(H1) for Q1, Q2 and Q3 failing on a host
          without an active SELinux or AppArmor (such as a container), whose evidence then starts with
          C(follows from H1).
      type: str
      sample: H1
  sample:
    - id: H2
      title: KSM off
      status: pass
      evidence: /sys/kernel/mm/ksm/run = 0
      remediation: ""
      follows_from: ""
counts:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 20, "fail": 3, "not_applicable": 8, "unknown": 1}
passed:
  description: True when no control has status C(fail).
  returned: always
  type: bool
failed_controls:
  description: Ids of the controls with status C(fail).
  returned: always
  type: list
  elements: str
  sample: [L2, Q2]
not_evaluated:
  description: Ids of the controls not evaluated (left out by O(controls) or O(skip)), in baseline order.
  returned: always
  type: list
  elements: str
  sample: [H5]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.audit_context import AuditContext
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.audit_controls import CONTROL_IDS, run_audit
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.hostfs import CommandRunner, HostFS


def main():
    module = AnsibleModule(
        argument_spec=dict(
            controls=dict(type='list', elements='str', default=[]),
            skip=dict(type='list', elements='str', default=[]),
            fail_on_fail=dict(type='bool', default=False),
            virt_host_validate=dict(type='bool', default=True),
            guest_bridges=dict(type='list', elements='str', default=[]),
            allowed_networks=dict(type='list', elements='str', default=[]),
            migration_peers=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    only = [item.upper() for item in module.params['controls']]
    skip = [item.upper() for item in module.params['skip']]
    unknown_ids = sorted(set(only + skip) - set(CONTROL_IDS))
    if unknown_ids:
        module.fail_json(msg='Unknown control id(s): %s. Known: %s' % (', '.join(unknown_ids), ', '.join(CONTROL_IDS)))

    ctx = AuditContext(HostFS('/'), CommandRunner(module), options=module.params)
    results, counts = run_audit(ctx, only=only, skip=skip)
    failed = [result['id'] for result in results if result['status'] == 'fail']
    evaluated = set(result['id'] for result in results)
    output = dict(changed=False, controls=results, counts=counts, passed=not failed, failed_controls=failed,
                  not_evaluated=[control_id for control_id in CONTROL_IDS if control_id not in evaluated])
    if failed and module.params['fail_on_fail']:
        module.fail_json(msg='Baseline controls failed: %s' % ', '.join(failed), **output)
    module.exit_json(**output)


if __name__ == '__main__':
    main()
