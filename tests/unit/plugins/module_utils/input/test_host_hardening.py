# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.host_hardening import (
    account_errors, account_lookups, kvm_hardening_errors, kvm_host_errors)
from ansible_collections.kvmcloud.hypervisor.tests.unit.plugins.module_utils.input.pki import Authority


def host_params(**changes):
    params = {
        'layout': 'monolithic', 'layouts_available': ['monolithic'], 'distribution': 'Debian',
        'distribution_major_version': '13', 'libvirt_version': None,
        'socket_modes': {'kvm_host_socket_rw_mode': '0770', 'kvm_host_socket_ro_mode': '0770',
                         'kvm_host_socket_admin_mode': '0700'},
        'hugepages_2m_count': 0,
        'storage_pools': [{'name': 'default', 'path': '/var/lib/libvirt/images'}],
        'pool_mode_default': '0711',
        'qemu_conf': {'max_files': 32768},
        'daemon_conf': {},
    }
    params.update(changes)
    return params


def hardening_params(**changes):
    params = {
        'mac': 'auto', 'mac_name': 'apparmor', 'mac_default': 'apparmor', 'mac_enabled': True,
        'mac_packages': {'apparmor': ['apparmor'], 'selinux': []}, 'distribution': 'Debian',
        'host_qemu_conf': {}, 'ksm_disabled': True, 'host_ksm_enabled': False, 'ip_forward': False,
        'host_default_network_enabled': False, 'tls_enabled': False,
        'tls_files': {'kvm_hardening_tls_ca_cert': '', 'kvm_hardening_tls_server_cert': '',
                      'kvm_hardening_tls_server_key': ''},
        'tls_allowed_dn_list': [], 'image_dirs': ['/var/lib/libvirt/images'],
        'migration_enabled': False, 'migration_address': '', 'migration_port_min': 49152,
        'migration_port_max': 49215,
        'migration_files': {'kvm_hardening_tls_client_cert': '', 'kvm_hardening_tls_client_key': ''},
        'hostname': 'hv01', 'host_addresses': {}, 'addresses_complete': False, 'certificates': {},
    }
    params.update(changes)
    return params


def test_defaults_pass():
    assert kvm_host_errors(host_params()) == []
    assert kvm_hardening_errors(hardening_params()) == []


def test_layout_not_shipped():
    assert kvm_host_errors(host_params(layout='modular')) == [
        'kvm_host_daemon_layout=modular is not available on Debian: its libvirt packages ship only monolithic.']


@pytest.mark.parametrize('mode', ['rw-rw----', '0770\n', 770, '0880', ''])
def test_socket_mode_must_be_an_octal_string(mode):
    errors = kvm_host_errors(host_params(socket_modes={'kvm_host_socket_rw_mode': mode}))
    assert errors == ['kvm_host_socket_rw_mode=%s must be an octal mode string such as "0770".' % mode]


@pytest.mark.parametrize('count', [-4, 'many'])
def test_hugepages_zero_or_more(count):
    assert kvm_host_errors(host_params(hugepages_2m_count=count)) == [
        'kvm_host_hugepages_2m_count=%s must be 0 or more.' % count]


@pytest.mark.parametrize('pool', [
    {'name': 'rel', 'path': 'srv/images'},
    {'name': 'up', 'path': '/srv/../etc'},
    {'name': 'bad name', 'path': '/srv/a'},
    {'name': 'nl\n', 'path': '/srv/a'},
    {'name': 'mode', 'path': '/srv/a', 'mode': '777\n'},
    {'name': 'newline', 'path': '/srv/a\n'},
    {'name': 'inner', 'path': '/srv/a\n/b'},
    {'name': 'quote', 'path': "/srv/a'b"},
    {'name': 'glob', 'path': '/srv/a*'},
])
def test_pool_name_path_and_mode(pool):
    errors = kvm_host_errors(host_params(storage_pools=[pool, {'name': 'ok', 'path': '/srv/ok'}]))
    assert len(errors) == 1 and errors[0].startswith('kvm_host_storage_pools[0] entry %r:' % pool['name'])
    assert "must be absolute without '..'" in errors[0]


