# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Collects all kvm_host facts and decides whether KVM guests can run."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import grp
import pwd

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.container import detect_container
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.cpu_facts import cpu_facts
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.host_validate import run_host_validate
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.kvm_device import kvm_api_version, kvm_facts
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_objects import (
    libvirt_files, libvirt_objects, path_states, unit_states)
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.memory_facts import iommu_facts, memory_facts
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network_facts import network_facts
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.package_db import package_db_facts
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.security_facts import security_facts
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.virt_stack_facts import virt_stack_facts


FIRMWARE_HINT = {'vmx': 'Intel VT-x', 'svm': 'AMD-V'}


def kvm_reasons(cpu, kvm, container):
    """Why KVM guests cannot run, as things a person can act on."""
    reasons = []
    vendor_ext = {'intel': 'Intel VT-x (vmx)', 'amd': 'AMD-V (svm)'}.get(cpu['vendor'], 'hardware virtualization')
    if cpu['virt_extension'] == 'none' and not kvm['usable']:
        if cpu['hypervisor']:
            reasons.append('CPU shows no %s and this host is itself a virtual machine: enable nested '
                           'virtualization on the outer hypervisor' % vendor_ext)
        else:
            reasons.append('CPU shows no %s: enable it in the firmware (BIOS/UEFI) setup' % vendor_ext)
    if not kvm['module_loaded'] and not kvm['dev_present']:
        reasons.append('kernel module kvm is not loaded: modprobe kvm')
    if kvm['vendor_module'] and not kvm['vendor_module_loaded'] and not kvm['usable']:
        reasons.append('kernel module %s is not loaded: modprobe %s (check dmesg if it refuses, '
                       'e.g. virtualization disabled in firmware)' % (kvm['vendor_module'], kvm['vendor_module']))
    if not kvm['dev_present']:
        if container:
            reasons.append('/dev/kvm missing: this is a %s container; pass the device in (e.g. --device /dev/kvm)' % container)
        else:
            reasons.append('/dev/kvm missing: load the kvm modules and check udev')
    elif not kvm['usable']:
        if kvm['api_version'] is None:
            reasons.append('/dev/kvm (%s:%s %s) could not be opened or did not answer KVM_GET_API_VERSION'
                           % (kvm['owner'], kvm['group'], kvm['mode']))
        else:
            reasons.append('/dev/kvm answered KVM API version %s, expected 12' % kvm['api_version'])
    if kvm['usable'] and cpu['virt_extension'] == 'none':
        # Seen on our CI machines: a guest with the kvm_pvm module answers on /dev/kvm, but
        # QEMU with -accel kvm hangs on an ordinary guest kernel.
        reasons.append('/dev/kvm answers but the CPU shows no vmx/svm flag (KVM modules loaded: %s): '
                       'KVM here is paravirtual or emulated and cannot run ordinary guests; enable nested '
                       'virtualization on the outer hypervisor' % (', '.join(kvm['loaded_modules']) or 'none'))
    return reasons


def distribution_facts(module, collectors=None):
    """The facts setup's distribution and pkg_mgr subsets give (distribution, its version,
    major version and release, os_family, pkg_mgr...), from the same collectors, with the
    ansible_ prefix setup gives them: Ansible serves them as ansible_facts.distribution and so on.
    collectors: the two collector classes, for tests."""
    if collectors is None:
        # Imported only when asked: ansible.module_utils.facts imports every collector it has,
        # a cost (some 70 modules) the calls that do not ask should not pay.
        from ansible.module_utils.facts.system.distribution import DistributionFactCollector
        from ansible.module_utils.facts.system.pkg_mgr import PkgMgrFactCollector
        collectors = (DistributionFactCollector, PkgMgrFactCollector)
    facts = {}
    for collector in collectors:
        # Each collector reads the earlier ones' facts by their prefixed names
        # (PkgMgrFactCollector needs ansible_os_family), as setup hands them on.
        found = collector().collect(module=module, collected_facts=facts)
        facts.update(('ansible_' + name, value) for name, value in found.items())
    return facts


def named_ids(names, lookup):
    """{name: uid or gid as a string, or None when there is no such name}, by lookup
    (pwd.getpwnam or grp.getgrnam, which ask NSS as getent does)."""
    found = {}
    for name in names:
        try:
            found[name] = str(lookup(name)[2])
        except KeyError:
            found[name] = None
    return found


def collect(fs, runner, gather_capabilities=True, host_validate=False, api_probe=kvm_api_version,
            gather_libvirt_objects=False, paths=(), accounts=(), groups=(),
            account_lookup=pwd.getpwnam, group_lookup=grp.getgrnam):
    cpu = cpu_facts(fs)
    kvm = kvm_facts(fs, cpu, api_probe=api_probe)
    container = detect_container(fs)
    reasons = kvm_reasons(cpu, kvm, container)
    units = unit_states(fs, runner)
    facts = {
        'can_run_kvm_guests': kvm['dev_present'] and kvm['usable'] and cpu['virt_extension'] != 'none',
        'reasons': reasons,
        'cpu': cpu,
        'kvm': kvm,
        'container': container,
        'memory': memory_facts(fs),
        'iommu': iommu_facts(fs),
        'security': security_facts(fs),
        'virt_stack': virt_stack_facts(fs, runner, gather_capabilities),
        'network': network_facts(fs, runner),
        'package_db': package_db_facts(fs),
        'units': units,
        'libvirt_files': libvirt_files(fs, units),
        'paths': path_states(fs, paths),
        'accounts': named_ids(accounts, account_lookup),
        'groups': named_ids(groups, group_lookup),
        'host_validate': {'installed': fs.find_bin('virt-host-validate') is not None, 'ran': False,
                          'rc': None, 'checks': [], 'counts': {}},
    }
    if host_validate:
        facts['host_validate'] = run_host_validate(fs, runner)
    if gather_libvirt_objects:
        facts['libvirt'] = libvirt_objects(fs, runner) if facts['virt_stack']['daemon_layout'] != 'none' else {
            'read': False, 'note': 'libvirt not installed', 'pools': {}, 'networks': {}}
    return facts
