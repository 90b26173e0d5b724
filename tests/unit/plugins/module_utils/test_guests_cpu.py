# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet's CPU (module_utils/guests/cpu.py): which hosts' CPUs go into the baseline, and the
refusal when a guest in fleet mode has none."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.cpu import fleet_cpu_errors, fleet_cpus


def read(cpu, virttype='kvm'):
    return {'__kvm_guests_state': {'domcapabilities': {'host_cpu': cpu, 'virttype': virttype}}}


HOSTVARS = {
    'hv1': read('<cpu>a</cpu>'),
    'hv2': read('<cpu>b</cpu>'),
    # Emulated: its CPU is not one a KVM guest runs on.
    'lab': read('<cpu>t</cpu>', 'qemu'),
    # libvirt offers no host-model there.
    'old': read(''),
    # Its kvm_guests read was skipped.
    'skipped': {'__kvm_guests_state': {'skipped': True}},
    'other': {},
}


def test_the_cpus_of_the_hosts_read_for_the_domain_type_in_the_order_of_the_list():
    hosts = ['hv2', 'lab', 'old', 'skipped', 'other', 'hv1', 'gone']
    assert fleet_cpus(hosts, HOSTVARS, 'kvm') == ['<cpu>b</cpu>', '<cpu>a</cpu>']
    assert fleet_cpus(hosts, HOSTVARS, 'qemu') == ['<cpu>t</cpu>']


def shaped(*modes):
    return {'wanted': [{'name': 'g%d' % index, 'cpu_mode': mode} for index, mode in enumerate(modes)]}


def test_a_fleet_guest_without_a_fleet_cpu_is_refused_with_the_fix():
    errors = fleet_cpu_errors(shaped('fleet', 'host-model', 'fleet'), {'fleet_cpu': {}}, 'hv1', 'kvm')
    assert errors == ["g0, g2 get the fleet's CPU (cpu_mode fleet), but libvirt on hv1 offers no host-model CPU for"
                      " domain type kvm, so there is no baseline to work out. Name the model in"
                      " kvm_guests_fleet_cpu_model (one every host runs, see virsh cpu-models x86_64), or give these"
                      " guests another cpu_mode."]


def test_no_refusal_with_a_fleet_cpu_or_without_fleet_guests():
    assert fleet_cpu_errors(shaped('fleet'), {'fleet_cpu': {'model': 'EPYC'}}, 'hv1', 'kvm') == []
    assert fleet_cpu_errors(shaped('host-model'), {'fleet_cpu': {}}, 'hv1', 'kvm') == []
