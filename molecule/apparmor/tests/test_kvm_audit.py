"""Cross-checks the collection's audit module against the live VM while two guests run.

The other tests read the host directly; this one asks kvm_audit the same questions, so a
control the audit cannot see, or judges wrongly on a real AppArmor host, shows up here.
"""

import json

# Every control the baseline defines, with the status a converged AppArmor host with two
# running guests (no NICs) and one guest bridge (br-guest, molecule.yml) must get.
EXPECTED = {
    "pass": ["H1", "H2", "H3", "H4", "H5", "L1", "L2", "L3", "L4", "L5", "L6", "L7",
             "Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7", "Q8", "Q9", "Q10", "S1", "S2",
             "N1", "N2", "N5", "N6", "N7"],
    # Opt-in migration, SELinux booleans, and the guest-port controls with no guest NIC on
    # the bridge.
    "not_applicable": ["L8", "S3", "N3", "N4"],
}


def test_audit_agrees_with_the_host(host, two_guests):
    result = host.ansible("kvmcloud.hypervisor.kvm_audit", json.dumps({"virt_host_validate": True}),
                          check=False, become=True)
    assert "controls" in result, result
    controls = {control["id"]: control for control in result["controls"]}
    print()
    for cid, control in controls.items():
        print("%-4s %-14s %s" % (cid, control["status"], control["evidence"]))

    seen = {status: sorted(cid for cid, c in controls.items() if c["status"] == status)
            for status in ("pass", "not_applicable", "fail", "unknown")}
    assert seen == {status: sorted(EXPECTED.get(status, [])) for status in seen}

    # The audit looked at the guests that run now, not only at the configuration.
    for name in two_guests:
        assert name in controls["Q3"]["evidence"]
        assert "%s Seccomp: 2" % name in controls["Q6"]["evidence"]
        assert "%s in its own mount namespace" % name in controls["Q7"]["evidence"]
    # virt-host-validate finds nothing wrong: the TCG VM advertises SVM and has /dev/kvm.
    assert ", 0 FAIL" in controls["H5"]["evidence"]
    # The guest bridge is the one kvm_network built, judged on the live kernel.
    assert "br-guest ipv4=[] ipv6_global=[] accept_ra=0" in controls["N1"]["evidence"]
    assert "loaded at boot by: /etc/modules-load.d/" in controls["N5"]["evidence"]
    assert "br-guest" in controls["N6"]["evidence"]
