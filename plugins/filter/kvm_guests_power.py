# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_guests_power
short_description: Which guests kvm_guests restarts, stops and starts
version_added: 0.4.0
description:
  - Once the definitions are in, works out which running guests run an older definition than the one libvirt
    holds (now or since an earlier run), which guests are stopped, restarted, started with fresh UEFI variables
    or started, and which restart markers are written or removed.
options:
  _input:
    description: The output of P(kvmcloud.hypervisor.kvm_guests_plan#filter).
    type: dict
    required: true
  todo:
    description: The output of P(kvmcloud.hypervisor.kvm_guests_todo#filter).
    type: dict
    required: true
  defined_now:
    description: The guests whose definition libvirt changed in this run.
    type: list
    elements: str
    required: true
  check_mode:
    description: A check-mode run defines nothing, so it concludes nothing about restarts.
    type: bool
    required: true
  restart_changed:
    description: Restart the running guests whose definition changed (C(kvm_guests_restart_changed)).
    type: bool
    required: true
"""

EXAMPLES = r"""
- name: Work out which guests stop, restart, or start
  ansible.builtin.set_fact:
    __kvm_guests_power: >-
      {{ __kvm_guests_plan | kvmcloud.hypervisor.kvm_guests_power(__kvm_guests_todo, ['web1'], ansible_check_mode,
                                                               kvm_guests_restart_changed | bool) }}
"""

RETURN = r"""
_value:
  description:
    - C(restarts) (name to marker file), C(markers_missing), C(markers_stale), C(restarting), C(shutdown),
      C(nvram_resets), C(start), C(left_off) and C(restart_needed).
  type: dict
"""


def kvm_guests_power(shaped, todo, defined_now, check_mode, restart_changed):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import plan
    return plan.power(shaped, todo, list(defined_now or []), bool(check_mode), bool(restart_changed))


class FilterModule(object):
    def filters(self):
        return {'kvm_guests_power': kvm_guests_power}
