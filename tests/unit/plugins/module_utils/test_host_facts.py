# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import grp
import json
import pwd
from unittest import mock

import pytest

from ansible.module_utils.facts import ansible_collector, default_collectors
from ansible.module_utils.facts.namespace import PrefixFactNamespace

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.host_facts import (
    collect, distribution_facts, named_ids)
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import FakeRunner, fixture_text

KVM_OWNERS = {'/dev/kvm': {'owner': 'root', 'group': 'kvm', 'mode': '0660'}}


def answers_api(version):
    return lambda path: version


def intel_host(nested='Y'):
    return {
        '/proc/cpuinfo': fixture_text('cpuinfo-intel-vmx.txt'),
        '/dev/kvm': '',
        '/sys/module/kvm/parameters/halt_poll_ns': '200000\n',
        '/sys/module/kvm_intel/parameters/nested': nested + '\n',
        '/sys/devices/system/cpu/smt/active': '1\n',
    }


def test_intel_host_with_usable_kvm_can_run_guests(make_host):
    fs = make_host(intel_host(), KVM_OWNERS)
    facts = collect(fs, FakeRunner(), api_probe=answers_api(12))
    assert facts['can_run_kvm_guests'] is True
    assert facts['reasons'] == []
    assert facts['cpu']['vendor'] == 'intel'
    assert facts['cpu']['virt_extension'] == 'vmx'
    assert facts['cpu']['hypervisor'] is False
    assert (facts['cpu']['sockets'], facts['cpu']['cores'], facts['cpu']['threads']) == (2, 2, 4)
    assert facts['cpu']['smt'] is True
    assert facts['kvm']['vendor_module'] == 'kvm_intel'
    assert facts['kvm']['vendor_module_loaded'] is True
    assert facts['kvm']['nested'] is True
    assert (facts['kvm']['owner'], facts['kvm']['group'], facts['kvm']['mode']) == ('root', 'kvm', '0660')
    assert facts['kvm']['api_version'] == 12


def test_nested_off_is_reported(make_host):
    facts = collect(make_host(intel_host(nested='N'), KVM_OWNERS), FakeRunner(), api_probe=answers_api(12))
    assert facts['kvm']['nested'] is False


def test_amd_host_reads_svm_and_numeric_nested_flag(make_host):
    fs = make_host({
        '/proc/cpuinfo': fixture_text('cpuinfo-amd-svm.txt'),
        '/dev/kvm': '',
        '/sys/module/kvm/uevent': '',
        '/sys/module/kvm_amd/parameters/nested': '0\n',
        '/sys/devices/system/node/node0/meminfo': 'Node 0 MemTotal:       16318412 kB\nNode 0 MemFree:  1000 kB\n',
        '/sys/devices/system/node/node1/meminfo': 'Node 1 MemTotal:       16515072 kB\n',
    }, KVM_OWNERS)
    facts = collect(fs, FakeRunner(), api_probe=answers_api(12))
    cpu = facts['cpu']
    assert (cpu['vendor'], cpu['virt_extension'], cpu['model']) == ('amd', 'svm', 'AMD EPYC 7313 16-Core Processor')
    # No smt/active file: two threads on two distinct cores means no SMT.
    assert cpu['smt'] is False
    assert cpu['numa_nodes'] == [{'id': 0, 'memory_total_kib': 16318412}, {'id': 1, 'memory_total_kib': 16515072}]
    assert facts['kvm']['vendor_module'] == 'kvm_amd'
    assert facts['kvm']['nested'] is False


def test_no_virtualization_extension_and_no_dev_kvm_gives_actionable_reasons(make_host):
    cpuinfo = fixture_text('cpuinfo-intel-vmx.txt').replace(' vmx ', ' ').replace(' ept vpid', '')
    fs = make_host({'/proc/cpuinfo': cpuinfo})
    facts = collect(fs, FakeRunner(), api_probe=answers_api(12))
    assert facts['can_run_kvm_guests'] is False
    assert facts['cpu']['virt_extension'] == 'none'
    assert facts['kvm']['dev_present'] is False
    assert facts['kvm']['usable'] is False
    text = '\n'.join(facts['reasons'])
    assert 'enable it in the firmware' in text
    assert 'modprobe kvm_intel' in text
    assert '/dev/kvm missing' in text


