# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kvm_host_facts puts its own facts under kvm_host, and setup's distribution facts, when asked,
at the top level where setup puts them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from unittest import mock

from ansible_collections.kvmcloud.hypervisor.plugins.modules import kvm_host_facts
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import run_module_main

DISTRIBUTION = {'ansible_distribution': 'Debian', 'ansible_os_family': 'Debian', 'ansible_pkg_mgr': 'apt'}


def run(args):
    with mock.patch.object(kvm_host_facts, 'collect', return_value={'can_run_kvm_guests': True}) as collect, \
            mock.patch.object(kvm_host_facts, 'distribution_facts', return_value=DISTRIBUTION) as distribution:
        result, failed = run_module_main(kvm_host_facts.main, args)
    assert not failed and result['changed'] is False
    return result['ansible_facts'], collect, distribution


def test_distribution_facts_only_when_asked():
    facts, collect, distribution = run({})
    assert facts == {'kvm_host': {'can_run_kvm_guests': True}}
    assert not distribution.called
    assert collect.call_args.kwargs['paths'] == []


def test_distribution_facts_beside_kvm_host_and_paths_handed_on():
    facts, collect, _distribution = run({'gather_distribution': True, 'paths': ['/var/lib/libvirt/images']})
    assert facts == dict(DISTRIBUTION, kvm_host={'can_run_kvm_guests': True})
    assert collect.call_args.kwargs['paths'] == ['/var/lib/libvirt/images']
