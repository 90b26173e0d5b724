# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: systemctl_show
short_description: Parse the output of C(systemctl show) for several units
version_added: 0.1.0
description:
  - Turns the output of C(systemctl show --property=Id,... UNIT...) into a dictionary keyed by
    unit name, so one command can report the state of many units.
options:
  _input:
    description: Standard output of C(systemctl show) with C(Id) among the properties.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read two units at once
  ansible.builtin.command:
    argv:
      - systemctl
      - show
      - --property=Id,ActiveState
      - libvirtd.socket
      - virtlogd.socket
  register: units
  changed_when: false

- name: Show whether libvirtd.socket is active
  ansible.builtin.debug:
    msg: "{{ (units.stdout | kvmcloud.hypervisor.systemctl_show)['libvirtd.socket'].ActiveState }}"
"""

RETURN = r"""
_value:
  description: Unit name to a dictionary of its properties.
  type: dict
"""

from ansible.errors import AnsibleFilterError


def systemctl_show(text):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.systemd_units import parse_show
    if not isinstance(text, str):
        raise AnsibleFilterError("systemctl_show expects a string, got %s" % type(text).__name__)
    return parse_show(text)


class FilterModule(object):
    def filters(self):
        return {"systemctl_show": systemctl_show}