def test_paravirtual_kvm_without_vmx_or_svm_cannot_run_guests(make_host):
    # Recorded on the test bed: AMD guest without svm, kvm_pvm provides /dev/kvm.
    fs = make_host({
        '/proc/cpuinfo': fixture_text('cpuinfo-amd-pvm-guest.txt'),
        '/dev/kvm': '',
        '/sys/module/kvm/uevent': '',
        '/sys/module/kvm_pvm/uevent': '',
    }, KVM_OWNERS)
    facts = collect(fs, FakeRunner(), api_probe=answers_api(12))
    loaded = collect(make_host({'/proc/cpuinfo': fixture_text('cpuinfo-amd-pvm-guest.txt'),
                                '/sys/module/vhost_net/uevent': ''}), FakeRunner(), api_probe=answers_api(None))
    assert loaded['kvm']['vhost_net_loaded'] is True
    assert facts['cpu']['virt_extension'] == 'none'
    assert facts['cpu']['hypervisor'] is True
    assert facts['kvm']['usable'] is True
    assert facts['can_run_kvm_guests'] is False
    assert facts['kvm']['loaded_modules'] == ['kvm', 'kvm_pvm']
    assert facts['kvm']['vhost_net_loaded'] is False
    assert len(facts['reasons']) == 1
    assert 'no vmx/svm' in facts['reasons'][0] and 'kvm_pvm' in facts['reasons'][0]


def test_dev_kvm_that_does_not_answer_is_not_usable(make_host):
    fs = make_host(intel_host(), {'/dev/kvm': {'owner': 'root', 'group': 'root', 'mode': '0600'}})
    facts = collect(fs, FakeRunner(), api_probe=answers_api(None))
    assert facts['can_run_kvm_guests'] is False
    assert facts['kvm']['usable'] is False
    assert any('could not be opened' in reason and 'root:root 0600' in reason for reason in facts['reasons'])


def test_container_detection_from_files(make_host):
    fs = make_host({'/proc/cpuinfo': '', '/.dockerenv': ''})
    facts = collect(fs, FakeRunner(), api_probe=answers_api(None))
    assert facts['container'] == 'docker'
    assert any('docker container' in reason for reason in facts['reasons'])


def test_container_from_pid1_environment(make_host):
    fs = make_host({'/proc/1/environ': b'PATH=/bin\0container=lxc\0'})
    assert collect(fs, FakeRunner(), api_probe=answers_api(None))['container'] == 'lxc'


def test_bare_metal_is_not_a_container(make_host):
    fs = make_host({'/proc/1/environ': b'PATH=/bin\0TERM=linux\0'})
    assert collect(fs, FakeRunner(), api_probe=answers_api(None))['container'] is None


def test_memory_hugepages_ksm_and_iommu(make_host):
    fs = make_host({
        '/proc/meminfo': 'MemTotal:       32768000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n',
        '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages': '512\n',
        '/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages': '500\n',
        '/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages': '0\n',
        '/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages': '0\n',
        '/sys/kernel/mm/ksm/run': '1\n',
        '/sys/kernel/mm/ksm/pages_shared': '42\n',
        '/sys/kernel/iommu_groups/0': None,
        '/sys/kernel/iommu_groups/1': None,
        '/sys/kernel/iommu_groups/7': None,
        '/proc/cmdline': 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu=pt quiet\n',
    })
    facts = collect(fs, FakeRunner(), api_probe=answers_api(None))
    memory = facts['memory']
    assert memory['total_kib'] == 32768000
    assert memory['hugepages'] == [{'size_kib': 2048, 'total': 512, 'free': 500},
                                   {'size_kib': 1048576, 'total': 0, 'free': 0}]
    assert memory['ksm'] == {'available': True, 'run': 1, 'enabled': True, 'pages_shared': 42}
    assert facts['iommu'] == {'enabled': True, 'groups': 3, 'cmdline': ['intel_iommu=on', 'iommu=pt']}


def test_selinux_enforcing(make_host):
    fs = make_host({
        '/sys/kernel/security/lsm': 'capability,yama,selinux',
        '/sys/fs/selinux/enforce': '1',
        '/etc/selinux/config': '# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n',
    })
    security = collect(fs, FakeRunner(), api_probe=answers_api(None))['security']
    assert security['mac'] == 'selinux'
    assert security['lsm'] == ['capability', 'yama', 'selinux']
    assert security['selinux'] == {'enabled': True, 'mode': 'enforcing', 'config_mode': 'enforcing', 'policy': 'targeted'}


