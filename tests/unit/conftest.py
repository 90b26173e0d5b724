# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared helpers: fake host trees built from dicts, recorded fixtures, a fake command runner."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import copy
import json
import os
from unittest import mock

import pytest
import yaml

from ansible.module_utils import basic

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.hostfs import HostFS

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
ROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'roles')


def role_vars(role, kind='vars'):
    """A role's vars/main.yml (or, with kind='defaults', its defaults/main.yml)."""
    with open(os.path.join(ROLES, role, kind, 'main.yml')) as handle:
        return yaml.safe_load(handle)


def kvm_guests_settings(**overrides):
    """The settings the kvm_guests role hands its filters, from its own defaults and vars:
    no guests, images or networks unless overrides name them."""
    defaults, internal = role_vars('kvm_guests', 'defaults'), role_vars('kvm_guests')
    settings = {
        'guests': [], 'base_images': [], 'profiles': {}, 'default_profile': defaults['kvm_guests_default_profile'],
        'profile_defaults': internal['__kvm_guests_profile_defaults'],
        'builtin_profiles': internal['__kvm_guests_builtin_profiles'],
        'profile_choices': internal['__kvm_guests_profile_choices'],
        'nwfilter': 'clean-traffic', 'nwfilter_ip_learning': 'any',
        'cpu_mode': 'host-passthrough', 'fleet_cpu_model': '', 'emulated_cpu_model': defaults['kvm_guests_emulated_cpu_model'],
        'emulated_tb_cache_mib': defaults['kvm_guests_emulated_tb_cache_mib'],
        'shutdown_timeout_seconds': defaults['kvm_guests_shutdown_timeout_seconds'],
        'base_image_dir': defaults['kvm_guests_base_image_dir'], 'storage_dir': defaults['kvm_guests_storage_dir'],
        'definition_dir': defaults['kvm_guests_definition_dir'],
        'console_log_dir': defaults['kvm_guests_console_log_dir'],
        'libvirt_config_dir': internal['__kvm_guests_libvirt_config_dir'],
        'network_bridges': [], 'network_libvirt_networks': [], 'storage_pools': [],
    }
    settings.update(copy.deepcopy(overrides))
    return settings


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


class FakeRunner:
    """Answers commands from a dict keyed by the argv tuple; records every call."""

    def __init__(self, answers=None):
        self.answers = answers or {}
        self.calls = []

    def run(self, argv):
        self.calls.append(tuple(argv))
        return self.answers.get(tuple(argv), (127, '', 'not recorded: %s' % ' '.join(argv)))


class FakeHost(HostFS):
    """A host tree under tmp_path. Owners come from a dict, because tests cannot chown."""

    def __init__(self, root, owners=None):
        HostFS.__init__(self, root)
        self.owners = owners or {}

    def owner_info(self, path, follow=True):
        info = HostFS.owner_info(self, path, follow)
        if info is not None and path in self.owners:
            info.update(self.owners[path])
        return info


def build_tree(root, files):
    """files: {path: text | bytes | ('symlink', target) | ('mode', text, mode) | None for a directory}."""
    for path, content in files.items():
        target = os.path.join(str(root), path.lstrip('/'))
        if content is None:
            if not os.path.isdir(target):
                os.makedirs(target)
            continue
        parent = os.path.dirname(target)
        if not os.path.isdir(parent):
            os.makedirs(parent)
        if isinstance(content, tuple) and content[0] == 'symlink':
            os.symlink(content[1], target)
            continue
        mode = None
        if isinstance(content, tuple) and content[0] == 'mode':
            content, mode = content[1], content[2]
        with open(target, 'wb') as handle:
            handle.write(content if isinstance(content, bytes) else content.encode('utf-8'))
        if mode is not None:
            os.chmod(target, mode)


@pytest.fixture
def make_host(tmp_path):
    def factory(files, owners=None):
        build_tree(tmp_path, files)
        return FakeHost(str(tmp_path), owners)
    return factory


class ModuleExit(Exception):
    """What a module's exit_json or fail_json would have sent back."""

    def __init__(self, result, failed):
        Exception.__init__(self, result.get('msg', ''))
        self.result = result
        self.failed = failed


def _exit_json(module, **result):
    raise ModuleExit(result, failed=False)


def _fail_json(module, **result):
    raise ModuleExit(result, failed=True)


def run_module_main(main, args, **methods):
    """Runs a module's main() with args as its task arguments, AnsibleModule's methods named in
    methods (run_command=..., log=...) replaced, and exit_json/fail_json caught.
    Returns (result, failed)."""
    try:
        from ansible.module_utils.testing import patch_module_args
        patched = patch_module_args(args)
    except ImportError:  # ansible-core before 2.19
        patched = mock.patch.object(basic, '_ANSIBLE_ARGS', json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode())
    with contextlib.ExitStack() as stack:
        stack.enter_context(patched)
        methods = dict(methods, exit_json=_exit_json, fail_json=_fail_json)
        for name, replacement in methods.items():
            stack.enter_context(mock.patch.object(basic.AnsibleModule, name, replacement))
        with pytest.raises(ModuleExit) as caught:
            main()
    return caught.value.result, caught.value.failed


def run_with_commands(main, args, host, bins, check_mode=False, diff=False):
    """Runs a module's main() (see run_module_main) in check and diff mode as asked, with
    get_bin_path answering from bins ({name: path}) and run_command from host.run_command(module,
    argv, **kwargs), a fake of the commands. Returns (result, failed)."""
    def get_bin_path(module, name, required=False, opt_dirs=None):
        return bins[name]

    def run_command(module, argv, **kwargs):
        return host.run_command(module, argv, **kwargs)

    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    return run_module_main(main, args, get_bin_path=get_bin_path, run_command=run_command)
