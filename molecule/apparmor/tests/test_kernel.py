"""Verifies the kernel settings of kvm_host on a VM with its own kernel.

prepare.yml turned KSM and nested virtualization on, so these pass only if the role
switched them off, now and for the next boot.
"""

import pytest


def vendor_module(host):
    for module in ("kvm_amd", "kvm_intel"):
        if host.file("/sys/module/%s" % module).is_directory:
            return module
    pytest.fail("neither kvm_amd nor kvm_intel is loaded")


def test_vhost_net_is_loaded_now_and_at_boot(host):
    assert host.file("/sys/module/vhost_net").is_directory
    assert "vhost_net" in host.file("/etc/modules-load.d/vhost_net.conf").content_string.split()


def test_nested_virtualization_is_off_now_and_at_boot(host):
    module = vendor_module(host)
    live = host.file("/sys/module/%s/parameters/nested" % module).content_string.strip()
    assert live in ("0", "N")
    options = host.file("/etc/modprobe.d/%s.conf" % module).content_string
    assert "options %s nested=0" % module in options


def test_ksm_is_off_now_and_at_boot(host):
    assert host.file("/sys/kernel/mm/ksm/run").content_string.strip() == "0"
    assert "w /sys/kernel/mm/ksm/run - - - - 0" in host.file("/etc/tmpfiles.d/kvmcloud-ksm.conf").content_string


def test_hugepages_are_reserved_now_and_at_boot(host):
    assert host.file("/proc/sys/vm/nr_hugepages").content_string.strip() == "16"
    assert "vm.nr_hugepages=16" in host.file("/etc/sysctl.d/60-kvmcloud-hugepages.conf").content_string.replace(" ", "")
