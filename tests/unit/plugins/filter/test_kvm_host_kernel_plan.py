# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kvmcloud.hypervisor.plugins.filter.kvm_host_kernel_plan import kvm_host_kernel_plan


def facts(virt_extension="svm", vendor_loaded=True, vhost_net_loaded=True, ksm_run=0, hugepages=16):
    """ansible_facts.kvm_host as kvm_host_facts reads it on the AppArmor test VM once converged."""
    return {
        "cpu": {"virt_extension": virt_extension},
        "kvm": {"vendor_module": "kvm_amd", "vendor_module_loaded": vendor_loaded,
                "vhost_net_loaded": vhost_net_loaded},
        "memory": {"hugepages": [{"size_kib": 2048, "total": hugepages, "free": hugepages},
                                 {"size_kib": 1048576, "total": 0, "free": 0}],
                   "ksm": {"available": ksm_run is not None, "run": ksm_run, "enabled": ksm_run == 1}},
    }


def contents(plan):
    return dict((entry["path"], entry["content"]) for entry in plan["files"])


def test_a_converged_host_gets_its_files_and_no_command():
    plan = kvm_host_kernel_plan(facts(), nested=False, vhost_net=True, ksm=False, hugepages_2m=16)
    assert plan["commands"] == []
    # What community.general.modprobe and ansible.posix.sysctl wrote before 0.4.0, byte for byte.
    assert contents(plan) == {
        "/etc/modules-load.d/kvm_amd.conf": "kvm_amd\n",
        "/etc/modprobe.d/kvm_amd.conf": "options kvm_amd nested=0\n",
        "/etc/modules-load.d/vhost_net.conf": "vhost_net\n",
        "/etc/tmpfiles.d/kvmcloud-ksm.conf": "# Managed by kvmcloud.hypervisor.kvm_host\n"
                                             "w /sys/kernel/mm/ksm/run - - - - 0\n",
        "/etc/sysctl.d/60-kvmcloud-hugepages.conf": "vm.nr_hugepages=16\n",
    }
    assert all((entry["owner"], entry["group"], entry["mode"]) == ("root", "root", "0644") for entry in plan["files"])


def test_a_fresh_host_loads_its_modules_and_sets_ksm_and_hugepages_now():
    plan = kvm_host_kernel_plan(facts(vendor_loaded=False, vhost_net_loaded=False, ksm_run=1, hugepages=0),
                                nested=True, vhost_net=True, ksm=False, hugepages_2m=16)
    assert plan["commands"] == [
        ["modprobe", "kvm_amd", "nested=1"],
        ["modprobe", "vhost_net"],
        ["systemd-tmpfiles", "--create", "/etc/tmpfiles.d/kvmcloud-ksm.conf"],
        ["sysctl", "-w", "vm.nr_hugepages=16"],
    ]
    assert contents(plan)["/etc/modprobe.d/kvm_amd.conf"] == "options kvm_amd nested=1\n"


def test_without_vmx_or_svm_the_vendor_module_is_left_alone():
    plan = kvm_host_kernel_plan(facts(virt_extension="none", vendor_loaded=False), nested=False, vhost_net=True,
                                ksm=False, hugepages_2m=16)
    assert not [path for path in contents(plan) if "kvm_amd" in path]
    assert plan["commands"] == []


def test_vhost_net_turned_off_is_neither_written_nor_loaded():
    plan = kvm_host_kernel_plan(facts(vhost_net_loaded=False), nested=False, vhost_net=False, ksm=False,
                                hugepages_2m=16)
    assert "/etc/modules-load.d/vhost_net.conf" not in contents(plan)
    assert plan["commands"] == []


def test_ksm_turned_on_by_hand_is_turned_off_and_a_kernel_without_ksm_is_left_alone():
    on = kvm_host_kernel_plan(facts(ksm_run=1), nested=False, vhost_net=True, ksm=False, hugepages_2m=16)
    assert on["commands"] == [["systemd-tmpfiles", "--create", "/etc/tmpfiles.d/kvmcloud-ksm.conf"]]
    missing = kvm_host_kernel_plan(facts(ksm_run=None), nested=False, vhost_net=True, ksm=True, hugepages_2m=16)
    assert missing["commands"] == []


def test_hugepages_released_and_a_kernel_without_hugetlbfs():
    released = kvm_host_kernel_plan(facts(hugepages=16), nested=False, vhost_net=True, ksm=False, hugepages_2m=0)
    assert released["commands"] == [["sysctl", "-w", "vm.nr_hugepages=0"]]
    bare = facts()
    bare["memory"]["hugepages"] = []
    assert kvm_host_kernel_plan(bare, nested=False, vhost_net=True, ksm=False, hugepages_2m=0)["commands"] == []


@pytest.mark.parametrize("count", [-1, "16", True, None])
def test_a_count_that_is_not_a_whole_number_is_refused(count):
    with pytest.raises(AnsibleFilterError, match="hugepages_2m must be a whole number"):
        kvm_host_kernel_plan(facts(), nested=False, vhost_net=True, ksm=False, hugepages_2m=count)


def test_facts_of_another_shape_are_refused():
    with pytest.raises(AnsibleFilterError, match="expects ansible_facts.kvm_host"):
        kvm_host_kernel_plan({}, nested=False, vhost_net=True, ksm=False, hugepages_2m=0)
