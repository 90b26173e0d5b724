# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""CPU facts from /proc/cpuinfo and /sys/devices/system."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


VENDORS = {'GenuineIntel': 'intel', 'AuthenticAMD': 'amd'}


def parse_cpuinfo(text):
    """List of per-processor dicts from /proc/cpuinfo text."""
    processors = []
    current = {}
    for line in (text or '').splitlines():
        if not line.strip():
            if current:
                processors.append(current)
                current = {}
            continue
        key, sep, value = line.partition(':')
        if sep:
            current[key.strip()] = value.strip()
    if current:
        processors.append(current)
    return processors


def parse_cpulist(text):
    """Count of CPUs or nodes in a kernel list such as '0-3,8,10-11'."""
    members = []
    for part in (text or '').strip().split(','):
        if not part:
            continue
        low, sep, high = part.partition('-')
        try:
            if sep:
                members.extend(range(int(low), int(high) + 1))
            else:
                members.append(int(low))
        except ValueError:
            continue
    return members


def numa_nodes(fs):
    nodes = []
    for name in fs.listdir('/sys/devices/system/node'):
        if not (name.startswith('node') and name[4:].isdigit()):
            continue
        memory_kib = None
        for line in (fs.read('/sys/devices/system/node/%s/meminfo' % name) or '').splitlines():
            # "Node 0 MemTotal:       32768000 kB"
            fields = line.split()
            if len(fields) >= 4 and fields[2] == 'MemTotal:':
                memory_kib = int(fields[3])
        nodes.append({'id': int(name[4:]), 'memory_total_kib': memory_kib})
    return sorted(nodes, key=lambda node: node['id'])


def cpu_facts(fs):
    processors = parse_cpuinfo(fs.read('/proc/cpuinfo'))
    first = processors[0] if processors else {}
    flags = set(first.get('flags', '').split())
    if 'vmx' in flags:
        extension = 'vmx'
    elif 'svm' in flags:
        extension = 'svm'
    else:
        extension = 'none'

    # Topology from the per-processor ids, which both x86 vendors report.
    sockets = set()
    cores = set()
    for proc in processors:
        socket = proc.get('physical id', '0')
        sockets.add(socket)
        cores.add((socket, proc.get('core id', proc.get('processor'))))
    threads = len(processors)
    socket_count = len(sockets) if processors else 0
    core_count = len(cores) if processors else 0

    smt_active = fs.read_strip('/sys/devices/system/cpu/smt/active')
    if smt_active in ('0', '1'):
        smt = smt_active == '1'
    else:
        smt = threads > core_count > 0

    return {
        'vendor': VENDORS.get(first.get('vendor_id'), 'other'),
        'vendor_id': first.get('vendor_id'),
        'model': first.get('model name', ''),
        'virt_extension': extension,
        'hypervisor': 'hypervisor' in flags,
        'smt': smt,
        'sockets': socket_count,
        'cores': core_count,
        'threads': threads,
        'numa_nodes': numa_nodes(fs),
    }
