# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_host_kernel_plan
short_description: The kernel settings of kvm_host, for the next boot and for the running kernel
version_added: 0.4.0
description:
  - From the host facts read at the start of the play and the role's settings, the files that set the
    kernel modules, KSM and hugepages at boot, and the commands that bring the running kernel there.
  - The files go to M(kvmcloud.hypervisor.config_files) in one call, the commands each to
    M(ansible.builtin.command). A converged host gets no command, and its files cost no call when the
    facts read them (O(kvmcloud.hypervisor.config_files#module:current)).
  - The file names and contents are those M(community.general.modprobe) and M(ansible.posix.sysctl) wrote
    before version 0.4.0, so a host they set up sees no change.
  - The vendor module (C(kvm_intel), C(kvm_amd)) is left out on a CPU without vmx or svm, where it cannot
    load. Reloading it when its nesting differs is left to the role, since the kernel refuses while guests run.
options:
  _input:
    description: C(ansible_facts.kvm_host), as M(kvmcloud.hypervisor.kvm_host_facts) returns it.
    type: dict
    required: true
  nested:
    description: Nested virtualization on or off (C(kvm_host_nested_virtualization)).
    type: bool
    required: true
  vhost_net:
    description: Whether C(vhost_net) loads, now and at boot (C(kvm_host_vhost_net)).
    type: bool
    required: true
  ksm:
    description: KSM on or off (C(kvm_host_ksm_enabled)).
    type: bool
    required: true
  hugepages_2m:
    description: The number of 2 MiB hugepages reserved (C(kvm_host_hugepages_2m_count)).
    type: int
    required: true
"""

EXAMPLES = r"""
- name: The kernel's settings for the next boot
  kvmcloud.hypervisor.config_files:
    files: "{{ kernel.files }}"
    current: "{{ ansible_facts.kvm_host.paths }}"
  vars:
    kernel: "{{ ansible_facts.kvm_host | kvmcloud.hypervisor.kvm_host_kernel_plan(false, true, false, 16) }}"
"""

RETURN = r"""
_value:
  description:
    - C(files), the entries for M(kvmcloud.hypervisor.config_files) (C(path), C(content), owner C(root), group
      C(root), mode C(0644)); C(commands), each an argv for the running kernel
      (C(modprobe), C(sysctl -w), C(systemd-tmpfiles --create)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

KSM_FILE = "/etc/tmpfiles.d/kvmcloud-ksm.conf"
HUGEPAGES_FILE = "/etc/sysctl.d/60-kvmcloud-hugepages.conf"
HUGEPAGE_KIB = 2048


def config_file(path, content):
    return {"path": path, "content": content, "owner": "root", "group": "root", "mode": "0644"}


def module_files(name, options=""):
    """The files that load module NAME at boot (with OPTIONS), as community.general.modprobe wrote them."""
    files = [config_file("/etc/modules-load.d/%s.conf" % name, "%s\n" % name)]
    if options:
        files.append(config_file("/etc/modprobe.d/%s.conf" % name, "options %s %s\n" % (name, options)))
    return files


def hugepages_now(facts):
    for pool in facts.get("memory", {}).get("hugepages") or []:
        if pool.get("size_kib") == HUGEPAGE_KIB:
            return pool.get("total")
    return None


def kvm_host_kernel_plan(facts, nested, vhost_net, ksm, hugepages_2m):
    if not isinstance(facts, dict) or not isinstance(facts.get("kvm"), dict):
        raise AnsibleFilterError("kvm_host_kernel_plan expects ansible_facts.kvm_host as kvm_host_facts returns it")
    if isinstance(hugepages_2m, bool) or not isinstance(hugepages_2m, int) or hugepages_2m < 0:
        raise AnsibleFilterError("kvm_host_kernel_plan: hugepages_2m must be a whole number, 0 or more, not %r"
                                 % (hugepages_2m,))
    kvm = facts["kvm"]
    vendor = kvm.get("vendor_module")
    files, commands = [], []
    if vendor and facts.get("cpu", {}).get("virt_extension", "none") != "none":
        nested_option = "nested=%d" % int(bool(nested))
        files += module_files(vendor, nested_option)
        if not kvm.get("vendor_module_loaded"):
            commands.append(["modprobe", vendor, nested_option])
    if vhost_net:
        files += module_files("vhost_net")
        if not kvm.get("vhost_net_loaded"):
            commands.append(["modprobe", "vhost_net"])
    files.append(config_file(KSM_FILE, "# Managed by kvmcloud.hypervisor.kvm_host\n"
                                       "w /sys/kernel/mm/ksm/run - - - - %d\n" % int(bool(ksm))))
    ksm_now = facts.get("memory", {}).get("ksm") or {}
    # The facts were read at the start of the run: this also undoes KSM turned on by hand.
    if ksm_now.get("available") and bool(ksm_now.get("enabled")) != bool(ksm):
        commands.append(["systemd-tmpfiles", "--create", KSM_FILE])
    files.append(config_file(HUGEPAGES_FILE, "vm.nr_hugepages=%d\n" % hugepages_2m))
    # A kernel without hugetlbfs shows no pool: it has none reserved.
    if (hugepages_now(facts) or 0) != hugepages_2m:
        commands.append(["sysctl", "-w", "vm.nr_hugepages=%d" % hugepages_2m])
    return {"files": files, "commands": commands}


class FilterModule(object):
    def filters(self):
        return {"kvm_host_kernel_plan": kvm_host_kernel_plan}
