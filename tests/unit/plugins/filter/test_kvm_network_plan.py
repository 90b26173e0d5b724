# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The filters kvm_network_plan and kvm_network_apply: argument checks around module_utils/network/plan.py
(tested in tests/unit/plugins/module_utils/network/test_network_plan.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_network_apply import FilterModule as ApplyFilters
from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_network_plan import FilterModule as PlanFilters

kvm_network_plan = PlanFilters().filters()['kvm_network_plan']
kvm_network_apply = ApplyFilters().filters()['kvm_network_apply']

SETTINGS = {'bridges': [{'name': 'br-guest'}], 'os_family': 'Debian'}
FACTS = {'links': {}, 'management_interfaces': [], 'management_reasons': {}, 'networkd_files': {}}


def test_plan_of_the_demo_bridge():
    result = kvm_network_plan(SETTINGS, FACTS)
    assert (result['errors'], result['host_errors'], result['stale_files']) == ([], [], [])
    assert [entry['path'] for entry in result['networkd_files']] == [
        '/etc/systemd/network/05-kvmcloud-bridge-br-guest.netdev',
        '/etc/systemd/network/05-kvmcloud-bridge-br-guest.network']


def test_plan_without_facts():
    assert kvm_network_plan(SETTINGS)['host_errors'] == []


@pytest.mark.parametrize('settings, facts', [(['br-guest'], None), (SETTINGS, 'eth0')])
def test_plan_refuses_what_is_not_a_dict(settings, facts):
    with pytest.raises(AnsibleFilterError, match='kvm_network_plan expects'):
        kvm_network_plan(settings, facts)


def test_apply_of_a_new_bridge():
    the_plan = kvm_network_plan(SETTINGS, FACTS)
    result = kvm_network_apply(the_plan, FACTS, ['/etc/systemd/network/05-kvmcloud-bridge-br-guest.netdev'])
    assert (result['new'], result['created'], result['management']) == (
        ['br-guest'], ['/etc/systemd/network/05-kvmcloud-bridge-br-guest.netdev'], [])


@pytest.mark.parametrize('args', [(None, FACTS, []), ({}, FACTS, '/etc/x')])
def test_apply_refuses_bad_arguments(args):
    with pytest.raises(AnsibleFilterError, match='kvm_network_apply expects'):
        kvm_network_apply(*args)
