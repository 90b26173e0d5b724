# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kvm_guests filters: the role's entry points to plugins/module_utils/guests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import pytest

from ansible.errors import AnsibleFilterError
from ansible.plugins.filter.core import to_nice_yaml
from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_guests_plan import kvm_guests_plan
from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_guests_power import kvm_guests_power
from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_guests_todo import kvm_guests_todo
from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_guests_verify import kvm_guests_verify
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import kvm_guests_settings, role_vars

ROLE_VARS = role_vars('kvm_guests')

USER_DATA = {'users': [{'name': 'admin', 'ssh_authorized_keys': ['ssh-ed25519 AAAA admin@example'],
                        'sudo': 'ALL=(ALL) NOPASSWD:ALL'}],
             'runcmd': [['sh', '-c', 'echo "ready: $(hostname)" > /dev/ttyS0']], 'write_files': [
                 {'path': '/etc/motd', 'content': 'Ünïcode\nline two\n'}]}
SETTINGS = kvm_guests_settings(**{
    'guests': [{'name': 'web1', 'disks': [{'size_gib': 4, 'base_image': 'debian-13'}], 'nics': [{'network': 'br-guest'}],
                'cloud_init': {'user_data': USER_DATA, 'network_config': {'version': 2, 'ethernets': {
                    'id0': {'match': {'name': 'en*'}, 'dhcp4': True}}}}}],
    'base_images': [{'name': 'debian-13', 'src': '/srv/d13.qcow2', 'checksum': 'sha256:' + '0' * 64}],
    'network_bridges': [{'name': 'br-guest'}],
})
STATE = {'domains': {'web1': {'defined': False, 'running': False, 'autostart': False, 'xml': ''}},
         'networks': ['br-guest'], 'domcapabilities': {'machine': 'pc-q35-10.0', 'firmware': ['efi']},
         'images': {}, 'paths': {}, 'restart_markers': []}


def test_the_role_variables_hold_every_setting_the_plan_needs():
    assert sorted(ROLE_VARS['__kvm_guests_settings']) == sorted(SETTINGS)


def test_plan_returns_the_shape_the_errors_and_the_read():
    planned = kvm_guests_plan(SETTINGS)
    assert planned['errors'] == [] and [g['name'] for g in planned['wanted']] == ['web1']
    assert planned['query']['domains'] == ['web1']


@pytest.mark.parametrize('settings, message', [
    ([], 'expects a dict of settings, got list'),
    ({'guests': []}, 'settings lack base_images, profiles'),
])
def test_plan_refuses_what_is_not_the_role_settings(settings, message):
    with pytest.raises(AnsibleFilterError, match=message):
        kvm_guests_plan(settings)


def test_todo_writes_the_seed_as_to_nice_yaml_did():
    # The same bytes as before the filter existed: existing seeds and ISOs stay as they are.
    todo = kvm_guests_todo(kvm_guests_plan(SETTINGS), SETTINGS, STATE, 'h1', 'qemu', {'domain_type': 'qemu'})
    contents = dict((entry['path'].rsplit('/', 1)[-1], entry['content']) for entry in todo['files'][:3])
    assert contents['user-data'] == '#cloud-config\n' + to_nice_yaml(USER_DATA, indent=2)
    assert contents['meta-data'] == to_nice_yaml({'instance-id': 'web1', 'local-hostname': 'web1'}, indent=2)
    assert contents['network-config'] == to_nice_yaml(SETTINGS['guests'][0]['cloud_init']['network_config'], indent=2)
    assert u'Ünïcode' in contents['user-data']


def test_verify_and_power_pass_through():
    planned = kvm_guests_plan(SETTINGS)
    assert kvm_guests_verify(planned, STATE) == {'images': [], 'sizes': [], 'disks': []}
    todo = kvm_guests_todo(planned, SETTINGS, STATE, 'h1', 'qemu', {'domain_type': 'qemu'})
    power = kvm_guests_power(planned, todo, None, False, False)
    assert power['start'] == ['web1'] and power['restarts'] == {}
