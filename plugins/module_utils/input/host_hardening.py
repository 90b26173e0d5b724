# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Input checks of kvm_host and kvm_hardening that the argument specs cannot express.

Each check returns messages that start from the variable to fix. Patterns match the whole
string: Python's `$` would let a trailing newline through.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os
import re

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_conf_edit import (
    normalize_value, render_value)
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input import libvirt_keys, storage_pools

OCTAL_MODE = re.compile(r'0?[0-7]{3}')
# A libvirt config key (qemu.conf, libvirtd.conf): what its augeas lens and the parser accept.
CONF_KEY = re.compile(r'[A-Za-z][A-Za-z0-9_]*')
# Paths that end up in AppArmor rules, SELinux file-context regexes, systemd units and domain
# XML: no quotes, spaces, control characters or regex and glob characters.
SAFE_PATH = re.compile(r'/[A-Za-z0-9_./@-]*')
LOOPBACK = ('127.0.0.1', '::1', 'localhost')
# The libvirt each release ships: which config keys a host's files know before libvirt is there.
LIBVIRT_OF_RELEASE = {('Debian', '12'): '9.0.0', ('Debian', '13'): '11.3.0'}
# qemu.conf keys kvm_hardening owns; kvm_host_qemu_conf must leave them to it.
HARDENING_QEMU_KEYS = ('security_driver', 'security_default_confined', 'security_require_confined',
                       'seccomp_sandbox', 'namespaces', 'cgroup_device_acl',
                       # L8, live migration
                       'migrate_tls_force', 'migration_address', 'migration_host', 'migration_port_min',
                       'migration_port_max', 'default_tls_x509_cert_dir', 'default_tls_x509_verify',
                       'migrate_tls_x509_cert_dir', 'migrate_tls_x509_verify')
# libvirt's own remote ports: a migration port range must leave them out.
LIBVIRT_PORTS = (16509, 16514)
# libvirtd.conf keys with a variable of their own (the socket drop-ins read the kvm_host_socket_*
# variables, kvm_hardening writes the rest): set in kvm_host_daemon_conf they would disagree
# with it, and the two roles would flip them on every run.
OWNED_DAEMON_KEYS = ('unix_sock_group', 'unix_sock_rw_perms', 'unix_sock_ro_perms', 'unix_sock_admin_perms',
                     'listen_tcp', 'listen_tls', 'auth_tcp', 'tls_allowed_dn_list', 'tls_no_verify_certificate',
                     'audit_logging')


def is_octal_mode(value):
    return isinstance(value, str) and OCTAL_MODE.fullmatch(value) is not None


def as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def is_root(value):
    """A user or group that is root: the name, or any number reading 0 ('0', '00', '+0')."""
    text = str(value).strip()
    return text == 'root' or as_int(text) == 0


