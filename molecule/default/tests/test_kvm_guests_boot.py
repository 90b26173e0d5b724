"""kvm_guests on the Debian 13 container: a guest the role defined boots for real, under TCG.

web1 (profile secure: Secure Boot, vTPM) boots from the Debian 13 image that
tests/vm/build-guest-image.sh builds, with a NoCloud seed (molecule.yml). The proof comes from
the guest itself: its console log (written by virtlogd) and its guest agent.

web1 keeps running after this file: the restart its changed definition asks for, and the role's
shutoff over ACPI and start again, are in test_snapshot.py, whose revert needs a boot anyway (one
TCG boot of web1 instead of two).
"""

import os
import re
import time

import pytest

from guests import agent as guest_agent
from guests import (BootWatch, domain_identity, last_lines, latest_boot, power_cycle, read_console, virsh,
                    wait_for_agent)
from guests import guest_sh as guest_shell
from playbook import PROJECT, run_playbook

# Only this host boots a guest; Debian 12's db1 stays shut off (test_kvm_guests.py).
HOST = "kvmhost-trixie"
pytestmark = pytest.mark.only_hosts(HOST)

BOOTED = "web1"
# Set by the seed's runcmd (molecule.yml): cloud-init ran the user-data, with its hostname.
SEED_LINE = "KVMCLOUD-SEED-APPLIED web1-guest"
CLOUD_INIT_DONE = re.compile(r"Cloud-init v\. \S+ finished at .* Datasource DataSourceNoCloud .*Up ([0-9.]+) seconds")
# A UEFI TCG boot with Secure Boot takes about a minute here; CI machines are slower.
BOOT_TIMEOUT = 600
# EFI global variable GUID: the firmware's own record of whether Secure Boot is on.
SECURE_BOOT_EFIVAR = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"


def agent(host, command, arguments=None):
    return guest_agent(host, BOOTED, command, arguments)


def guest_sh(host, script):
    """Runs a shell script inside the booted guest through the agent; returns (rc, stdout)."""
    return guest_shell(host, BOOTED, script)


def qemu_pid(host):
    return host.check_output("pgrep -f 'guest=%s,'" % BOOTED).split()[0]


def record_boot_time(host, cloud_init_up, waited_from):
    """Writes the boot's timing to .cache/logs/kvm-guests-boot.txt for the record: the kernel's
    uptime when cloud-init finished, and QEMU's age minus the guest's uptime (the firmware,
    shim and GRUB) as of now."""
    qemu_age = int(host.check_output("ps -o etimes= -p %s" % qemu_pid(host)))
    uptime = guest_sh(host, "cut -d' ' -f1 /proc/uptime")[1]
    os.makedirs(os.path.join(PROJECT, ".cache", "logs"), exist_ok=True)
    with open(os.path.join(PROJECT, ".cache", "logs", "kvm-guests-boot.txt"), "w") as record:
        record.write("web1 (TCG, Secure Boot): firmware to kernel %.0f s; kernel to cloud-init finished %s s;"
                     " verify waited %.0f s for it\n" % (qemu_age - float(uptime), cloud_init_up, time.time() - waited_from))


@pytest.fixture(scope="module")
def booted(host):
    """Waits until web1's console shows cloud-init finished; returns the console log."""
    started = time.time()
    deadline = time.time() + BOOT_TIMEOUT
    log, done, cycled, watch = "", None, False, BootWatch()
    while time.time() < deadline:
        log = read_console(host, BOOTED)
        done = CLOUD_INIT_DONE.search(log)
        if done:
            break
        # A stuck boot (guests.BootWatch) gets one power cycle, on the record.
        stuck = None if cycled else watch.stuck(log)
        if stuck:
            power_cycle(host, BOOTED, stuck, log)
            cycled, deadline = True, time.time() + BOOT_TIMEOUT
        time.sleep(5)
    assert done, "cloud-init did not finish within %d s%s (console ends: %s); console tail:\n%s" % (
        BOOT_TIMEOUT, " of a power cycle" if cycled else "", last_lines(latest_boot(log)), log[-3000:])
    record_boot_time(host, done.group(1), started)
    # The agent starts with the guest's udev, a little after the console says finished.
    wait_for_agent(host, BOOTED, 120)
    return log


