# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host-side controls of the hardening baseline (H, L, Q, S, N).

Each check returns (status, evidence). A control passes only on evidence
read from the host; what cannot be seen is `unknown`, what the host lacks
the piece for is `not_applicable`, with the reason in the evidence.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import os

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.host_validate import run_host_validate
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_conf import ConfError
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network_facts import is_loopback
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.systemd_units import last
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.audit_context import LAYOUTS, QEMU_NS, parse_xml

PASS, FAIL, NA, UNKNOWN = 'pass', 'fail', 'not_applicable', 'unknown'
STATUSES = (PASS, FAIL, NA, UNKNOWN)

# libvirt's documented defaults (qemu.conf.in, libvirtd.conf.in) for settings
# the audit reads; evidence always says when a default was assumed.
DEFAULT_DEVICE_ACL = frozenset([
    '/dev/null', '/dev/full', '/dev/zero', '/dev/random', '/dev/urandom', '/dev/ptmx', '/dev/kvm',
    '/dev/userfaultfd', '/dev/rtc', '/dev/hpet', '/dev/vfio/vfio', '/dev/sev',
])
LOOPBACK_NAMES = ('127.0.0.1', '::1', 'localhost')


def setting(conf, key, default):
    """(value, text for evidence) of a libvirt setting, saying when the default applies."""
    if conf is not None and key in conf:
        return conf[key], '%s = %s' % (key, json.dumps(conf[key]))
    return default, '%s not set (libvirt default %s)' % (key, json.dumps(default))


def joined(items):
    return '; '.join(items)


def no_qemu_driver(ctx):
    if not ctx.libvirt_installed:
        return NA, 'libvirt is not installed'
    if ctx.qemu_conf is None:
        return NA, '/etc/libvirt/qemu.conf absent: libvirt QEMU driver not installed'
    return None


# ---------------------------------------------------------------- H: host
def h1_mac(ctx):
    sec = ctx.security
    if sec['selinux']['enabled']:
        mode, policy = sec['selinux']['mode'], sec['selinux']['policy']
        evidence = 'SELinux %s, policy %s' % (mode, policy)
        return (PASS if mode == 'enforcing' else FAIL), evidence
    if sec['apparmor']['enabled']:
        aa = sec['apparmor']
        daemon = 'virtqemud' if ctx.layout_name == 'modular' else 'libvirtd'
        profiles = {daemon: aa[daemon], 'virt-aa-helper': aa['virt_aa_helper']}
        evidence = 'AppArmor enabled; ' + ', '.join('%s profile: %s' % (k, v or 'not loaded') for k, v in sorted(profiles.items()))
        if not ctx.libvirt_installed:
            return NA, evidence + '; libvirt not installed'
        return (PASS if all(v == 'enforce' for v in profiles.values()) else FAIL), evidence
    if not sec['lsm_visible'] and ctx.container:
        return FAIL, ('no SELinux or AppArmor visible inside this %s container (/sys/kernel/security/lsm '
                      'not readable); guests here run without MAC confinement' % ctx.container)
    return FAIL, 'neither SELinux nor AppArmor is enabled (LSM stack: %s)' % (','.join(sec['lsm']) or 'none visible')


def h2_ksm(ctx):
    run = ctx.fs.read_int('/sys/kernel/mm/ksm/run')
    if run is None:
        return NA, '/sys/kernel/mm/ksm/run absent: kernel without KSM'
    evidence = '/sys/kernel/mm/ksm/run = %d' % run
    if ctx.fs.exists('/etc/systemd/system/multi-user.target.wants/ksmtuned.service'):
        return FAIL, evidence + '; ksmtuned.service is enabled and will turn KSM on'
    return (PASS if run != 1 else FAIL), evidence


def h3_dev_kvm(ctx):
    info = ctx.fs.owner_info('/dev/kvm')
    if info is None:
        return NA, '/dev/kvm absent'
    evidence = '/dev/kvm %s:%s %s' % (info['owner'], info['group'], info['mode'])
    ok = info['owner'] == 'root' and info['group'] == 'kvm' and info['mode'] == '0660'
    return (PASS if ok else FAIL), evidence


def h4_forwarding(ctx):
    value = ctx.fs.read_int('/proc/sys/net/ipv4/ip_forward')
    if value is None:
        return UNKNOWN, '/proc/sys/net/ipv4/ip_forward not readable'
    if value == 0:
        return PASS, 'net.ipv4.ip_forward = 0'
    routed = [net['name'] + ' (' + net['forward'] + ')' for net in ctx.networks
              if net['forward'] in ('nat', 'route') and (net['active'] or net['autostart'])]
    if routed:
        return PASS, 'net.ipv4.ip_forward = 1, needed by libvirt network(s): ' + ', '.join(routed)
    return FAIL, 'net.ipv4.ip_forward = 1 but no active or autostarted libvirt NAT/routed network needs it'


def h5_host_validate(ctx):
    if not ctx.options.get('virt_host_validate', True):
        return UNKNOWN, 'virt-host-validate not run (virt_host_validate=false)'
    result = run_host_validate(ctx.fs, ctx.runner)
    if not result['installed']:
        return NA, 'virt-host-validate not installed (libvirt-clients)'
    fails = ['%s (%s)' % (c['check'], c['detail']) if c['detail'] else c['check']
             for c in result['checks'] if c['result'] == 'FAIL']
    warns = [c['check'] for c in result['checks'] if c['result'] == 'WARN']
    evidence = 'virt-host-validate qemu: %(PASS)d PASS, %(WARN)d WARN, %(FAIL)d FAIL' % result['counts']
    if fails:
        return FAIL, evidence + '; FAIL: ' + joined(fails)
    if not result['checks']:
        return UNKNOWN, 'virt-host-validate printed no checks (rc %s)' % result['rc']
    return PASS, evidence + ('; WARN: ' + joined(warns) if warns else '')


# ---------------------------------------------------------------- L: libvirt daemon
def l1_layout(ctx):
    if not ctx.libvirt_installed:
        return NA, 'libvirt is not installed'
    mono = ctx.unit_state('libvirtd.socket') == 'enabled' or ctx.unit_state('libvirtd.service') == 'enabled'
    modular = ctx.unit_state('virtqemud.socket') == 'enabled' or ctx.unit_state('virtqemud.service') == 'enabled'
    evidence = 'layout in use: %s; libvirtd enabled: %s, virtqemud enabled: %s; socket activation: %s' % (
        ctx.layout_name, mono, modular, ctx.socket_activation)
    if mono and modular:
        return FAIL, evidence + ' (both layouts enabled: they fight over the sockets)'
    return PASS, evidence


