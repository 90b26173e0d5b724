# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_network_plan
short_description: Check kvm_network's settings and plan its bridges, files and libvirt networks
version_added: 0.4.0
description:
  - Turns the settings of the C(kvm_network) role into what it writes and checks, on the
    controller, so the role reads like a list of steps and the logic has unit tests.
  - Never fails on bad settings; it lists them in RV(_value.errors), each message starting from
    the variable to fix, so one assert reports them.
  - Given C(ansible_facts.kvm_network) (M(kvmcloud.hypervisor.kvm_network_facts)), it also checks
    the host (uplinks, management link), lists the role's networkd files no bridge declares any
    more, and compares the libvirt networks with the wanted ones.
options:
  _input:
    description:
      - The role's settings, named like its variables without the C(kvm_network_) prefix
        (C(bridges), C(libvirt_networks), C(nwfilter), C(nwfilter_ip_learning),
        C(host_guard_allow), C(management_change_allowed), C(rollback_seconds),
        C(migration_peers)), plus C(networkd_prefix), C(hostname) (for messages),
        C(os_family), C(distribution), C(distribution_version), and kvm_hardening's
        C(migration_enabled), C(migration_port_min) and C(migration_port_max).
    type: dict
    required: true
  facts:
    description: C(ansible_facts.kvm_network); without it the host checks and comparisons are left out.
    type: dict
"""

EXAMPLES = r"""
- name: Plan the run
  ansible.builtin.set_fact:
    __kvm_network_plan: "{{ __kvm_network_settings | kvmcloud.hypervisor.kvm_network_plan(ansible_facts.kvm_network) }}"

- name: The settings are valid
  ansible.builtin.assert:
    that: __kvm_network_plan.errors | length == 0
    fail_msg: "{{ __kvm_network_plan.errors }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    errors:
      description: The messages of the first input check that fails, empty when the settings are valid.
      type: list
      elements: str
    host_errors:
      description:
        - The messages of the first host check that fails (an uplink missing or taken, a change
          to a management interface that is not allowed); empty without facts.
      type: list
      elements: str
    bridges:
      description: Every bridge the role builds or has libvirt build, with C(name), C(network), C(kind), C(restricted), C(nat).
      type: list
      elements: dict
    bridge_names:
      description: The names of the host bridges (C(kvm_network_bridges)).
      type: list
      elements: str
    networkd_files:
      description:
        - The role's files in C(/etc/systemd/network) as M(kvmcloud.hypervisor.config_files) takes them,
          templates with their variables, then the files no bridge declares any more with C(state=absent).
      type: list
      elements: dict
    networkd_links:
      description: The link each declared networkd file configures, by path.
      type: dict
    bridge_ports:
      description: C(link), C(uplink) and C(bridge) of each port the networkd files put in a bridge.
      type: list
      elements: dict
    networkd_prefix:
      description: The name prefix of the role's networkd files.
      type: str
    stale_files:
      description: The role's networkd files on the host that no bridge declares any more, sorted; empty without facts.
      type: list
      elements: str
    libvirt_networks:
      description: The libvirt networks the role defines, bridge entries with C(address) and C(dhcp).
      type: list
      elements: dict
    libvirt:
      description:
        - What the libvirt networks need, when the facts hold them. C(define), the new networks (defined,
          started and autostarted in one step);
          C(redefine), C(net) (the definition), C(uuid), C(mac) and C(active) of each network whose
          bridge, forward mode, isolation, address or DHCP range differs; C(start) and C(autostart),
          names of networks libvirt already had.
      type: dict
    migration_guard:
      description:
        - The host guard's openings for live migration, C(enabled) only when migration is on;
          C(ports), nft's elements for libvirt's TLS port and the migration port range;
          C(ipv4) and C(ipv6), the peers that may connect there, merged and sorted.
      type: dict
    hook_policy:
      description: The nwfilter hook's policy, C(filter), C(ip_learning), C(networks) and C(bridges).
      type: dict
"""

from ansible.errors import AnsibleFilterError


def kvm_network_plan(settings, facts=None):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network.plan import plan
    if not isinstance(settings, dict):
        raise AnsibleFilterError("kvm_network_plan expects the role's settings as a dict, got %s"
                                 % type(settings).__name__)
    if facts is not None and not isinstance(facts, dict):
        raise AnsibleFilterError("kvm_network_plan expects ansible_facts.kvm_network as a dict, got %s"
                                 % type(facts).__name__)
    return plan(settings, facts)


class FilterModule(object):
    def filters(self):
        return {"kvm_network_plan": kvm_network_plan}
