"""Bad input to kvm_host, kvm_hardening, kvm_network, kvm_guests and kvm_monitoring fails before anything on the host changes, naming what to fix.

All cases share one run of the collection's playbook against the converged Debian 13 host:
each case is a host alias of its own in the group kvm_hosts, pointing at the same container,
with that host's variables and the case's wrong ones on top. The preflight play checks every
host to the end before it stops them all, so each alias reports its own reason in the one run.
Each case is then a test of its own: its alias failed, with its message, in the preflight
play; no alias reached the play that changes hosts; and a snapshot of libvirt's files and
state taken after the run equals the one taken before.
"""

import json
import os
import re
import subprocess
import time

import pytest

from host_state import SNAPSHOT
from playbook import PROJECT, failures, play_section, playbook_command, recap

# A password hash and a key in the cloud-init data of guests whose entries are refused: no
# report may show them.
SECRET = "$6$kvmcloudtest$SECRETHASHNOTFORLOGS"
SECRET_KEY = "ssh-ed25519 AAAASECRETKEYNOTFORLOGS test@kvmcloud"
# A password given where its bcrypt hash belongs: refused, and never echoed.
SECRET_PASSWORD = "PASSWORDNOTFORLOGS"
SECRET_CLOUD_INIT = {"user_data": {"users": [{"name": "ops", "passwd": SECRET, "ssh_authorized_keys": [SECRET_KEY]}]}}

