# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: input_errors
short_description: What is wrong with a role's input, as messages that start from the variable
version_added: 0.4.0
description:
  - Runs the input checks of one role that its argument spec cannot express, all at once, so the
    role needs one C(assert) instead of one per rule.
  - Each message names the variable (and the entry), the value, the rule and the fix.
options:
  _input:
    description: The values to check, as the role's C(tasks/validate.yml) gathers them.
    type: dict
    required: true
  role:
    description: The role whose rules apply.
    type: str
    required: true
    choices: [kvm_host, kvm_hardening, kvm_host_accounts, kvm_monitoring]
"""

EXAMPLES = r"""
- name: The input is valid
  ansible.builtin.assert:
    that: errors | length == 0
    fail_msg: "{{ errors | join(' ') }}"
  vars:
    errors: "{{ checked_values | kvmcloud.hypervisor.input_errors('kvm_host') }}"
"""

RETURN = r"""
_value:
  description: The messages, empty when the input is valid.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.host_hardening import (
    account_errors, kvm_hardening_errors, kvm_host_errors)
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.monitoring import kvm_monitoring_errors

CHECKS = {"kvm_host": kvm_host_errors, "kvm_hardening": kvm_hardening_errors, "kvm_host_accounts": account_errors,
          "kvm_monitoring": kvm_monitoring_errors}


def input_errors(params, role):
    if role not in CHECKS:
        raise AnsibleFilterError("input_errors: no checks for role %r" % (role,))
    try:
        return CHECKS[role](params)
    except KeyError as exc:
        raise AnsibleFilterError("input_errors(%s): missing value %s" % (role, exc))


class FilterModule(object):
    def filters(self):
        return {"input_errors": input_errors}
