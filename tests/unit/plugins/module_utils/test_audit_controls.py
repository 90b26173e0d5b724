# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.audit_context import AuditContext
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.audit_controls import CONTROL_IDS, run_audit
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import FakeRunner, fixture_text

SOCKETS = {
    '/run/libvirt/libvirt-sock': {'owner': 'root', 'group': 'libvirt', 'mode': '0770'},
    '/run/libvirt/libvirt-sock-ro': {'owner': 'root', 'group': 'libvirt', 'mode': '0770'},
    '/run/libvirt/libvirt-admin-sock': {'owner': 'root', 'group': 'root', 'mode': '0700'},
    '/dev/kvm': {'owner': 'root', 'group': 'kvm', 'mode': '0660'},
    # Tests may run unprivileged: owners are recorded, not taken from the tree.
    '/etc/libvirt/qemu.conf': {'owner': 'root', 'group': 'root'},
    '/etc/libvirt/libvirtd.conf': {'owner': 'root', 'group': 'root'},
    '/var/lib/libvirt/images': {'owner': 'root', 'group': 'root', 'mode': '0711'},
}
WANTS = '/etc/systemd/system/sockets.target.wants/'
APPARMOR_CAPS = '<capabilities><host><secmodel><model>apparmor</model></secmodel>' \
                '<secmodel><model>dac</model><baselabel type="kvm">+64055:+104</baselabel></secmodel></host></capabilities>'
VIRSH_CAPS = ('/usr/bin/virsh', '--readonly', '--connect', 'qemu:///system', 'capabilities')


def converged(**changes):
    """A Debian host as the kvm_host role leaves it (monolithic, socket activation, AppArmor)."""
    files = {
        '/usr/sbin/libvirtd': '',
        '/usr/bin/virsh': '',
        '/usr/sbin/ip': '',
        '/etc/libvirt/qemu.conf': ('mode', fixture_text('qemu.conf.hardened'), 0o600),
        '/etc/libvirt/libvirtd.conf': ('mode', 'auth_unix_rw = "polkit"\nlisten_tcp = 0\naudit_level = 1\n', 0o644),
        '/lib/systemd/system/libvirtd.socket': '[Socket]\nListenStream=/run/libvirt/libvirt-sock\nSocketMode=0666\n',
        '/lib/systemd/system/libvirtd-tcp.socket': '[Socket]\nListenStream=16509\n',
        '/lib/systemd/system/libvirtd-tls.socket': '[Socket]\nListenStream=16514\n',
        '/lib/systemd/system/virtlogd.socket': '[Socket]\n',
        WANTS + 'libvirtd.socket': ('symlink', '/lib/systemd/system/libvirtd.socket'),
        WANTS + 'virtlogd.socket': ('symlink', '/lib/systemd/system/virtlogd.socket'),
        '/etc/systemd/system/libvirtd-tcp.socket': ('symlink', '/dev/null'),
        '/run/libvirt/libvirt-sock': '',
        '/run/libvirt/libvirt-sock-ro': '',
        '/run/libvirt/libvirt-admin-sock': '',
        '/run/libvirt/virtlogd-sock': '',
        '/dev/kvm': '',
        '/sys/kernel/mm/ksm/run': '0\n',
        '/proc/sys/net/ipv4/ip_forward': '0\n',
        '/sys/kernel/security/lsm': 'lockdown,capability,apparmor',
        '/sys/module/apparmor/parameters/enabled': 'Y\n',
        '/sys/kernel/security/apparmor/profiles': fixture_text('apparmor-profiles.txt'),
        '/proc/net/tcp': fixture_text('proc-net-tcp-ssh-only.txt'),
        '/etc/libvirt/qemu/networks/autostart': None,
        '/var/lib/libvirt/images': None,
        '/etc/group': 'root:x:0:\nkvm:x:104:\nlibvirt:x:108:alice\n',
        '/usr/share/polkit-1/actions/org.libvirt.unix.policy': '',
        '/proc/net/route': 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n'
                           'eno1\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n',
        '/sys/module/br_netfilter': None,
        '/etc/modules-load.d/kvmcloud-br_netfilter.conf': '# bridge traffic through netfilter\nbr_netfilter\n',
        '/proc/sys/net/bridge/bridge-nf-call-iptables': '1\n',
        '/proc/sys/net/bridge/bridge-nf-call-ip6tables': '1\n',
    }
    files.update(changes)
    return files