CASES = {
    "scrape user with a password instead of a hash": (
        {"kvm_monitoring_basic_auth_users": [{"name": "ops", "password_hash": SECRET_PASSWORD}]},
        ["kvm_monitoring_basic_auth_users[0].password_hash (of 'ops') is not a bcrypt hash"]),
    "monitoring TLS key missing on the controller": (
        {"kvm_monitoring_tls_key": "/nonexistent/monitoring.key"},
        ["kvm_monitoring_tls_key = '/nonexistent/monitoring.key': no such file on the controller"]),
    "exporter on a guest bridge": (
        {"kvm_monitoring_listen_interface": "br-guest"},
        ["kvm_monitoring_listen_interface = 'br-guest' is not a management interface of this host"]),
    "exporter port that is not a number": (
        {"kvm_monitoring_node_exporter_port": "http"}, ["kvm_monitoring_node_exporter_port"]),
    "unknown daemon layout": (
        {"kvm_host_daemon_layout": "hybrid"}, ["kvm_host_daemon_layout", "hybrid"]),
    "layout Debian does not ship": (
        {"kvm_host_daemon_layout": "modular"}, ["kvm_host_daemon_layout=modular is not available"]),
    "emulation opt-in that is not a boolean": (
        {"kvm_host_allow_emulation": "maybe"}, ["kvm_host_allow_emulation", "not a valid boolean"]),
    "flag that is not a boolean": (
        {"kvm_host_vhost_net": "perhaps"}, ["kvm_host_vhost_net"]),
    "socket mode that is not octal": (
        {"kvm_host_socket_rw_mode": "rw-rw----"}, ["kvm_host_socket_rw_mode=rw-rw----", "octal"]),
    "negative hugepage count": (
        {"kvm_host_hugepages_2m_count": -4}, ["kvm_host_hugepages_2m_count=-4", "0 or more"]),
    "relative pool path": (
        {"kvm_host_storage_pools": [{"name": "rel", "path": "srv/images"}]}, ["kvm_host_storage_pools[0] entry 'rel'", "absolute"]),
    "duplicate pool names": (
        {"kvm_host_storage_pools": [{"name": "a", "path": "/srv/a"}, {"name": "a", "path": "/srv/b"}]},
        ["kvm_host_storage_pools has duplicate names or paths: a"]),
    "pool libvirt has at another path": (
        {"kvm_host_storage_pools": [{"name": "default", "path": "/srv/kvmcloud-elsewhere"}]},
        ["kvm_host_storage_pools[0] entry 'default': libvirt already has a pool default at /var/lib/libvirt/images"]),
    "pool on the directory of libvirt's pool": (
        {"kvm_host_storage_pools": [{"name": "images", "path": "/var/lib/libvirt/images"}]},
        ["kvm_host_storage_pools[0] entry 'images': /var/lib/libvirt/images is already the directory of libvirt's pool default"]),
    "pool without a path": (
        {"kvm_host_storage_pools": [{"name": "nopath"}]}, ["kvm_host_storage_pools", "path"]),
    "unknown MAC": (
        {"kvm_hardening_mac": "smack"}, ["kvm_hardening_mac", "smack"]),
    "hardening switch that is not a boolean": (
        {"kvm_hardening_mac_enabled": "sometimes"}, ["kvm_hardening_mac_enabled", "not a valid boolean"]),
    "TLS without certificates": (
        {"kvm_hardening_tls_enabled": True, "kvm_hardening_tls_ca_cert": "", "kvm_hardening_tls_server_cert": "",
         "kvm_hardening_tls_server_key": "", "kvm_hardening_tls_allowed_dn_list": []},
        ["kvm_hardening_tls_enabled is true", "kvm_hardening_tls_ca_cert"]),
    "TLS certificate missing on the controller": (
        {"kvm_hardening_tls_enabled": True, "kvm_hardening_tls_ca_cert": "/nonexistent/ca.pem",
         "kvm_hardening_tls_server_cert": "/nonexistent/cert.pem", "kvm_hardening_tls_server_key": "/nonexistent/key.pem",
         "kvm_hardening_tls_allowed_dn_list": ["CN=admin"]},
        ["kvm_hardening_tls_ca_cert=/nonexistent/ca.pem: no such file on the controller"]),
    "migration without TLS": (
        {"kvm_hardening_tls_enabled": False},
        ["kvm_hardening_migration_enabled is true but kvm_hardening_tls_enabled is false", "qemu+ssh://"]),
    "migration address of another host": (
        {"kvm_hardening_migration_address": "198.51.100.7"},
        ["kvm_hardening_migration_address=198.51.100.7 is not an address of"]),
    "migration on every address": (
        {"kvm_hardening_migration_address": "0.0.0.0"},
        ["kvm_hardening_migration_address=0.0.0.0: a wildcard, loopback, link-local or multicast address"]),
    "migration ports over libvirt's own": (
        {"kvm_hardening_migration_port_min": 16000, "kvm_hardening_migration_port_max": 17000},
        ["kvm_hardening_migration_port_min=16000", "takes libvirt's own port 16509, 16514"]),
    "migration client key missing on the controller": (
        {"kvm_hardening_tls_client_key": "/nonexistent/client.key"},
        ["kvm_hardening_tls_client_key=/nonexistent/client.key: no such file on the controller"]),
    # A certificate of the same CA, for the server side, that names the host but not its migration address.
    "migration server certificate without the migration address": (
        {"kvm_hardening_tls_server_cert": os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""), "pki",
                                                       "monitoring.pem")},
        ["kvm_hardening_tls_server_cert=", "does not name kvm_hardening_migration_address=",
         "only an IP subjectAltName matches it"]),
    "migration key set through kvm_host": (
        {"kvm_host_qemu_conf": {"migrate_tls_force": False}},
        ["kvm_host_qemu_conf weakens the hardening baseline or sets a key kvm_hardening owns", "migrate_tls_force"]),
    "relative image directory": (
        {"kvm_hardening_image_dirs": ["images"]}, ["kvm_hardening_image_dirs[0] entry 'images'", "absolute"]),
    "KSM both on and off": (
        {"kvm_host_ksm_enabled": True}, ["kvm_host_ksm_enabled is true but kvm_hardening_ksm_disabled"]),
    "NAT network without forwarding": (
        {"kvm_host_default_network_enabled": True, "kvm_hardening_ip_forward": False},
        ["kvm_host_default_network_enabled", "kvm_hardening_ip_forward is false (H4)"]),
    "qemu.conf override that removes confinement": (
        {"kvm_host_qemu_conf": {"security_driver": "none"}}, ["kvm_host_qemu_conf weakens the hardening baseline", "security_driver"]),
    "qemu.conf override that runs QEMU as root": (
        {"kvm_host_qemu_conf": {"user": "root"}}, ["kvm_host_qemu_conf weakens", "must not run as root"]),
    "bridge name longer than Linux allows": (
        {"kvm_network_bridges": [{"name": "br-tenant-public"}]}, ["kvm_network_bridges[0] entry br-tenant-public", "1-15 characters"]),
    "duplicate bridge names": (
        {"kvm_network_bridges": [{"name": "br-a"}, {"name": "br-a"}]},
        ["kvm_network_bridges and kvm_network_libvirt_networks: bridge names (br-a, br-a", "must each be unique"]),
    "VLAN id out of range": (
        {"kvm_network_bridges": [{"name": "br-v", "uplink": "kvmup0", "vlan": 4095}]}, ["kvm_network_bridges[0] entry br-v", "vlan (4095) must be 1-4094"]),
    "VLAN id 0": (
        {"kvm_network_bridges": [{"name": "br-v", "uplink": "kvmup0", "vlan": 0}]},
        ["kvm_network_bridges[0] entry br-v", "vlan (0) must be 1-4094"]),
    "bridge MTU below what IPv4 needs": (
        {"kvm_network_bridges": [{"name": "br-m", "mtu": 40}]}, ["kvm_network_bridges[0] entry br-m", "mtu (40) must be 68-65535"]),
    "host address that is not an address": (
        {"kvm_network_bridges": [{"name": "br-a", "address": "10.0.0.300/24"}]},
        ["kvm_network_bridges[0] entry br-a", "address (10.0.0.300/24) must be empty"]),
    "NAT network given its subnet instead of the host address": (
        {"kvm_network_libvirt_networks": [{"name": "n1", "bridge": "virbr-n1", "mode": "isolated", "address": "192.168.150.0/24"}]},
        ["kvm_network_libvirt_networks[0] entry n1", "the host's IPv4 address"]),
    "uplink that does not exist": (
        {"kvm_network_bridges": [{"name": "br-a", "uplink": "nosuch0"}]}, ["kvm_network_bridges[0] entry br-a", "uplink nosuch0 does not exist"]),
    "management interface as a bridge uplink": (
        {"kvm_network_bridges": [{"name": "br-a", "uplink": "eth0"}]}, ["kvm_network_bridges[0] entry br-a", "eth0", "kvm_network_management_change_allowed"]),
    "migration peer given by host name": (
        {"kvm_network_migration_peers": ["203.0.113.10", "hv2.example.net"]},
        ["kvm_network_migration_peers[1] = 'hv2.example.net': not an IP address or a network in CIDR form"]),
    "NAT network with forwarding off": (
        {"kvm_hardening_ip_forward": False, "kvm_host_default_network_enabled": False,
         "kvm_network_libvirt_networks": [{"name": "n1", "bridge": "virbr-n1", "address": "192.168.150.1/24"}]},
        ["kvm_network_libvirt_networks", "set kvm_hardening_ip_forward to true"]),
    "duplicate guest names": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": 2, "base_image": "debian-13"}]}] * 2},
        ["kvm_guests_list: guest names must be unique", "check g1."]),
    "unknown guest profile": (
        {"kvm_guests_list": [{"name": "g1", "profile": "fast", "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list[0] entry g1: profile (fast) must be one of general, secure"]),
    "negative guest memory": (
        {"kvm_guests_list": [{"name": "g1", "memory_mib": -512, "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list[0] entry g1: memory_mib 256-4194304 (got -512)"]),
    "guest NIC without the filter on a restricted network": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": 2, "base_image": "debian-13"}],
                              "nics": [{"network": "br-guest", "nwfilter": ""}], "cloud_init": SECRET_CLOUD_INIT}]},
        ["kvm_guests_list[0] entry g1 nics[0] on 'br-guest': nwfilter must not be \"\" on br-guest, a restricted network"]),
    # Python's $ matches before a trailing newline: values that would have carried a newline
    # into a path, an AppArmor rule, a config key, a networkd file or a hostname.
    "pool path with a newline": (
        {"kvm_host_storage_pools": [{"name": "nl", "path": "/srv/images\n"}]},
        ["kvm_host_storage_pools[0] entry 'nl'", "holding only letters"]),
    "image directory that injects an AppArmor rule": (
        {"kvm_hardening_image_dirs": ["/srv/images", "/srv/x\" rwk,\n  /etc/** rwk,\n"]},
        ["kvm_hardening_image_dirs[1] entry", "AppArmor rules"]),
    "qemu.conf key with a newline": (
        {"kvm_host_qemu_conf": {"max_files\nuser": 1024}}, ["kvm_host_qemu_conf keys", "are not libvirt config keys"]),
    "bridge name with a trailing newline": (
        {"kvm_network_bridges": [{"name": "br-nl\n"}]}, ["kvm_network_bridges[0] entry br-nl"]),
    "guest name with a trailing newline": (
        {"kvm_guests_list": [{"name": "g1\n", "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list: guest names must be unique and 1-63 letters"]),
    "bridge named like a link the role did not make": (
        {"kvm_network_bridges": [{"name": "lo"}]},
        ["kvm_network_bridges[0] entry lo:", "already has a link of that name (kind loopback)"]),
    "libvirt network named like one another tool defined": (
        {"kvm_network_libvirt_networks": [
            {"name": "kvmcloud-foreign", "bridge": "virbr-kf0", "mode": "isolated", "address": "10.99.0.1/24"}]},
        ["kvm_network_libvirt_networks[0] entry kvmcloud-foreign: libvirt on", "already has a network kvmcloud-foreign"
         " on virbr-other, not on virbr-kf0"]),
    "libvirt networks with overlapping subnets": (
        {"kvm_network_libvirt_networks": [
            {"name": "wide", "bridge": "virbr-wide", "mode": "isolated", "address": "10.20.0.1/16"},
            {"name": "narrow", "bridge": "virbr-narrow", "mode": "isolated", "address": "10.20.5.1/24"}]},
        ["kvm_network_libvirt_networks[0] entry wide (10.20.0.0/16) overlaps [1] entry narrow (10.20.5.0/24)"]),
    "profile value that injects XML": (
        {"kvm_guests_profiles": {"general": {"memballoon_stats_period_seconds": "10'/><alias name='x"}}},
        ["kvm_guests_profiles entry general:", "memballoon_stats_period_seconds 0-86400"]),
    # Places where removing a guest's directory would take what the role did not make.
    "guest storage in /etc": (
        {"kvm_guests_storage_dir": "/etc"}, ["kvm_guests_storage_dir (/etc) is a top-level directory or inside"]),
    "guest storage holding the base images": (
        {"kvm_guests_storage_dir": "/var/lib/libvirt/images"},
        ["kvm_guests_base_image_dir (/var/lib/libvirt/images/base) lies inside kvm_guests_storage_dir"]),
    # Values that would have weakened the baseline without a word.
    "pool at /etc": (
        {"kvm_host_storage_pools": [{"name": "etc", "path": "/etc"}]},
        ["kvm_host_storage_pools[0] entry 'etc': path (/etc) must not be a top-level directory"]),
    "pool open to every user": (
        {"kvm_host_storage_pools": [{"name": "open", "path": "/srv/kvmcloud-open", "mode": "0777"}]},
        ["kvm_host_storage_pools[0] entry 'open'", "mode (0777) must not let others write"]),
    "filter that stops only MAC spoofing": (
        {"kvm_network_nwfilter": "no-mac-spoofing"},
        ["kvm_network_nwfilter (no-mac-spoofing) must be one of clean-traffic, clean-traffic-gateway"]),
    "socket group that does not exist": (
        {"kvm_host_socket_group": "nosuchgroup"}, ["kvm_host_socket_group=nosuchgroup: no such group"]),
    "libvirt administrator without an account": (
        {"kvm_host_libvirt_admin_users": ["vmadmin", "nosuchadmin"]},
        ["kvm_host_libvirt_admin_users names accounts that do not exist", "nosuchadmin"]),
    "QEMU account that does not exist": (
        {"kvm_host_qemu_conf": {"user": "nosuchqemu"}}, ["kvm_host_qemu_conf[user]=nosuchqemu: no such account"]),
    "QEMU account that is root under another name": (
        {"kvm_host_qemu_conf": {"user": "kvmcloudtoor"}}, ["kvm_host_qemu_conf[user]=kvmcloudtoor has uid 0"]),
    "QEMU group that does not exist": (
        {"kvm_host_qemu_conf": {"group": "nosuchkvm"}}, ["kvm_host_qemu_conf[group]=nosuchkvm: no such group"]),
    "management socket open to every user": (
        {"kvm_host_socket_rw_mode": "0777"}, ["kvm_host_socket_rw_mode=0777 lets every local user manage libvirt"]),
    "socket authentication switched off": (
        {"kvm_host_daemon_conf": {"auth_unix_rw": "none"}}, ["kvm_host_daemon_conf sets auth_unix_rw or auth_unix_ro to none"]),
    "daemon key another variable owns": (
        {"kvm_host_daemon_conf": {"listen_tcp": 1}}, ["kvm_host_daemon_conf sets listen_tcp, which have variables"]),
    "QEMU user that is root by number": (
        {"kvm_host_qemu_conf": {"user": "00"}}, ["kvm_host_qemu_conf weakens", "must not run as root"]),
    "QEMU without cgroup controllers": (
        {"kvm_host_qemu_conf": {"cgroup_controllers": []}}, ["kvm_host_qemu_conf weakens", "cgroup controllers"]),
    "guest memory 0": (
        {"kvm_guests_list": [{"name": "g1", "memory_mib": 0, "disks": [{"size_gib": 2, "base_image": "debian-13"}],
                              "cloud_init": SECRET_CLOUD_INIT}]},
        ["kvm_guests_list[0] entry g1: memory_mib 256-4194304 (got 0)"]),
    "guests under emulation without the opt-in": (
        {"kvm_guests_allow_emulation": False}, ["kvm_guests_allow_emulation", "cannot run KVM guests"]),
    # Values libvirt's config syntax cannot hold: refused before the first package.
    "qemu.conf value holding both quote characters": (
        {"kvm_host_qemu_conf": {"vnc_password": "a\"b'c"}},
        ["kvm_host_qemu_conf[vnc_password]", "cannot be written as a libvirt value", "both quote characters"]),
    "qemu.conf value that is a mapping": (
        {"kvm_host_qemu_conf": {"max_files": {"soft": 1024}}},
        ["kvm_host_qemu_conf[max_files]", "got a mapping"]),
    # Keys libvirt does not know and values of the wrong kind: the preflight has the keys of
    # libvirt's lenses, and on a host with libvirt it runs the lens itself, without writing.
    "qemu.conf key libvirt does not know": (
        {"kvm_host_qemu_conf": {"no_such_setting": 1}},
        ["kvm_host_qemu_conf keys no_such_setting are not settings of libvirt's qemu.conf"]),
    "qemu.conf value of the wrong kind": (
        {"kvm_host_qemu_conf": {"max_files": "plenty"}},
        ["kvm_host_qemu_conf[max_files] = 'plenty': libvirt reads max_files as a whole number"]),
    "daemon value of the wrong kind": (
        {"kvm_host_daemon_conf": {"max_clients": "lots"}},
        ["kvm_host_daemon_conf[max_clients] = 'lots': libvirt reads max_clients as a whole number"]),
    "qemu.conf value libvirt's lens refuses": (
        {"kvm_host_qemu_conf": {"max_files": -1}},
        ["kvm_host_qemu_conf: /etc/libvirt/qemu.conf: not changed, libvirt would refuse", "max_files = -1"]),
    "daemon value with a line break": (
        {"kvm_host_daemon_conf": {"log_filters": "1:qemu\n2:util"}},
        ["kvm_host_daemon_conf[log_filters]", "a line break cannot be written"]),
    "daemon key another variable owns: the socket group": (
        {"kvm_host_daemon_conf": {"unix_sock_group": "users"}}, ["kvm_host_daemon_conf sets unix_sock_group"]),
    "admin socket open to others": (
        {"kvm_host_socket_admin_mode": "0702"}, ["kvm_host_socket_admin_mode=0702 lets every local user manage"]),
    "QEMU group that is root": (
        {"kvm_host_qemu_conf": {"group": "root"}}, ["kvm_host_qemu_conf weakens", "must not run as root"]),
    "VNC listening on every address": (
        {"kvm_host_qemu_conf": {"vnc_listen": "0.0.0.0"}}, ["kvm_host_qemu_conf weakens", "consoles on loopback"]),
    "disk ownership left as it is": (
        {"kvm_host_qemu_conf": {"dynamic_ownership": 0}}, ["kvm_host_qemu_conf weakens", "dynamic_ownership"]),
    "QEMU logging straight to files": (
        {"kvm_host_qemu_conf": {"stdio_handler": "file"}}, ["kvm_host_qemu_conf weakens", "virtlogd"]),
    "pool name with a slash": (
        {"kvm_host_storage_pools": [{"name": "a/b", "path": "/srv/kvmcloud-ab"}]},
        ["kvm_host_storage_pools[0] entry 'a/b': the name may hold only"]),
    "pool inside a system tree": (
        {"kvm_host_storage_pools": [{"name": "usr", "path": "/usr/local/images"}]},
        ["kvm_host_storage_pools[0] entry 'usr'", "must not be a top-level directory or inside /bin"]),
    "image directory with a glob": (
        {"kvm_hardening_image_dirs": ["/srv/images*"]}, ["kvm_hardening_image_dirs[0] entry '/srv/images*'"]),
    "bridge MTU above what Linux allows": (
        {"kvm_network_bridges": [{"name": "br-m", "mtu": 70000}]}, ["kvm_network_bridges[0] entry br-m", "mtu (70000) must be 68-65535"]),
    "gateway outside the bridge's subnet": (
        {"kvm_network_bridges": [{"name": "br-g", "address": "10.30.0.2/24", "gateway": "10.31.0.1"}]},
        ["kvm_network_bridges[0] entry br-g: gateway 10.31.0.1 is not an address in 10.30.0.0/24"]),
    "libvirt network with a /31": (
        {"kvm_network_libvirt_networks": [{"name": "tiny", "bridge": "virbr-tiny", "mode": "isolated", "address": "10.40.0.1/31"}]},
        ["kvm_network_libvirt_networks[0] entry tiny", "prefix length of at most 30"]),
    "uplink that carries a storage address": (
        {"kvm_network_bridges": [{"name": "br-st", "uplink": "kvmstore0"}]},
        ["kvm_network_bridges[0] entry br-st: its uplink kvmstore0 carries addresses (203.0.113.2/24)"]),
    "guard opening on a bridge that is not declared": (
        {"kvm_network_host_guard_allow": [{"bridge": "br-nosuch", "proto": "tcp", "port": 22}]},
        ["kvm_network_host_guard_allow[0] entry br-nosuch tcp/22", "the bridge must be one of"]),
    "guest with more vCPUs than libvirt allows here": (
        {"kvm_guests_list": [{"name": "g1", "vcpus": 256, "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list[0] entry g1: vcpus 1-255 (got 256)"]),
    "guest with 0 vCPUs": (
        {"kvm_guests_list": [{"name": "g1", "vcpus": 0, "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list[0] entry g1: vcpus 1-255 (got 0)"]),
    "guest without a disk to boot from": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": 2}]}]},
        ["kvm_guests_list[0] entry g1: the first disk must be an overlay of a base image"]),
    "guest state that does not exist": (
        {"kvm_guests_list": [{"name": "g1", "state": "paused", "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list", "value of state must be one of: running, shutoff, undefined, got: paused"]),
    "disk size 0": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": 2, "base_image": "debian-13"}, {"size_gib": 0}]}]},
        ["kvm_guests_list[0] entry g1 disk disk1.qcow2: size_gib must be a whole number 1-65536 (got 0)"]),
    "disk size that carries a shell command": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": "2; reboot", "base_image": "debian-13"}],
                              "cloud_init": SECRET_CLOUD_INIT}]},
        ["kvm_guests_list -> disks", "'2; reboot'\" cannot be converted to an int"]),
    "raw overlay of a base image": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": 2, "base_image": "debian-13", "format": "raw"}]}]},
        ["kvm_guests_list[0] entry g1 disk disk0.raw: an overlay of base_image debian-13 must be qcow2"]),
    "disk on a base image that is not declared": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": 2, "base_image": "nosuch"}]}]},
        ["kvm_guests_list[0] entry g1 disk disk0.qcow2: base_image nosuch must name one of kvm_guests_base_images (debian-13)"]),
    "multicast MAC address": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": 2, "base_image": "debian-13"}],
                              "nics": [{"network": "br-guest", "mac": "01:00:5e:00:00:01"}], "cloud_init": SECRET_CLOUD_INIT}]},
        ["kvm_guests_list[0] entry g1 nics[0] on 'br-guest': mac (01:00:5e:00:00:01) must be a unicast address"]),
    "one MAC address on two guests": (
        {"kvm_guests_list": [{"name": name, "disks": [{"size_gib": 2, "base_image": "debian-13"}],
                              "nics": [{"network": "br-guest", "mac": "52:54:00:aa:bb:cc"}]} for name in ("g1", "g2")]},
        ["kvm_guests_list gives these MAC addresses more than once: 52:54:00:aa:bb:cc"]),
    "cloud-init user data that is a shell line": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": 2, "base_image": "debian-13"}],
                              "cloud_init": {"user_data": "rm -rf /"}}]},
        ["kvm_guests_list[0] entry g1: cloud_init takes user_data"]),
    "guest name longer than a hostname": (
        {"kvm_guests_list": [{"name": "g" * 64, "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list: guest names must be unique and 1-63"]),
    "default profile that does not exist": (
        {"kvm_guests_default_profile": "turbo"}, ["kvm_guests_default_profile (turbo) must be one of"]),
    "base image from a local file URL": (
        {"kvm_guests_base_images": [{"name": "debian-13", "url": "file:///etc/shadow", "checksum": "sha256:" + "0" * 64}]},
        ["kvm_guests_base_images[0] entry debian-13: url (file:///etc/shadow) must be http, https or ftp"]),
    "profile key that does not exist": (
        {"kvm_guests_profiles": {"general": {"turbo": True}}}, ["kvm_guests_profiles entry general:", "unknown: turbo"]),
    "native I/O over the host page cache": (
        {"kvm_guests_profiles": {"general": {"disk_io": "native", "disk_cache": "writethrough"}}},
        ["kvm_guests_profiles entry general:", "io native needs cache none or directsync"]),
    "guest definitions inside the guest storage": (
        {"kvm_guests_definition_dir": "/var/lib/libvirt/images/guests/definitions"},
        ["kvm_guests_definition_dir (/var/lib/libvirt/images/guests/definitions) lies inside kvm_guests_storage_dir"]),
}

# Values the roles used to refuse only after the packages were in, or not at all: on a host
# that has never run the playbook they must stop it before the first package.
FRESH_CASES = ["qemu.conf key with a newline", "qemu.conf value holding both quote characters",
               "qemu.conf key libvirt does not know", "daemon value of the wrong kind",
               "profile value that injects XML", "socket group that does not exist",
               "guest name with a trailing newline", "pool path with a newline",
               "libvirt administrator without an account", "uplink that carries a storage address",
               "scrape user with a password instead of a hash"]
FRESH_HOST = "kvmcloud-bad-input-fresh"

MAIN_PLAY = "KVM hosts are hardened hypervisors"
STORAGE_LINK = "kvmstore0"
ROOT_ALIAS = "kvmcloudtoor"
FOREIGN_NETWORK = "kvmcloud-foreign"
# The preflight's last task, which stops every host when one failed: an alias that gets that
# far passed every check of its own.
GUARD = "Every host passed the preflight, or no host is changed"
# Two per core keep the cores busy while forks wait on the container; more only contend (on
# 2 cores the run took 220-246 s with 4 forks, 248-258 s with 10, 238 s with 2; Molecule's
# ansible.cfg would give it 50).
FORKS = min(10, 2 * (os.cpu_count() or 2))


def alias(case):
    """The inventory name of CASE's host alias, e.g. bad-input-vlan-id-0."""
    return "bad-input-" + re.sub(r"[^a-z0-9]+", "-", case.lower()).strip("-")


def message(report):
    """What a failure report says to the user: its result's msg, and for a failed argument spec
    the argument errors (not the spec it carries, which names every variable). A report that
    is not JSON counts as a whole."""
    try:
        result = json.loads(report.split("=> ", 1)[1])
    except (IndexError, ValueError):
        return report
    return "\n".join([str(result.get("msg", "")), *map(str, result.get("argument_errors", []))])


@pytest.fixture(scope="module")
def bad_input_run(host, tmp_path_factory):
    """Runs the playbook once for every case, limited to the cases' aliases, between two
    snapshots of the host."""
    add_stand_ins(lambda script: host.run_expect([0], script))
    try:
        before = host.run_expect([0], SNAPSHOT).stdout
        result = run_cases(host, sorted(CASES), tmp_path_factory.mktemp("bad-input"))
        after = host.run_expect([0], SNAPSHOT).stdout
    finally:
        remove_stand_ins(lambda script: host.run_expect([0], script))
    return {"returncode": result.returncode, "output": result.stdout, "before": before, "after": after}


def run_cases(host, names, inventory_dir, **overrides):
    """One playbook run for the cases NAMES, each a host alias with the test host's variables,
    OVERRIDES and then the case's on top, as host variables, which outrank the group variables."""
    hostname = host.backend.get_hostname()
    env = playbook_command(limit=hostname)[1]
    own = json.loads(subprocess.run(["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--host", hostname],
                                    capture_output=True, text=True, env=env, check=True).stdout)
    aliases = {alias(case): dict(dict(own, **overrides), **CASES[case][0]) for case in names}
    assert len(aliases) == len(names)
    cases = inventory_dir / "cases.yml"
    cases.write_text(json.dumps({"kvm_hosts": {"hosts": aliases}}, indent=1))
    argv, env = playbook_command("--forks", str(FORKS), limit=",".join(sorted(aliases)), inventories=[str(cases)])
    # JSON results keep each report on one line, whatever the configured callback format.
    env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
    started = time.monotonic()
    # One stream, so each report stays in the order it was printed.
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            check=False, timeout=1500)
    print("one run for %d cases: %.0f s" % (len(aliases), time.monotonic() - started))
    return result


