# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether the host's package database was left mid-operation by an interrupted install."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DPKG_UPDATES = '/var/lib/dpkg/updates'


def package_db_facts(fs):
    """dpkg journals each status change in numbered files under updates/ and folds them into
    its status file when it finishes; numbered files left behind are what makes apt refuse to
    run with "dpkg was interrupted". RPM hosts have no such state."""
    if not fs.isdir('/var/lib/dpkg'):
        return {'manager': 'rpm' if fs.isdir('/var/lib/rpm') else None, 'interrupted': False}
    pending = [name for name in fs.listdir(DPKG_UPDATES) if name.isdigit()]
    return {'manager': 'dpkg', 'interrupted': bool(pending)}
