# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parse `virt-host-validate` output into structured checks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# "  QEMU: Checking for hardware virtualization                 : PASS"
# "  QEMU: Checking for cgroup 'cpu' controller support          : WARN (Enable 'cpu' ...)"
LINE = re.compile(r'^\s*(?P<component>[A-Za-z]+):\s+(?P<check>.*?)\s*:\s+(?P<result>PASS|WARN|FAIL)(?:\s+\((?P<detail>.*)\))?\s*$')
ANSI = re.compile(r'\x1b\[[0-9;]*m')


def parse_host_validate(text):
    checks = []
    for line in (text or '').splitlines():
        match = LINE.match(ANSI.sub('', line))
        if match:
            checks.append({
                'component': match.group('component'),
                'check': match.group('check'),
                'result': match.group('result'),
                'detail': match.group('detail') or '',
            })
    return checks


def run_host_validate(fs, runner, hypervisor='qemu'):
    """Facts for virt-host-validate: ran, rc, checks, and result counts."""
    binary = fs.find_bin('virt-host-validate')
    if binary is None:
        return {'installed': False, 'ran': False, 'rc': None, 'checks': [], 'counts': {}}
    rc, out, err = runner.run([binary, hypervisor])
    checks = parse_host_validate(out + '\n' + err)
    counts = dict((result, sum(1 for c in checks if c['result'] == result)) for result in ('PASS', 'WARN', 'FAIL'))
    return {'installed': True, 'ran': True, 'rc': rc, 'checks': checks, 'counts': counts}