def in_fresh_host(script):
    return subprocess.run(["docker", "exec", FRESH_HOST, "sh", "-c", script], capture_output=True, text=True,
                          check=True, timeout=120).stdout


def add_stand_ins(run, libvirt=True):
    """A link with a host address, as a storage network's NIC would have (TEST-NET-3, no
    traffic), root under another name, as some sites keep (uid 0, no login), and a libvirt
    network another tool defined (never started)."""
    run("ip link add %s type veth peer name %sp && ip address add 203.0.113.2/24 dev %s" % ((STORAGE_LINK,) * 3))
    run("useradd --non-unique --uid 0 --gid 0 --no-create-home --shell /usr/sbin/nologin %s" % ROOT_ALIAS)
    if libvirt:
        run("printf \"<network><name>%s</name><bridge name='virbr-other'/></network>\" | virsh -q -c qemu:///system"
            " net-define /dev/stdin" % FOREIGN_NETWORK)


def remove_stand_ins(run):
    # --force: userdel refuses a name whose uid a process runs under, and uid 0 always has one.
    run("ip link delete %s; userdel --force %s; virsh -q -c qemu:///system net-undefine %s"
        % (STORAGE_LINK, ROOT_ALIAS, FOREIGN_NETWORK))


@pytest.fixture(scope="module")
def fresh_bad_input_run(host, tmp_path_factory):
    """The FRESH_CASES against a host started from the same image as the test hosts, which no
    playbook has touched: the cases' aliases point at it."""
    image = json.loads(subprocess.run(["docker", "inspect", host.backend.get_hostname()], capture_output=True,
                                      text=True, check=True).stdout)[0]["Config"]["Image"]
    starter = os.path.join(PROJECT, "tests", "testbed", "container.sh")
    subprocess.run([starter, "start", FRESH_HOST, image], check=True, timeout=300)
    try:
        add_stand_ins(in_fresh_host, libvirt=False)
        before = in_fresh_host(SNAPSHOT)
        # Its bridges without the stand-in uplinks prepare.yml made on the test hosts only. No
        # migration: the fresh host has another address than the test host's certificate names
        # (the migration cases run on the converged host).
        result = run_cases(host, FRESH_CASES, tmp_path_factory.mktemp("fresh-bad-input"), ansible_host=FRESH_HOST,
                           kvm_network_bridges=[{"name": "br-guest"}, {"name": "br-open", "restricted": False}],
                           kvm_hardening_migration_enabled=False)
        after = in_fresh_host(SNAPSHOT)
    finally:
        subprocess.run([starter, "remove", FRESH_HOST], check=False, timeout=120)
    return {"returncode": result.returncode, "output": result.stdout, "before": before, "after": after}


