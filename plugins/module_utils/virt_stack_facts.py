# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Installed libvirt and QEMU: versions, daemon layout, security models."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from xml.etree import ElementTree

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.systemd_units import unit_state

LIB_DIRS = ('/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib')
QEMU_BINARIES = ('qemu-system-x86_64', 'qemu-kvm', 'qemu-system-aarch64')
VERSION = re.compile(r'(\d+\.\d+(?:\.\d+)?)')
# What `qemu-system-* --version` prints first; the binary holds it as one string.
QEMU_BANNER = b'QEMU emulator version '

MONOLITHIC_SOCKETS = ('/run/libvirt/libvirt-sock', '/run/libvirt/libvirt-sock-ro')
MODULAR_SOCKETS = ('/run/libvirt/virtqemud-sock', '/run/libvirt/virtqemud-sock-ro')


def libvirt_version_from_library(fs):
    """Version encoded in the library name: libvirt.so.0.9000.0 is 9.0.0.

    Reading a directory is far cheaper than starting a daemon binary.
    """
    for directory in LIB_DIRS:
        for name in fs.listdir(directory):
            match = re.match(r'^libvirt\.so\.0\.(\d+)\.(\d+)$', name)
            if match:
                number = int(match.group(1))
                return '%d.%d.%s' % (number // 1000, number % 1000, match.group(2))
    return None


def program_version(fs, runner, names, banner=None):
    """Version of the first of `names` installed: from the banner its --version prints, found
    in the binary itself, or else by running it. Running QEMU's tools through run_command was
    seen to add a full second (its 1 s poll timeout) to one call in four."""
    for name in names:
        binary = fs.find_bin(name)
        if binary:
            match = VERSION.match(fs.find_after(binary, banner) or '') if banner else None
            if match:
                return match.group(1)
            rc, out, _err = runner.run([binary, '--version'])
            match = VERSION.search(out or '')
            if rc == 0 and match:
                return match.group(1)
    return None


def daemon_layout(fs):
    """'modular', 'monolithic' or 'none', judged by live sockets, then enabled units, then binaries."""
    if any(fs.exists(path) for path in MODULAR_SOCKETS):
        return 'modular'
    if any(fs.exists(path) for path in MONOLITHIC_SOCKETS):
        return 'monolithic'
    if 'enabled' in (unit_state(fs, 'virtqemud.socket'), unit_state(fs, 'virtqemud.service')):
        return 'modular'
    if 'enabled' in (unit_state(fs, 'libvirtd.socket'), unit_state(fs, 'libvirtd.service')):
        return 'monolithic'
    if fs.find_bin('libvirtd'):
        return 'monolithic'
    if fs.find_bin('virtqemud'):
        return 'modular'
    return 'none'


def parse_security_models(capabilities_xml):
    try:
        root = ElementTree.fromstring(capabilities_xml)
    except ElementTree.ParseError:
        return []
    return [model.text for model in root.findall('./host/secmodel/model') if model.text]


def security_models(fs, runner, layout):
    """Models from `virsh capabilities`, or (models, reason-not-queried)."""
    sockets = MODULAR_SOCKETS if layout == 'modular' else MONOLITHIC_SOCKETS
    virsh = fs.find_bin('virsh')
    if virsh is None:
        return [], 'virsh not installed'
    if not any(fs.exists(path) for path in sockets):
        return [], 'no libvirt socket in /run/libvirt'
    rc, out, err = runner.run([virsh, '--readonly', '--connect', 'qemu:///system', 'capabilities'])
    if rc != 0:
        return [], 'virsh capabilities failed: %s' % (err or out).strip()
    return parse_security_models(out), None


def virt_stack_facts(fs, runner, gather_capabilities=True):
    layout = daemon_layout(fs)
    libvirt_version = libvirt_version_from_library(fs)
    if libvirt_version is None and layout != 'none':
        libvirt_version = program_version(fs, runner, ('libvirtd', 'virtqemud'))
    if gather_capabilities and layout != 'none':
        models, not_queried = security_models(fs, runner, layout)
    else:
        models, not_queried = [], 'not requested' if layout != 'none' else 'libvirt not installed'
    return {
        'libvirt_version': libvirt_version,
        'qemu_version': program_version(fs, runner, QEMU_BINARIES, banner=QEMU_BANNER),
        'daemon_layout': layout,
        'security_models': models,
        'security_models_note': not_queried,
        'virsh_installed': fs.find_bin('virsh') is not None,
        'virt_host_validate_installed': fs.find_bin('virt-host-validate') is not None,
    }
