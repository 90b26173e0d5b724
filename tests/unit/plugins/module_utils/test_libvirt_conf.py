# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_conf import ConfError, parse_libvirt_conf
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import fixture_text


def test_debian_default_qemu_conf_is_all_comments():
    # Every setting in the shipped file is commented out, lists included.
    assert parse_libvirt_conf(fixture_text('qemu.conf.debian12-default')) == {}


def test_hardened_qemu_conf_with_comments_lists_and_quotes():
    conf = parse_libvirt_conf(fixture_text('qemu.conf.hardened'))
    assert conf['security_driver'] == ['apparmor']
    assert conf['security_require_confined'] == 1
    assert conf['user'] == 'libvirt-qemu'
    assert conf['group'] == 'kvm'
    assert conf['namespaces'] == ['mount']
    assert conf['cgroup_device_acl'] == ['/dev/null', '/dev/full', '/dev/zero', '/dev/random',
                                         '/dev/urandom', '/dev/ptmx', '/dev/kvm']
    assert conf['vnc_listen'] == '127.0.0.1'
    # The first assignment wins, as in libvirt (virConfGetValue returns the first match).
    assert conf['seccomp_sandbox'] == 1


def test_values_types_and_separators():
    conf = parse_libvirt_conf('a = -1; b = \'single\'\nc = """multi\nline"""\nd = [ ]\ne = "x#y" # comment\n')
    assert conf == {'a': -1, 'b': 'single', 'c': 'multi\nline', 'd': [], 'e': 'x#y'}


@pytest.mark.parametrize('text', ['a = "unterminated\n', 'a = [ "x" "y" ]\n', 'a = yes\n', '= 1\n', 'a = 1 2\n'])
def test_syntax_errors_raise(text):
    with pytest.raises(ConfError):
        parse_libvirt_conf(text)