def audit(make_host, files, owners=None, answers=None, options=None, only=None):
    runner = FakeRunner(answers if answers is not None else {VIRSH_CAPS: (0, APPARMOR_CAPS, '')})
    all_owners = dict(SOCKETS)
    all_owners.update(owners or {})
    fs = make_host(files, all_owners)
    results, counts = run_audit(AuditContext(fs, runner, options or {'virt_host_validate': False}), only=only)
    return dict((r['id'], r) for r in results), counts


def statuses(results):
    return dict((key, value['status']) for key, value in results.items())


def test_converged_host_passes_the_host_controls(make_host):
    results, counts = audit(make_host, converged())
    got = statuses(results)
    for control in ('H1', 'H2', 'H3', 'H4', 'L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7',
                    'Q1', 'Q2', 'Q4', 'Q5', 'Q6', 'Q7', 'Q8', 'Q9', 'S1', 'N2', 'N5', 'N7'):
        assert got[control] == 'pass', (control, results[control]['evidence'])
    # Pieces this host does not have are not_applicable, never pass.
    for control in ('L8', 'Q3', 'Q10', 'S2', 'S3', 'N1', 'N3', 'N4', 'N6'):
        assert got[control] == 'not_applicable', (control, results[control]['evidence'])
    assert got['H5'] == 'unknown'
    assert counts['fail'] == 0
    assert sorted(results) == sorted(CONTROL_IDS)


def test_weakened_confinement_and_world_readable_socket_fail_exactly(make_host):
    qemu_conf = fixture_text('qemu.conf.hardened').replace('security_require_confined = 1', 'security_require_confined = 0')
    owners = {'/run/libvirt/libvirt-sock-ro': {'owner': 'root', 'group': 'libvirt', 'mode': '0777'}}
    files = converged(**{'/etc/libvirt/qemu.conf': ('mode', qemu_conf, 0o600)})
    results, counts = audit(make_host, files, owners)
    failed = sorted(key for key, value in results.items() if value['status'] == 'fail')
    assert failed == ['L4', 'Q2']
    assert 'ro socket mode 0777' in results['L4']['evidence']
    assert 'security_require_confined != 1' in results['Q2']['evidence']
    assert results['Q2']['remediation']
    # AppArmor is active: the failure is Q2's own.
    assert results['Q2']['follows_from'] == ''
    assert counts['fail'] == 2


def test_socket_activation_judges_units_not_listen_tcp(make_host):
    # listen_tcp = 1 is ignored by a socket-activated libvirtd; the masked tcp socket decides.
    files = converged(**{'/etc/libvirt/libvirtd.conf': ('mode', 'listen_tcp = 1\nauth_unix_rw = "polkit"\n', 0o644)})
    results, _counts = audit(make_host, files, only=['L2'])
    assert results['L2']['status'] == 'pass'
    assert 'ignored: socket activation' in results['L2']['evidence']


def test_without_socket_activation_listen_tcp_counts(make_host):
    files = converged(**{
        '/etc/libvirt/libvirtd.conf': ('mode', 'listen_tcp = 1\nauth_unix_rw = "polkit"\n', 0o644),
        '/etc/systemd/system/libvirtd.socket': ('symlink', '/dev/null'),
    })
    del files[WANTS + 'libvirtd.socket']
    results, _counts = audit(make_host, files, only=['L2'])
    assert results['L2']['status'] == 'fail'
    assert 'listen_tcp = 1' in results['L2']['evidence']


def test_tcp_socket_not_masked_or_listening_fails(make_host):
    files = converged(**{'/proc/net/tcp': fixture_text('proc-net-tcp-16509.txt')})
    del files['/etc/systemd/system/libvirtd-tcp.socket']
    results, _counts = audit(make_host, files, only=['L2'])
    assert results['L2']['status'] == 'fail'
    assert 'libvirtd-tcp.socket is not masked' in results['L2']['evidence']
    assert 'listeners on 16509: 0.0.0.0' in results['L2']['evidence']