# Input checks do not depend on the Debian release: one host keeps the suite short.
@pytest.mark.only_hosts("kvmhost-trixie")
def test_bad_input_run_fails_and_changes_no_host(bad_input_run):
    output = bad_input_run["output"]
    assert bad_input_run["returncode"] != 0, output[-3000:]
    # No task result, include or failure there names an alias.
    main_play = play_section(output, MAIN_PLAY)
    reached = sorted(set(re.findall(r"bad-input-[a-z0-9-]+", main_play)))
    assert not reached, "these aliases reached the play %r:\n%s" % (MAIN_PLAY, main_play[-3000:])
    assert bad_input_run["after"] == bad_input_run["before"]


@pytest.mark.only_hosts("kvmhost-trixie")
def test_refused_guests_show_no_secret(bad_input_run):
    output = bad_input_run["output"]
    assert "bad-input-guest-nic-without-the-filter-on-a-restricted-network" in output
    for secret in (SECRET, "SECRETHASHNOTFORLOGS", "SECRETKEYNOTFORLOGS", SECRET_PASSWORD):
        assert secret not in output, output[output.find(secret) - 2000:output.find(secret) + 200]


@pytest.mark.only_hosts("kvmhost-trixie")
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_change(bad_input_run, case):
    expected = CASES[case][1]
    name, output = alias(case), bad_input_run["output"]
    # Every message starts from the variable to fix.
    assert re.match(r"kvm_(host|hardening|network|guests|monitoring)_[a-z0-9_]+", expected[0]), expected
    counters = recap(output, name)
    assert counters["changed"] == 0 and counters["failed"] == 1, counters
    reports = failures(output, name)
    assert reports, "no failure reported for %s in:\n%s" % (name, output[-3000:])
    shown = "\n".join("TASK [%s]\n%s" % report for report in reports)
    assert GUARD not in [report[0] for report in reports], "%s passed its checks:\n%s" % (name, shown)
    text = "\n".join(message(report[1]) for report in reports)
    for fragment in expected:
        assert fragment in text, "%r not in the failure of %s:\n%s" % (fragment, name, shown)
    assert bad_input_run["after"] == bad_input_run["before"]


