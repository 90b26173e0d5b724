"""Verifies on a live VM what only a real kernel can show: SELinux enforcing, libvirt's
SELinux driver confining every guest, and the policy settings the role made.

Every test asks the running VM (kernel, policy store, libvirt), never the scenario's
variables. prepare.yml left SELinux permissive and the virt booleans on, so the tests on
those pass only if the role changed them.
"""

import re
import xml.etree.ElementTree as ET

import pytest
from guests import define_guest, guest_with_nic, remove_guest, start_unconfined_guest, virsh

from conftest import now, virt_denials

POOL = "/srv/libvirt/tenants"
HOOK = "/etc/libvirt/hooks/qemu.d/kvmcloud-nwfilter"


def boolean(host, name):
    """(live, persistent) state of an SELinux boolean, each 'on' or 'off'."""
    live = host.run_expect([0], "getsebool %s" % name).stdout.split()[-1]
    # semanage shows (current, default): the default is the value stored for the next boot.
    line = host.run_expect([0], "semanage boolean -l | grep '^%s '" % name).stdout
    stored = re.search(r"\(\s*\w+\s*,\s*(\w+)\s*\)", line).group(1)
    return live, stored


def context(host, path):
    return host.run_expect([0], "stat -c %%C %s" % path).stdout.strip()


def test_selinux_enforces_now_and_after_reboot(host):
    assert host.run_expect([0], "getenforce").stdout.strip() == "Enforcing"
    config = host.file("/etc/selinux/config").content_string
    assert re.search(r"^SELINUX=enforcing$", config, re.MULTILINE)
    assert host.file("/sys/fs/selinux/enforce").content_string.strip() == "1"


def test_local_policy_module_is_installed(host):
    modules = host.run_expect([0], "semodule -l").stdout.split()
    print("\nlocal module: %s" % [m for m in modules if m.startswith("kvmcloud")])
    assert "kvmcloud_libvirt" in modules


def test_qemu_driver_requires_selinux_confinement(host):
    conf = host.file("/etc/libvirt/qemu.conf").content_string
    for setting in (r'security_driver\s*=\s*"selinux"', r"security_default_confined\s*=\s*1",
                    r"security_require_confined\s*=\s*1"):
        assert re.search(r"^%s\s*$" % setting, conf, re.MULTILINE), setting
    caps = ET.fromstring(virsh(host, "capabilities"))
    models = {m.findtext("model"): [b.text for b in m.findall("baselabel")] for m in caps.iter("secmodel")}
    print("\nsecmodels: %s" % models)
    assert set(models) == {"selinux", "dac"}
    assert "system_u:system_r:svirt_t:s0" in models["selinux"]


def test_unconfined_domain_is_refused(host):
    result = start_unconfined_guest(host, "unconfined")
    print("\nseclabel none: %s" % result.stderr.strip())
    assert result.rc != 0
    assert "Unconfined guests are not allowed on this host" in result.stderr
    assert host.run("virsh -c qemu:///system dominfo unconfined").rc != 0


def test_network_storage_booleans_follow_the_pools(host):
    # One NFS pool and no CIFS pool exist here (S3); prepare.yml turned virt_use_nfs off and
    # virt_use_samba on. Both values are the running one and the one saved for the next boot.
    assert boolean(host, "virt_use_nfs") == ("on", "on")
    assert boolean(host, "virt_use_samba") == ("off", "off")


def test_execmem_is_on_only_for_a_host_whose_guests_run_under_tcg(host, kvm_facts, domain_type):
    # QEMU's TCG writes the code it then runs (execmem); KVM guests run on the CPU and need
    # no such right. The collection gives guests type 'kvm' where KVM works (kvm_host).
    expected = "off" if kvm_facts["can_run_kvm_guests"] else "on"
    print("\ncan_run_kvm_guests=%s (CPU %s, /dev/kvm usable %s): guests are '%s', virt_use_execmem %s"
          % (kvm_facts["can_run_kvm_guests"], kvm_facts["cpu"]["virt_extension"],
             kvm_facts["kvm"]["usable"], domain_type, boolean(host, "virt_use_execmem")))
    assert boolean(host, "virt_use_execmem") == (expected, expected)


