#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvm_host_facts
short_description: Gather facts telling whether a host can run KVM guests
version_added: 0.1.0
description:
  - Reads C(/proc), C(/sys) and a few configuration files to describe the CPU, the C(/dev/kvm) device and
    kvm modules, IOMMU, memory, Linux security modules, the installed libvirt/QEMU stack and the bridges.
  - Opens C(/dev/kvm) and asks C(KVM_GET_API_VERSION) to prove the device is usable.
  - Returns everything under C(ansible_facts.kvm_host), with a summary C(can_run_kvm_guests) and C(reasons).
  - On request also returns the distribution facts C(ansible.builtin.setup) gives, so a role needs no
    C(setup) call of its own.
  - Never changes the host. If a libvirt socket exists, C(virsh capabilities) is asked over the read-only
    socket; with socket activation that may start an idle libvirt daemon.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options:
  virt_host_validate:
    description:
      - Run C(virt-host-validate qemu) when it is installed and parse every check.
      - Takes about a second, so it is off by default.
    type: bool
    default: false
  gather_virsh_capabilities:
    description:
      - Ask libvirt for its security models with C(virsh --readonly capabilities) when a libvirt socket exists.
    type: bool
    default: true
  gather_libvirt_objects:
    description:
      - List libvirt's storage pools and networks with their state and autostart flag
        (C(virsh --readonly pool-list --all) and C(net-list --all)), so a role can decide what to
        define, start or remove without a call of its own.
    type: bool
    default: false
    version_added: 0.4.0
  gather_distribution:
    description:
      - Also return, at the top level of C(ansible_facts), the facts of C(ansible.builtin.setup)'s
        C(distribution) and C(pkg_mgr) subsets (C(distribution), C(distribution_version),
        C(distribution_major_version), C(distribution_release), C(os_family), C(pkg_mgr) and the rest),
        computed by the same collectors of ansible-core, so they are the values C(setup) would give.
    type: bool
    default: false
    version_added: 0.4.0
  paths:
    description:
      - Paths whose existence, type, mode and owner are returned in RV(ansible_facts.kvm_host.paths),
        for example the directories a role is about to create, so it calls M(ansible.builtin.file)
        only for those that differ.
    type: list
    elements: str
    default: []
    version_added: 0.4.0
  accounts:
    description:
      - Account names to look up as C(getent passwd) would (through NSS). Each is returned in
        RV(ansible_facts.kvm_host.accounts) with its uid, or null when there is no such account, so a role
        can check the accounts its input names without a call of its own.
    type: list
    elements: str
    default: []
    version_added: 0.4.0
  groups:
    description:
      - Group names to look up as C(getent group) would. Each is returned in
        RV(ansible_facts.kvm_host.groups) with its gid, or null when there is no such group.
    type: list
    elements: str
    default: []
    version_added: 0.4.0
extends_documentation_fragment:
  - kvmcloud.hypervisor.read_only
attributes:
  facts:
    support: full
    description: Returns C(ansible_facts.kvm_host).
notes:
  - Standard library only on the target. Works in containers, where kernel facts are those of the container host.
seealso:
  - module: kvmcloud.hypervisor.kvm_audit
'''

EXAMPLES = r'''
- name: Learn whether this host can run KVM guests
  kvmcloud.hypervisor.kvm_host_facts:

- name: Stop early on a host without usable KVM
  ansible.builtin.assert:
    that: kvm_host.can_run_kvm_guests
    fail_msg: "{{ kvm_host.reasons | join('; ') }}"

- name: Include virt-host-validate results
  kvmcloud.hypervisor.kvm_host_facts:
    virt_host_validate: true

- name: Show the failed virt-host-validate checks
  ansible.builtin.debug:
    msg: "{{ kvm_host.host_validate.checks | selectattr('result', 'equalto', 'FAIL') | list }}"

- name: Read the distribution, libvirt's pools and networks, and a pool directory in one call
  kvmcloud.hypervisor.kvm_host_facts:
    gather_distribution: true
    gather_libvirt_objects: true
    paths: [/srv/vm-images]

- name: Create the pool directory only when it is missing or differs
  ansible.builtin.file:
    path: /srv/vm-images
    state: directory
    owner: root
    group: root
    mode: "0711"
  vars:
    pool_dir: "{{ ansible_facts.kvm_host.paths['/srv/vm-images'] }}"
  when: not pool_dir.isdir or [pool_dir.owner, pool_dir.group, pool_dir.mode] != ['root', 'root', '0711']
