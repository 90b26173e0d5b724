# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_guests_verify
short_description: Check the base images and guest disks a read of the host found
version_added: 0.4.0
description:
  - Checks the images M(kvmcloud.hypervisor.kvm_guests_state) read against the shaped input
    (P(kvmcloud.hypervisor.kvm_guests_plan#filter)), for images just imported or disks just created.
extends_documentation_fragment:
  - kvmcloud.hypervisor.guests_plan
"""

EXAMPLES = r"""
- name: Base images have the declared format and name no other file
  ansible.builtin.assert:
    that: (__kvm_guests_plan | kvmcloud.hypervisor.kvm_guests_verify(__kvm_guests_imported)).images | length == 0
"""

RETURN = r"""
_value:
  description:
    - C(images) (base images whose checksum, format, backing file, data file or encryption is refused),
      C(sizes) (boot disks smaller than their base image) and C(disks) (disks not of the declared format and
      backing file); lists of messages.
  type: dict
"""


def kvm_guests_verify(shaped, state):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import plan
    return plan.verify(shaped, state)


class FilterModule(object):
    def filters(self):
        return {'kvm_guests_verify': kvm_guests_verify}