def test_guest_boots_with_secure_boot_on(host, booted):
    # The guest kernel's own words: the firmware booted it with Secure Boot on, through
    # Microsoft-signed shim and Debian-signed GRUB and kernel.
    assert "EFI stub: UEFI Secure Boot is enabled." in booted
    assert "secureboot: Secure boot enabled" in booted
    # efivarfs: four bytes of attributes, then the value.
    rc, out = guest_sh(host, "od -An -tu1 %s" % SECURE_BOOT_EFIVAR)
    assert rc == 0 and out.split()[-1] == "1", out


def test_cloud_init_applied_the_seed(host, booted):
    assert SEED_LINE in booted
    assert "Datasource DataSourceNoCloud [seed=/dev/vdc]" in booted
    assert agent(host, "guest-get-host-name")["host-name"] == "web1-guest"
    rc, out = guest_sh(host, "cat /var/lib/kvmcloud/seed-marker")
    assert (rc, out) == (0, "seeded by kvm_guests\n")


def test_guest_kernel_bound_the_virtio_drivers(host, booted):
    # One line per device bound: the driver's directory holds a link named after the device.
    rc, out = guest_sh(host, "cd /sys/bus/virtio/drivers && ls -d */virtio*")
    assert rc == 0, out
    bound = [line.split("/")[0] for line in out.split()]
    # Two data disks and the seed on virtio_blk; the NIC, the RNG and the agent's port.
    assert bound.count("virtio_blk") == 3, out
    for driver in ("virtio_net", "virtio_rng", "virtio_console"):
        assert driver in bound, out
    rc, out = guest_sh(host, "cat /sys/devices/virtual/misc/hw_random/rng_current")
    assert out.strip().startswith("virtio_rng"), out


def test_guest_has_its_vtpm_and_its_address(host, booted):
    rc, out = guest_sh(host, "cat /sys/class/tpm/tpm0/tpm_version_major")
    assert (rc, out.strip()) == (0, "2")
    # DHCP from the isolated network, on the MAC libvirt holds for the guest.
    mac = domain_identity(host, BOOTED)[1][0]
    addresses = agent(host, "guest-network-get-interfaces")
    nic = [i for i in addresses if i.get("hardware-address") == mac]
    assert nic, addresses
    assert any(a["ip-address"].startswith("192.168.151.") for a in nic[0].get("ip-addresses", []))


def test_qemu_runs_the_guest_without_kvm_and_without_a_graphics_server(host, booted):
    pid = qemu_pid(host)
    cmdline = host.file("/proc/%s/cmdline" % pid).content_string.replace("\0", " ")
    assert "-accel tcg" in cmdline
    assert "-display none" in cmdline
    assert "-vnc" not in cmdline and "-spice" not in cmdline
    assert host.check_output("stat -c %%U /proc/%s" % pid) == "libvirt-qemu"


def test_changed_template_updates_the_definition_and_asks_for_a_restart(host, booted):
    uuid, macs, domid = domain_identity(host, BOOTED)
    marker = "/run/kvmcloud/guests/%s@%s.restart" % (BOOTED, domid)
    # A smaller translation cache: a new definition the running guest cannot take live.
    result = run_playbook("--tags", "kvm_guests", "-e", "kvm_guests_emulated_tb_cache_mib=128", limit=HOST)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Running an older definition than the one libvirt now holds: web1." in result.stdout
    assert "<tb-cache unit='KiB'>131072</tb-cache>" in virsh(host, "dumpxml", "--inactive", BOOTED)
    assert "<tb-cache unit='KiB'>262144</tb-cache>" in virsh(host, "dumpxml", BOOTED)
    assert host.file(marker).exists
    # Back to the declared template: still pending until the guest restarts, identity unchanged.
    result = run_playbook("--tags", "kvm_guests", limit=HOST)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "<tb-cache unit='KiB'>262144</tb-cache>" in virsh(host, "dumpxml", "--inactive", BOOTED)
    assert domain_identity(host, BOOTED) == (uuid, macs, domid)
