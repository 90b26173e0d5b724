# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.monitoring import (
    kvm_monitoring_errors, listen_address)

HASH = '$2b$10$nqw3.vgKVs0eQE59gBDZa.W5lQhzV/I6T89ZxA2nWEWxM.8VrUjaW'


@pytest.fixture
def params(tmp_path):
    cert, key = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    cert.write_text('cert')
    key.write_text('key')
    return {'listen_interface': '', 'node_exporter_port': 9100, 'libvirt_exporter_port': 9177,
            'tls_cert': str(cert), 'tls_key': str(key),
            'basic_auth_users': [{'name': 'scraper', 'password_hash': HASH}],
            'libvirt_metrics_interval': 15}


def test_valid_input_has_no_errors(params):
    assert kvm_monitoring_errors(params) == []


def test_missing_tls_and_users_are_named_with_the_fix(params):
    params.update(tls_cert='', tls_key='/nowhere/key.pem', basic_auth_users=[])
    errors = kvm_monitoring_errors(params)
    assert len(errors) == 3
    assert errors[0].startswith('kvm_monitoring_tls_cert is empty: the node exporter serves its metrics over TLS only')
    assert errors[1].startswith("kvm_monitoring_tls_key = '/nowhere/key.pem': no such file on the controller")
    assert errors[2].startswith('kvm_monitoring_basic_auth_users is empty') and 'htpasswd -nbBC 10' in errors[2]


def test_users_are_checked_by_index_and_a_pasted_password_is_not_echoed(params):
    params['basic_auth_users'] = [
        {'name': 'scraper', 'password_hash': HASH},
        {'name': 'scraper', 'password_hash': 'hunter2'},
        {'name': 'bad name', 'password_hash': HASH},
        {'name': 'x'},
    ]
    errors = kvm_monitoring_errors(params)
    assert errors[0] == ("kvm_monitoring_basic_auth_users[1].name = 'scraper': already the name of entry [0]; "
                         "each user once.")
    assert errors[1].startswith("kvm_monitoring_basic_auth_users[1].password_hash (of 'scraper') is not a bcrypt hash")
    assert 'hunter2' not in ' '.join(errors)
    assert errors[2] == "kvm_monitoring_basic_auth_users[2].name = 'bad name': letters, digits and _.- only."
    assert errors[3].startswith("kvm_monitoring_basic_auth_users[3] = {'name': 'x'}: each entry is a dict with exactly")
    assert len(errors) == 4


@pytest.mark.parametrize('change, start', [
    ({'node_exporter_port': 0}, 'kvm_monitoring_node_exporter_port = 0 is not a TCP port'),
    ({'libvirt_exporter_port': True}, 'kvm_monitoring_libvirt_exporter_port = True is not a TCP port'),
    ({'libvirt_exporter_port': 9100}, 'kvm_monitoring_node_exporter_port and kvm_monitoring_libvirt_exporter_port are both 9100'),
    ({'listen_interface': 'eth0\nx'}, "kvm_monitoring_listen_interface = 'eth0\\nx' is not an interface name"),
    ({'libvirt_metrics_interval': 1}, 'kvm_monitoring_libvirt_metrics_interval = 1: seconds between two copies'),
])
def test_each_rule_names_the_variable_and_value(params, change, start):
    params.update(change)
    errors = kvm_monitoring_errors(params)
    assert len(errors) == 1 and errors[0].startswith(start), errors


NETWORK = {
    'links': {
        'lo': {'kind': 'loopback', 'ipv4': ['127.0.0.1/8'], 'ipv6': ['::1/128']},
        'br0': {'kind': 'bridge', 'ipv4': ['192.0.2.10/24'], 'ipv6': ['fe80::1/64']},
        'eth0': {'kind': 'device', 'master': 'br0', 'ipv4': [], 'ipv6': []},
        'br-guest': {'kind': 'bridge', 'ipv4': [], 'ipv6': []},
        'mgmt6': {'kind': 'device', 'ipv4': [], 'ipv6': ['fe80::2/64', '2001:db8::5/64']},
    },
    'default_route_interfaces': ['br0'],
    'management_interfaces': ['br0', 'eth0', 'mgmt6'],
}


def test_default_route_interface_and_its_ipv4_address():
    assert listen_address(NETWORK, '') == {'interface': 'br0', 'address': '192.0.2.10', 'error': ''}


def test_ipv6_only_interface_gets_a_bracketed_global_address():
    assert listen_address(NETWORK, 'mgmt6')['address'] == '[2001:db8::5]'


@pytest.mark.parametrize('interface, start', [
    ('br-guest', "kvm_monitoring_listen_interface = 'br-guest' is not a management interface of this host (br0, eth0, mgmt6)"),
    ('lo', "kvm_monitoring_listen_interface = 'lo' is not a management interface"),
    ('eth9', "kvm_monitoring_listen_interface = 'eth9': the host has no such interface"),
    ('eth0', 'kvm_monitoring_listen_interface: eth0 has no global address'),
])
def test_guest_bridges_and_addressless_interfaces_are_refused(interface, start):
    result = listen_address(NETWORK, interface)
    assert result['address'] == '' and result['error'].startswith(start), result


def test_no_default_route_and_no_interface_named():
    result = listen_address(dict(NETWORK, default_route_interfaces=[]), '')
    assert result['error'].startswith('kvm_monitoring_listen_interface is empty and the host has no default route')