def _socket_unit_states(ctx, kind):
    # Both layouts' remote sockets count: an enabled one of the unused layout still listens.
    return dict((layout[kind], ctx.unit_state(layout[kind])) for layout in LAYOUTS.values())


def l2_no_tcp(ctx):
    if not ctx.libvirt_installed:
        return NA, 'libvirt is not installed'
    problems = []
    states = _socket_unit_states(ctx, 'tcp')
    evidence = ['%s: %s' % item for item in sorted(states.items()) if item[1] != 'not-found']
    for unit, state in states.items():
        if state == 'enabled':
            problems.append('%s is enabled' % unit)
        elif state == 'disabled':
            problems.append('%s is not masked' % unit)
    listeners = ctx.listening([16509])
    evidence.append('listeners on 16509: %s' % (', '.join(l['address'] for l in listeners) or 'none'))
    if listeners:
        problems.append('something listens on 16509')
    listen_tcp, text = setting(ctx.remote_conf, 'listen_tcp', 0)
    if ctx.socket_activation:
        evidence.append(text + ' (ignored: socket activation)')
    else:
        evidence.append(text)
        if listen_tcp == 1:
            problems.append('listen_tcp = 1')
    return (FAIL if problems else PASS), joined(problems + evidence)


def _tls_on(ctx):
    states = _socket_unit_states(ctx, 'tls')
    listeners = ctx.listening([16514])
    listen_tls = not ctx.socket_activation and (ctx.remote_conf or {}).get('listen_tls') == 1 and \
        ctx.fs.exists('/etc/default/libvirtd') and '--listen' in (ctx.fs.read('/etc/default/libvirtd') or '')
    return bool(listeners) or 'enabled' in states.values() or listen_tls, states, listeners


def l3_remote_tls(ctx):
    if not ctx.libvirt_installed:
        return NA, 'libvirt is not installed'
    tls_on, states, listeners = _tls_on(ctx)
    if not tls_on:
        return PASS, 'TLS remote access off (%s; nothing listens on 16514): remote management only over SSH' % (
            ', '.join('%s: %s' % item for item in sorted(states.items())))
    conf = ctx.remote_conf or {}
    problems = []
    if conf.get('tls_no_verify_certificate') == 1:
        problems.append('tls_no_verify_certificate = 1')
    if not conf.get('tls_allowed_dn_list'):
        problems.append('tls_allowed_dn_list not set')
    for key, default in (('ca_file', '/etc/pki/CA/cacert.pem'), ('cert_file', '/etc/pki/libvirt/servercert.pem'),
                         ('key_file', '/etc/pki/libvirt/private/serverkey.pem')):
        path = conf.get(key, default)
        if not ctx.fs.exists(path):
            problems.append('%s missing (%s)' % (key, path))
    if conf.get('auth_tls') == 'sasl':
        sasl = ctx.fs.read('/etc/sasl2/libvirt.conf') or ''
        mechs = [line.split(':', 1)[1].split() for line in sasl.splitlines() if line.strip().startswith('mech_list:')]
        if not mechs or mechs[-1] != ['scram-sha-256']:
            problems.append('SASL mech_list is not scram-sha-256 only')
    evidence = 'TLS on (%s; listeners on 16514: %s)' % (
        ', '.join('%s: %s' % item for item in sorted(states.items())), ', '.join(l['address'] for l in listeners) or 'none')
    return (FAIL if problems else PASS), joined(problems + [evidence])


def _socket_result(ctx, role, mode_mask, want_group):
    unit, path = ctx.layout['sockets'][role]
    info = ctx.fs.owner_info(path)
    if info is not None:
        source = '%s %s:%s %s' % (path, info['owner'], info['group'], info['mode'])
        mode, group = int(info['mode'], 8), info['group']
    elif ctx.socket_activation:
        settings = ctx.socket_settings(unit)
        mode_text = last(settings, 'SocketMode', '0666')
        group = last(settings, 'SocketGroup', 'root')
        source = '%s not present; %s configures SocketMode=%s SocketGroup=%s' % (path, unit, mode_text, group)
        mode = int(mode_text, 8)
    else:
        key = {'rw': 'unix_sock_rw_perms', 'ro': 'unix_sock_ro_perms', 'admin': 'unix_sock_admin_perms'}[role]
        default = {'rw': '0700', 'ro': '0777', 'admin': '0700'}[role]
        mode_text, _text = setting(ctx.daemon_conf, key, default)
        group, _text = setting(ctx.daemon_conf, 'unix_sock_group', 'root')
        source = '%s not present; %s = %s, unix_sock_group = %s' % (path, key, mode_text, group)
        mode = int(str(mode_text), 8)
    problems = []
    if mode & mode_mask:
        problems.append('%s socket mode %04o grants more than allowed' % (role, mode))
    if want_group and group != want_group:
        problems.append('%s socket group %s, expected %s' % (role, group, want_group))
    return problems, source


def l4_unix_sockets(ctx):
    if not ctx.libvirt_installed:
        return NA, 'libvirt is not installed'
    problems, evidence = [], []
    for role, mask, group in (('rw', 0o007, 'libvirt'), ('ro', 0o007, None), ('admin', 0o077, None)):
        found, source = _socket_result(ctx, role, mask, group)
        problems.extend(found)
        evidence.append(source)
    auth, text = setting(ctx.daemon_conf, 'auth_unix_rw', None)
    if auth is None:
        if ctx.fs.exists('/usr/share/polkit-1/actions/org.libvirt.unix.policy'):
            evidence.append('auth_unix_rw not set: libvirt built with polkit (org.libvirt.unix.policy installed) uses polkit')
        else:
            problems.append('auth_unix_rw not set and no libvirt polkit policy installed')
    elif auth != 'polkit':
        problems.append(text)
    else:
        evidence.append(text)
    members = ctx.fs.group_members('libvirt')
    evidence.append('libvirt group members: %s' % (', '.join(members) if members else 'none'))
    return (FAIL if problems else PASS), joined(problems + evidence)


def l5_audit(ctx):
    if not ctx.libvirt_installed:
        return NA, 'libvirt is not installed'
    level, level_text = setting(ctx.daemon_conf, 'audit_level', 1)
    logging, logging_text = setting(ctx.daemon_conf, 'audit_logging', 0)
    auditd = ctx.process_running('auditd')
    evidence = [level_text, logging_text, 'auditd %s' % ('running' if auditd else 'not running')]
    problems = []
    if level < 1:
        problems.append('audit_level < 1')
    if auditd and logging != 1:
        problems.append('auditd runs but audit_logging != 1')
    return (FAIL if problems else PASS), joined(problems + evidence)