def as_bool(value):
    """Ansible's boolean reading of a value: yes/no, true/false, on/off, 1/0."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ('1', 'true', 'yes', 'on', 'y', 't')


def has_dotdot(path):
    return '..' in path.split('/')


def is_safe_path(path):
    return isinstance(path, str) and SAFE_PATH.fullmatch(path) is not None and not has_dotdot(path)


# How each kind of value in libvirt_keys reads, and an example of it.
KINDS = {
    'boolean': ('true or false (or 1 or 0)', 'true'),
    'integer': ('a whole number', '4096'),
    'limit': ('a whole number or "unlimited"', '4096'),
    'string': ('a one-line string without a double quote', '"/var/lib/libvirt/qemu"'),
    'list': ('a list of strings without double quotes', '["mount"]'),
}


def is_kind(value, kind):
    """Whether value is of a kind libvirt's lens takes for a key (libvirt_keys). libvirt_conf
    writes a boolean as 1 or 0 and a string in double quotes; the lens takes no other quote."""
    def clean(item):
        return isinstance(item, str) and '"' not in item and '\n' not in item

    integer = isinstance(value, int) and not isinstance(value, bool)
    return {
        'boolean': isinstance(value, bool) or (integer and value in (0, 1)),
        'integer': integer,
        'limit': integer or value == 'unlimited',
        'string': clean(value),
        'list': isinstance(value, list) and all(clean(item) for item in value),
    }[kind]


def libvirt_release(params):
    """(version, where it comes from) of the host's libvirt: the installed libvirt-daemon's,
    else the one its release ships; (None, None) when neither is known."""
    if params.get('libvirt_version'):
        return params['libvirt_version'], 'installed'
    shipped = LIBVIRT_OF_RELEASE.get((params.get('distribution'), str(params.get('distribution_major_version'))))
    if shipped:
        return shipped, '%s %s ships it' % (params['distribution'], params['distribution_major_version'])
    return None, None


def version_key(version):
    """(major, minor) of a libvirt version: releases add config keys, micro releases do not."""
    return tuple(int(part) for part in re.findall(r'\d+', version)[:2])


def known_key_errors(var, conf, known, file_name, lacking, release):
    """Keys libvirt's file does not know, and values of a kind its lens refuses. known: {key:
    kinds} from libvirt_keys; lacking: {key: newest libvirt release without it}; release: the
    host's libvirt (libvirt_release). The lens on the host has the last word; this table lets
    the preflight refuse them before anything is installed."""
    errors = []
    unknown = sorted(key for key in conf if key not in known)
    if unknown:
        errors.append('%s keys %s are not settings of libvirt\'s %s (as the lenses of libvirt %s list them): check '
                      'the spelling, or remove them.' % (var, ', '.join(unknown), file_name, libvirt_keys.RELEASES))
    version, source = release
    too_new = sorted(key for key in conf if version and key in lacking
                     and version_key(version) <= version_key(lacking[key]))
    if too_new:
        errors.append('%s keys %s are not settings of the %s of libvirt %s (%s): they came in a later release, '
                      'and its lens would refuse them after the packages are installed. Remove them, or set them '
                      'only for hosts with a newer libvirt.' % (var, ', '.join(too_new), file_name, version, source))
    for key in sorted(key for key in conf if key in known and conf[key] is not None):
        if not any(is_kind(conf[key], kind) for kind in known[key]):
            wanted = ' or '.join(KINDS[kind][0] for kind in known[key])
            errors.append('%s[%s] = %r: libvirt reads %s as %s, such as %s.'
                          % (var, key, conf[key], key, wanted, KINDS[known[key][0]][1]))
    return errors


def conf_key_errors(var, conf):
    """Keys that are not libvirt config keys: a newline or '=' in a key would write a second setting."""
    if not isinstance(conf, dict):
        return ['%s must be a mapping of libvirt config keys to values, not %r.' % (var, conf)]
    bad = sorted(repr(key) for key in conf if not isinstance(key, str) or CONF_KEY.fullmatch(key) is None)
    if bad:
        return ['%s keys %s are not libvirt config keys: a key is a letter, then letters, digits and '
                "'_' (such as max_files). Fix or remove them." % (var, ', '.join(bad))]
    errors = []
    # The same rules libvirt_conf writes by: a value it cannot write fails here, before any change.
    for key in sorted(key for key in conf if conf[key] is not None):
        try:
            render_value(normalize_value(key, conf[key]))
        except ValueError as exc:
            errors.append('%s[%s] = %r cannot be written as a libvirt value (%s): use a boolean, a number, a '
                          'one-line string without both quote characters, or a list of those.'
                          % (var, key, conf[key], str(exc).split(': ', 1)[-1]))
    return errors


def qemu_conf_weakening_errors(conf):
    """kvm_host_qemu_conf setting a key kvm_hardening owns, or a value that weakens a control.
    Both roles refuse it: kvm_host alone, and kvm_hardening where kvm_host's variables are set."""
    conf = conf if isinstance(conf, dict) else {}
    weakened = (
        any(key in conf for key in HARDENING_QEMU_KEYS)
        or is_root(conf.get('user', 'libvirt-qemu'))
        or is_root(conf.get('group', 'kvm'))
        or ('cgroup_controllers' in conf and not conf['cgroup_controllers'])
        or not as_bool(conf.get('dynamic_ownership', True))
        or not as_bool(conf.get('remember_owner', True))
        or conf.get('stdio_handler', 'logd') != 'logd'
        or conf.get('vnc_listen', '127.0.0.1') not in LOOPBACK
        or conf.get('spice_listen', '127.0.0.1') not in LOOPBACK)
    if not weakened:
        return []
    return ['kvm_host_qemu_conf weakens the hardening baseline or sets a key kvm_hardening owns (%s): '
            'QEMU must not run as root (Q4), keep its cgroup controllers, keep dynamic_ownership and '
            'remember_owner (Q5), log '
            'through virtlogd (Q9) and keep consoles on loopback (L7). Set the owned keys through the '
            'kvm_hardening_* variables instead.' % ', '.join(HARDENING_QEMU_KEYS)]