@pytest.mark.parametrize('var, key', [('qemu_conf', 'max_files\n'), ('qemu_conf', 'user = "root"\nx'),
                                      ('daemon_conf', 'unix_sock_group\n'), ('daemon_conf', '1key'),
                                      ('qemu_conf', 7)])
def test_conf_keys_must_be_libvirt_keys(var, key):
    errors = kvm_host_errors(host_params(**{var: {key: '1', 'max_clients': 5}}))
    assert errors == ["kvm_host_%s keys %r are not libvirt config keys: a key is a letter, then letters, "
                      "digits and '_' (such as max_files). Fix or remove them." % (var, key)]


@pytest.mark.parametrize('value, why', [
    ('a"b\'c', 'a string holding both quote characters'),
    ('line\nbreak', 'a line break cannot be written'),
    ({'nested': 1}, 'value must be a bool, int, string or list, got a mapping'),
    ([['a']], 'list items must be strings or integers'),
    (1.5, 'value must be a bool, int, string or list, got a float'),
])
def test_conf_values_must_be_writable_in_libvirt_syntax(value, why):
    errors = kvm_host_errors(host_params(qemu_conf={'max_files': 4096, 'vnc_password': value, 'gone': None}))
    assert len(errors) == 1 and errors[0].startswith('kvm_host_qemu_conf[vnc_password] = %r cannot be written' % value)
    assert why in errors[0]


@pytest.mark.parametrize('var, mode', [('kvm_host_socket_rw_mode', '0777'), ('kvm_host_socket_rw_mode', '0771'),
                                       ('kvm_host_socket_admin_mode', '0702')])
def test_managing_sockets_are_closed_to_others(var, mode):
    modes = dict(host_params()['socket_modes'], **{var: mode})
    errors = kvm_host_errors(host_params(socket_modes=modes))
    assert len(errors) == 1 and errors[0].startswith('%s=%s lets every local user manage libvirt' % (var, mode))


def test_the_read_only_socket_may_stay_open():
    modes = dict(host_params()['socket_modes'], kvm_host_socket_ro_mode='0777')
    assert kvm_host_errors(host_params(socket_modes=modes)) == []


@pytest.mark.parametrize('conf, shown', [({'unix_sock_group': 'users'}, 'unix_sock_group'),
                                         ({'listen_tcp': 1, 'audit_logging': 0}, 'audit_logging, listen_tcp')])
def test_daemon_conf_leaves_owned_keys_to_their_variables(conf, shown):
    errors = kvm_host_errors(host_params(daemon_conf=conf))
    assert len(errors) == 1 and errors[0].startswith('kvm_host_daemon_conf sets %s, which have variables' % shown)


@pytest.mark.parametrize('key', ['auth_unix_rw', 'auth_unix_ro'])
def test_daemon_conf_keeps_socket_authentication(key):
    errors = kvm_host_errors(host_params(daemon_conf={key: 'none', 'max_clients': 10}))
    assert len(errors) == 1 and errors[0].startswith('kvm_host_daemon_conf sets auth_unix_rw or auth_unix_ro to none')
    assert kvm_host_errors(host_params(daemon_conf={key: 'sasl'})) == []


def test_conf_must_be_a_mapping():
    assert kvm_host_errors(host_params(qemu_conf=['user'])) == [
        "kvm_host_qemu_conf must be a mapping of libvirt config keys to values, not ['user']."]


@pytest.mark.parametrize('pool', [
    {'name': 'etc', 'path': '/etc'},
    {'name': 'usr', 'path': '/usr/share/images'},
    {'name': 'top', 'path': '/srv'},
    {'name': 'open', 'path': '/srv/images', 'mode': '0777'},
    {'name': 'o-w', 'path': '/srv/images', 'mode': '0712'},
])
def test_pools_keep_to_places_of_their_own_and_closed_to_others(pool):
    errors = kvm_host_errors(host_params(storage_pools=[pool]))
    assert len(errors) == 1 and errors[0].startswith("kvm_host_storage_pools[0] entry %r: path (%s) must not be a"
                                                     " top-level directory or inside /bin," % (pool['name'], pool['path']))


def test_a_pool_mode_closed_to_others_passes():
    assert kvm_host_errors(host_params(storage_pools=[{'name': 'g', 'path': '/srv/images', 'mode': '0750'}])) == []


