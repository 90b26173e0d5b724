# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether the host is a container, from files only.

`systemd-detect-virt -c` would answer too but costs a process start; the
files it reads are enough for the engines we meet.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def detect_container(fs):
    """Container technology name, or None on bare metal and in VMs."""
    name = fs.read_strip('/run/systemd/container')
    if name:
        return name
    if fs.exists('/.dockerenv'):
        return 'docker'
    if fs.exists('/run/.containerenv'):
        return 'podman'
    environ = fs.read_bytes('/proc/1/environ') or b''
    for item in environ.split(b'\0'):
        if item.startswith(b'container='):
            value = item[len(b'container='):].decode('utf-8', 'replace')
            if value:
                return value
    return None