def kvm_host_errors(params):
    """params: layout, layouts_available, distribution, distribution_major_version, libvirt_version
    (installed, or None), socket_modes {var: value}, hugepages_2m_count, qemu_conf, daemon_conf,
    and the pools' values storage_pools.pool_errors reads."""
    release = libvirt_release(params)
    errors = (conf_key_errors('kvm_host_qemu_conf', params['qemu_conf'])
              or known_key_errors('kvm_host_qemu_conf', params['qemu_conf'], libvirt_keys.QEMU_CONF, 'qemu.conf',
                                  libvirt_keys.QEMU_CONF_LACKING, release))
    # Refused here too, so kvm_host used without kvm_hardening does not weaken a control.
    if not errors:
        errors.extend(qemu_conf_weakening_errors(params['qemu_conf']))
    daemon_errors = conf_key_errors('kvm_host_daemon_conf', params['daemon_conf'])
    if not daemon_errors and params['layout'] == 'monolithic':
        # The table has libvirtd.conf's keys; the modular daemons' files have their own.
        daemon_errors = known_key_errors('kvm_host_daemon_conf', params['daemon_conf'], libvirt_keys.DAEMON_CONF,
                                         'libvirtd.conf', libvirt_keys.DAEMON_CONF_LACKING, release)
    errors.extend(daemon_errors)
    if params['layout'] not in params['layouts_available']:
        errors.append('kvm_host_daemon_layout=%s is not available on %s: its libvirt packages ship only %s.'
                      % (params['layout'], params['distribution'], ', '.join(params['layouts_available'])))
    for var in sorted(params['socket_modes']):
        value = params['socket_modes'][var]
        if not is_octal_mode(value):
            errors.append('%s=%s must be an octal mode string such as "0770".' % (var, value))
        elif var != 'kvm_host_socket_ro_mode' and int(value, 8) & 0o007:
            errors.append('%s=%s lets every local user manage libvirt, which is root on the host: give '
                          'others no permission ("0770" or "0700") and add the admins to '
                          'kvm_host_libvirt_admin_users.' % (var, value))
    daemon_conf = params['daemon_conf'] if isinstance(params['daemon_conf'], dict) else {}
    owned = sorted(key for key in daemon_conf if key in OWNED_DAEMON_KEYS)
    if owned:
        errors.append('kvm_host_daemon_conf sets %s, which have variables of their own: use kvm_host_socket_group '
                      'and kvm_host_socket_*_mode for the sockets, and the kvm_hardening_* variables for TCP, TLS '
                      'and audit settings.' % ', '.join(owned))
    if any(str(daemon_conf.get(key, 'polkit')).strip().lower() == 'none' for key in ('auth_unix_rw', 'auth_unix_ro')):
        errors.append('kvm_host_daemon_conf sets auth_unix_rw or auth_unix_ro to none: every user who can open the '
                      'socket would manage libvirt unchecked. Keep polkit (the default) or use sasl.')
    hugepages = as_int(params['hugepages_2m_count'])
    if hugepages is None or hugepages < 0:
        errors.append('kvm_host_hugepages_2m_count=%s must be 0 or more.' % params['hugepages_2m_count'])
    # Pools of every type, their uniqueness and libvirt's pools: a module of their own.
    errors.extend(storage_pools.pool_errors(params))
    return errors


def names_in(lines):
    """{name: id} of getent passwd or getent group lines, or of kvm_host_facts' accounts or
    groups ({name: id, or None for no such name})."""
    if isinstance(lines, dict):
        return dict((str(name), str(found)) for name, found in lines.items() if found is not None)
    entries = {}
    for line in lines or []:
        fields = line.split(':')
        if len(fields) > 2:
            entries[fields[0]] = fields[2]
    return entries


def account_lookups(params):
    """What the preflight asks getent: (accounts, groups) named by the input that the packages
    do not bring. params: admin_users, socket_group, qemu_user, qemu_group, package_user,
    package_group."""
    accounts = list(params['admin_users'])
    groups = [] if params['socket_group'] == 'libvirt' else [params['socket_group']]
    if str(params['qemu_user']) != params['package_user'] and not is_root(params['qemu_user']):
        accounts.append(str(params['qemu_user']))
    if str(params['qemu_group']) != params['package_group'] and not is_root(params['qemu_group']):
        groups.append(str(params['qemu_group']))
    return accounts, groups