def l6_config_modes(ctx):
    if not ctx.fs.isdir('/etc/libvirt'):
        return NA, '/etc/libvirt absent: libvirt not installed'
    problems, seen = [], []
    for name in ctx.fs.listdir('/etc/libvirt'):
        if not name.endswith('.conf'):
            continue
        info = ctx.fs.owner_info('/etc/libvirt/' + name)
        if info is None:
            continue
        mode = int(info['mode'], 8)
        seen.append('%s %s:%s %s' % (name, info['owner'], info['group'], info['mode']))
        if info['owner'] != 'root':
            problems.append('%s owned by %s' % (name, info['owner']))
        if name == 'qemu.conf' and mode & 0o077:
            problems.append('qemu.conf mode %s (may hold passwords: want 0600)' % info['mode'])
        elif mode & 0o022:
            problems.append('%s writable by group or others (%s)' % (name, info['mode']))
    if not seen:
        return NA, 'no configuration files in /etc/libvirt'
    return (FAIL if problems else PASS), joined(problems + seen)


def l7_consoles(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    conf = ctx.qemu_conf
    problems, evidence = [], []
    auto_unix, text = setting(conf, 'vnc_auto_unix_socket', 0)
    evidence.append(text)
    for proto, tls_keys in (('vnc', ('vnc_tls', 'vnc_tls_x509_verify')), ('spice', ('spice_tls',))):
        listen, text = setting(conf, proto + '_listen', '127.0.0.1')
        evidence.append(text)
        if proto == 'vnc' and auto_unix == 1:
            continue
        if listen not in LOOPBACK_NAMES:
            off = [key for key in tls_keys if conf.get(key) != 1]
            if off:
                problems.append('%s_listen = %s without %s = 1' % (proto, listen, ' and '.join(off)))
    exposed = [l for l in ctx.listeners if 5900 <= l['port'] <= 5999 and not is_loopback(l['address'])]
    if exposed:
        problems.append('console ports on non-loopback addresses: ' + ', '.join(
            '%s:%d' % (l['address'], l['port']) for l in exposed))
    evidence.append('non-loopback 59xx listeners: %d' % len(exposed))
    return (FAIL if problems else PASS), joined(problems + evidence)


# The files QEMU's migration stream takes from its TLS directory.
QEMU_TLS_FILES = ('ca-cert.pem', 'server-cert.pem', 'server-key.pem', 'client-cert.pem', 'client-key.pem')


def l8_migration(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    conf = ctx.qemu_conf
    address = conf.get('migration_address')
    if address is None:
        return NA, 'migration is opt-in and migration_address is not set'
    problems = []
    if address in ('0.0.0.0', '::'):
        problems.append('migration_address = %s listens on every network' % address)
    force, force_text = setting(conf, 'migrate_tls_force', 0)
    if force != 1:
        problems.append('migrate_tls_force != 1: a guest may migrate over plain TCP')
    low, low_text = setting(conf, 'migration_port_min', 49152)
    high, high_text = setting(conf, 'migration_port_max', 49215)
    ports_valid = isinstance(low, int) and isinstance(high, int) and 1024 <= low <= high <= 65535
    if not ports_valid:
        problems.append('migration port range %s-%s is not a range within 1024-65535' % (low, high))
    elif any(low <= port <= high for port in (16509, 16514)):
        problems.append("migration port range %d-%d takes libvirt's own port" % (low, high))
    tls_dir = conf.get('migrate_tls_x509_cert_dir') or conf.get('default_tls_x509_cert_dir') or '/etc/pki/qemu'
    for name in QEMU_TLS_FILES:
        info = ctx.fs.owner_info('%s/%s' % (tls_dir, name))
        if info is None:
            problems.append('%s/%s missing' % (tls_dir, name))
        elif name.endswith('-key.pem') and int(info['mode'], 8) & 0o007:
            problems.append('%s/%s readable by others (%s)' % (tls_dir, name, info['mode']))
    if not (ctx.remote_conf or {}).get('tls_allowed_dn_list'):
        problems.append('tls_allowed_dn_list not set: any certificate of the CA may connect to migrate')
    # Incoming migrations listen only while one runs: any listener in the range must be on the address.
    stray = []
    if ports_valid:
        stray = ['%s:%d' % (l['address'], l['port']) for l in ctx.listeners
                 if low <= l['port'] <= high and l['address'] != address]
    if stray:
        problems.append('listeners in the migration port range off migration_address: ' + ', '.join(stray))
    evidence = ['migration_address = %s' % address, force_text, low_text, high_text,
                'QEMU TLS files in %s' % tls_dir]
    # The ports migrations arrive on take new connections from the migration peers alone.
    wanted = [(LIBVIRT_TLS_PORT, LIBVIRT_TLS_PORT)] + ([(low, high)] if ports_valid else [])
    ruleset, unreadable = ctx.nft_ruleset
    if ruleset is None:
        if not problems:
            return UNKNOWN, joined(['who may reach the migration ports is unknown: ' + unreadable] + evidence)
        problems.append(unreadable)
    else:
        guard_problems, guard_evidence = migration_guard(ruleset, wanted, ctx.options.get('migration_peers') or [])
        problems.extend(guard_problems)
        evidence.extend(guard_evidence)
    return (FAIL if problems else PASS), joined(problems + evidence)


# ---------------------------------------------------------------- L8: the firewall in front of migration
LIBVIRT_TLS_PORT = 16514
SADDR_LEFTS = ({'payload': {'protocol': 'ip', 'field': 'saddr'}}, {'payload': {'protocol': 'ip6', 'field': 'saddr'}})
TCP_DPORT_LEFT = {'payload': {'protocol': 'tcp', 'field': 'dport'}}


def _nft_parts(ruleset):
    """{(family, table, chain): chain}, {(family, table, chain): [exprs of each rule, in order]} and
    {(family, table, set): [its elements, each a string]}."""
    chains, rules, sets = {}, {}, {}
    for item in ruleset.get('nftables', []):
        if 'chain' in item:
            chain = item['chain']
            chains[(chain['family'], chain['table'], chain['name'])] = chain
        elif 'rule' in item:
            rule = item['rule']
            rules.setdefault((rule['family'], rule['table'], rule['chain']), []).append(rule.get('expr', []))
        elif 'set' in item:
            named = item['set']
            sets[(named['family'], named['table'], named['name'])] = [
                element if isinstance(element, str) else json.dumps(element) for element in named.get('elem', [])]
    return chains, rules, sets


def _verdict(exprs):
    for expr in exprs:
        for key in ('accept', 'drop', 'reject', 'return'):
            if key in expr:
                return key, None
        for key in ('jump', 'goto'):
            if key in expr:
                return key, expr[key]['target']
    return None, None


def _matches(exprs):
    return [expr['match'] for expr in exprs if 'match' in expr]


def _elements(right):
    """The values a match compares with: a set's elements, a list of flags, or the one value."""
    if isinstance(right, dict) and 'set' in right:
        return right['set']
    return right if isinstance(right, list) else [right]


def _port_ranges(match):
    """[(low, high)] a `tcp dport` match takes, or None when it takes anything else (a named set, !=)."""
    if match.get('op') not in ('==', 'in'):
        return None
    found = []
    for element in _elements(match.get('right')):
        if isinstance(element, int) and not isinstance(element, bool):
            found.append((element, element))
        elif isinstance(element, dict) and isinstance(element.get('range'), list):
            found.append(tuple(element['range']))
        else:
            return None
    return found


def _source_text(element):
    if isinstance(element, dict) and 'prefix' in element:
        return '%s/%s' % (element['prefix'].get('addr'), element['prefix'].get('len'))
    if isinstance(element, dict) and 'range' in element:
        return '-'.join(str(part) for part in element['range'])
    return str(element)


def _accept_scope(matches):
    """What an accepting rule limits itself to: ('sources', [text]), ('loopback', []),
    ('replies', []) or ('anyone', [])."""
    for match in matches:
        if match.get('left') in SADDR_LEFTS and match.get('op') in ('==', 'in'):
            return 'sources', [_source_text(element) for element in _elements(match.get('right'))]
    for match in matches:
        if (match.get('left') in ({'meta': {'key': 'iifname'}}, {'meta': {'key': 'iif'}})
                and match.get('op') == '==' and match.get('right') == 'lo'):
            return 'loopback', []
        if (match.get('left') == {'ct': {'key': 'state'}} and match.get('op') in ('==', 'in')
                and all(flag in ('established', 'related') for flag in _elements(match.get('right')))):
            return 'replies', []
    return 'anyone', []


def _source_chain(rules, name):
    """(sources, problems) of a chain the migration ports jump to: it may accept only replies,
    loopback and named sources, and must drop the rest."""
    sources, problems = [], []
    for exprs in rules:
        verdict, _target = _verdict(exprs)
        matches = _matches(exprs)
        if verdict in ('drop', 'reject') and not matches:
            return sources, problems
        if verdict == 'accept':
            scope, found = _accept_scope(matches)
            if scope == 'anyone':
                problems.append('chain %s accepts connections to the migration ports without naming their source'
                                % name)
            sources.extend(found if scope != 'loopback' else ['loopback'])
        elif verdict in ('jump', 'goto', 'return'):
            problems.append('chain %s hands the migration ports on (%s) instead of deciding' % (name, verdict))
    problems.append('chain %s does not drop the sources it does not name' % name)
    return sources, problems


def _same_sources(found, expected):
    def networks(values):
        parsed = []
        for value in values:
            if value == 'loopback':
                continue
            try:
                parsed.append(ipaddress.ip_network(value, strict=False))
            except ValueError:
                return None
        return sorted(ipaddress.collapse_addresses([net for net in parsed if net.version == 4]), key=str) + sorted(
            ipaddress.collapse_addresses([net for net in parsed if net.version == 6]), key=str)
    left = networks(found)
    return left is not None and left == networks(expected)


def migration_guard(ruleset, wanted, expected=None):
    """(problems, evidence): an input chain of family inet sends new TCP connections to each
    wanted port range to a chain that accepts them from named sources (and loopback) only and
    drops the rest, and no rule of that chain before it accepts them from anyone. (An accept in
    another base chain ends only that chain: a drop in this one still holds.)"""
    chains, rules, _sets = _nft_parts(ruleset)
    guards = {}
    for key, chain in sorted(chains.items()):
        if chain.get('hook') != 'input' or key[0] != 'inet':
            continue
        for low, high in wanted:
            earlier = []
            for exprs in rules.get(key, []):
                matches = _matches(exprs)
                verdict, target = _verdict(exprs)
                ports = [_port_ranges(match) for match in matches if match.get('left') == TCP_DPORT_LEFT]
                if ports and ports[0] is not None and not any(a <= high and low <= b for a, b in ports[0]):
                    continue
                if (verdict in ('jump', 'goto') and len(matches) == 1 and ports and ports[0]
                        and any(a <= low and high <= b for a, b in ports[0])):
                    guards.setdefault((key, target), []).append(((low, high), earlier))
                    break
                if verdict == 'accept' and _accept_scope(matches)[0] == 'anyone':
                    earlier.append('%s %s chain %s accepts TCP to %s before the source check'
                                   % (key[0], key[1], key[2], _port_text(low, high)))
    problems, evidence = [], []
    covered = [span for spans in guards.values() for span, _earlier in spans]
    for low, high in wanted:
        if (low, high) not in covered:
            problems.append('no inet input chain limits who may connect to %s: the host guard (table inet'
                            ' kvmcloud_guard of kvm_network) is not loaded or lacks its migration rule'
                            % _port_text(low, high))
    for (key, target), spans in sorted(guards.items()):
        for _span, earlier in spans:
            problems.extend(problem for problem in earlier if problem not in problems)
        sources, chain_problems = _source_chain(rules.get((key[0], key[1], target), []), target)
        problems.extend(chain_problems)
        evidence.append('%s %s: new TCP connections to %s only from %s' % (
            key[0], key[1], ', '.join(_port_text(*span) for span, _earlier in spans),
            ', '.join(sources) or 'no address'))
        if expected and not _same_sources(sources, expected):
            addresses = [source for source in sources if source != 'loopback']
            problems.append('the migration ports take connections from %s, not from the migration peers %s'
                            % (', '.join(addresses) or 'no address', ', '.join(expected)))
    return problems, evidence


def _port_text(low, high):
    return 'port %d' % low if low == high else 'ports %d-%d' % (low, high)


# ---------------------------------------------------------------- Q: QEMU confinement
def q1_security_driver(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    driver, text = setting(ctx.qemu_conf, 'security_driver', None)
    configured = driver if isinstance(driver, list) else ([driver] if driver else [])
    models = ctx.security_models
    evidence = [text if driver is not None else 'security_driver not set (libvirt picks the first available MAC driver)']
    if models is not None:
        evidence.append('virsh capabilities secmodels: ' + (', '.join(models) or 'none'))
    if 'none' in configured:
        return FAIL, joined(['security_driver includes "none"'] + evidence)
    real = [model for model in (models or []) if model in ('selinux', 'apparmor')]
    if models is not None:
        if not real:
            return FAIL, joined(['libvirt runs without a MAC security driver'] + evidence)
        if configured and not set(configured) & set(real):
            return FAIL, joined(['configured driver not active'] + evidence)
        return PASS, joined(evidence)
    # The daemon did not answer: judge by configuration and the LSM state.
    mac = ctx.security['mac']
    evidence.append('libvirt not queried (no daemon socket); active MAC: %s' % mac)
    if mac == 'none':
        return FAIL, joined(['no SELinux/AppArmor on this host for %s' % (', '.join(configured) or 'the driver')] + evidence)
    if configured and mac not in configured:
        return FAIL, joined(['security_driver does not match the active MAC (%s)' % mac] + evidence)
    return PASS, joined(evidence)


def q2_confinement(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    default_confined, text1 = setting(ctx.qemu_conf, 'security_default_confined', 1)
    require, text2 = setting(ctx.qemu_conf, 'security_require_confined', 0)
    problems = []
    if default_confined != 1:
        problems.append('security_default_confined != 1')
    if require != 1:
        problems.append('security_require_confined != 1')
    unconfined = [name for name, root in ctx.domains
                  if any(label.get('type') == 'none' for label in root.findall('seclabel'))]
    if unconfined:
        problems.append('domains with <seclabel type="none">: ' + ', '.join(unconfined))
    return (FAIL if problems else PASS), joined(problems + [text1, text2])


def q3_unique_labels(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    procs = ctx.qemu_processes
    if not procs:
        return NA, 'no running guests to inspect'
    problems, evidence, pairs = [], [], {}
    for proc in procs:
        label = proc.label or 'unconfined'
        evidence.append('%s: %s' % (proc.name, label))
        if ':svirt_t:' in label or ':svirt_tcg_t:' in label:
            mcs = label.split(':', 3)[3] if label.count(':') >= 3 else ''
            if not mcs or mcs in pairs:
                problems.append('%s shares or lacks an MCS pair (%s)' % (proc.name, mcs or 'none'))
            pairs[mcs] = proc.name
        elif label.startswith('libvirt-') and label.endswith('(enforce)'):
            if label in pairs:
                problems.append('%s shares AppArmor profile %s' % (proc.name, label))
            pairs[label] = proc.name
        else:
            problems.append('%s is not confined by a per-guest label' % proc.name)
    return (FAIL if problems else PASS), joined(problems + evidence)


def q4_not_root(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    user, user_text = setting(ctx.qemu_conf, 'user', None)
    group, group_text = setting(ctx.qemu_conf, 'group', None)
    problems, evidence = [], []
    if user in ('root', '+0', '0') or group in ('root', '+0', '0'):
        problems.append('QEMU configured to run as root')
    evidence.append(user_text if user is not None else 'user not set (build default)')
    evidence.append(group_text if group is not None else 'group not set (build default)')
    baselabel = ctx.dac_baselabel
    if baselabel:
        evidence.append('libvirt DAC base label %s' % baselabel)
        if baselabel.startswith('+0:') or baselabel.startswith('root:'):
            problems.append('libvirt reports QEMU DAC label %s' % baselabel)
    rooted = [proc.name for proc in ctx.qemu_processes if proc.uid == 0]
    if rooted:
        problems.append('qemu running as root: ' + ', '.join(rooted))
    evidence.append('running qemu processes: %d' % len(ctx.qemu_processes))
    if not problems and user is None and baselabel is None and not ctx.qemu_processes:
        return UNKNOWN, joined(['neither configured user, libvirt capabilities nor a running guest show the QEMU user'] + evidence)
    return (FAIL if problems else PASS), joined(problems + evidence)


def q5_ownership(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    dynamic, text1 = setting(ctx.qemu_conf, 'dynamic_ownership', 1)
    remember, text2 = setting(ctx.qemu_conf, 'remember_owner', 1)
    problems = [key + ' = 0' for key, value in (('dynamic_ownership', dynamic), ('remember_owner', remember)) if value != 1]
    return (FAIL if problems else PASS), joined(problems + [text1, text2])


def q6_seccomp(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    sandbox, text = setting(ctx.qemu_conf, 'seccomp_sandbox', 1)
    problems = ['seccomp_sandbox = %s' % sandbox] if sandbox != 1 else []
    evidence = [text]
    for proc in ctx.qemu_processes:
        evidence.append('%s Seccomp: %s' % (proc.name, proc.seccomp))
        if proc.seccomp != 2:
            problems.append('%s runs without a seccomp filter' % proc.name)
    return (FAIL if problems else PASS), joined(problems + evidence)


def q7_mount_namespace(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    namespaces, text = setting(ctx.qemu_conf, 'namespaces', ['mount'])
    problems = [] if 'mount' in (namespaces or []) else ['mount namespace disabled (%s)' % text]
    evidence = [text]
    init_ns = ctx.fs.readlink('/proc/1/ns/mnt')
    for proc in ctx.qemu_processes:
        if proc.mnt_ns is None or init_ns is None:
            evidence.append('%s mount namespace not readable' % proc.name)
        elif proc.mnt_ns == init_ns:
            problems.append('%s shares the host mount namespace' % proc.name)
        else:
            evidence.append('%s in its own mount namespace' % proc.name)
    return (FAIL if problems else PASS), joined(problems + evidence)


def q8_device_acl(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    acl = ctx.qemu_conf.get('cgroup_device_acl')
    if acl is None:
        return PASS, 'cgroup_device_acl not set (libvirt default list)'
    extra = sorted(set(acl) - DEFAULT_DEVICE_ACL)
    if extra:
        return FAIL, 'cgroup_device_acl adds host-wide devices: ' + ', '.join(extra)
    return PASS, 'cgroup_device_acl lists only default devices'


def q9_logging(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    handler, text = setting(ctx.qemu_conf, 'stdio_handler', 'logd')
    problems = [] if handler == 'logd' else ['stdio_handler = %s' % handler]
    state = ctx.unit_state('virtlogd.socket')
    live = ctx.fs.exists('/run/libvirt/virtlogd-sock') or ctx.process_running('virtlogd')
    evidence = [text, 'virtlogd.socket: %s, virtlogd socket or process live: %s' % (state, live)]
    if not live and state != 'enabled':
        problems.append('virtlogd is neither running nor socket-activated')
    return (FAIL if problems else PASS), joined(problems + evidence)


def q10_no_commandline(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    if not ctx.domains:
        return NA, 'no defined domains in /etc/libvirt/qemu'
    flagged = [name for name, root in ctx.domains if root.find(QEMU_NS + 'commandline') is not None]
    if flagged:
        return FAIL, 'domains with <qemu:commandline>: ' + ', '.join(flagged)
    return PASS, '%d defined domain(s), none with <qemu:commandline>' % len(ctx.domains)


# ---------------------------------------------------------------- S: storage
def _dir_pools(ctx):
    paths = {}
    for name, root in ctx.pools:
        if root.get('type') == 'dir' and root.findtext('target/path'):
            paths[root.findtext('target/path')] = name
    if ctx.fs.isdir('/var/lib/libvirt/images') and '/var/lib/libvirt/images' not in paths:
        paths['/var/lib/libvirt/images'] = '(default directory)'
    return paths


def s1_image_dirs(ctx):
    if not ctx.libvirt_installed:
        return NA, 'libvirt is not installed'
    paths = _dir_pools(ctx)
    if not paths:
        return NA, 'no directory pools'
    problems, evidence = [], []
    selinux = ctx.security['selinux']['enabled']
    for path, pool in sorted(paths.items()):
        info = ctx.fs.owner_info(path)
        if info is None:
            problems.append('%s (pool %s) missing' % (path, pool))
            continue
        evidence.append('%s %s:%s %s' % (path, info['owner'], info['group'], info['mode']))
        if info['owner'] != 'root':
            problems.append('%s not owned by root' % path)
        if int(info['mode'], 8) & 0o006:
            problems.append('%s readable or writable by others' % path)
        if selinux:
            try:
                label = os.getxattr(ctx.fs.path(path), 'security.selinux').decode().rstrip('\0')
            except (OSError, AttributeError):
                label = ''
            evidence.append('%s label %s' % (path, label or 'unknown'))
            if ':virt_image_t:' not in label:
                problems.append('%s not labelled virt_image_t' % path)
    return (FAIL if problems else PASS), joined(problems + evidence)


def s2_formats(ctx):
    missing = no_qemu_driver(ctx)
    if missing:
        return missing
    if not ctx.domains:
        return NA, 'no defined domains in /etc/libvirt/qemu'
    unstated = []
    for name, root in ctx.domains:
        for disk in root.findall('devices/disk'):
            if disk.get('device', 'disk') != 'disk':
                continue
            driver = disk.find('driver')
            if driver is None or not driver.get('type'):
                target = disk.find('target')
                unstated.append('%s:%s' % (name, target.get('dev') if target is not None else '?'))
    if unstated:
        return FAIL, 'disks without an explicit format: ' + ', '.join(unstated)
    return PASS, 'every disk of %d defined domain(s) states its format (backing chains not inspected)' % len(ctx.domains)


def s3_storage_booleans(ctx):
    if not ctx.security['selinux']['enabled']:
        return NA, 'SELinux not enabled: the virt_use_* booleans do not exist'
    kinds = {}
    for name, root in ctx.pools:
        if root.get('type') == 'netfs':
            fmt = root.find('source/format')
            kinds.setdefault(fmt.get('type') if fmt is not None else 'nfs', []).append(name)
    problems, evidence, shared = [], [], []
    for boolean, fmt in (('virt_use_nfs', 'nfs'), ('virt_use_samba', 'cifs')):
        value = (ctx.fs.read_strip('/sys/fs/selinux/booleans/' + boolean) or '').split()
        on = bool(value) and value[0] == '1'
        evidence.append('%s = %s' % (boolean, 'on' if on else 'off'))
        if on != (fmt in kinds):
            problems.append('%s is %s but %s pools %s' % (boolean, 'on' if on else 'off', fmt,
                                                          'exist' if fmt in kinds else 'do not exist'))
        elif on:
            shared += kinds[fmt]
    # Files on NFS and CIFS carry one label for the whole mount, not each guest's MCS pair: the
    # boolean lets every confined guest open every disk there (DAC cannot help, every QEMU runs
    # as the same user). Reported, not failed: the pool is what the operator asked for.
    if shared:
        evidence.append('open to every guest: pool(s) %s (network storage has no per-guest sVirt label; '
                        'keep tenants that must not reach each other off it)' % ', '.join(sorted(shared)))
    return (FAIL if problems else PASS), joined(problems + evidence)


# ---------------------------------------------------------------- N: networks
def n1_bridges_no_address(ctx):
    bridges = ctx.guest_bridges
    if not bridges:
        return NA, 'no guest bridges (no libvirt bridge-mode network and no bridge with guest ports)'
    problems, evidence = [], []
    for bridge in bridges:
        name = bridge['name']
        if bridge.get('missing'):
            problems.append('%s does not exist' % name)
            continue
        evidence.append('%s ipv4=%s ipv6_global=%s accept_ra=%s' % (
            name, bridge['ipv4'] or '[]', bridge['ipv6_global'] or '[]', bridge['accept_ra']))
        if bridge['carries_host_address'] is None:
            problems.append('%s: IPv4 addresses unknown (iproute2 missing)' % name)
        elif bridge['carries_host_address']:
            problems.append('%s carries a host address' % name)
        if bridge['accept_ra'] not in (0, None):
            problems.append('%s accept_ra = %s' % (name, bridge['accept_ra']))
    status = FAIL if [p for p in problems if 'unknown' not in p] else (UNKNOWN if problems else PASS)
    return status, joined(problems + evidence)


def n2_management_separate(ctx):
    net = ctx.network
    ifaces = [iface for iface in (net['default_route_interface'], net['default_route_interface_ipv6']) if iface]
    if not ifaces:
        return NA, 'no default route'
    guest = dict((bridge['name'], bridge) for bridge in ctx.guest_bridges)
    inside = [iface for iface in ifaces for name, bridge in guest.items()
              if iface == name or iface in bridge.get('ports', [])]
    evidence = 'default route via %s; guest bridges: %s' % (', '.join(sorted(set(ifaces))), ', '.join(sorted(guest)) or 'none')
    if inside:
        return FAIL, 'management interface %s is part of a guest bridge; %s' % (', '.join(inside), evidence)
    return PASS, evidence


def _binding_filter(ctx, port):
    text = ctx.fs.read('/run/libvirt/nwfilter-binding/%s.xml' % port)
    if text is None:
        return None
    # The status file wraps the binding: <filterbindingstatus><filterbinding>...<filterref>.
    root = parse_xml(text)
    ref = root.find('.//filterref') if root is not None else None
    return ref.get('filter') if ref is not None else ''


def _filter_includes_clean_traffic(ctx, name, depth=0):
    if name in ('clean-traffic', 'clean-traffic-gateway'):
        return True
    if depth > 5:
        return False
    root = parse_xml(ctx.fs.read('/etc/libvirt/nwfilter/%s.xml' % name))
    if root is None:
        return False
    return any(_filter_includes_clean_traffic(ctx, ref.get('filter'), depth + 1) for ref in root.findall('filterref'))


def n3_anti_spoofing(ctx):
    ports = ctx.guest_ports
    if not ports:
        return NA, 'no guest interfaces on guest bridges'
    problems, evidence = [], []
    for bridge, port in ports:
        name = _binding_filter(ctx, port)
        evidence.append('%s (%s): %s' % (port, bridge, name or 'no nwfilter binding'))
        if not name or not _filter_includes_clean_traffic(ctx, name):
            problems.append('%s on %s is not bound to clean-traffic' % (port, bridge))
    return (FAIL if problems else PASS), joined(problems + evidence)


def n4_port_isolation(ctx):
    ports = ctx.guest_ports
    if not ports:
        return NA, 'no guest interfaces on guest bridges'
    problems, evidence = [], []
    for bridge, port in ports:
        isolated = ctx.fs.read_int('/sys/class/net/%s/brport/isolated' % port)
        evidence.append('%s (%s) isolated=%s' % (port, bridge, isolated))
        if isolated != 1:
            problems.append('%s on %s is not isolated' % (port, bridge))
    return (FAIL if problems else PASS), joined(problems + evidence)


def _modules_load_lists(ctx, module):
    for directory in ('/etc/modules-load.d', '/run/modules-load.d', '/usr/lib/modules-load.d', '/lib/modules-load.d'):
        for name in ctx.fs.listdir(directory):
            lines = (ctx.fs.read('%s/%s' % (directory, name)) or '').splitlines()
            if name.endswith('.conf') and module in [line.split('#')[0].strip() for line in lines]:
                return '%s/%s' % (directory, name)
    if module in [line.split('#')[0].strip() for line in (ctx.fs.read('/etc/modules') or '').splitlines()]:
        return '/etc/modules'
    return None


def n5_br_netfilter(ctx):
    loaded = ctx.fs.isdir('/sys/module/br_netfilter')
    boot = _modules_load_lists(ctx, 'br_netfilter')
    evidence = ['br_netfilter loaded: %s' % loaded, 'loaded at boot by: %s' % (boot or 'nothing')]
    if not loaded and ctx.container:
        return NA, joined(['%s container: kernel modules belong to the container host' % ctx.container] + evidence)
    problems = []
    if not loaded:
        problems.append('br_netfilter not loaded')
    if not boot:
        problems.append('br_netfilter not in modules-load.d')
    for key in ('bridge-nf-call-iptables', 'bridge-nf-call-ip6tables'):
        value = ctx.fs.read_int('/proc/sys/net/bridge/' + key)
        evidence.append('net.bridge.%s = %s' % (key, value))
        if loaded and value != 1:
            problems.append('net.bridge.%s != 1' % key)
    return (FAIL if problems else PASS), joined(problems + evidence)


def _nft_drops_bridge(ruleset, bridge):
    """True when an input-hook chain drops or rejects traffic arriving on the bridge."""
    chains, rules, sets = _nft_parts(ruleset)

    def matches_bridge(expr, family, table):
        match = expr.get('match')
        if not match or match.get('left') != {'meta': {'key': 'iifname'}} or match.get('op') not in ('==', 'in'):
            return False
        right = match.get('right')
        if isinstance(right, str):
            if right.startswith('@'):
                return bridge in sets.get((family, table, right[1:]), [])
            return right == bridge or (right.endswith('*') and bridge.startswith(right[:-1]))
        if isinstance(right, dict) and 'set' in right:
            return bridge in right['set']
        return False

    def verdict(exprs):
        for expr in exprs:
            for key in ('drop', 'reject'):
                if key in expr:
                    return key
            for key in ('jump', 'goto'):
                if key in expr:
                    return (key, expr[key]['target'])
        return None

    def chain_drops(key):
        chain = chains.get(key, {})
        if chain.get('policy') == 'drop':
            return True
        return any(len(exprs) == 1 and verdict(exprs) in ('drop', 'reject') for exprs in rules.get(key, []))

    for key, chain in chains.items():
        if chain.get('hook') != 'input':
            continue
        for exprs in rules.get(key, []):
            if not any(matches_bridge(expr, key[0], key[1]) for expr in exprs):
                continue
            result = verdict(exprs)
            if result in ('drop', 'reject'):
                return True
            if isinstance(result, tuple) and chain_drops((key[0], key[1], result[1])):
                return True
    return False


def n6_host_unreachable(ctx):
    bridges = [bridge['name'] for bridge in ctx.guest_bridges]
    if not bridges:
        return NA, 'no guest bridges'
    ruleset, unreadable = ctx.nft_ruleset
    if ruleset is None:
        return UNKNOWN, unreadable
    open_bridges = [name for name in bridges if not _nft_drops_bridge(ruleset, name)]
    if open_bridges:
        return FAIL, 'no input rule drops traffic from: ' + ', '.join(open_bridges)
    return PASS, 'input chains drop traffic from: ' + ', '.join(bridges)


def n7_no_surprise_networks(ctx):
    if not ctx.libvirt_installed:
        return NA, 'libvirt is not installed'
    allowed = set(ctx.options.get('allowed_networks') or [])
    nets = ctx.networks
    evidence = ['%s (%s%s%s)' % (net['name'], net['forward'], ', active' if net['active'] else '',
                                 ', autostart' if net['autostart'] else '') for net in nets]
    surprise = [net['name'] for net in nets if net['name'] == 'default' and 'default' not in allowed
                and (net['active'] or net['autostart'])]
    if surprise:
        return FAIL, joined(['libvirt default NAT network is active or autostarted'] + evidence)
    return PASS, joined(['defined networks: ' + (', '.join(evidence) or 'none')])


CONTROLS = [
    ('H1', 'Mandatory access control on', h1_mac,
     'Enable AppArmor (with libvirtd and virt-aa-helper profiles in enforce mode) or SELinux enforcing.'),
    ('H2', 'KSM off', h2_ksm, 'Write 0 to /sys/kernel/mm/ksm/run and disable ksmtuned so it stays off after reboot.'),
    ('H3', '/dev/kvm owned root:kvm, mode 0660', h3_dev_kvm, 'Fix the udev rule for /dev/kvm (root:kvm 0660).'),
    ('H4', 'IP forwarding is a decision', h4_forwarding,
     'Set net.ipv4.ip_forward = 0 unless a libvirt NAT or routed network needs it.'),
    ('H5', 'Host self-check passes', h5_host_validate, 'Fix what virt-host-validate qemu reports as FAIL.'),
    ('L1', 'Daemon layout known', l1_layout, 'Enable either libvirtd or the modular daemons (virtqemud and friends), not both.'),
    ('L2', 'No plain TCP', l2_no_tcp, 'Mask libvirtd-tcp.socket/virtproxyd-tcp.socket and set listen_tcp = 0.'),
    ('L3', 'Remote access only by SSH or TLS', l3_remote_tls,
     'With TLS: deploy CA, server cert and key, set tls_allowed_dn_list, never tls_no_verify_certificate; SASL scram-sha-256.'),
    ('L4', 'Unix sockets restricted', l4_unix_sockets,
     'rw socket 0770 root:libvirt, ro socket 0770, admin socket 0700 (socket unit drop-ins with socket activation); auth_unix_rw = "polkit".'),
    ('L5', 'Audit logging', l5_audit, 'Set audit_level >= 1 and audit_logging = 1 where auditd runs.'),
    ('L6', 'Config file modes', l6_config_modes, 'qemu.conf 0600 root; other libvirt configs writable only by root.'),
    ('L7', 'Consoles local only', l7_consoles,
     'Set vnc_listen/spice_listen = "127.0.0.1" or vnc_auto_unix_socket = 1; remote consoles only with vnc_tls and vnc_tls_x509_verify.'),
    ('L8', 'Migration on its own network, over TLS', l8_migration,
     'Set migration_address to this host\'s address on the migration network, migrate_tls_force = 1, a port range '
     'of its own, QEMU\'s TLS files in /etc/pki/qemu (keys not readable by others) and tls_allowed_dn_list; let '
     'only the other hosts\' migration addresses connect to port 16514 and the range (kvm_network\'s host guard).'),
    ('Q1', 'Real security driver', q1_security_driver, 'Set security_driver = "apparmor" or "selinux" with that LSM enabled; never "none".'),
    ('Q2', 'Confinement required', q2_confinement,
     'Set security_default_confined = 1 and security_require_confined = 1; remove <seclabel type="none"> from domains.'),
    ('Q3', 'Unique label per guest', q3_unique_labels, 'Run guests under sVirt (svirt_t with a unique MCS pair, or libvirt-<uuid> in enforce mode).'),
    ('Q4', 'QEMU not root', q4_not_root, 'Set user/group in qemu.conf to libvirt-qemu/kvm (Debian) or qemu/qemu (RHEL).'),
    ('Q5', 'Dynamic ownership', q5_ownership, 'Set dynamic_ownership = 1 and remember_owner = 1.'),
    ('Q6', 'Seccomp sandbox', q6_seccomp, 'Set seccomp_sandbox = 1 and restart the guests.'),
    ('Q7', 'Mount namespace', q7_mount_namespace, 'Set namespaces = [ "mount" ] and restart the guests.'),
    ('Q8', 'Default device ACL', q8_device_acl, 'Remove host-wide additions from cgroup_device_acl; pass devices per guest.'),
    ('Q9', 'Logging through virtlogd', q9_logging, 'Set stdio_handler = "logd" and enable virtlogd.socket.'),
    ('Q10', 'No command-line passthrough', q10_no_commandline, 'Remove <qemu:commandline> from the listed domains.'),
    ('S1', 'Image directories restricted', s1_image_dirs,
     'Make pool directories root-owned and not world-readable; label them virt_image_t persistently (semanage fcontext) on SELinux.'),
    ('S2', 'Explicit disk formats', s2_formats, 'State <driver type="..."/> on every disk.'),
    ('S3', 'Network storage booleans match pools', s3_storage_booleans,
     'Turn virt_use_nfs/virt_use_samba on only when NFS/CIFS pools exist.'),
    ('N1', 'Guest bridges carry no host address', n1_bridges_no_address,
     'Remove IPv4 and global IPv6 addresses from guest bridges and set accept_ra = 0 on them.'),
    ('N2', 'Management stays separate', n2_management_separate,
     'Move the management interface and default route out of guest bridges.'),
    ('N3', 'Anti-spoofing filters', n3_anti_spoofing, 'Add <filterref filter="clean-traffic"/> to every guest NIC on restricted networks.'),
    ('N4', 'Port isolation', n4_port_isolation, 'Set <port isolated="yes"/> on restricted networks or interfaces.'),
    ('N5', 'br_netfilter stance', n5_br_netfilter,
     'Load br_netfilter at boot (modules-load.d) and set net.bridge.bridge-nf-call-iptables/ip6tables = 1.'),
    ('N6', 'Host unreachable from guest bridges', n6_host_unreachable,
     'Add an nftables input rule that drops traffic from guest bridges except allowed DHCP/DNS.'),
    ('N7', 'No surprise networks', n7_no_surprise_networks, 'Destroy and undefine (or stop autostarting) the default network unless it is wanted.'),
]

CONTROL_IDS = [control[0] for control in CONTROLS]

# Controls that cannot pass without an active SELinux or AppArmor: on a host without one (a
# container sees none), their failure is H1's, and their results say so.
NEED_MAC = ('Q1', 'Q2', 'Q3')


def mark_consequences(ctx, results):
    """Point the failures that follow from H1 (no MAC active) at it: follows_from and evidence."""
    if ctx.security['mac'] != 'none':
        return
    where = ' in this %s container' % ctx.container if ctx.container else ''
    for result in results:
        if result['id'] in NEED_MAC and result['status'] == FAIL:
            result['follows_from'] = 'H1'
            result['evidence'] = 'follows from H1 (no SELinux or AppArmor active%s): %s' % (where, result['evidence'])
            result['remediation'] = 'Fix H1 first, then: %s' % result['remediation']


def run_audit(ctx, only=None, skip=None):
    results = []
    for control_id, title, check, remediation in CONTROLS:
        if (only and control_id not in only) or (skip and control_id in skip):
            continue
        try:
            status, evidence = check(ctx)
        except ConfError as exc:
            status, evidence = UNKNOWN, 'configuration does not parse: %s' % exc
        except Exception as exc:  # pylint: disable=broad-except
            # One broken probe must not hide the other controls' results.
            status, evidence = UNKNOWN, 'check failed: %s: %s' % (type(exc).__name__, exc)
        results.append({
            'id': control_id,
            'title': title,
            'status': status,
            'evidence': evidence,
            'remediation': remediation if status in (FAIL, UNKNOWN) else '',
            'follows_from': '',
        })
    mark_consequences(ctx, results)
    counts = dict((status, sum(1 for r in results if r['status'] == status)) for status in STATUSES)
    return results, counts
