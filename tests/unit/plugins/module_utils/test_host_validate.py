# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.host_validate import parse_host_validate
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import fixture_text


def test_pass_warn_fail_lines_with_details_and_colour():
    checks = parse_host_validate(fixture_text('virt-host-validate-intel-mixed.txt'))
    assert len(checks) == 11
    assert checks[0] == {'component': 'QEMU', 'check': 'Checking for hardware virtualization', 'result': 'PASS', 'detail': ''}
    assert checks[2]['result'] == 'FAIL'
    assert checks[2]['detail'].startswith('Check /dev/kvm is world writable')
    assert checks[6]['check'] == "Checking for cgroup 'devices' controller support"
    assert checks[6]['result'] == 'WARN'
    # ANSI colour codes around the result are removed.
    assert checks[9]['result'] == 'WARN'
    assert checks[9]['detail'] == 'Unknown if this platform has Secure Guest support'
    assert checks[10]['component'] == 'LXC'
    assert checks[10]['check'] == 'Checking for Linux >= 2.6.26'


def test_recorded_test_bed_output():
    checks = parse_host_validate(fixture_text('virt-host-validate-bookworm-pvm.txt'))
    assert [c['result'] for c in checks].count('FAIL') == 1
    assert 'HW virtualization CPU features not found' in checks[0]['detail']


def test_noise_lines_are_ignored():
    assert parse_host_validate('error: something\n\nQEMU: no result here\n') == []
