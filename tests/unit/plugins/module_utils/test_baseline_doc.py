# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The hardening baseline guide and kvm_audit's control table describe the same controls.

docs/docsite/rst/hardening-baseline.rst has a section per control, titled "<id> <title>";
for the audited families (H, L, Q, S, N) the ids and titles must be those of
audit_controls.CONTROLS, in its order, so a control added, renamed or dropped in the audit
fails here until the guide follows. Each section says what the control means, what sets it,
how kvm_audit checks it and how to opt out.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.audit_controls import CONTROLS

GUIDE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'docs', 'docsite', 'rst', 'hardening-baseline.rst')
FIELDS = [':Means:', ':Set by:', ':Audit:', ':Opt out:']
CONTROL_TITLE = re.compile(r'^([A-Z])([0-9]+) \S')


def sections():
    """[(title, body lines)] of the guide's control sections (titles underlined with ^)."""
    with open(GUIDE) as handle:
        lines = handle.read().split('\n')
    found = []
    for i in range(len(lines) - 1):
        if lines[i] and set(lines[i + 1]) == {'^'}:
            assert len(lines[i + 1]) == len(lines[i]), 'underline of %r is not as long as the title' % lines[i]
            found.append((lines[i], i + 2))
    return [(title, lines[start:(found[n + 1][1] - 2) if n + 1 < len(found) else len(lines)])
            for n, (title, start) in enumerate(found)]


def test_the_audited_controls_are_those_of_the_audit_table_in_its_order():
    audited = [title for title, _body in sections() if title[0] in 'HLQSN']
    assert audited == ['%s %s' % (control_id, title) for control_id, title, _check, _fix in CONTROLS]


def test_the_guest_template_controls_follow():
    guest = [title.split()[0] for title, _body in sections() if title[0] == 'G']
    assert guest == ['G%d' % n for n in range(1, 8)]


def test_every_control_says_what_it_means_what_sets_it_how_it_is_audited_and_how_to_opt_out():
    for title, body in sections():
        assert CONTROL_TITLE.match(title), title
        fields = [':%s:' % line.split(':', 2)[1] for line in body if re.match(r'^:[A-Z][a-z ]+:', line)]
        assert fields == FIELDS, '%s: fields %s' % (title, fields)
        for line in body:
            if line.startswith(':'):
                assert line.split(':', 2)[2].strip(), '%s: %s is empty' % (title, line)