def test_tcg_guest_is_refused_where_execmem_is_off(host, kvm_facts):
    # The reason for the boolean, on the live policy: a TCG guest here fails on execmem alone.
    if not kvm_facts["can_run_kvm_guests"]:
        pytest.skip("guests run under TCG here: test_guests.py starts them, which needs execmem")
    # The shared test guest is a TCG domain (type 'qemu').
    xml = define_guest(host, "tcg-probe")
    since = now(host)
    try:
        result = host.run("virsh -c qemu:///system create %s" % xml)
    finally:
        remove_guest(host, "tcg-probe")
    denied = [d for d in virt_denials(host, since) if d["source"] == "svirt_t"]
    print("\nTCG guest: %s\ndenials: %s" % (result.stderr.strip(), [(d["perms"], d["target"]) for d in denied]))
    assert result.rc != 0
    assert "mprotect" in result.stderr and "Permission denied" in result.stderr
    assert any(d["perms"] == ["execmem"] and d["tclass"] == "process" for d in denied)


def test_custom_pool_is_virt_image_t_by_a_persistent_rule(host):
    # The rule the role added (S1); the policy alone would label the directory var_t, as /srv.
    rules = host.run_expect([0], "semanage fcontext -l -C").stdout
    print("\nlocal file contexts:\n%s\n%s: %s" % (rules.strip(), POOL, context(host, POOL)))
    assert re.search(r"^%s\(/\.\*\)\?\s+all files\s+system_u:object_r:virt_image_t:s0\s*$" % re.escape(POOL),
                     rules, re.MULTILINE)
    assert context(host, POOL).split(":")[2] == "virt_image_t"
    probe = POOL + "/verify-probe.qcow2"
    try:
        # A label set by hand, as chcon would leave it, on the directory and a file in it ...
        host.run_expect([0], "touch %s && chcon -t var_t %s %s" % (probe, POOL, probe))
        assert context(host, POOL).split(":")[2] == "var_t"
        assert context(host, probe).split(":")[2] == "var_t"
        # ... is reset by a full relabel to what the rules say: virt_image_t.
        host.run_expect([0], "restorecon -R -F %s" % POOL)
        assert context(host, POOL) == "system_u:object_r:virt_image_t:s0"
        assert context(host, probe) == "system_u:object_r:virt_image_t:s0"
    finally:
        host.run("rm -f %s; restorecon -R -F %s" % (probe, POOL))


def test_nwfilter_hook_is_a_program_libvirtd_may_run(host):
    # Policy alone labels it virt_etc_rw_t, which libvirtd may not execute: every guest start
    # would fail with "cannot execute binary". The role's rule makes it bin_t, also after a
    # full relabel.
    host.run_expect([0], "restorecon -F %s" % HOOK)
    print("\n%s: %s" % (HOOK, context(host, HOOK)))
    assert context(host, HOOK) == "system_u:object_r:bin_t:s0"
    # The hook runs and decides: a guest on the restricted network without the filter is refused
    # by the hook's own message, not by an exec failure.
    with guest_with_nic(host, "hook-probe", "br-guest"):
        refused = host.run("virsh -c qemu:///system start hook-probe")
    print(refused.stderr.strip())
    assert refused.rc != 0
    assert "kvmcloud kvm_network hook: guest hook-probe not started" in refused.stderr
    assert "lacks <filterref filter='clean-traffic'/>" in refused.stderr


def test_networkd_answers_networkctl(host):
    # Debian 12's policy denies networkd's D-Bus replies: without kvm_network's module every
    # networkctl call waits out two 25 s timeouts and fails, though networkd did the work.
    modules = host.run_expect([0], "semodule --list-modules=full").stdout
    assert re.search(r"\skvmcloud_networkd\s", modules)
    since = now(host)
    result = host.run("timeout 20 networkctl reload")
    denied = host.run("journalctl -q --no-pager --since @%d | grep 'USER_AVC.*scontext=[^ ]*systemd_networkd_t'" % since)
    print("\nnetworkctl reload: rc %d %s; denials: %s" % (result.rc, result.stderr.strip(), denied.stdout.strip()))
    assert result.rc == 0
    assert denied.stdout.strip() == ""