def test_duplicate_pools_named():
    pools = [{'name': 'a', 'path': '/srv/a'}, {'name': 'a', 'path': '/srv/b/'}, {'name': 'c', 'path': '/srv/b'}]
    assert kvm_host_errors(host_params(storage_pools=pools)) == [
        'kvm_host_storage_pools has duplicate names or paths: a, /srv/b']


def test_mac_not_shipped():
    errors = kvm_hardening_errors(hardening_params(mac='selinux', mac_name='selinux'))
    assert errors == ['kvm_hardening_mac=selinux: selinux is not available on Debian; use apparmor.']
    assert kvm_hardening_errors(hardening_params(mac='selinux', mac_name='selinux', mac_enabled='false')) == []


@pytest.mark.parametrize('conf', [
    {'security_driver': 'none'}, {'seccomp_sandbox': 0}, {'user': 'root'}, {'user': 0}, {'group': '+0'},
    {'dynamic_ownership': False}, {'remember_owner': 'no'}, {'stdio_handler': 'file'},
    {'vnc_listen': '0.0.0.0'}, {'spice_listen': '::'},
    {'user': '00'}, {'user': ' 0'}, {'group': '-0'}, {'cgroup_controllers': []},
])
def test_qemu_conf_override_that_weakens_is_refused(conf):
    errors = kvm_hardening_errors(hardening_params(host_qemu_conf=conf))
    assert len(errors) == 1 and errors[0].startswith('kvm_host_qemu_conf weakens the hardening baseline')
    # By kvm_host too, so the role used without kvm_hardening refuses it (user 0 and 'no' for a
    # boolean already for their type).
    host_errors = kvm_host_errors(host_params(qemu_conf=conf))
    assert len(host_errors) == 1 and host_errors[0].startswith('kvm_host_qemu_conf'), host_errors
    if conf not in ({'user': 0}, {'remember_owner': 'no'}):
        assert host_errors == errors


def test_qemu_conf_override_that_keeps_the_baseline_passes():
    assert kvm_hardening_errors(hardening_params(host_qemu_conf={'max_files': 32768, 'vnc_listen': '::1'})) == []
    assert kvm_host_errors(host_params(qemu_conf={'max_files': 32768, 'vnc_listen': '::1'})) == []


def test_ksm_both_ways():
    errors = kvm_hardening_errors(hardening_params(host_ksm_enabled=True))
    assert errors[0].startswith('kvm_host_ksm_enabled is true but kvm_hardening_ksm_disabled')


def test_nat_network_needs_forwarding():
    errors = kvm_hardening_errors(hardening_params(host_default_network_enabled='true'))
    assert errors[0].startswith('kvm_host_default_network_enabled is true') and '(H4)' in errors[0]
    assert kvm_hardening_errors(hardening_params(host_default_network_enabled=True, ip_forward=True)) == []


def test_tls_needs_files_and_names():
    errors = kvm_hardening_errors(hardening_params(tls_enabled=True))
    assert errors[0].startswith('kvm_hardening_tls_enabled is true, so kvm_hardening_tls_ca_cert')


