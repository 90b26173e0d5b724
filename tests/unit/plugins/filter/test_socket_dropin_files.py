# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kvmcloud.hypervisor.plugins.filter.socket_dropin_files import socket_dropin_files


def test_one_dropin_per_socket_with_group_and_mode():
    files = socket_dropin_files({"libvirtd.socket": "0660", "libvirtd-ro.socket": "0666"}, "libvirt")
    assert [f["path"] for f in files] == [
        "/etc/systemd/system/libvirtd-ro.socket.d/kvmcloud.conf",
        "/etc/systemd/system/libvirtd.socket.d/kvmcloud.conf",
    ]
    assert files[1]["content"].endswith("[Socket]\nSocketGroup=libvirt\nSocketMode=0660\n")
    assert (files[1]["owner"], files[1]["group"], files[1]["mode"]) == ("root", "root", "0644")


@pytest.mark.parametrize("group", ["libvirt\nSocketMode=0666", "", "lib virt", 7])
def test_group_that_would_add_a_setting_is_refused(group):
    with pytest.raises(AnsibleFilterError, match="not a valid group name"):
        socket_dropin_files({"libvirtd.socket": "0660"}, group)


@pytest.mark.parametrize("mode", ["0666\n", "rw-rw----", 660, "0888"])
def test_mode_that_is_not_an_octal_string_is_refused(mode):
    with pytest.raises(AnsibleFilterError, match="not an octal string"):
        socket_dropin_files({"libvirtd.socket": mode}, "libvirt")


def test_unit_that_is_not_a_socket_is_refused():
    with pytest.raises(AnsibleFilterError, match="not a socket unit"):
        socket_dropin_files({"../../x.socket": "0660"}, "libvirt")
