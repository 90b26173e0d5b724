# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The filters kvm_host's storage_pools.yml calls: the plan and the directories, and their
refusal of input the preflight should have stopped."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_host_pool_plan import kvm_host_pool_plan
from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_host_pool_directories import kvm_host_pool_directories
from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_host_pools_typed import kvm_host_pools_typed

DIR = {'name': 'default', 'path': '/var/lib/libvirt/images'}
SAN = {'name': 'san', 'type': 'iscsi', 'host': '127.0.0.1', 'iqn': 'iqn.2026-12.test.kvmcloud:pools'}


def test_the_plan_of_a_converged_host_is_empty():
    now = {'default': {'state': 'active', 'autostart': 'yes'}, 'san': {'state': 'active', 'autostart': 'yes'}}
    assert kvm_host_pool_plan([DIR, SAN], now) == {'define': [], 'secrets': [], 'build': [], 'start': [],
                                                   'autostart': [], 'undefine': []}


def test_the_plan_defines_what_libvirt_lacks():
    plan = kvm_host_pool_plan([DIR, SAN], {'default': {'state': 'active', 'autostart': 'yes'}})
    assert [pool['name'] for pool in plan['define']] == ['san'] and plan['start'] == plan['autostart'] == ['san']


def test_pools_get_their_type_and_state_and_can_be_picked_by_them():
    gone = {'name': 'old', 'state': 'absent'}
    pools = [DIR, SAN, gone, 'not a mapping']
    assert [(p['name'], p['type'], p['state']) for p in kvm_host_pools_typed(pools)] == [
        ('default', 'dir', 'present'), ('san', 'iscsi', 'present'), ('old', 'dir', 'absent')]
    assert [p['path'] for p in kvm_host_pools_typed(pools, type='dir', state='present')] == ['/var/lib/libvirt/images']
    assert kvm_host_pools_typed(pools, type='netfs') == [] and 'type' not in DIR


def test_the_directories_to_make():
    made = kvm_host_pool_directories([DIR, SAN], {})
    assert made == [{'name': 'default', 'path': '/var/lib/libvirt/images', 'mode': '0711'}]


@pytest.mark.parametrize('call', [lambda: kvm_host_pool_plan([{'name': 'x', 'type': 'logical'}], {}),
                                  lambda: kvm_host_pool_directories([{'name': 'x'}], {})],
                         ids=['plan', 'directories'])
def test_input_the_preflight_refuses_fails_the_filter_by_name(call):
    with pytest.raises(AnsibleFilterError, match='a pool the preflight should have refused'):
        call()