'''

RETURN = r'''
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: complex
  contains:
    ansible_distribution:
      description:
        - The distribution, served as C(ansible_facts.distribution).
        - With O(gather_distribution), every fact of C(setup)'s C(distribution) and C(pkg_mgr) subsets is returned
          under the name C(setup) gives it; those below, and where the platform has them
          C(ansible_distribution_minor_version) and C(ansible_distribution_file_*).
      type: str
      returned: when O(gather_distribution) is true
      sample: "Debian"
      version_added: 0.4.0
    ansible_distribution_version:
      description: Its version, as C(setup) gives it.
      type: str
      returned: when O(gather_distribution) is true
      sample: "13.2"
      version_added: 0.4.0
    ansible_distribution_major_version:
      description: Its major version.
      type: str
      returned: when O(gather_distribution) is true
      sample: "13"
      version_added: 0.4.0
    ansible_distribution_release:
      description: Its release name.
      type: str
      returned: when O(gather_distribution) is true
      sample: "trixie"
      version_added: 0.4.0
    ansible_os_family:
      description: The family of distributions it belongs to.
      type: str
      returned: when O(gather_distribution) is true
      sample: "Debian"
      version_added: 0.4.0
    ansible_pkg_mgr:
      description: The package manager C(setup) names for it (the name of its module).
      type: str
      returned: when O(gather_distribution) is true
      sample: "apt"
      version_added: 0.4.0
    kvm_host:
      description: Everything known about the host's ability to run KVM guests.
      returned: always
      type: complex
      contains:
        can_run_kvm_guests:
          description:
            - True when the CPU shows vmx or svm and C(/dev/kvm) exists, opens and answers KVM API version 12.
            - A C(/dev/kvm) without vmx/svm (for example from C(kvm_pvm) inside a cloud VM) cannot run ordinary guests.
          type: bool
          returned: always
        reasons:
          description: Why guests cannot run, and warnings, each saying what to do. Empty when all is well.
          type: list
          elements: str
          returned: always
        container:
          description: Container technology (for example C(docker)) when the host is a container, else null.
          type: str
          returned: always
        cpu:
          description:
            - C(vendor) (intel, amd, other), C(vendor_id), C(model), C(virt_extension) (vmx, svm, none),
              C(hypervisor) (the host is itself a guest), C(smt), C(sockets), C(cores), C(threads),
              C(numa_nodes) (list of C(id), C(memory_total_kib)).
          type: dict
          returned: always
          sample: {"vendor": "intel", "model": "Intel(R) Xeon(R) Gold 6230", "virt_extension": "vmx",
                   "hypervisor": false, "smt": true, "sockets": 2, "cores": 40, "threads": 80,
                   "numa_nodes": [{"id": 0, "memory_total_kib": 196608000}]}
        kvm:
          description:
            - C(dev_present), C(owner), C(group), C(mode) (for example C(0660)), C(usable), C(api_version),
              C(module_loaded), C(vendor_module) (kvm_intel, kvm_amd or null), C(vendor_module_loaded),
              C(loaded_modules) (kvm modules in /sys/module), C(vhost_net_loaded) (version 0.4.0), C(nested) (bool,
              null when unknown).
          type: dict
          returned: always
        memory:
          description:
            - C(total_kib), C(available_kib), C(hugepages) (list of C(size_kib), C(total), C(free)),
              C(ksm) (C(available), C(run), C(enabled), C(pages_shared)).
          type: dict
          returned: always
        iommu:
          description: C(enabled) (IOMMU groups exist), C(groups) (count), C(cmdline) (IOMMU kernel arguments).
          type: dict
          returned: always
        security:
          description:
            - C(lsm) (the LSM stack), C(lsm_visible), C(mac) (selinux, apparmor or none),
              C(selinux) (C(enabled), C(mode) enforcing/permissive/disabled, C(config_mode), C(policy)),
              C(apparmor) (C(enabled), C(profiles_loaded), and the mode (enforce, complain or null)
              of the C(libvirtd), C(virtqemud) and C(virt_aa_helper) profiles).
          type: dict
          returned: always
        virt_stack:
          description:
            - C(libvirt_version), C(qemu_version) (null when not installed), C(daemon_layout)
              (monolithic, modular, none), C(security_models) (from C(virsh capabilities), empty when unknown),
              C(security_models_note) (why the models were not asked, or null), C(virsh_installed),
              C(virt_host_validate_installed).
          type: dict
          returned: always
        network:
          description:
            - C(default_route_interface), C(default_route_interface_ipv6), C(ip_forward),
              C(ipv6_forwarding) (C(net.ipv6.conf.all.forwarding)),
              C(bridges) (list of C(name), C(ports), C(ipv4), C(ipv6_global), C(accept_ra),
              C(carries_host_address) (null when unknown), C(carries_default_route)),
              C(sriov_interfaces) (list of C(name), C(total_vfs), C(num_vfs)),
              C(addresses) (per interface, C(ipv4) and C(ipv6_global), each a list of C(ADDRESS/PREFIX)),
              C(addresses_complete) (false when C(ip) is missing, so that only IPv6 addresses are known).
          type: dict
          returned: always
        units:
          description:
            - libvirt's services and sockets of both daemon layouts (C(virtlogd.socket) too) and
              C(ksmtuned.service), each a dict of C(file_state) (C(enabled), C(disabled), C(static), C(masked),
              C(not-found)...), C(active) (systemd's C(ActiveState), null when systemd cannot be asked),
              C(since) (when the unit last became active, in seconds since the epoch, null when it never did
              or systemd is older than 248) and C(listen) (for a socket, the first address it listens on, the
              path of a unix socket such as C(/run/libvirt/libvirt-sock); null otherwise), from one
              C(systemctl show).
          type: dict
          returned: always
          version_added: 0.4.0
          sample: {"libvirtd.socket": {"file_state": "enabled", "active": "active", "since": 1764789000,
                                       "listen": "/run/libvirt/libvirt-sock"}}
        libvirt_files:
          description:
            - By path, C(/etc/libvirt/qemu.conf), C(libvirtd.conf), C(virtqemud.conf) and the path each socket
              of RV(ansible_facts.kvm_host.units) listens on now, each with the keys of
              RV(ansible_facts.kvm_host.paths). With C(units), a role tells a daemon that started before its
              config last changed, or a live socket whose mode or group drifted.
          type: dict
          returned: always
          version_added: 0.4.0
          sample: {"/run/libvirt/libvirt-sock": {"exists": true, "isdir": false, "mode": "0660", "owner": "root",
                                                 "group": "libvirt", "mtime": 1764789000}}
        paths:
          description:
            - Each path of O(paths) with C(exists), C(isdir), C(mode) (such as C(0711)), C(owner), C(group),
              C(mtime) (whole seconds since the epoch) and C(sha256) (of a regular file's content up to 1 MiB, else
              null), of the target for a link; all but C(exists) and C(isdir) null when the path is absent.
            - A role hands this to O(kvmcloud.hypervisor.config_files#module:current) so that files already as it
              wants them cost no further call.
          type: dict
          returned: always
          version_added: 0.4.0
          sample: {"/var/lib/libvirt/images": {"exists": true, "isdir": true, "mode": "0711", "owner": "root",
                                               "group": "root", "mtime": 1764789000, "sha256": null}}
        accounts:
          description:
            - Each name of O(accounts) with its uid as a string, or null when there is no such account.
          type: dict
          returned: always
          version_added: 0.4.0
          sample: {"vmadmin": "1001", "nosuchadmin": null}
        groups:
          description:
            - Each name of O(groups) with its gid as a string, or null when there is no such group.
          type: dict
          returned: always
          version_added: 0.4.0
          sample: {"libvirt": "993"}
        libvirt:
          description:
            - With O(gather_libvirt_objects), C(read) (bool), C(note) (why not read), C(pools) and
              C(networks), each a dict by name of C(state) and C(autostart) (networks also C(persistent)),
              as virsh prints them. Each pool also has C(path), the target path of its persistent
              definition (null for a transient pool or one without a path) (version 0.4.0), and
              C(type), its type there (C(dir), C(logical), C(netfs), C(iscsi), C(rbd), ...; null for a
              transient pool) (version 0.4.0).
          type: dict
          returned: when O(gather_libvirt_objects) is true
          version_added: 0.4.0
        package_db:
          description:
            - C(manager) (dpkg, rpm or null) and C(interrupted), true when an interrupted dpkg run left
              changes it never finished (apt then refuses to install until C(dpkg --configure -a) runs).
            - C(installed), the sorted names of the packages dpkg records as fully installed (version 0.4.0),
              read from its status file; null on RPM hosts and while an install is unfinished.
            - C(libvirt_version) (version 0.4.0), the upstream version of the installed C(libvirt-daemon)
              package (such as C(9.0.0)); null when it is not installed, on RPM hosts and while an install
              is unfinished.
            - C(apt_lists) (version 0.4.0), whether apt has package lists (files named C(*_Packages*) under
              C(/var/lib/apt/lists)); null where there is no dpkg.
          type: dict
          returned: always
        host_validate:
          description:
            - C(installed), C(ran), C(rc), C(counts) (per result) and C(checks), a list of
              C(component), C(check), C(result) (PASS, WARN, FAIL), C(detail).
          type: dict
          returned: always
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.host_facts import collect, distribution_facts
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.hostfs import CommandRunner, HostFS


def main():
    module = AnsibleModule(
        argument_spec=dict(
            virt_host_validate=dict(type='bool', default=False),
            gather_virsh_capabilities=dict(type='bool', default=True),
            gather_libvirt_objects=dict(type='bool', default=False),
            gather_distribution=dict(type='bool', default=False),
            paths=dict(type='list', elements='str', default=[]),
            accounts=dict(type='list', elements='str', default=[]),
            groups=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    facts = collect(
        HostFS('/'),
        CommandRunner(module),
        gather_capabilities=module.params['gather_virsh_capabilities'],
        host_validate=module.params['virt_host_validate'],
        gather_libvirt_objects=module.params['gather_libvirt_objects'],
        paths=module.params['paths'],
        accounts=module.params['accounts'],
        groups=module.params['groups'],
    )
    ansible_facts = {'kvm_host': facts}
    if module.params['gather_distribution']:
        ansible_facts.update(distribution_facts(module))
    module.exit_json(changed=False, ansible_facts=ansible_facts)


if __name__ == '__main__':
    main()