def test_selinux_permissive(make_host):
    fs = make_host({'/sys/fs/selinux/enforce': '0', '/etc/selinux/config': 'SELINUX=permissive\nSELINUXTYPE=default\n'})
    selinux = collect(fs, FakeRunner(), api_probe=answers_api(None))['security']['selinux']
    assert (selinux['enabled'], selinux['mode'], selinux['policy']) == (True, 'permissive', 'default')


def test_selinux_disabled_even_if_configured(make_host):
    fs = make_host({'/etc/selinux/config': 'SELINUX=enforcing\nSELINUXTYPE=default\n'})
    security = collect(fs, FakeRunner(), api_probe=answers_api(None))['security']
    assert security['selinux']['mode'] == 'disabled'
    assert security['selinux']['config_mode'] == 'enforcing'
    assert security['mac'] == 'none'


def test_apparmor_on_with_libvirt_profiles(make_host):
    fs = make_host({
        '/sys/kernel/security/lsm': 'lockdown,capability,landlock,yama,apparmor',
        '/sys/module/apparmor/parameters/enabled': 'Y\n',
        '/sys/kernel/security/apparmor/profiles': fixture_text('apparmor-profiles.txt'),
    })
    apparmor = collect(fs, FakeRunner(), api_probe=answers_api(None))['security']['apparmor']
    assert apparmor['enabled'] is True
    assert apparmor['libvirtd'] == 'enforce'
    assert apparmor['virt_aa_helper'] == 'enforce'
    assert apparmor['virtqemud'] is None
    assert apparmor['profiles_loaded'] == 7


def test_apparmor_off_when_module_says_no(make_host):
    fs = make_host({
        '/sys/kernel/security/lsm': 'capability,yama',
        '/sys/module/apparmor/parameters/enabled': 'N\n',
        '/sys/kernel/security/apparmor/profiles': fixture_text('apparmor-profiles.txt'),
    })
    security = collect(fs, FakeRunner(), api_probe=answers_api(None))['security']
    assert security['apparmor']['enabled'] is False
    assert security['apparmor']['libvirtd'] is None
    assert security['mac'] == 'none'


