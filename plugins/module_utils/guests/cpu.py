# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet's CPU: the model a guest keeps on every host it may move to.

kvm_guests reads each host's CPU (what libvirt's host-model stands for there, from
kvm_guests_state's domcapabilities) and asks libvirt for their baseline (kvm_guests_state's
cpu_baseline), so a guest started on any host of the fleet can move live to any other.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

STATE_VAR = '__kvm_guests_state'


def fleet_cpus(hosts, hostvars, domain_type):
    """The CPUs of the hosts of the list whose kvm_guests read them for this domain type, in the
    order of the list. hostvars is Ansible's or, in tests, plain dicts."""
    cpus = []
    for name in hosts or []:
        if name not in hostvars:
            continue
        state = hostvars[name].get(STATE_VAR)
        caps = (state.get('domcapabilities') or {}) if isinstance(state, dict) else {}
        if caps.get('host_cpu') and caps.get('virttype') == domain_type:
            cpus.append(caps['host_cpu'])
    return cpus


def fleet_cpu_errors(shaped, host, inventory_hostname, domain_type):
    """A guest in fleet mode needs a fleet CPU."""
    fleet = [guest['name'] for guest in shaped['wanted'] if guest['cpu_mode'] == 'fleet']
    if not fleet or (host.get('fleet_cpu') or {}).get('model'):
        return []
    return ['%s get the fleet\'s CPU (cpu_mode fleet), but libvirt on %s offers no host-model CPU for domain type %s,'
            ' so there is no baseline to work out. Name the model in kvm_guests_fleet_cpu_model (one every host runs,'
            ' see virsh cpu-models x86_64), or give these guests another cpu_mode.'
            % (', '.join(fleet), inventory_hostname, domain_type)]