def test_tls_files_must_exist_on_the_controller(tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text(u'x')
    files = {'kvm_hardening_tls_ca_cert': str(ca), 'kvm_hardening_tls_server_cert': '/nonexistent/cert.pem',
             'kvm_hardening_tls_server_key': '/nonexistent/key.pem'}
    errors = kvm_hardening_errors(hardening_params(tls_enabled=True, tls_files=files, tls_allowed_dn_list=['CN=a']))
    assert errors == ['kvm_hardening_tls_server_cert=/nonexistent/cert.pem: no such file on the controller.',
                      'kvm_hardening_tls_server_key=/nonexistent/key.pem: no such file on the controller.']


@pytest.mark.parametrize('directory', ['images', '/srv/../etc', 7, '/srv/images\n', '/srv/a"\n/etc/** rwk,',
                                       '/srv/a b', '/srv/a+', '/srv/(.*)'])
def test_image_dirs_absolute(directory):
    assert kvm_hardening_errors(hardening_params(image_dirs=['/srv/fine.images', directory])) == [
        "kvm_hardening_image_dirs[1] entry %r must be an absolute path without '..', holding only letters, "
        "digits and '/._@-' (it is written into AppArmor rules and SELinux file-context patterns)." % (directory,)]


@pytest.mark.parametrize('directory', ['mnt', '/srv/../etc', '/srv/a"\n/etc/** rwk,', '/srv/a b'])
def test_image_mounts_absolute(directory):
    assert kvm_hardening_errors(hardening_params(image_mounts=['/var/lib/libvirt/nfs-images', directory])) == [
        "kvm_hardening_image_mounts[1] entry %r must be an absolute path without '..', holding only letters, "
        "digits and '/._@-' (it is written into AppArmor rules)." % (directory,)]


def account_params(**overrides):
    params = {'hostname': 'kvm1', 'admin_users': [], 'socket_group': 'libvirt', 'qemu_user': 'libvirt-qemu',
              'qemu_group': 'kvm', 'package_user': 'libvirt-qemu', 'package_group': 'kvm',
              'passwd': ['ops:x:1000:1000::/home/ops:/bin/bash', 'toor:x:0:0::/root:/bin/sh',
                         'qemu2:x:990:990::/:/usr/sbin/nologin'],
              'group': ['ops:x:1000:', 'wheel0:x:0:', 'qemu2:x:990:']}
    params.update(overrides)
    return params


def test_the_packages_accounts_need_no_lookup():
    assert account_errors(account_params(passwd=[], group=[])) == []
    assert account_lookups(account_params()) == ([], [])


def test_named_accounts_and_groups_are_looked_up_except_root_ones():
    params = account_params(admin_users=['ops'], socket_group='ops', qemu_user='qemu2', qemu_group='root')
    assert account_lookups(params) == (['ops', 'qemu2'], ['ops'])
    assert account_errors(params) == []


def test_missing_accounts_and_groups_are_named():
    errors = account_errors(account_params(admin_users=['ops', 'nobody1'], socket_group='nogroup1',
                                           qemu_user='noqemu', qemu_group='noqemugroup'))
    assert errors == [
        'kvm_host_libvirt_admin_users names accounts that do not exist on kvm1: nobody1. The role adds existing'
        ' accounts to the libvirt group and never creates one: create them first, or drop them from the list.',
        'kvm_host_socket_group=nogroup1: no such group on kvm1. The role does not create groups: create it first,'
        ' or keep the default libvirt.',
        "kvm_host_qemu_conf[user]=noqemu: no such account on kvm1, so QEMU could not start. Create it first, or"
        " keep the packages' libvirt-qemu.",
        "kvm_host_qemu_conf[group]=noqemugroup: no such group on kvm1, so QEMU could not start. Create it first,"
        " or keep the packages' kvm."]


def test_the_facts_lookups_give_the_same_answers_as_getent():
    """kvm_host_facts' accounts and groups ({name: id, or None}) in place of getent's lines."""
    facts = account_params(passwd={'ops': '1000', 'toor': '0', 'nobody1': None},
                           group={'nogroup1': None, 'wheel0': '0'})
    errors = account_errors(dict(facts, admin_users=['ops', 'nobody1'], socket_group='nogroup1'))
    assert [error.split('.')[0] for error in errors] == [
        'kvm_host_libvirt_admin_users names accounts that do not exist on kvm1: nobody1',
        'kvm_host_socket_group=nogroup1: no such group on kvm1']
    errors = account_errors(dict(facts, qemu_user='toor', qemu_group='wheel0'))
    assert [error.split(':')[0] for error in errors] == [
        'kvm_host_qemu_conf[user]=toor has uid 0 on kvm1', 'kvm_host_qemu_conf[group]=wheel0 has gid 0 on kvm1']
    assert account_errors(dict(facts, admin_users=['ops'])) == []


def test_root_under_another_name_is_root():
    errors = account_errors(account_params(qemu_user='toor', qemu_group='wheel0'))
    assert [error.split(':')[0] for error in errors] == [
        'kvm_host_qemu_conf[user]=toor has uid 0 on kvm1', 'kvm_host_qemu_conf[group]=wheel0 has gid 0 on kvm1']
    assert all('must not run as root (Q4)' in error for error in errors)


def test_keys_libvirt_does_not_know_are_named():
    errors = kvm_host_errors(host_params(qemu_conf={'max_files': 1, 'seccomp_sandbx': 1, 'zzz': 'a'},
                                         daemon_conf={'max_clients': 5, 'max_clientz': 5}))
    assert errors == [
        "kvm_host_qemu_conf keys seccomp_sandbx, zzz are not settings of libvirt's qemu.conf (as the lenses of libvirt"
        " 9.0.0 and 11.3.0 list them): check the spelling, or remove them.",
        "kvm_host_daemon_conf keys max_clientz are not settings of libvirt's libvirtd.conf (as the lenses of libvirt"
        " 9.0.0 and 11.3.0 list them): check the spelling, or remove them."]


@pytest.mark.parametrize('major, installed', [('12', None), ('13', '9.0.0'), ('12', '8.0.0')])
def test_keys_of_a_later_libvirt_are_refused_where_the_hosts_libvirt_lacks_them(major, installed):
    errors = kvm_host_errors(host_params(distribution_major_version=major, libvirt_version=installed,
                                         qemu_conf={'max_files': 1, 'auto_start_delay': 5, 'rdp_listen': '::1'}))
    source = 'installed' if installed else 'Debian 12 ships it'
    assert errors == [
        'kvm_host_qemu_conf keys auto_start_delay, rdp_listen are not settings of the qemu.conf of libvirt %s (%s): '
        'they came in a later release, and its lens would refuse them after the packages are installed. Remove '
        'them, or set them only for hosts with a newer libvirt.' % (installed or '9.0.0', source)]


@pytest.mark.parametrize('major, distribution, installed', [
    ('13', 'Debian', None),  # Debian 13 ships 11.3.0, which knows them
    ('12', 'Debian', '10.0.0'),  # a newer libvirt than the release's (backports): its lens decides
    ('9', 'RedHat', None),  # a release whose libvirt is not in the table: its lens decides
])
def test_keys_of_a_later_libvirt_pass_where_the_host_may_know_them(major, distribution, installed):
    assert kvm_host_errors(host_params(distribution=distribution, distribution_major_version=major,
                                       libvirt_version=installed, qemu_conf={'auto_start_delay': 5})) == []


@pytest.mark.parametrize('conf, shown', [
    ({'max_files': 'plenty'}, "[max_files] = 'plenty': libvirt reads max_files as a whole number, such as 4096."),
    ({'max_files': '4096'}, "[max_files] = '4096': libvirt reads max_files as a whole number"),
    ({'max_files': True}, "[max_files] = True: libvirt reads max_files as a whole number"),
    ({'vnc_tls': 2}, '[vnc_tls] = 2: libvirt reads vnc_tls as true or false (or 1 or 0), such as true.'),
    ({'vnc_tls': 'yes'}, "[vnc_tls] = 'yes': libvirt reads vnc_tls as true or false"),
    ({'vnc_password': 12}, '[vnc_password] = 12: libvirt reads vnc_password as a one-line string without a double'),
    ({'vnc_password': 'a"b'}, '[vnc_password] = \'a"b\': libvirt reads vnc_password as a one-line string'),
    ({'cgroup_controllers': 'cpu'}, "[cgroup_controllers] = 'cpu': libvirt reads cgroup_controllers as a list"),
    ({'max_core': 'lots'}, '[max_core] = \'lots\': libvirt reads max_core as a whole number or "unlimited"'),
])
def test_values_libvirt_would_read_as_another_kind_are_refused(conf, shown):
    errors = kvm_host_errors(host_params(qemu_conf=conf))
    assert len(errors) == 1 and errors[0].startswith('kvm_host_qemu_conf' + shown)


@pytest.mark.parametrize('conf', [{'max_files': 0}, {'vnc_tls': True}, {'vnc_tls': 0}, {'max_core': 'unlimited'},
                                  {'max_core': 1024}, {'cgroup_controllers': ['cpu', 'memory']}, {'vnc_password': None}])
def test_values_of_the_right_kind_pass(conf):
    assert kvm_host_errors(host_params(qemu_conf=conf)) == []


def test_the_daemon_table_is_for_libvirtd_conf_only():
    params = host_params(layout='modular', layouts_available=['modular'], daemon_conf={'virtqemud_only_key': 1})
    assert kvm_host_errors(params) == []


POOLS_NOW = {'default': {'state': 'active', 'autostart': 'yes', 'path': '/var/lib/libvirt/images'},
             'transient': {'state': 'active', 'autostart': 'no', 'path': None}}


def test_pools_matching_libvirt_or_new_pass():
    pools = [{'name': 'default', 'path': '/var/lib/libvirt/images/'}, {'name': 'transient', 'path': '/srv/t'},
             {'name': 'tenants', 'path': '/srv/tenants'}]
    assert kvm_host_errors(host_params(storage_pools=pools, pools_now=POOLS_NOW)) == []


def test_pool_libvirt_has_at_another_path_is_refused():
    errors = kvm_host_errors(host_params(storage_pools=[{'name': 'default', 'path': '/srv/elsewhere'}], pools_now=POOLS_NOW))
    assert errors == ["kvm_host_storage_pools[0] entry 'default': libvirt already has a pool default at "
                      "/var/lib/libvirt/images, not /srv/elsewhere. The role does not move a pool: give that path, "
                      "or another name."]


def test_directory_of_another_libvirt_pool_is_refused():
    errors = kvm_host_errors(host_params(storage_pools=[{'name': 'images', 'path': '/var/lib/libvirt/images'}],
                                         pools_now=POOLS_NOW))
    assert errors == ["kvm_host_storage_pools[0] entry 'images': /var/lib/libvirt/images is already the directory of "
                      "libvirt's pool default, and libvirt keeps one pool per directory. Name the entry default, or "
                      "give another path."]


@pytest.fixture
def migrating(tmp_path):
    """Migration on, over TLS, with every file on the controller and the address on eth1; the
    server certificate names the addresses the tests migrate on."""
    ca = Authority()
    server_names = ['DNS:hv01', 'IP:192.0.2.11', 'IP:2001:db8::11', 'IP:198.51.100.7']
    texts = {'ca': ca.pem(), 'cert': ca.issue('hv01', server_names),
             'key': 'x', 'client-cert': ca.issue('hv01', ['DNS:hv01'], usages=['clientAuth']), 'client-key': 'x'}
    paths = {}
    for name in ('ca', 'cert', 'key', 'client-cert', 'client-key'):
        paths[name] = tmp_path / (name + '.pem')
        paths[name].write_text(texts[name])

    def params(**changes):
        base = dict(
            tls_enabled=True, tls_allowed_dn_list=['CN=hv02,O=fleet'],
            tls_files={'kvm_hardening_tls_ca_cert': str(paths['ca']), 'kvm_hardening_tls_server_cert': str(paths['cert']),
                       'kvm_hardening_tls_server_key': str(paths['key'])},
            migration_enabled=True, migration_address='192.0.2.11',
            migration_files={'kvm_hardening_tls_client_cert': str(paths['client-cert']),
                             'kvm_hardening_tls_client_key': str(paths['client-key'])},
            host_addresses={'eth0': {'ipv4': ['10.0.0.5/24'], 'ipv6_global': []},
                            'eth1': {'ipv4': ['192.0.2.11/24'], 'ipv6_global': ['2001:db8::11/64']}},
            addresses_complete=True,
            # As validate.yml reads them: the certificates that exist, through the file lookup.
            certificates={'kvm_hardening_tls_ca_cert': texts['ca'], 'kvm_hardening_tls_server_cert': texts['cert'],
                          'kvm_hardening_tls_client_cert': texts['client-cert']})
        base.update(changes)
        return hardening_params(**base)
    return params


def test_migration_over_tls_on_an_address_of_the_host_passes(migrating):
    assert kvm_hardening_errors(migrating()) == []
    assert kvm_hardening_errors(migrating(migration_address='2001:db8:0:0::11')) == []
    # Facts without the addresses (ip missing on the host): the address cannot be checked here.
    assert kvm_hardening_errors(migrating(migration_address='198.51.100.7', addresses_complete=False)) == []


def test_migration_without_tls_is_refused_with_the_ssh_alternative(migrating):
    errors = kvm_hardening_errors(migrating(tls_enabled=False))
    assert len(errors) == 1
    assert errors[0].startswith('kvm_hardening_migration_enabled is true but kvm_hardening_tls_enabled is false')
    assert 'qemu+ssh://HOST/system' in errors[0]


def test_migration_needs_the_client_certificate_and_key(migrating):
    errors = kvm_hardening_errors(migrating(migration_files={'kvm_hardening_tls_client_cert': '',
                                                             'kvm_hardening_tls_client_key': '/nonexistent/k.pem'}))
    assert errors == [
        'kvm_hardening_migration_enabled is true, so kvm_hardening_tls_client_cert (files on the controller: the '
        'client certificate this host connects to the other hosts with, signed by the same CA, and its key) must '
        'be set (L8).',
        'kvm_hardening_tls_client_key=/nonexistent/k.pem: no such file on the controller.']


@pytest.mark.parametrize('address, rule', [
    ('', 'not an IP address'),
    ('hv01.example', 'not an IP address'),
    ('192.0.2.11\n', 'not an IP address'),
    (7, 'not an IP address'),
    ('0.0.0.0', 'wildcard, loopback, link-local or multicast'),
    ('::', 'wildcard, loopback, link-local or multicast'),
    ('127.0.0.1', 'wildcard, loopback, link-local or multicast'),
    ('fe80::1', 'wildcard, loopback, link-local or multicast'),
    ('239.1.1.1', 'wildcard, loopback, link-local or multicast'),
    ('198.51.100.7', 'is not an address of hv01 (it has 10.0.0.5, 192.0.2.11, 2001:db8::11)'),
])
def test_migration_address_is_one_of_the_hosts_own(migrating, address, rule):
    errors = kvm_hardening_errors(migrating(migration_address=address))
    assert len(errors) == 1
    assert errors[0].startswith('kvm_hardening_migration_address=')
    assert rule in errors[0]


@pytest.mark.parametrize('low, high, rule', [
    (49215, 49152, 'must lie within 1024-65535, its first port no higher than its last'),
    (80, 100, 'must lie within 1024-65535'),
    (60000, 70000, 'must lie within 1024-65535'),
    (16000, 17000, "takes libvirt's own port 16509, 16514"),
    ('many', 49215, 'must be whole numbers'),
    (True, 49215, 'must be whole numbers'),
])
def test_migration_ports_form_a_range_of_their_own(migrating, low, high, rule):
    errors = kvm_hardening_errors(migrating(migration_port_min=low, migration_port_max=high))
    assert len(errors) == 1
    assert errors[0].startswith('kvm_hardening_migration_port_min=')
    assert rule in errors[0]


def test_migration_keys_belong_to_kvm_hardening():
    errors = kvm_host_errors(host_params(qemu_conf={'migration_address': '0.0.0.0'}))
    assert errors and 'sets a key kvm_hardening owns' in errors[0]


def test_migration_off_checks_none_of_its_settings():
    assert kvm_hardening_errors(hardening_params(migration_address='0.0.0.0', migration_port_min=1)) == []


def test_migration_needs_a_server_certificate_naming_the_address(migrating):
    ca = Authority()
    errors = kvm_hardening_errors(migrating(
        migration_address='192.0.2.11',
        certificates={'kvm_hardening_tls_ca_cert': ca.pem(),
                      'kvm_hardening_tls_server_cert': ca.issue('hv01', ['DNS:hv01']),
                      'kvm_hardening_tls_client_cert': ca.issue('hv01', [], usages=['clientAuth'])}))
    assert len(errors) == 1
    assert errors[0].startswith('kvm_hardening_tls_server_cert=')
    assert 'does not name kvm_hardening_migration_address=192.0.2.11' in errors[0]


def test_certificates_are_checked_only_on_an_address_that_passed(migrating):
    # The address is the thing to fix first: no second message about a certificate not naming it.
    errors = kvm_hardening_errors(migrating(migration_address='198.51.100.99', certificates={
        'kvm_hardening_tls_server_cert': 'not a certificate'}))
    assert len(errors) == 1 and errors[0].startswith('kvm_hardening_migration_address=')


@pytest.mark.parametrize('directory', ['backups', '/srv/../etc', '/srv/b"\n/etc/** rwk,', '/srv/(.*)'])
def test_backup_dirs_absolute(directory):
    assert kvm_hardening_errors(hardening_params(backup_dirs=['/var/lib/libvirt/backups', directory])) == [
        "kvm_hardening_backup_dirs[1] entry %r must be an absolute path without '..', holding only letters, "
        "digits and '/._@-' (it is written into AppArmor rules and SELinux file-context patterns)." % (directory,)]
