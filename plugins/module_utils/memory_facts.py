# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Memory, hugepages, KSM and IOMMU facts from /proc and /sys."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def meminfo(fs):
    values = {}
    for line in (fs.read('/proc/meminfo') or '').splitlines():
        key, sep, rest = line.partition(':')
        fields = rest.split()
        if sep and fields and fields[0].isdigit():
            values[key] = int(fields[0])
    return values


def hugepage_pools(fs):
    pools = []
    for name in fs.listdir('/sys/kernel/mm/hugepages'):
        # "hugepages-2048kB"
        size = name[len('hugepages-'):-len('kB')]
        if not (name.startswith('hugepages-') and name.endswith('kB') and size.isdigit()):
            continue
        base = '/sys/kernel/mm/hugepages/' + name
        pools.append({
            'size_kib': int(size),
            'total': fs.read_int(base + '/nr_hugepages', 0),
            'free': fs.read_int(base + '/free_hugepages', 0),
        })
    return sorted(pools, key=lambda pool: pool['size_kib'])


def ksm_facts(fs):
    run = fs.read_int('/sys/kernel/mm/ksm/run')
    return {
        'available': run is not None,
        # 0 stopped, 1 merging, 2 unmerge all and stop
        'run': run,
        'enabled': run == 1,
        'pages_shared': fs.read_int('/sys/kernel/mm/ksm/pages_shared'),
    }


def memory_facts(fs):
    info = meminfo(fs)
    return {
        'total_kib': info.get('MemTotal'),
        'available_kib': info.get('MemAvailable'),
        'hugepages': hugepage_pools(fs),
        'ksm': ksm_facts(fs),
    }


def iommu_facts(fs):
    groups = [name for name in fs.listdir('/sys/kernel/iommu_groups') if name.isdigit()]
    cmdline = (fs.read('/proc/cmdline') or '').split()
    return {
        'enabled': bool(groups),
        'groups': len(groups),
        'cmdline': [arg for arg in cmdline if arg.startswith(('intel_iommu=', 'amd_iommu=', 'iommu=', 'iommu.'))],
    }
