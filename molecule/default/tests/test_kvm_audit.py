"""kvm_audit on hosts converged by kvm_host and kvm_hardening: what it passes, and what it catches.

The audit reads the live host; these tests check it agrees with the host's real state, and
that weakening a control by hand turns exactly that control to fail.
"""

from host_state import audit_controls

# Controls whose settings the roles apply, and which a container can show. N3 and N4 need
# a running guest (test_kvm_network.py starts one); N5's module belongs to the container host.
APPLIED_BY_THE_ROLES = ["H2", "H3", "H4", "L1", "L2", "L3", "L4", "L5", "L6", "L7",
                        "Q4", "Q5", "Q6", "Q7", "Q8", "Q9", "S1", "N6", "N7"]


def audit(host, hostname):
    # kvmhost-bookworm keeps libvirt's default NAT network on purpose.
    return audit_controls(host, ["default"] if hostname == "kvmhost-bookworm" else [])


def test_controls_applied_by_the_role_pass(host, hostname):
    controls = audit(host, hostname)
    failing = {cid: controls[cid]["evidence"] for cid in APPLIED_BY_THE_ROLES if controls[cid]["status"] != "pass"}
    assert failing == {}


def test_migration_is_audited_where_it_is_configured(host, hostname):
    control = audit(host, hostname)["L8"]
    print("\nL8: %s: %s" % (control["status"], control["evidence"]))
    if hostname == "kvmhost-trixie":
        assert control["status"] == "pass"
        assert "migrate_tls_force = 1" in control["evidence"]
    else:
        assert control["status"] == "not_applicable"


def test_the_container_test_bed_is_not_reported_as_confined(host, hostname):
    # Docker containers here see no LSM: the audit must say so, never pass. kvm_hardening
    # leaves confinement unrequired there (it would stop every guest), and the audit says that too.
    controls = audit(host, hostname)
    assert controls["H1"]["status"] == "fail"
    assert controls["Q1"]["status"] == "fail"
    assert controls["Q2"]["status"] == "fail"
    assert "security_require_confined != 1" in controls["Q2"]["evidence"]
    # Both are H1's doing, and say so.
    assert (controls["Q1"]["follows_from"], controls["Q2"]["follows_from"]) == ("H1", "H1")


def test_weakened_controls_and_only_those_turn_to_fail(host, hostname):
    before = audit(host, hostname)
    host.run_expect([0], "cp -a /etc/libvirt/qemu.conf /root/qemu.conf.verify-backup")
    try:
        host.run_expect([0], "sed -i 's/^stdio_handler = .*/stdio_handler = \"file\"/' /etc/libvirt/qemu.conf")
        host.run_expect([0], "chmod 0644 /etc/libvirt/qemu.conf")
        host.run_expect([0], "chmod 0777 /run/libvirt/libvirt-sock-ro")
        after = audit(host, hostname)
    finally:
        host.run_expect([0], "cp -a /root/qemu.conf.verify-backup /etc/libvirt/qemu.conf")
        host.run_expect([0], "chmod 0770 /run/libvirt/libvirt-sock-ro")
        host.run("rm -f /root/qemu.conf.verify-backup")
    changed = {cid: (before[cid]["status"], after[cid]["status"]) for cid in before
               if before[cid]["status"] != after[cid]["status"]}
    assert changed == {"L4": ("pass", "fail"), "L6": ("pass", "fail"), "Q9": ("pass", "fail")}
    assert "0777" in after["L4"]["evidence"] or "777" in after["L4"]["evidence"]
    # Back to the baseline once the host is restored.
    restored = audit(host, hostname)
    assert {cid: c["status"] for cid, c in restored.items()} == {cid: c["status"] for cid, c in before.items()}
