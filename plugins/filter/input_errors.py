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

import importlib

from ansible.errors import AnsibleFilterError

# Each role's rules, as (module of module_utils/input, function). Imported when asked for: to find
# one filter, Ansible imports every filter file of the collection, in each task's worker process.
CHECKS = {"kvm_host": ("host_hardening", "kvm_host_errors"),
          "kvm_hardening": ("host_hardening", "kvm_hardening_errors"),
          "kvm_host_accounts": ("host_hardening", "account_errors"),
          "kvm_monitoring": ("monitoring", "kvm_monitoring_errors")}


def input_errors(params, role):
    if role not in CHECKS:
        raise AnsibleFilterError("input_errors: no checks for role %r" % (role,))
    module, function = CHECKS[role]
    checks = getattr(importlib.import_module("ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input." + module),
                     function)
    try:
        return checks(params)
    except KeyError as exc:
        raise AnsibleFilterError("input_errors(%s): missing value %s" % (role, exc))


class FilterModule(object):
    def filters(self):
        return {"input_errors": input_errors}
