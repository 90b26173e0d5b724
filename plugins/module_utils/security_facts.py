# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Linux security modules: the LSM stack, SELinux and AppArmor state."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


# Profile names differ between releases: attachment path or short name.
APPARMOR_PROFILES = {
    'libvirtd': ('libvirtd', '/usr/sbin/libvirtd'),
    'virtqemud': ('virtqemud', '/usr/sbin/virtqemud'),
    'virt_aa_helper': ('virt-aa-helper', '/usr/lib/libvirt/virt-aa-helper', '/usr/libexec/virt-aa-helper'),
}


def read_key_values(text):
    values = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        key, sep, value = line.partition('=')
        if sep:
            values[key.strip()] = value.strip().strip('"\'')
    return values


def parse_apparmor_profiles(text):
    """{profile name: mode} from /sys/kernel/security/apparmor/profiles."""
    profiles = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if line.endswith(')') and ' (' in line:
            name, _sep, mode = line.rpartition(' (')
            profiles[name] = mode[:-1]
    return profiles


def selinux_facts(fs):
    config = read_key_values(fs.read('/etc/selinux/config'))
    enforce = fs.read_strip('/sys/fs/selinux/enforce')
    if enforce == '1':
        mode = 'enforcing'
    elif enforce == '0':
        mode = 'permissive'
    else:
        mode = 'disabled'
    return {
        'enabled': mode != 'disabled',
        'mode': mode,
        'config_mode': config.get('SELINUX'),
        'policy': config.get('SELINUXTYPE') if mode != 'disabled' else None,
    }


def apparmor_facts(fs, lsm):
    flag = fs.read_strip('/sys/module/apparmor/parameters/enabled')
    enabled = flag == 'Y' and (lsm is None or 'apparmor' in lsm)
    profiles = parse_apparmor_profiles(fs.read('/sys/kernel/security/apparmor/profiles')) if enabled else {}
    facts = {'enabled': enabled, 'profiles_loaded': len(profiles)}
    for key, names in APPARMOR_PROFILES.items():
        facts[key] = next((profiles[name] for name in names if name in profiles), None)
    return facts


def security_facts(fs):
    lsm_text = fs.read_strip('/sys/kernel/security/lsm')
    lsm = [item for item in lsm_text.split(',') if item] if lsm_text is not None else None
    selinux = selinux_facts(fs)
    apparmor = apparmor_facts(fs, lsm)
    if selinux['enabled']:
        mac = 'selinux'
    elif apparmor['enabled']:
        mac = 'apparmor'
    else:
        mac = 'none'
    return {
        'lsm': lsm or [],
        'lsm_visible': lsm is not None,
        'mac': mac,
        'selinux': selinux,
        'apparmor': apparmor,
    }