def test_absent_socket_is_judged_from_socket_unit_drop_in(make_host):
    files = converged(**{
        '/etc/systemd/system/libvirtd-ro.socket.d/10-kvmcloud.conf': '[Socket]\nSocketMode=0770\nSocketGroup=libvirt\n',
        '/lib/systemd/system/libvirtd-ro.socket': '[Socket]\nSocketMode=0666\n',
    })
    del files['/run/libvirt/libvirt-sock-ro']
    results, _counts = audit(make_host, files, only=['L4'])
    assert results['L4']['status'] == 'pass'
    assert 'libvirtd-ro.socket configures SocketMode=0770 SocketGroup=libvirt' in results['L4']['evidence']


def test_debian_default_socket_unit_mode_fails(make_host):
    files = converged()
    del files['/run/libvirt/libvirt-sock-ro']
    results, _counts = audit(make_host, files, only=['L4'])
    assert results['L4']['status'] == 'fail'
    assert 'ro socket mode 0666' in results['L4']['evidence']


def test_no_lsm_with_apparmor_driver_configured_fails_h1_and_q1(make_host):
    files = converged()
    for path in ('/sys/kernel/security/lsm', '/sys/module/apparmor/parameters/enabled',
                 '/sys/kernel/security/apparmor/profiles', '/run/libvirt/libvirt-sock',
                 '/run/libvirt/libvirt-sock-ro', '/run/libvirt/libvirt-admin-sock'):
        del files[path]
    files['/.dockerenv'] = ''
    results, _counts = audit(make_host, files, answers={}, only=['H1', 'Q1'])
    assert results['H1']['status'] == 'fail'
    assert 'docker container' in results['H1']['evidence']
    assert results['Q1']['status'] == 'fail'
    assert 'no SELinux/AppArmor on this host for apparmor' in results['Q1']['evidence']
    # The failure is H1's, and the result points there.
    assert results['Q1']['follows_from'] == 'H1'
    assert results['Q1']['evidence'].startswith('follows from H1 (no SELinux or AppArmor active in this docker container): ')
    assert results['Q1']['remediation'].startswith('Fix H1 first, then: ')
    assert results['H1']['follows_from'] == ''


def test_selinux_enforcing_passes_h1_permissive_fails(make_host):
    files = converged(**{'/sys/fs/selinux/enforce': '1', '/etc/selinux/config': 'SELINUX=enforcing\nSELINUXTYPE=targeted\n'})
    assert audit(make_host, files, only=['H1'])[0]['H1']['status'] == 'pass'


def test_selinux_permissive_fails_h1(make_host):
    files = converged(**{'/sys/fs/selinux/enforce': '0', '/etc/selinux/config': 'SELINUX=permissive\n'})
    results = audit(make_host, files, only=['H1'])[0]
    assert results['H1']['status'] == 'fail'
    assert 'SELinux permissive' in results['H1']['evidence']


NFS_POOL = ("<pool type='netfs'><name>shared</name><source><host name='nfs1'/><dir path='/vm'/>"
            "<format type='nfs'/></source><target><path>/srv/shared</path></target></pool>")


@pytest.mark.parametrize('boolean, status, open_pool', [('1', 'pass', True), ('0', 'fail', False)])
def test_s3_names_an_nfs_pool_open_to_every_guest_where_virt_use_nfs_lets_them_in(
        make_host, boolean, status, open_pool):
    files = converged(**{'/sys/fs/selinux/enforce': '1', '/etc/selinux/config': 'SELINUX=enforcing\n',
                         '/sys/kernel/security/lsm': 'lockdown,capability,selinux',
                         '/sys/fs/selinux/booleans/virt_use_nfs': boolean + ' ' + boolean,
                         '/sys/fs/selinux/booleans/virt_use_samba': '0 0',
                         '/etc/libvirt/storage/shared.xml': NFS_POOL})
    result = audit(make_host, files, only=['S3'])[0]['S3']
    print(result['evidence'])
    assert result['status'] == status
    assert ('open to every guest: pool(s) shared' in result['evidence']) is open_pool


