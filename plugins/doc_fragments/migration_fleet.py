# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # The fleet the migration filters place guests in.
    DOCUMENTATION = r'''
options:
  hosts:
    description: The hosts of the play.
    type: list
    elements: str
    required: true
  migration_enabled:
    description: Host to C(kvm_hardening_migration_enabled).
    type: dict
    required: true
'''
