"""What the tests read of a host's state as a whole: a snapshot of what the roles could change,
and the audit of the hardening baseline."""

import json

# libvirt's files and state, the files the roles write, the top directories a pool or guest
# path could re-permission, accounts, groups and packages: equal before and after a run that
# must change nothing.
SNAPSHOT = ("cd / && find etc/libvirt etc/systemd/system etc/systemd/network etc/sysctl.d etc/udev etc/pki etc/modules-load.d"
            " etc/kvmcloud \\( -type f -o -type l \\) -print0"
            " 2>/dev/null | sort -z | xargs -0 ls -l --time-style=+ ; cat /proc/sys/net/ipv4/ip_forward;"
            " cd / && find etc/libvirt etc/systemd/system -type f -print0 | sort -z | xargs -0 sha256sum;"
            " virsh -c qemu:///system pool-list --all --name; virsh -c qemu:///system net-list --all --name;"
            " stat -c '%n %a %U %G' /run/libvirt/libvirt-sock /run/libvirt/libvirt-sock-ro; ip -br link;"
            # Top directories a pool or guest path could re-permission, and the image directories.
            " stat -c '%n %a %U %G' / /etc /srv /var /var/lib /var/lib/libvirt;"
            " find /var/lib/libvirt/images /srv -maxdepth 3 -printf '%p %m %u %g\\n' 2>/dev/null | sort;"
            # Accounts, groups and packages: none created or installed as a side effect.
            " getent passwd; getent group; dpkg-query -W -f '${Package} ${Version} ${Status}\\n'")


def audit_controls(host, allowed_networks=()):
    """kvm_audit's controls on the host, by id."""
    args = {"virt_host_validate": False}
    if allowed_networks:
        args["allowed_networks"] = list(allowed_networks)
    result = host.ansible("kvmcloud.hypervisor.kvm_audit", json.dumps(args), check=False, become=True)
    assert "controls" in result, result
    return {control["id"]: control for control in result["controls"]}
