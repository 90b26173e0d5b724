# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The filter migration_peers: the default of kvm_network_migration_peers, around
module_utils/network/migration.py (tested in tests/unit/plugins/module_utils/network/test_network_migration.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kvmcloud.hypervisor.plugins.filter.migration_peers import FilterModule

migration_peers = FilterModule().filters()['migration_peers']
HOSTVARS = {
    'hv1': {'kvm_hardening_migration_enabled': True, 'kvm_hardening_migration_address': '192.0.2.11'},
    'hv2': {'kvm_hardening_migration_enabled': True, 'kvm_hardening_migration_address': '192.0.2.12'},
}


def test_the_other_migrating_hosts():
    assert migration_peers(['hv1', 'hv2'], HOSTVARS, 'hv1') == ['192.0.2.12']


def test_the_filter_refuses_what_is_not_a_list_of_hosts():
    with pytest.raises(AnsibleFilterError, match='migration_peers expects a list of host names'):
        migration_peers('hv1', HOSTVARS, 'hv1')