@pytest.mark.only_hosts("kvmhost-trixie")
def test_on_a_fresh_host_bad_input_stops_the_run_before_the_first_package(fresh_bad_input_run):
    output = fresh_bad_input_run["output"]
    assert fresh_bad_input_run["returncode"] != 0, output[-3000:]
    reached = sorted(set(re.findall(r"bad-input-[a-z0-9-]+", play_section(output, MAIN_PLAY))))
    assert not reached, "these aliases reached the play %r" % MAIN_PLAY
    # Packages, accounts, groups and files as the image left them: not even libvirt came in.
    assert fresh_bad_input_run["after"] == fresh_bad_input_run["before"]
    assert not re.search(r"^libvirt-daemon-system ", fresh_bad_input_run["after"], re.M)


@pytest.mark.only_hosts("kvmhost-trixie")
@pytest.mark.parametrize("case", FRESH_CASES)
def test_on_a_fresh_host_each_bad_value_is_named(fresh_bad_input_run, case):
    name, output = alias(case), fresh_bad_input_run["output"]
    assert recap(output, name)["changed"] == 0
    reports = failures(output, name)
    assert reports and GUARD not in [report[0] for report in reports], output[-3000:]
    text = "\n".join(message(report[1]) for report in reports)
    for fragment in CASES[case][1]:
        assert fragment in text, "%r not in the failure of %s:\n%s" % (fragment, name, text)