def test_apparmor_complain_profile_fails_h1(make_host):
    profiles = fixture_text('apparmor-profiles.txt').replace('libvirtd (enforce)', 'libvirtd (complain)')
    files = converged(**{'/sys/kernel/security/apparmor/profiles': profiles})
    results = audit(make_host, files, only=['H1'])[0]
    assert results['H1']['status'] == 'fail'
    assert 'libvirtd profile: complain' in results['H1']['evidence']


def test_security_driver_none_fails_q1(make_host):
    files = converged(**{'/etc/libvirt/qemu.conf': ('mode', 'security_driver = "none"\n', 0o600)})
    results = audit(make_host, files, only=['Q1'])[0]
    assert results['Q1']['status'] == 'fail'


def test_unparsable_qemu_conf_is_unknown_not_default(make_host):
    files = converged(**{'/etc/libvirt/qemu.conf': ('mode', 'security_driver = [ "apparmor"\n', 0o600)})
    results = audit(make_host, files, only=['Q1', 'Q5'])[0]
    assert results['Q1']['status'] == 'unknown'
    assert results['Q5']['status'] == 'unknown'
    assert 'does not parse' in results['Q5']['evidence']


def test_no_libvirt_means_not_applicable(make_host):
    results, _counts = audit(make_host, {'/proc/cpuinfo': ''}, answers={})
    for control in ('H3', 'L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'Q1', 'Q2', 'Q3', 'Q10', 'S1', 'N1', 'N7'):
        assert results[control]['status'] == 'not_applicable', control
        assert results[control]['evidence']


def test_world_readable_qemu_conf_fails_l6(make_host):
    files = converged(**{'/etc/libvirt/qemu.conf': ('mode', fixture_text('qemu.conf.hardened'), 0o644)})
    results = audit(make_host, files, only=['L6'])[0]
    assert results['L6']['status'] == 'fail'
    assert 'qemu.conf mode 0644' in results['L6']['evidence']


def test_remote_vnc_without_tls_fails_l7(make_host):
    files = converged(**{'/etc/libvirt/qemu.conf': ('mode', 'vnc_listen = "0.0.0.0"\n', 0o600)})
    results = audit(make_host, files, only=['L7'])[0]
    assert results['L7']['status'] == 'fail'
    assert 'vnc_listen = 0.0.0.0 without vnc_tls and vnc_tls_x509_verify' in results['L7']['evidence']


def test_domain_with_qemu_commandline_fails_q10(make_host):
    files = converged(**{
        '/etc/libvirt/qemu/good.xml': '<domain type="kvm"><name>good</name><devices><disk type="file" device="disk">'
                                      '<driver name="qemu" type="qcow2"/><target dev="vda"/></disk></devices></domain>',
        '/etc/libvirt/qemu/bad.xml': fixture_text('domain-qemu-commandline.xml'),
    })
    results = audit(make_host, files, only=['Q10', 'S2', 'Q2'])[0]
    assert results['Q10']['status'] == 'fail'
    assert results['Q10']['evidence'] == 'domains with <qemu:commandline>: bad'
    assert results['S2']['status'] == 'fail'
    assert 'bad:vda' in results['S2']['evidence']
    assert results['Q2']['status'] == 'fail'
    assert 'seclabel' in results['Q2']['evidence']


def running_guest(pid, uid='64055', seccomp='2', label='libvirt-1111 (enforce)', mnt='mnt:[4026532000]'):
    base = '/proc/%d' % pid
    return {
        base + '/comm': 'qemu-system-x86\n',
        base + '/status': 'Name:\tqemu-system-x86\nUid:\t%s\t%s\t%s\t%s\nSeccomp:\t%s\n' % (uid, uid, uid, uid, seccomp),
        base + '/attr/current': label + '\n',
        base + '/ns/mnt': ('symlink', mnt),
        base + '/cmdline': b'/usr/bin/qemu-system-x86_64\0-name\0guest=vm%d,debug-threads=on\0' % pid,
    }


def test_running_guests_confined_sandboxed_namespaced(make_host):
    files = converged(**{'/proc/1/ns/mnt': ('symlink', 'mnt:[4026531841]')})
    files.update(running_guest(200, label='libvirt-aaaa (enforce)'))
    files.update(running_guest(300, label='libvirt-bbbb (enforce)', mnt='mnt:[4026532001]'))
    results = audit(make_host, files, only=['Q3', 'Q4', 'Q6', 'Q7'])[0]
    assert statuses(results) == {'Q3': 'pass', 'Q4': 'pass', 'Q6': 'pass', 'Q7': 'pass'}
    assert 'vm200: libvirt-aaaa (enforce)' in results['Q3']['evidence']


def test_running_guest_as_root_unconfined_without_seccomp_in_host_namespace(make_host):
    files = converged(**{'/proc/1/ns/mnt': ('symlink', 'mnt:[4026531841]')})
    files.update(running_guest(200, uid='0', seccomp='0', label='unconfined', mnt='mnt:[4026531841]'))
    results = audit(make_host, files, only=['Q3', 'Q4', 'Q6', 'Q7'])[0]
    assert statuses(results) == {'Q3': 'fail', 'Q4': 'fail', 'Q6': 'fail', 'Q7': 'fail'}


def test_selinux_guests_sharing_an_mcs_pair_fail_q3(make_host):
    files = converged()
    files.update(running_guest(200, label='system_u:system_r:svirt_t:s0:c1,c2'))
    files.update(running_guest(300, label='system_u:system_r:svirt_t:s0:c1,c2'))
    results = audit(make_host, files, only=['Q3'])[0]
    assert results['Q3']['status'] == 'fail'
    assert 'vm300 shares or lacks an MCS pair (s0:c1,c2)' in results['Q3']['evidence']


def guest_bridge_host(isolated='1', binding='clean-traffic', bridge_ipv4=None):
    ip_json = [{'ifname': 'br-guest', 'addr_info': [
        {'family': 'inet', 'local': bridge_ipv4, 'prefixlen': 24, 'scope': 'global'}] if bridge_ipv4 else []}]
    files = converged(**{
        '/sys/class/net/br-guest/bridge/stp_state': '0',
        '/sys/class/net/br-guest/brif/vnet0': None,
        '/sys/class/net/vnet0/brport/isolated': isolated + '\n',
        '/proc/sys/net/ipv6/conf/br-guest/accept_ra': '0\n',
        '/usr/sbin/nft': '',
    })
    if binding:
        files['/run/libvirt/nwfilter-binding/vnet0.xml'] = \
            ('<filterbindingstatus><filterbinding><portdev name="vnet0"/><filterref filter="%s"/>'
             '</filterbinding></filterbindingstatus>') % binding
    answers = {
        VIRSH_CAPS: (0, APPARMOR_CAPS, ''),
        ('/usr/sbin/ip', '-j', 'addr', 'show'): (0, json.dumps(ip_json), ''),
        ('/usr/sbin/nft', '-j', 'list', 'ruleset'): (0, fixture_text('nft-ruleset-guest-drop.json'), ''),
    }
    return files, answers


def test_guest_bridge_controls_pass(make_host):
    files, answers = guest_bridge_host()
    results = audit(make_host, files, answers=answers, only=['N1', 'N2', 'N3', 'N4', 'N6'])[0]
    assert statuses(results) == {'N1': 'pass', 'N2': 'pass', 'N3': 'pass', 'N4': 'pass', 'N6': 'pass'}
    assert 'guest bridges: br-guest' in results['N2']['evidence']


def test_management_interface_in_guest_bridge_fails_n2(make_host):
    files, answers = guest_bridge_host()
    files['/sys/class/net/br-guest/brif/eno1'] = None
    results = audit(make_host, files, answers=answers, only=['N2'])[0]
    assert results['N2']['status'] == 'fail'


def test_guest_bridge_weakened_fails(make_host):
    files, answers = guest_bridge_host(isolated='0', binding=None, bridge_ipv4='192.0.2.1')
    answers[('/usr/sbin/nft', '-j', 'list', 'ruleset')] = (0, '{"nftables": []}', '')
    results = audit(make_host, files, answers=answers, only=['N1', 'N3', 'N4', 'N6'])[0]
    assert statuses(results) == {'N1': 'fail', 'N3': 'fail', 'N4': 'fail', 'N6': 'fail'}
    assert results['N6']['evidence'] == 'no input rule drops traffic from: br-guest'
    assert 'br-guest carries a host address' in results['N1']['evidence']


def test_default_network_autostarted_fails_n7_and_explains_forwarding(make_host):
    files = converged(**{
        '/etc/libvirt/qemu/networks/default.xml': '<network><name>default</name><forward mode="nat"/>'
                                                  '<bridge name="virbr0"/></network>',
        '/etc/libvirt/qemu/networks/autostart/default.xml': ('symlink', '../default.xml'),
        '/proc/sys/net/ipv4/ip_forward': '1\n',
    })
    results = audit(make_host, files, only=['N7', 'H4'])[0]
    assert results['N7']['status'] == 'fail'
    assert results['H4']['status'] == 'pass'
    assert 'needed by libvirt network(s): default (nat)' in results['H4']['evidence']
    allowed = audit(make_host, {}, options={'allowed_networks': ['default'], 'virt_host_validate': False}, only=['N7'])[0]
    assert allowed['N7']['status'] == 'pass'


def test_forwarding_without_a_reason_fails_h4(make_host):
    results = audit(make_host, converged(**{'/proc/sys/net/ipv4/ip_forward': '1\n'}), only=['H4'])[0]
    assert results['H4']['status'] == 'fail'


def test_host_validate_failures_fail_h5(make_host):
    files = converged(**{'/usr/bin/virt-host-validate': ''})
    answers = {('/usr/bin/virt-host-validate', 'qemu'): (1, fixture_text('virt-host-validate-intel-mixed.txt'), '')}
    results = audit(make_host, files, answers=answers, options={'virt_host_validate': True}, only=['H5'])[0]
    assert results['H5']['status'] == 'fail'
    assert 'Checking if device /dev/kvm is accessible' in results['H5']['evidence']


def test_ksm_on_and_bad_dev_kvm_fail(make_host):
    files = converged(**{'/sys/kernel/mm/ksm/run': '1\n'})
    results = audit(make_host, files, owners={'/dev/kvm': {'owner': 'root', 'group': 'root', 'mode': '0666'}},
                    only=['H2', 'H3'])[0]
    assert statuses(results) == {'H2': 'fail', 'H3': 'fail'}
    assert results['H3']['evidence'] == '/dev/kvm root:root 0666'


MIGRATION_QEMU_CONF = ('migration_address = "192.0.2.11"\nmigration_host = "192.0.2.11"\nmigrate_tls_force = 1\n'
                       'migration_port_min = 49152\nmigration_port_max = 49215\n'
                       'default_tls_x509_cert_dir = "/etc/pki/qemu"\ndefault_tls_x509_verify = 1\n')
# sshd on every address, an incoming migration on 192.0.2.11:49152.
TCP_MIGRATING = (
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
    '   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20001 1 0 100 0 0 10 0\n'
    '   1: 0B0200C0:C000 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20002 1 0 100 0 0 10 0\n')


NFT_RULESET = ('/usr/sbin/nft', '-j', 'list', 'ruleset')
# kvm_network's guard as it loads it on a migrating host (recorded from nft 1.1.3): TCP to 16514
# and 49152-49215 from 192.0.2.0/24, 203.0.113.10, 2001:db8::/64 and loopback, dropped otherwise.
GUARD_MIGRATION = fixture_text('nft-ruleset-guard-migration.json')


def guard_answers(ruleset=GUARD_MIGRATION):
    return {VIRSH_CAPS: (0, APPARMOR_CAPS, ''), NFT_RULESET: (0, ruleset, '')}


def guard_edited(edit):
    """The recorded guard ruleset with edit(items) applied to its list of items."""
    items = json.loads(GUARD_MIGRATION)['nftables']
    edit(items)
    return json.dumps({'nftables': items})


def migration_rule(items, chain, handle):
    return next(item['rule'] for item in items
                if 'rule' in item and item['rule']['chain'] == chain and item['rule']['handle'] == handle)


def migrating(qemu_conf_extra=MIGRATION_QEMU_CONF, tcp=TCP_MIGRATING, dn_list=True, **changes):
    """A converged host configured by kvm_hardening for live migration over TLS, behind kvm_network's guard."""
    libvirtd_conf = 'auth_unix_rw = "polkit"\nlisten_tcp = 0\naudit_level = 1\n'
    if dn_list:
        libvirtd_conf += 'tls_allowed_dn_list = [ "CN=hv02,O=fleet" ]\n'
    files = converged(**{
        '/etc/libvirt/qemu.conf': ('mode', fixture_text('qemu.conf.hardened') + qemu_conf_extra, 0o600),
        '/etc/libvirt/libvirtd.conf': ('mode', libvirtd_conf, 0o644),
        '/proc/net/tcp': tcp,
        '/etc/pki/qemu/ca-cert.pem': ('mode', 'ca', 0o644),
        '/etc/pki/qemu/server-cert.pem': ('mode', 'cert', 0o644),
        '/etc/pki/qemu/server-key.pem': ('mode', 'key', 0o640),
        '/etc/pki/qemu/client-cert.pem': ('mode', 'cert', 0o644),
        '/etc/pki/qemu/client-key.pem': ('mode', 'key', 0o640),
        '/usr/sbin/nft': '',
    })
    files.update(changes)
    return files


def test_migration_over_tls_on_its_own_address_passes(make_host):
    results, _counts = audit(make_host, migrating(), answers=guard_answers(), only=['L8'])
    assert results['L8']['status'] == 'pass', results['L8']['evidence']
    assert 'migration_address = 192.0.2.11' in results['L8']['evidence']
    assert 'migration_port_min = 49152' in results['L8']['evidence']
    assert ('inet kvmcloud_guard: new TCP connections to port 16514, ports 49152-49215 only from loopback,'
            ' 192.0.2.0/24, 203.0.113.10, 2001:db8::/64') in results['L8']['evidence']


@pytest.mark.parametrize('peers, status', [
    # In another order, the single address as a /32: the same sources.
    (['2001:db8::/64', '203.0.113.10/32', '192.0.2.0/24'], 'pass'),
    (['192.0.2.0/24', '2001:db8::/64'], 'fail'),
], ids=['same', 'one more'])
def test_migration_guard_matches_the_peers_the_audit_is_given(make_host, peers, status):
    options = {'virt_host_validate': False, 'migration_peers': peers}
    results, _counts = audit(make_host, migrating(), answers=guard_answers(), options=options, only=['L8'])
    assert results['L8']['status'] == status, results['L8']['evidence']
    mismatch = ('the migration ports take connections from 192.0.2.0/24, 203.0.113.10, 2001:db8::/64, not from the'
                ' migration peers 192.0.2.0/24, 2001:db8::/64')
    assert (mismatch in results['L8']['evidence']) == (status == 'fail')


def test_migration_without_a_firewall_to_read_is_unknown(make_host):
    files = migrating()
    del files['/usr/sbin/nft']
    results, _counts = audit(make_host, files, answers=guard_answers(), only=['L8'])
    assert results['L8']['status'] == 'unknown'
    assert results['L8']['evidence'].startswith('who may reach the migration ports is unknown: nft not installed')


@pytest.mark.parametrize('files, problem', [
    (migrating(MIGRATION_QEMU_CONF.replace('migrate_tls_force = 1', 'migrate_tls_force = 0')),
     'migrate_tls_force != 1: a guest may migrate over plain TCP'),
    (migrating(MIGRATION_QEMU_CONF.replace('"192.0.2.11"', '"0.0.0.0"', 1)),
     'migration_address = 0.0.0.0 listens on every network'),
    (migrating(MIGRATION_QEMU_CONF.replace('migration_port_min = 49152', 'migration_port_min = 16000')),
     "migration port range 16000-49215 takes libvirt's own port"),
    (migrating(**{'/etc/pki/qemu/server-key.pem': ('mode', 'key', 0o644)}),
     '/etc/pki/qemu/server-key.pem readable by others (0644)'),
    (migrating(dn_list=False), 'tls_allowed_dn_list not set'),
    (migrating(tcp=TCP_MIGRATING.replace('0B0200C0:C000', '00000000:C001')),
     'listeners in the migration port range off migration_address: 0.0.0.0:49153'),
], ids=['tls not forced', 'every address', 'libvirt port', 'key readable', 'no dn list', 'stray listener'])
def test_migration_fails_on_each_weakened_piece(make_host, files, problem):
    results, _counts = audit(make_host, files, answers=guard_answers(), only=['L8'])
    assert results['L8']['status'] == 'fail', results['L8']['evidence']
    assert problem in results['L8']['evidence']


def _no_guard(items):
    items[:] = [item for item in items if 'metainfo' in item]


def _no_migration_rule(items):
    items.remove({'rule': migration_rule(items, 'input', 7)})


def _open_to_all(items):
    rule = migration_rule(items, 'migration', 11)
    rule['expr'] = [{'accept': None}]


def _no_drop(items):
    items.remove({'rule': migration_rule(items, 'migration', 13)})


def _range_shrunk(items):
    migration_rule(items, 'input', 7)['expr'][0]['match']['right'] = {'set': [16514, {'range': [49152, 49200]}]}


def _accepted_first(items):
    # An opening inserted ahead of the jump, as `nft insert rule ... tcp dport 16514 accept` makes it.
    at = items.index({'rule': migration_rule(items, 'input', 7)})
    items.insert(at, {'rule': {'family': 'inet', 'table': 'kvmcloud_guard', 'chain': 'input', 'handle': 30,
                               'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}},
                                                   'right': 16514}}, {'accept': None}]}})


