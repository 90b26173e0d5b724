# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The filter kvm_guests_fleet_cpus, around module_utils/guests/cpu.py (tested in
tests/unit/plugins/module_utils/test_guests_cpu.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_guests_fleet_cpus import FilterModule

kvm_guests_fleet_cpus = FilterModule().filters()['kvm_guests_fleet_cpus']
HOSTVARS = {'hv1': {'__kvm_guests_state': {'domcapabilities': {'host_cpu': '<cpu>a</cpu>', 'virttype': 'kvm'}}}}


def test_the_cpus_of_the_hosts_of_the_list():
    assert kvm_guests_fleet_cpus(['hv1', 'hv2'], HOSTVARS, 'kvm') == ['<cpu>a</cpu>']


def test_the_filter_refuses_what_is_not_a_list_of_hosts():
    with pytest.raises(AnsibleFilterError, match='expects a list of host names'):
        kvm_guests_fleet_cpus('hv1', HOSTVARS, 'kvm')