def account_errors(params):
    """Accounts and groups the input names must exist (the roles never create one), and a QEMU
    account or group that is root under another name (uid or gid 0) is still root. params: as
    account_lookups, plus hostname and passwd and group: getent's lines, or kvm_host_facts'
    accounts and groups."""
    accounts, groups = account_lookups(params)
    users, group_ids = names_in(params['passwd']), names_in(params['group'])
    errors = []
    missing = [name for name in params['admin_users'] if name not in users]
    if missing:
        errors.append('kvm_host_libvirt_admin_users names accounts that do not exist on %s: %s. The role adds '
                      'existing accounts to the libvirt group and never creates one: create them first, or drop '
                      'them from the list.' % (params['hostname'], ', '.join(missing)))
    if params['socket_group'] in groups and params['socket_group'] not in group_ids:
        errors.append('kvm_host_socket_group=%s: no such group on %s. The role does not create groups: create it '
                      'first, or keep the default libvirt.' % (params['socket_group'], params['hostname']))
    for key, name, known, package in (('user', params['qemu_user'], users, params['package_user']),
                                      ('group', params['qemu_group'], group_ids, params['package_group'])):
        if str(name) not in (accounts if key == 'user' else groups):
            continue
        if str(name) not in known:
            errors.append('kvm_host_qemu_conf[%s]=%s: no such %s on %s, so QEMU could not start. Create it first, '
                          'or keep the packages\' %s.' % (key, name, 'account' if key == 'user' else 'group',
                                                          params['hostname'], package))
        elif known[str(name)] == '0':
            errors.append('kvm_host_qemu_conf[%s]=%s has %s 0 on %s: it is root under another name, and QEMU must '
                          'not run as root (Q4). Use an unprivileged %s such as %s.'
                          % (key, name, 'uid' if key == 'user' else 'gid', params['hostname'],
                             'account' if key == 'user' else 'group', package))
    return errors


def controller_file_errors(files):
    """{var: path}: a message for each path that is set but is no file on the controller."""
    return ['%s=%s: no such file on the controller.' % (var, files[var])
            for var in sorted(files) if files[var] and not os.path.isfile(str(files[var]))]


def host_address_list(addresses):
    """Every address in kvm_host_facts' network.addresses, without its prefix length."""
    found = []
    for entry in (addresses or {}).values():
        for cidr in list(entry.get('ipv4') or []) + list(entry.get('ipv6_global') or []):
            try:
                found.append(ipaddress.ip_interface(str(cidr)).ip)
            except ValueError:
                continue
    return found


def migration_errors(params):
    """L8: migration over TLS only, on an address of this host, on a port range of its own."""
    if not as_bool(params['migration_enabled']):
        return []
    errors = []
    if not as_bool(params['tls_enabled']):
        errors.append('kvm_hardening_migration_enabled is true but kvm_hardening_tls_enabled is false: migration '
                      'runs only over TLS here, never plain TCP (L8). Turn TLS on with its certificates, or leave '
                      'migration off and migrate over SSH (virsh migrate --live --p2p --tunnelled GUEST '
                      'qemu+ssh://HOST/system).')
    files = params['migration_files']
    unset = sorted(var for var in files if not files[var])
    if unset:
        errors.append('kvm_hardening_migration_enabled is true, so %s (files on the controller: the client '
                      'certificate this host connects to the other hosts with, signed by the same CA, and its '
                      'key) must be set (L8).' % ' and '.join(unset))
    errors.extend(controller_file_errors(files))
    address = params['migration_address']
    own = host_address_list(params['host_addresses'])
    try:
        parsed = ipaddress.ip_address(address if isinstance(address, str) else '')
    except ValueError:
        parsed = None
    if parsed is None:
        errors.append('kvm_hardening_migration_address=%r: not an IP address. Give this host\'s own address on '
                      'the migration network, such as 192.0.2.11 (L8).' % (address,))
    elif parsed.is_unspecified or parsed.is_loopback or parsed.is_link_local or parsed.is_multicast:
        errors.append('kvm_hardening_migration_address=%s: a wildcard, loopback, link-local or multicast address '
                      'would listen everywhere or nowhere the other hosts reach. Give this host\'s own address on '
                      'the migration network (L8).' % address)
    elif params['addresses_complete'] and parsed not in own:
        errors.append('kvm_hardening_migration_address=%s is not an address of %s (it has %s): incoming '
                      'migrations could not listen there. Give this host\'s own address on the migration '
                      'network.' % (address, params['hostname'], ', '.join(str(a) for a in own) or 'none'))
    else:
        # Here, not at the top: only a host with migration needs cryptography, a costly import
        # that every check of kvm_host's input would pay otherwise (plugins/filter/input_errors.py).
        from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.tls_certificates import (
            migration_certificate_errors)
        paths = dict(params['tls_files'], **files)
        errors.extend(migration_certificate_errors(paths, params['certificates'], address, params['hostname']))
    errors.extend(migration_port_errors(params['migration_port_min'], params['migration_port_max']))
    return errors


