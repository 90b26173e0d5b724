# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""roles/kvm_host/vars/main.yml lists the paths the host facts read (__kvm_host_paths_to_read), so that
config_files can answer from them without a call. It writes the kernel files and the socket drop-ins
down by hand: these tests hold that list to what kvm_host_kernel_plan and socket_dropin_files may
write. A path left out would cost a module call on every run, not a wrong result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_host_kernel_plan import kvm_host_kernel_plan
from ansible_collections.kvmcloud.hypervisor.plugins.filter.socket_dropin_files import socket_dropin_files

VARS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..',
                    'roles', 'kvm_host', 'vars', 'main.yml')


def role_vars():
    with open(VARS) as handle:
        return yaml.safe_load(handle)


def every_kernel_file():
    """Every path the plan writes, over both vendors with every option on."""
    paths = set()
    for vendor in ('kvm_intel', 'kvm_amd'):
        facts = {'kvm': {'vendor_module': vendor}, 'cpu': {'virt_extension': 'vmx'}}
        plan = kvm_host_kernel_plan(facts, nested=True, vhost_net=True, ksm=True, hugepages_2m=8)
        paths.update(entry['path'] for entry in plan['files'])
    return paths


def test_the_kernel_paths_read_are_every_file_the_kernel_plan_writes():
    assert sorted(role_vars()['__kvm_host_kernel_paths']) == sorted(every_kernel_file())


def test_the_drop_in_paths_read_are_the_ones_socket_dropin_files_writes():
    # The list is a Jinja expression over the socket units of every layout: its prefix and suffix
    # around a unit's name must be those of the filter's paths.
    expression = role_vars()['__kvm_host_paths_to_read']
    path = socket_dropin_files({'libvirtd.socket': '0660'}, 'libvirt')[0]['path']
    prefix, suffix = path.split('libvirtd.socket')
    assert "map('regex_replace', '^', '%s')" % prefix in expression
    assert "map('regex_replace', '$', '%s')" % suffix in expression
    assert '__kvm_host_kernel_paths' in expression
