# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host guard's table (roles/kvm_network/templates/kvmcloud-host-guard.nft.j2) with and without
migration: rendered as Ansible's template lookup renders it (trim_blocks), with to_json as json.dumps.
nft itself checks the file on the test hosts (molecule/default)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import jinja2

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.network.migration import migration_guard

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..',
                         'roles', 'kvm_network', 'templates')


def settings(**overrides):
    base = {'migration_enabled': True, 'migration_port_min': 49152, 'migration_port_max': 49215,
            'migration_peers': ['192.0.2.12']}
    base.update(overrides)
    return base


def render(migration, bridges=({'name': 'br-guest', 'nat': False},)):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters['to_json'] = json.dumps
    return env.get_template('kvmcloud-host-guard.nft.j2').render(
        ansible_managed='managed', kvm_network_host_guard_allow=[],
        __kvm_network_plan={'bridges': list(bridges), 'migration_guard': migration})


def test_the_table_guards_the_migration_ports_after_the_bridges():
    text = render(migration_guard(settings(migration_peers=['192.0.2.12', '2001:db8::/64'])))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith('#')]
    start = lines.index('chain input {')
    assert lines[start + 2:start + 5] == [
        'iifname { "br-guest" } jump from_guest_bridges', 'tcp dport { 16514, 49152-49215 } jump migration', '}']
    start = lines.index('chain migration {')
    assert lines[start + 1:start + 7] == [
        'ct state established,related accept', 'iifname "lo" accept', 'ip saddr { 192.0.2.12 } accept',
        'ip6 saddr { 2001:db8::/64 } accept', 'drop', '}']


def test_without_peers_only_loopback_passes_and_without_migration_nothing_changes():
    text = render(migration_guard(settings(migration_peers=[])))
    assert 'saddr' not in text and 'iifname "lo" accept' in text
    text = render(migration_guard(settings(migration_enabled=False)))
    assert 'migration' not in text.split('# Loaded by')[1] and 'dport' not in text
