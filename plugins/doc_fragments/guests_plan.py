# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # The inputs of the kvm_guests filters that work on the shaped guests and one read of the host.
    DOCUMENTATION = r'''
options:
  _input:
    description: The output of P(kvmcloud.hypervisor.kvm_guests_plan#filter).
    type: dict
    required: true
  state:
    description: The registered result of M(kvmcloud.hypervisor.kvm_guests_state).
    type: dict
    required: true
'''
