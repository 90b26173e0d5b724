# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""selinux_local reads once, changes each kind in one command, and nothing on a converged host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import bz2
import os
from unittest import mock

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.modules import selinux_local
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import build_tree, run_module_main

CIL = '(allow virtd_t device_t (filesystem (unmount)))\n'
GETSEBOOL = 'virt_use_execmem --> on\nvirt_use_nfs --> off\nvirt_use_samba --> off\n'
SEMODULE_FULL = '100 virt              pp\n400 kvmcloud_libvirt  cil\n'
FC_LOCAL = '/srv/tenants(/.*)?    system_u:object_r:virt_image_t:s0\n'
FC_POLICY = '/var/lib/libvirt/images(/.*)?\tsystem_u:object_r:virt_image_t:s0\n/srv/.*\tsystem_u:object_r:var_t:s0\n'
BIN = '/usr/sbin/'


@pytest.fixture
def host(tmp_path):
    """A converged host: the policy store under tmp_path, the module installed as its file says."""
    root = str(tmp_path)
    build_tree(tmp_path, {
        'etc/selinux/config': 'SELINUX=enforcing\nSELINUXTYPE=default\n',
        'etc/selinux/semanage.conf': 'module-store = direct\nstore-root = %s/store\n' % root,
        'store/default/active/booleans.local': '# auto-generated\n\nvirt_use_execmem=1\nvirt_use_nfs=0\n',
        'store/default/active/file_contexts.local': FC_LOCAL,
        'store/default/active/file_contexts': FC_POLICY,
        'store/default/active/modules/400/kvmcloud_libvirt/cil': bz2.compress(CIL.encode()),
        'share/kvmcloud_libvirt.cil': CIL,
        'srv/tenants': None,
    })
    with mock.patch.object(selinux_local, 'SELINUX_CONFIG', root + '/etc/selinux/config'), \
            mock.patch.object(selinux_local, 'SEMANAGE_CONF', root + '/etc/selinux/semanage.conf'):
        yield root


class Commands:
    """run_command's stand-in: answers by argv, records argv and stdin."""

    def __init__(self, answers=None):
        self.answers = {(BIN + 'getsebool', '-a'): (0, GETSEBOOL, ''),
                        (BIN + 'semodule', '--list-modules=full'): (0, SEMODULE_FULL, '')}
        self.answers.update(answers or {})
        self.calls = []

    def __call__(self, argv, data=None, **kwargs):
        self.calls.append((tuple(argv), data))
        return self.answers.get(tuple(argv), (0, '', ''))

    def argvs(self):
        return [argv for argv, _data in self.calls]


def run(args, commands, check_mode=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)
    return run_module_main(selinux_local.main, args, run_command=mock.Mock(side_effect=commands),
                           get_bin_path=mock.Mock(side_effect=lambda name, *a, **k: BIN + name))


def role_args(root, **overrides):
    args = dict(
        policy_modules=[dict(name='kvmcloud_libvirt', path=root + '/share/kvmcloud_libvirt.cil')],
        booleans={'virt_use_execmem': True, 'virt_use_nfs': False},
        fcontexts=[dict(target='/srv/tenants(/.*)?', setype='virt_image_t'),
                   dict(target='/var/lib/libvirt/images(/.*)?', setype='virt_image_t')],
        restorecon=[root + '/srv/tenants'],
    )
    args.update(overrides)
    return args


def test_a_converged_host_costs_only_reads(host):
    commands = Commands()
    result, failed = run(role_args(host), commands)
    assert not failed, result
    assert result['changed'] is False
    assert (result['changed_policy_modules'], result['changed_booleans'], result['changed_fcontexts'],
            result['relabelled_paths']) == ([], [], [], [])
    assert commands.argvs() == [(BIN + 'semodule', '--list-modules=full'), (BIN + 'getsebool', '-a'),
                                (BIN + 'restorecon', '-v', '--', host + '/srv/tenants')]
    assert [d['before'] == d['after'] for d in result['diff']] == [True] * 4