def _accepted_elsewhere(items):
    # Another table's base chain accepting everything does not undo the guard's drop.
    items.append({'table': {'family': 'inet', 'name': 'other', 'handle': 9}})
    items.append({'chain': {'family': 'inet', 'table': 'other', 'name': 'input', 'handle': 1, 'type': 'filter',
                            'hook': 'input', 'prio': -10, 'policy': 'accept'}})
    items.append({'rule': {'family': 'inet', 'table': 'other', 'chain': 'input', 'handle': 2,
                           'expr': [{'accept': None}]}})


@pytest.mark.parametrize('edit, problem', [
    (_no_guard, 'no inet input chain limits who may connect to port 16514: the host guard (table inet kvmcloud_guard'
                ' of kvm_network) is not loaded or lacks its migration rule'),
    (_no_migration_rule, 'no inet input chain limits who may connect to ports 49152-49215'),
    (_open_to_all, 'chain migration accepts connections to the migration ports without naming their source'),
    (_no_drop, 'chain migration does not drop the sources it does not name'),
    (_range_shrunk, 'no inet input chain limits who may connect to ports 49152-49215'),
    (_accepted_first, 'inet kvmcloud_guard chain input accepts TCP to port 16514 before the source check'),
], ids=['guard off', 'rule missing', 'open to all', 'no drop', 'part of the range', 'accepted first'])
def test_migration_fails_when_the_guard_lets_others_reach_the_ports(make_host, edit, problem):
    results, _counts = audit(make_host, migrating(), answers=guard_answers(guard_edited(edit)), only=['L8'])
    assert results['L8']['status'] == 'fail', results['L8']['evidence']
    assert problem in results['L8']['evidence']


def test_migration_guard_holds_beside_another_tables_accept(make_host):
    results, _counts = audit(make_host, migrating(), answers=guard_answers(guard_edited(_accepted_elsewhere)),
                             only=['L8'])
    assert results['L8']['status'] == 'pass', results['L8']['evidence']


def test_migration_files_missing_fail(make_host):
    files = migrating()
    del files['/etc/pki/qemu/client-key.pem']
    results, _counts = audit(make_host, files, answers=guard_answers(), only=['L8'])
    assert results['L8']['status'] == 'fail'
    assert '/etc/pki/qemu/client-key.pem missing' in results['L8']['evidence']
