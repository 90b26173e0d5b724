# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The /dev/kvm device and the kvm kernel modules."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fcntl
import os

KVM_GET_API_VERSION = 0xAE00
KVM_API_VERSION = 12
VENDOR_MODULES = {'vmx': 'kvm_intel', 'svm': 'kvm_amd', 'intel': 'kvm_intel', 'amd': 'kvm_amd'}


def kvm_api_version(path):
    """KVM_GET_API_VERSION of the device, or None when it cannot be asked."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION, 0)
    except (OSError, IOError):
        return None
    finally:
        os.close(fd)


def module_loaded(fs, name):
    # /sys/module also lists built-in modules, which /proc/modules does not.
    return fs.isdir('/sys/module/' + name)


def nested_enabled(fs, vendor_module):
    if not vendor_module:
        return None
    value = fs.read_strip('/sys/module/%s/parameters/nested' % vendor_module)
    if value is None:
        return None
    return value in ('1', 'Y', 'y')


def kvm_facts(fs, cpu, api_probe=kvm_api_version):
    vendor_module = VENDOR_MODULES.get(cpu.get('virt_extension')) or VENDOR_MODULES.get(cpu.get('vendor'))
    info = fs.owner_info('/dev/kvm')
    present = info is not None
    api_version = api_probe(fs.path('/dev/kvm')) if present else None
    return {
        'dev_present': present,
        'owner': info['owner'] if present else None,
        'group': info['group'] if present else None,
        'mode': info['mode'] if present else None,
        'usable': api_version == KVM_API_VERSION,
        'api_version': api_version,
        'module_loaded': module_loaded(fs, 'kvm'),
        'vendor_module': vendor_module,
        'vendor_module_loaded': module_loaded(fs, vendor_module) if vendor_module else False,
        'loaded_modules': [name for name in fs.listdir('/sys/module') if name == 'kvm' or name.startswith('kvm_')],
        'vhost_net_loaded': module_loaded(fs, 'vhost_net'),
        'nested': nested_enabled(fs, vendor_module),
    }