def test_every_kind_that_differs_changes_in_one_command(host):
    with open(host + '/share/kvmcloud_libvirt.cil', 'a') as handle:
        handle.write('(allow svirt_t svirt_image_t (file (map)))\n')
    tenants = host + '/srv/tenants'
    commands = Commands({(BIN + 'restorecon', '-v', '--', tenants): (
        0, 'Relabeled %s from u:object_r:var_t:s0 to u:object_r:virt_image_t:s0\n' % tenants, '')})
    args = role_args(host, booleans={'virt_use_execmem': False, 'virt_use_nfs': False, 'virt_use_samba': True},
                     fcontexts=[dict(target='/srv/tenants(/.*)?', setype='virt_image_t', state='absent'),
                                dict(target='/srv/new(/.*)?', setype='virt_image_t'),
                                dict(target='/srv/hook', setype='bin_t', ftype='f')])
    result, failed = run(args, commands)
    assert not failed, result
    assert result['changed'] is True
    assert result['changed_policy_modules'] == ['kvmcloud_libvirt']
    assert result['changed_booleans'] == ['virt_use_execmem', 'virt_use_samba']
    assert result['changed_fcontexts'] == ['/srv/tenants(/.*)?', '/srv/new(/.*)?', '/srv/hook']
    assert result['relabelled_paths'] == [tenants]
    cil = host + '/share/kvmcloud_libvirt.cil'
    assert commands.calls[1:] == [
        ((BIN + 'semodule', '--install', cil), None),
        ((BIN + 'getsebool', '-a'), None),
        ((BIN + 'setsebool', '-P', 'virt_use_execmem=0', 'virt_use_samba=1'), None),
        ((BIN + 'semanage', 'import'), "fcontext -d -f a '/srv/tenants(/.*)?'\n"
                                       "fcontext -a -f a -t virt_image_t '/srv/new(/.*)?'\n"
                                       "fcontext -a -f f -t bin_t '/srv/hook'\n"),
        ((BIN + 'restorecon', '-v', '--', tenants), None),
    ]
    modules, booleans, rules, labels = result['diff']
    assert (modules['before'], modules['after']) == ('kvmcloud_libvirt: installed, differs from %s\n' % cil,
                                                     'kvmcloud_libvirt: installed as in %s\n' % cil)
    assert booleans['before'].splitlines()[0] == 'virt_use_execmem: on (persistent: on)'
    assert booleans['after'].splitlines()[0] == 'virt_use_execmem: off (persistent: off)'
    assert booleans['after'].splitlines()[2] == 'virt_use_samba: on (persistent: on)'
    assert rules['after'].splitlines() == ['/srv/tenants(/.*)? (all files): no rule',
                                           '/srv/new(/.*)? (all files): virt_image_t, local rule',
                                           '/srv/hook (regular file): bin_t, local rule']
    assert (labels['before'], labels['after']) == ('%s: u:object_r:var_t:s0\n' % tenants,
                                                   '%s: u:object_r:virt_image_t:s0\n' % tenants)


def test_check_mode_changes_nothing_and_predicts_labels_from_new_rules(host):
    build_tree(host, {'srv/images': None, 'srv/other': None})
    images, other = host + '/srv/images', host + '/srv/other'
    commands = Commands({(BIN + 'restorecon', '-v', '-n', '--', other): (
        0, 'Would relabel %s from u:object_r:var_t:s0 to u:object_r:etc_t:s0\n' % other, '')})
    args = role_args(host, booleans={'virt_use_nfs': True},
                     fcontexts=[dict(target=host + '/srv/images(/.*)?', setype='virt_image_t')],
                     restorecon=[images, other, host + '/srv/not-yet'])

    def label(path, name, follow_symlinks=True):
        return b'u:object_r:var_t:s0\x00'

    with mock.patch.object(os, 'getxattr', side_effect=label):
        result, failed = run(args, commands, check_mode=True)
    assert not failed, result
    assert result['changed'] is True
    assert result['changed_booleans'] == ['virt_use_nfs']
    assert result['changed_fcontexts'] == [host + '/srv/images(/.*)?']
    # restorecon -n still sees the old rules: the new rule predicts images; the missing path is left out.
    assert result['relabelled_paths'] == [images, other]
    assert commands.argvs() == [(BIN + 'semodule', '--list-modules=full'), (BIN + 'getsebool', '-a'),
                                (BIN + 'restorecon', '-v', '-n', '--', other)]
    assert result['diff'][3]['after'].splitlines()[0] == '%s: u:object_r:virt_image_t:s0' % images


