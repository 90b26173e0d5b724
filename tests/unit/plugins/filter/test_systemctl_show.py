# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.kvmcloud.hypervisor.plugins.filter.systemctl_show import systemctl_show

# Recorded from `systemctl show --property=Id,UnitFileState,ActiveState` on Debian 13
# with libvirt installed; the last unit does not exist.
RECORDED = """Id=libvirtd.service
UnitFileState=enabled
ActiveState=inactive

Id=libvirtd.socket
UnitFileState=enabled
ActiveState=active

Id=virtqemud.service
UnitFileState=
ActiveState=inactive
"""


def test_units_are_keyed_by_id_with_their_properties():
    units = systemctl_show(RECORDED)
    assert sorted(units) == ["libvirtd.service", "libvirtd.socket", "virtqemud.service"]
    assert units["libvirtd.socket"]["ActiveState"] == "active"
    assert units["libvirtd.service"]["ActiveState"] == "inactive"
    assert units["virtqemud.service"]["UnitFileState"] == ""


def test_values_containing_equals_signs_are_kept_whole():
    units = systemctl_show("Id=a.service\nEnvironment=A=1 B=2\n")
    assert units["a.service"]["Environment"] == "A=1 B=2"


def test_empty_output_gives_no_units():
    assert systemctl_show("") == {}


def test_non_string_input_is_refused():
    with pytest.raises(AnsibleFilterError):
        systemctl_show(None)


def test_a_property_on_several_lines_keeps_its_first():
    # systemctl prints one Listen line per address, before the unit's Id.
    units = systemctl_show("Listen=/run/systemd/journal/socket (Datagram)\n"
                           "Listen=/run/systemd/journal/stdout (Stream)\nId=systemd-journald.socket\n")
    assert units["systemd-journald.socket"]["Listen"] == "/run/systemd/journal/socket (Datagram)"