def kvm_host_alone(host, tmp_path, qemu_conf):
    """kvm_host alone against the test host, with QEMU_CONF: the failures' text, after the
    run is shown to have failed in its preflight with no change (the snapshot unchanged)."""
    hostname = host.backend.get_hostname()
    play = tmp_path / "kvm_host_alone.yml"
    play.write_text(json.dumps([{"hosts": hostname, "become": True, "gather_facts": False, "roles": [
        {"role": "kvmcloud.hypervisor.kvm_host", "kvm_host_qemu_conf": qemu_conf}]}]))
    env = playbook_command(limit=hostname)[1]
    before = host.run_expect([0], SNAPSHOT).stdout
    # One stream: failures go to stderr with Molecule's settings.
    result = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(play)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, check=False,
                            timeout=600)
    assert host.run_expect([0], SNAPSHOT).stdout == before
    counters = recap(result.stdout, hostname)
    assert counters["failed"] == 1 and counters["changed"] == 0, result.stdout[-3000:]
    return "\n".join(message(report) for _task, report in failures(result.stdout, hostname))


@pytest.mark.only_hosts("kvmhost-trixie")
def test_kvm_host_alone_refuses_a_qemu_conf_that_weakens_the_baseline(host, tmp_path):
    """Without kvm_hardening in the play, kvm_host's own preflight refuses what would weaken a
    control, before its first change."""
    text = kvm_host_alone(host, tmp_path, {"vnc_listen": "0.0.0.0"})
    assert "kvm_host_qemu_conf weakens the hardening baseline" in text and "consoles on loopback (L7)" in text, text


# The bad-input table runs on the Debian 13 host, whose libvirt knows every key of the table.
@pytest.mark.only_hosts("kvmhost-bookworm")
def test_a_qemu_conf_key_of_a_later_libvirt_is_refused_where_libvirt_lacks_it(host, tmp_path):
    """auto_start_delay came after libvirt 9.0.0 (Debian 12's): its lens would refuse the file
    only once written, so the preflight refuses the key."""
    text = kvm_host_alone(host, tmp_path, {"auto_start_delay": 5})
    assert ("kvm_host_qemu_conf keys auto_start_delay are not settings of the qemu.conf of libvirt 9.0.0 (installed)"
            in text), text