def migration_port_errors(low, high):
    """The migration port range: whole numbers within 1024-65535, in order, clear of libvirt's
    own ports. kvm_network checks the same range before its host guard opens it."""
    if isinstance(low, bool) or isinstance(high, bool) or as_int(low) is None or as_int(high) is None:
        return ['kvm_hardening_migration_port_min=%r and kvm_hardening_migration_port_max=%r must be whole '
                'numbers, such as 49152 and 49215.' % (low, high)]
    errors = []
    low, high = as_int(low), as_int(high)
    if not 1024 <= low <= high <= 65535:
        errors.append('kvm_hardening_migration_port_min=%d, kvm_hardening_migration_port_max=%d: the range '
                      'must lie within 1024-65535, its first port no higher than its last (libvirt\'s '
                      'default is 49152-49215).' % (low, high))
    clash = [port for port in LIBVIRT_PORTS if low <= port <= high]
    if clash:
        errors.append('kvm_hardening_migration_port_min=%d, kvm_hardening_migration_port_max=%d: the range '
                      'takes libvirt\'s own port %s. Use a range of its own, such as 49152-49215.'
                      % (low, high, ', '.join(str(port) for port in clash)))
    return errors


def kvm_hardening_errors(params):
    """params: mac, mac_name, mac_default, mac_enabled, mac_packages {mac: [packages]},
    distribution, host_qemu_conf, ksm_disabled, host_ksm_enabled, ip_forward,
    host_default_network_enabled, tls_enabled, tls_files {var: path}, tls_allowed_dn_list,
    image_dirs, backup_dirs, image_mounts, and for migration (L8): migration_enabled, migration_address,
    migration_port_min, migration_port_max, migration_files {var: path}, hostname,
    host_addresses (kvm_host_facts' network.addresses), addresses_complete and certificates
    {var: PEM text} of the CA, server and client certificates that exist on the controller.
    Controller paths are checked with os.path.isfile."""
    errors = []
    if as_bool(params['mac_enabled']) and not params['mac_packages'].get(params['mac_name']):
        errors.append('kvm_hardening_mac=%s: %s is not available on %s; use %s.'
                      % (params['mac'], params['mac_name'], params['distribution'], params['mac_default']))
    errors.extend(qemu_conf_weakening_errors(params['host_qemu_conf']))
    if as_bool(params['ksm_disabled']) and as_bool(params['host_ksm_enabled']):
        errors.append('kvm_host_ksm_enabled is true but kvm_hardening_ksm_disabled is true (H2: shared pages are '
                      'a side channel between tenants). Set one of them the other way.')
    if not as_bool(params['ip_forward']) and as_bool(params['host_default_network_enabled']):
        errors.append('kvm_host_default_network_enabled is true, but its NAT needs IP forwarding and '
                      'kvm_hardening_ip_forward is false (H4). Set kvm_hardening_ip_forward: true to record '
                      'that decision, or drop the default network.')
    if as_bool(params['tls_enabled']):
        files = params['tls_files']
        if not all(files.values()) or not params['tls_allowed_dn_list']:
            errors.append('kvm_hardening_tls_enabled is true, so kvm_hardening_tls_ca_cert, '
                          'kvm_hardening_tls_server_cert and kvm_hardening_tls_server_key (files on the '
                          'controller) and kvm_hardening_tls_allowed_dn_list (client certificate DNs allowed in) '
                          'must all be set (L3).')
        else:
            errors.extend(controller_file_errors(files))
    errors.extend(migration_errors(params))
    for var, directories, written_into in (
            ('kvm_hardening_image_dirs', params['image_dirs'], 'AppArmor rules and SELinux file-context patterns'),
            ('kvm_hardening_backup_dirs', params.get('backup_dirs') or [],
             'AppArmor rules and SELinux file-context patterns'),
            ('kvm_hardening_image_mounts', params.get('image_mounts') or [], 'AppArmor rules')):
        for index, directory in enumerate(directories):
            if not is_safe_path(directory):
                errors.append("%s[%d] entry %r must be an absolute path without '..', holding only letters, digits "
                              "and '/._@-' (it is written into %s)." % (var, index, directory, written_into))
    return errors