def test_virt_stack_versions_layout_and_security_models(make_host):
    fs = make_host({
        '/usr/lib/x86_64-linux-gnu/libvirt.so.0.9000.0': '',
        '/usr/bin/qemu-system-x86_64': '',
        '/usr/bin/virsh': '',
        '/usr/sbin/libvirtd': '',
        '/run/libvirt/libvirt-sock': '',
    })
    runner = FakeRunner({
        ('/usr/bin/qemu-system-x86_64', '--version'): (0, 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n', ''),
        ('/usr/bin/virsh', '--readonly', '--connect', 'qemu:///system', 'capabilities'):
            (0, fixture_text('virsh-capabilities-dac-none.xml'), ''),
    })
    stack = collect(fs, runner, api_probe=answers_api(None))['virt_stack']
    assert stack['libvirt_version'] == '9.0.0'
    assert stack['qemu_version'] == '7.2.22'
    assert stack['daemon_layout'] == 'monolithic'
    assert stack['security_models'] == ['none', 'dac']
    # The library name gave the libvirt version: no daemon binary was started for it.
    assert ('/usr/sbin/libvirtd', '--version') not in runner.calls


def test_qemu_version_is_read_from_the_banner_in_its_binary_without_running_it(make_host):
    binary = b'\x7fELF' + b'\x00' * 4096 + b'QEMU emulator version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)\nCopyright'
    fs = make_host({'/usr/bin/qemu-system-x86_64': binary})
    runner = FakeRunner()
    stack = collect(fs, runner, api_probe=answers_api(None))['virt_stack']
    assert stack['qemu_version'] == '10.0.13'
    assert not [call for call in runner.calls if call[-1:] == ('--version',)]


def test_qemu_binary_without_a_versioned_banner_is_asked(make_host):
    fs = make_host({'/usr/bin/qemu-system-x86_64': b'QEMU emulator version unknown\n'})
    runner = FakeRunner({('/usr/bin/qemu-system-x86_64', '--version'): (0, 'QEMU emulator version 9.2.1\n', '')})
    assert collect(fs, runner, api_probe=answers_api(None))['virt_stack']['qemu_version'] == '9.2.1'
    assert ('/usr/bin/qemu-system-x86_64', '--version') in runner.calls


def test_modular_layout_from_enabled_units_and_no_virsh_without_socket(make_host):
    fs = make_host({
        '/usr/sbin/virtqemud': '',
        '/usr/sbin/libvirtd': '',
        '/usr/bin/virsh': '',
        '/lib/systemd/system/virtqemud.socket': '[Socket]\n',
        '/etc/systemd/system/sockets.target.wants/virtqemud.socket': ('symlink', '/lib/systemd/system/virtqemud.socket'),
    })
    runner = FakeRunner({('/usr/sbin/virtqemud', '--version'): (0, 'virtqemud (libvirt) 11.3.0\n', '')})
    stack = collect(fs, runner, api_probe=answers_api(None))['virt_stack']
    assert stack['daemon_layout'] == 'modular'
    assert stack['libvirt_version'] == '11.3.0'
    assert stack['security_models'] == []
    assert stack['security_models_note'] == 'no libvirt socket in /run/libvirt'
    assert not [call for call in runner.calls if 'capabilities' in call]


def test_no_libvirt_installed(make_host):
    stack = collect(make_host({'/proc/cpuinfo': ''}), FakeRunner(), api_probe=answers_api(None))['virt_stack']
    assert (stack['daemon_layout'], stack['libvirt_version'], stack['qemu_version']) == ('none', None, None)


def test_bridges_addresses_and_default_route(make_host):
    ip_json = [
        {'ifname': 'lo', 'addr_info': [{'family': 'inet', 'local': '127.0.0.1', 'prefixlen': 8, 'scope': 'host'}]},
        {'ifname': 'br-mgmt', 'addr_info': [{'family': 'inet', 'local': '192.0.2.10', 'prefixlen': 24, 'scope': 'global'}]},
        {'ifname': 'br-guest', 'addr_info': [{'family': 'inet6', 'local': 'fe80::1', 'prefixlen': 64, 'scope': 'link'}]},
    ]
    fs = make_host({
        '/usr/sbin/ip': '',
        '/proc/net/route': fixture_text('proc-net-route.txt'),
        '/sys/class/net/br-mgmt/bridge/stp_state': '0',
        '/sys/class/net/br-mgmt/brif/eno1': None,
        '/sys/class/net/br-guest/bridge/stp_state': '0',
        '/sys/class/net/br-guest/brif/eno2': None,
        '/sys/class/net/br-guest/brif/vnet0': None,
        '/sys/class/net/eno1/device/sriov_totalvfs': '7\n',
        '/sys/class/net/eno1/device/sriov_numvfs': '0\n',
        '/proc/sys/net/ipv6/conf/br-guest/accept_ra': '0\n',
        '/proc/sys/net/ipv6/conf/br-mgmt/accept_ra': '1\n',
        '/proc/sys/net/ipv4/ip_forward': '0\n',
    })
    runner = FakeRunner({('/usr/sbin/ip', '-j', 'addr', 'show'): (0, json.dumps(ip_json), '')})
    network = collect(fs, runner, api_probe=answers_api(None))['network']
    assert network['default_route_interface'] == 'br-mgmt'
    assert network['ip_forward'] == 0
    bridges = dict((bridge['name'], bridge) for bridge in network['bridges'])
    assert bridges['br-guest']['ports'] == ['eno2', 'vnet0']
    assert bridges['br-guest']['carries_host_address'] is False
    assert bridges['br-guest']['carries_default_route'] is False
    assert bridges['br-guest']['accept_ra'] == 0
    assert bridges['br-mgmt']['carries_host_address'] is True
    assert bridges['br-mgmt']['ipv4'] == ['192.0.2.10/24']
    assert bridges['br-mgmt']['carries_default_route'] is True
    assert network['sriov_interfaces'] == [{'name': 'eno1', 'total_vfs': 7, 'num_vfs': 0}]
    assert network['addresses']['br-mgmt'] == {'ipv4': ['192.0.2.10/24'], 'ipv6_global': []}
    assert network['addresses']['br-guest'] == {'ipv4': [], 'ipv6_global': []}
    assert network['addresses_complete'] is True


def test_host_validate_runs_only_when_asked(make_host):
    fs = make_host({'/usr/bin/virt-host-validate': ''})
    argv = ('/usr/bin/virt-host-validate', 'qemu')
    runner = FakeRunner({argv: (1, fixture_text('virt-host-validate-bookworm-pvm.txt'), '')})
    skipped = collect(fs, runner, api_probe=answers_api(None))
    assert skipped['host_validate']['ran'] is False
    assert argv not in runner.calls
    ran = collect(fs, runner, host_validate=True, api_probe=answers_api(None))['host_validate']
    assert ran['ran'] is True and ran['rc'] == 1
    assert ran['counts'] == {'PASS': 7, 'WARN': 3, 'FAIL': 1}
    assert ran['checks'][0]['result'] == 'FAIL'
    assert ran['checks'][0]['check'] == 'Checking for hardware virtualization'


def test_dpkg_interrupted_mid_install_is_reported(make_host):
    clean = collect(make_host({'/var/lib/dpkg/status': '', '/var/lib/dpkg/updates/tmp.i': ''}), FakeRunner())
    assert clean['package_db'] == {'manager': 'dpkg', 'interrupted': False, 'installed': [], 'libvirt_version': None,
                                   'apt_lists': False}
    interrupted = collect(make_host({'/var/lib/dpkg/status': '', '/var/lib/dpkg/updates/0004': 'Package: ovmf\n'}),
                          FakeRunner())
    # Mid-install the status file is stale: no list, so every role runs its package module.
    assert interrupted['package_db'] == {'manager': 'dpkg', 'interrupted': True, 'installed': None,
                                         'libvirt_version': None, 'apt_lists': False}


def test_package_left_to_reinstall_counts_as_interrupted_once_the_journal_is_folded(make_host):
    # A kill while dpkg unpacked augeas-tools; a later `dpkg --configure -a` folded the journal
    # and refused it: only the status says a reinstall is due.
    status = ('Package: augeas-tools\nStatus: install reinstreq half-installed\nVersion: 1.14.1-1.1\n\n'
              'Package: qemu-utils\nStatus: install ok installed\nVersion: 1:10.0.2+ds-2\n')
    facts = collect(make_host({'/var/lib/dpkg/status': status, '/var/lib/dpkg/updates/tmp.i': ''}), FakeRunner())
    assert facts['package_db']['interrupted'] is True
    assert facts['package_db']['installed'] == ['qemu-utils']
    healthy = status.replace('install reinstreq half-installed', 'install ok installed')
    facts = collect(make_host({'/var/lib/dpkg/status': healthy, '/var/lib/dpkg/updates/tmp.i': ''}), FakeRunner())
    assert facts['package_db']['interrupted'] is False


DPKG_STATUS = '''Package: qemu-utils
Status: install ok installed
Architecture: amd64
Description: QEMU utilities
 Status: install ok installed

Package: ovmf
Status: install ok half-configured
Architecture: all

Package: swtpm
Status: deinstall ok config-files

Package: libvirt-clients
Architecture: amd64
Status: install ok installed
'''


def test_only_fully_installed_packages_are_listed(make_host):
    facts = collect(make_host({'/var/lib/dpkg/status': DPKG_STATUS}), FakeRunner())
    assert facts['package_db']['installed'] == ['libvirt-clients', 'qemu-utils']
    assert facts['package_db']['libvirt_version'] is None


@pytest.mark.parametrize('status, version', [
    ('install ok installed', '9.0.0'),
    ('install ok half-configured', None),
])
def test_libvirt_version_is_the_installed_daemon_upstream_version(make_host, status, version):
    stanza = 'Package: libvirt-daemon\nStatus: %s\nVersion: 1:9.0.0-4+deb12u2\n' % status
    facts = collect(make_host({'/var/lib/dpkg/status': DPKG_STATUS + '\n' + stanza}), FakeRunner())
    assert facts['package_db']['libvirt_version'] == version


def test_rpm_hosts_have_no_installed_list(make_host):
    facts = collect(make_host({'/var/lib/rpm/rpmdb.sqlite': ''}), FakeRunner())
    assert facts['package_db'] == {'manager': 'rpm', 'interrupted': False, 'installed': None, 'libvirt_version': None,
                                   'apt_lists': None}


@pytest.mark.parametrize('lists, present', [
    ({}, False),
    ({'/var/lib/apt/lists/lock': '', '/var/lib/apt/lists/partial/x': ''}, False),
    ({'/var/lib/apt/lists/deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages': 'Package: a\n'}, True),
    ({'/var/lib/apt/lists/deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages.lz4': ''}, True),
], ids=['no-folder', 'emptied', 'plain', 'compressed'])
def test_emptied_apt_lists_are_reported(make_host, lists, present):
    facts = collect(make_host(dict({'/var/lib/dpkg/status': ''}, **lists)), FakeRunner())
    assert facts['package_db']['apt_lists'] is present


def test_pool_paths_and_libvirt_files_come_with_every_read(make_host):
    fs = make_host({'/var/lib/libvirt/images': None, '/etc/libvirt/qemu.conf': ''},
                   owners={'/var/lib/libvirt/images': {'owner': 'root', 'group': 'root', 'mode': '0711'}})
    facts = collect(fs, FakeRunner(), paths=['/var/lib/libvirt/images', '/srv/pools/tenants'])
    images = dict(facts['paths']['/var/lib/libvirt/images'])
    assert isinstance(images.pop('mtime'), int)
    assert images == {'exists': True, 'isdir': True, 'mode': '0711', 'owner': 'root', 'group': 'root', 'sha256': None}
    assert facts['paths']['/srv/pools/tenants']['exists'] is False
    assert facts['libvirt_files']['/etc/libvirt/qemu.conf']['exists'] is True
    assert collect(fs, FakeRunner())['paths'] == {}


class FakeCollector:
    """Records the facts it was handed, answers with its own."""
    handed = []

    def __init__(self, answer):
        self.answer = answer

    def collect(self, module=None, collected_facts=None):
        FakeCollector.handed.append(dict(collected_facts))
        return self.answer


def test_distribution_facts_carry_setups_prefix_and_reach_the_package_manager_collector():
    FakeCollector.handed = []
    facts = distribution_facts(None, collectors=(lambda: FakeCollector({'distribution': 'Debian', 'os_family': 'Debian'}),
                                                 lambda: FakeCollector({'pkg_mgr': 'apt'})))
    assert facts == {'ansible_distribution': 'Debian', 'ansible_os_family': 'Debian', 'ansible_pkg_mgr': 'apt'}
    # PkgMgrFactCollector reads ansible_os_family from the facts collected before it.
    assert FakeCollector.handed[1] == {'ansible_distribution': 'Debian', 'ansible_os_family': 'Debian'}


def test_distribution_facts_are_those_setup_gives_on_this_machine():
    module = mock.Mock()
    module.run_command.return_value = (1, '', '')
    module.get_bin_path.return_value = None
    ours = distribution_facts(module)
    # What setup runs for gather_subset=!all,!min,distribution,pkg_mgr, without its own bookkeeping.
    setup = ansible_collector.get_ansible_collector(
        all_collector_classes=default_collectors.collectors, gather_subset=['!all', '!min', 'distribution', 'pkg_mgr'],
        namespace=PrefixFactNamespace(namespace_name='ansible', prefix='ansible_'),
        minimal_gather_subset=frozenset()).collect(module=module)
    for bookkeeping in ('gather_subset', 'module_setup'):
        setup.pop(bookkeeping, None)
    assert ours == setup
    assert {'ansible_distribution', 'ansible_distribution_version', 'ansible_distribution_major_version',
            'ansible_distribution_release', 'ansible_os_family', 'ansible_pkg_mgr'} <= set(ours)


def test_accounts_and_groups_are_looked_up_by_name_and_missing_ones_are_null(make_host):
    passwd = {'ops': ('ops', 'x', 1000, 1000), 'toor': ('toor', 'x', 0, 0)}
    groups = {'libvirt': ('libvirt', 'x', 993, [])}
    facts = collect(make_host({}), FakeRunner(), api_probe=answers_api(None), accounts=['ops', 'toor', 'nobody1'],
                    groups=['libvirt', 'nogroup1'], account_lookup=passwd.__getitem__, group_lookup=groups.__getitem__)
    assert facts['accounts'] == {'ops': '1000', 'toor': '0', 'nobody1': None}
    assert facts['groups'] == {'libvirt': '993', 'nogroup1': None}
    assert collect(make_host({}), FakeRunner(), api_probe=answers_api(None))['accounts'] == {}


def test_named_ids_ask_nss_through_pwd_and_grp():
    assert named_ids(['root'], pwd.getpwnam) == {'root': '0'}
    assert named_ids(['root'], grp.getgrnam) == {'root': '0'}
    assert named_ids(['kvmcloud-no-such-account'], pwd.getpwnam) == {'kvmcloud-no-such-account': None}
