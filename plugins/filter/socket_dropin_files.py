# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: socket_dropin_files
short_description: The systemd drop-ins that give libvirt's unix sockets their group and mode
version_added: 0.4.0
description:
  - Turns a dictionary of socket unit to octal mode into the list of files
    M(kvmcloud.hypervisor.config_files) writes in one call, one drop-in
    C(/etc/systemd/system/UNIT.d/kvmcloud.conf) per socket.
  - With socket activation these drop-ins, not C(unix_sock_*) in the daemon's config, decide who may connect.
options:
  _input:
    description: Socket unit name to its mode, an octal string such as C(0660).
    type: dict
    required: true
  group:
    description: The group that owns every socket.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The libvirt unix sockets carry the configured group and modes
  kvmcloud.hypervisor.config_files:
    files: "{{ socket_modes | kvmcloud.hypervisor.socket_dropin_files('libvirt') }}"
  vars:
    socket_modes: {libvirtd.socket: "0660", libvirtd-ro.socket: "0666"}
"""

RETURN = r"""
_value:
  description: One dictionary per socket with C(path), C(content), C(owner), C(group) and C(mode).
  type: list
  elements: dict
"""

import re

from ansible.errors import AnsibleFilterError

HEADER = (
    "# Managed by kvmcloud.hypervisor.kvm_host\n"
    "# With socket activation these settings, not unix_sock_* in the daemon's .conf, decide\n"
    "# who may connect.\n"
)


def socket_dropin_files(socket_modes, group):
    if not isinstance(socket_modes, dict):
        raise AnsibleFilterError("socket_dropin_files expects a dict of socket unit to mode")
    # Full-string matches: a newline would start a new setting in the unit file.
    if not isinstance(group, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", group):
        raise AnsibleFilterError("socket group %r is not a valid group name" % (group,))
    files = []
    for unit, mode in sorted(socket_modes.items()):
        if not re.fullmatch(r"[A-Za-z0-9@_.-]+\.socket", unit):
            raise AnsibleFilterError("%r is not a socket unit name" % (unit,))
        if not isinstance(mode, str) or not re.fullmatch(r"0?[0-7]{3}", mode):
            raise AnsibleFilterError("%s: mode %r is not an octal string such as \"0660\"" % (unit, mode))
        files.append({
            "path": "/etc/systemd/system/%s.d/kvmcloud.conf" % unit,
            "content": HEADER + "[Socket]\nSocketGroup=%s\nSocketMode=%s\n" % (group, mode),
            "owner": "root",
            "group": "root",
            "mode": "0644",
        })
    return files


class FilterModule(object):
    def filters(self):
        return {"socket_dropin_files": socket_dropin_files}
