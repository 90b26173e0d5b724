#!/usr/bin/env bash
# Starts, reaches or stops a throwaway tier-2 test VM: QEMU under TCG booting the image
# that build-image.sh makes (built first if the cache misses).
#
#   vm.sh start NAME FLAVOR PORT [DATA_GIB]
#                                   boot, and wait until root can log in by SSH; with
#                                   DATA_GIB, an empty second virtio disk of that size
#                                   (/dev/disk/by-id/virtio-kvmcloud-data), for LVM tests
#   vm.sh ssh NAME [COMMAND...]     run a command in the VM as root (or open a shell)
#   vm.sh stop NAME                 kill the VM and drop its disk
#
# /dev/kvm here cannot run a guest (nested PVM), so the VM runs under TCG, with QEMU's default
# translation cache of 1 GiB (tb-size=1024). 256 MiB kept its memory lower, but the cache filled
# and was flushed about three times per playbook run; with one VM alone, a no-change run of the
# apparmor scenario took 66-75 s instead of 90-93 s (2026-12-06; in the suite, beside the other
# VM, no gain showed beyond run-to-run noise). Each VM holds at most 2 GiB of guest memory and
# 1 GiB of cache (1.73 GiB resident after a converge): two fit the machine's 24 GiB. Each VM
# writes to its own qcow2 overlay, so the cached image stays clean. Its SSH port is forwarded
# from 127.0.0.1:PORT only. State, pidfile and serial log: .cache/vm/run/NAME/.
#
# QEMU's default CPU model under TCG advertises AMD SVM: the guest loads kvm_amd, has a
# /dev/kvm and can run (slow) nested KVM guests, so the role takes its KVM path there.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=$here/../../.cache/vm
boot_timeout=${KVMCLOUD_VM_BOOT_TIMEOUT:-180}

ssh_to() {
  local run=$cache/run/$1
  shift
  ssh -q -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    -i "$(cat "$run/image")/id_ed25519" -p "$(cat "$run/port")" root@127.0.0.1 "$@"
}

start() {
  local name=$1 flavor=$2 port=$3 data_gib=${4:-0}
  local image run=$cache/run/$1 started data=()
  "$here/build-image.sh" "$flavor"
  # The build's own directory, not the checkout's link to it: a later recipe moves the link,
  # while this VM's overlay keeps its backing file.
  image=$(readlink -f "$cache/$flavor")
  stop "$name"
  mkdir -p "$run"
  echo "$image" >"$run/image"
  echo "$port" >"$run/port"
  qemu-img create -q -f qcow2 -F qcow2 -b "$image/disk.qcow2" "$run/disk.qcow2"
  if ((data_gib > 0)); then
    # Blank and sparse: only what the tests write takes space. A PCI slot after the root
    # disk's, so the kernel still names the root disk vda (root=/dev/vda).
    qemu-img create -q -f qcow2 "$run/data.qcow2" "${data_gib}G"
    data=(-drive "file=$run/data.qcow2,if=none,id=data0,format=qcow2,cache=unsafe"
      -device "virtio-blk-pci,drive=data0,serial=kvmcloud-data,addr=0x10")
  fi
  # The guest reboots in place (same kernel): tests of persistence across reboots need that.
  qemu-system-x86_64 -name "$name" -accel tcg,tb-size=1024 -m 2048 -smp 2 \
    -nodefaults -display none -monitor none -serial "file:$run/serial.log" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 $(cat "$image/cmdline") systemd.hostname=$name" \
    -drive "file=$run/disk.qcow2,if=virtio,format=qcow2,cache=unsafe,discard=unmap" "${data[@]}" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=n0 \
    -device virtio-rng-pci \
    -daemonize -pidfile "$run/qemu.pid"
  started=$SECONDS
  until ssh_to "$name" true 2>/dev/null; do
    if ! running "$name" || ((SECONDS - started > boot_timeout)); then
      echo "$name: no SSH on 127.0.0.1:$port after $((SECONDS - started)) s; serial log tail:" >&2
      tail -n 40 "$run/serial.log" >&2 || true
      stop "$name"
      return 1
    fi
    sleep 2
  done
  echo "$name: SSH answered after $((SECONDS - started)) s" >&2
}

# The pid in the pidfile is this VM's QEMU, not a reused pid.
running() {
  local pidfile=$cache/run/$1/qemu.pid
  [ -f "$pidfile" ] && [ "$(cat "/proc/$(cat "$pidfile")/comm" 2>/dev/null)" = qemu-system-x86 ]
}

stop() {
  local run=$cache/run/$1 pid
  if running "$1"; then
    pid=$(cat "$run/qemu.pid")
    kill "$pid"
    for _ in $(seq 20); do
      [ -d "/proc/$pid" ] || break
      sleep 0.5
    done
    [ ! -d "/proc/$pid" ] || kill -KILL "$pid"
  fi
  # The serial log stays for a post-mortem; the next start overwrites it.
  rm -f "$run/disk.qcow2" "$run/data.qcow2" "$run/qemu.pid"
}

case "${1:-}" in
  start) start "${2:?name}" "${3:?flavor}" "${4:?port}" "${5:-0}" ;;
  ssh) ssh_to "${2:?name}" "${@:3}" ;;
  stop) stop "${2:?name}" ;;
  *)
    echo "usage: $0 start NAME FLAVOR PORT [DATA_GIB] | ssh NAME [COMMAND...] | stop NAME" >&2
    exit 2
    ;;
esac