def test_check_mode_sees_a_label_the_new_rule_would_keep(host):
    # A rule deleted by hand: the directory kept its label, so putting the rule back relabels nothing.
    commands = Commands()
    args = role_args(host, fcontexts=[dict(target=host + '/srv/tenants(/.*)?', setype='virt_image_t')])
    with mock.patch.object(os, 'getxattr', return_value=b'u:object_r:virt_image_t:s0\x00'):
        result, failed = run(args, commands, check_mode=True)
    assert not failed, result
    assert result['changed_fcontexts'] == [host + '/srv/tenants(/.*)?']
    assert result['relabelled_paths'] == []
    assert not any(argv[0] == BIN + 'restorecon' for argv in commands.argvs())


def test_a_module_missing_is_installed_and_its_file_must_exist(host):
    args = dict(policy_modules=[dict(name='kvmcloud_networkd', path=host + '/share/kvmcloud_networkd.cil')])
    result, failed = run(args, Commands(), check_mode=True)
    assert not failed and result['changed_policy_modules'] == ['kvmcloud_networkd']
    result, failed = run(args, Commands())
    assert failed
    assert result['msg'] == 'policy_modules (kvmcloud_networkd): %s/share/kvmcloud_networkd.cil does not exist' % host


def test_only_what_is_asked_is_read(host):
    commands = Commands()
    result, failed = run(dict(booleans={'virt_use_execmem': True}), commands)
    assert (failed, result['changed']) == (False, False)
    assert commands.argvs() == [(BIN + 'getsebool', '-a')]
    commands = Commands()
    result, failed = run(dict(restorecon=[host + '/nothing-here']), commands)
    assert (failed, result['changed'], commands.calls) == (False, False, [])


def test_unknown_boolean_fails_before_anything_changes(host):
    commands = Commands()
    result, failed = run(role_args(host, booleans={'virt_use_nfs': True, 'virt_use_nope': True},
                                   policy_modules=[]), commands)
    assert failed
    assert result['msg'] == 'booleans: the loaded policy has no boolean virt_use_nope (getsebool -a)'
    assert commands.argvs() == [(BIN + 'getsebool', '-a')]


def test_a_refused_change_names_the_items_and_the_error(host):
    commands = Commands({(BIN + 'semanage', 'import'): (
        1, '', "ValueError: File context for /srv/new(/.*)? already defined\n")})
    result, failed = run(dict(fcontexts=[dict(target='/srv/new(/.*)?', setype='virt_image_t')]), commands)
    assert failed
    assert result['msg'] == ('fcontexts (/srv/new(/.*)?; nothing was changed): /usr/sbin/semanage import failed '
                             '(rc=1): ValueError: File context for /srv/new(/.*)? already defined')


def test_bad_input_is_refused_naming_the_item(host):
    result, failed = run(dict(booleans={'virt_use_nfs': 'maybe'}), Commands())
    assert failed and result['msg'] == "booleans: virt_use_nfs must be true or false, not 'maybe'"
    result, failed = run(dict(fcontexts=[dict(target='/srv/x y', setype='virt_image_t')]), Commands())
    assert failed and result['msg'].startswith('fcontexts[0] (/srv/x y): target must be')
