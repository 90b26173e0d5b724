# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_audit_textfile import kvm_audit_textfile
from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_monitoring_listen import kvm_monitoring_listen

RESULT = {
    'controls': [
        {'id': 'H1', 'title': 'MAC "active"', 'status': 'fail'},
        {'id': 'L2', 'title': 'No plain TCP', 'status': 'pass'},
    ],
    'not_evaluated': ['H5'],
}


def series(text):
    return dict(line.rsplit(' ', 1) for line in text.splitlines() if not line.startswith('#'))


def test_one_series_per_control_and_status_and_the_summary():
    metrics = series(kvm_audit_textfile(RESULT))
    assert metrics['kvmcloud_audit_control_status{control="H1",title="MAC \\"active\\"",status="fail"}'] == '1'
    assert metrics['kvmcloud_audit_control_status{control="H1",title="MAC \\"active\\"",status="pass"}'] == '0'
    assert metrics['kvmcloud_audit_control_status{control="L2",title="No plain TCP",status="pass"}'] == '1'
    assert sum(1 for name in metrics if name.startswith('kvmcloud_audit_control_status')) == 8
    assert metrics['kvmcloud_audit_control_evaluated{control="H5"}'] == '0'
    assert metrics['kvmcloud_audit_control_evaluated{control="L2"}'] == '1'
    assert metrics['kvmcloud_audit_passed'] == '0'


def test_passed_when_nothing_fails_and_the_text_is_stable():
    result = {'controls': [{'id': 'L2', 'title': 'No plain TCP', 'status': 'not_applicable'}], 'not_evaluated': []}
    assert series(kvm_audit_textfile(result))['kvmcloud_audit_passed'] == '1'
    assert kvm_audit_textfile(result) == kvm_audit_textfile(dict(result))


@pytest.mark.parametrize('bad', [None, {}, {'controls': [{'id': 'H1', 'status': 'skipped'}]}])
def test_anything_but_an_audit_result_is_refused(bad):
    with pytest.raises(AnsibleFilterError):
        kvm_audit_textfile(bad)


def test_listen_filter_refuses_what_is_not_the_facts():
    with pytest.raises(AnsibleFilterError, match='expects ansible_facts.kvm_network'):
        kvm_monitoring_listen(None)
    assert kvm_monitoring_listen({'links': {}, 'default_route_interfaces': []})['error']
