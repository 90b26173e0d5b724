# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host's package database: whether an interrupted install left it mid-operation, and
which packages are fully installed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DPKG_STATUS = '/var/lib/dpkg/status'
DPKG_UPDATES = '/var/lib/dpkg/updates'
APT_LISTS = '/var/lib/apt/lists'


# The package whose version is libvirt's: the preflight checks config keys against it.
LIBVIRT_PACKAGE = 'libvirt-daemon'


def dpkg_stanzas(status_text):
    """The fields of each package in dpkg's status file, one dict per stanza (continuation
    lines, such as a description's, left out)."""
    for stanza in status_text.split('\n\n'):
        fields = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(':')
            if sep and not line[:1].isspace():
                fields[key] = value.strip()
        if fields.get('Package'):
            yield fields


def installed_dpkg_versions(status_text):
    """{name: version} of the packages dpkg's status file records as 'install ok installed'. A
    package left half-configured or unpacked is not installed: apt still has work to do on it."""
    return {fields['Package']: fields.get('Version', '') for fields in dpkg_stanzas(status_text)
            if fields.get('Status') == 'install ok installed'}


def to_reinstall(status_text):
    """The packages dpkg's status file marks 'reinstreq', sorted: dpkg stopped while unpacking
    them, and refuses to configure them until they are reinstalled."""
    return sorted({fields['Package'] for fields in dpkg_stanzas(status_text)
                   if 'reinstreq' in fields.get('Status', '').split()})


def journal_entries(fs):
    """dpkg's journal: the numbered files under updates/ that a finished dpkg run folds into
    its status file. Any left behind is what makes apt refuse to run ("dpkg was interrupted")."""
    return [name for name in fs.listdir(DPKG_UPDATES) if name.isdigit()]


def upstream_version(version):
    """'9.0.0' of a Debian version such as '1:9.0.0-4+deb12u2': no epoch, no Debian revision."""
    version = version.split(':', 1)[-1]
    return version.rsplit('-', 1)[0] if '-' in version else version


def package_db_facts(fs):
    """dpkg journals each status change in numbered files under updates/ and folds them into
    its status file when it finishes; numbered files left behind are what makes apt refuse to
    run with "dpkg was interrupted". The installed list lets a role skip its package module
    when nothing is missing, and libvirt's version tells the preflight which config keys its
    files know (both null where they cannot be read cheaply: RPM hosts)."""
    if not fs.isdir('/var/lib/dpkg'):
        return {'manager': 'rpm' if fs.isdir('/var/lib/rpm') else None, 'interrupted': False, 'installed': None,
                'libvirt_version': None, 'apt_lists': None}
    pending = journal_entries(fs)
    status = fs.read(DPKG_STATUS)
    versions = installed_dpkg_versions(status) if status is not None and not pending else None
    # A package dpkg was unpacking when it was killed must be reinstalled; once an earlier
    # `dpkg --configure -a` folded the journal, only its status says so.
    return {'manager': 'dpkg', 'interrupted': bool(pending) or bool(to_reinstall(status or '')),
            'installed': sorted(versions) if versions is not None else None,
            'libvirt_version': upstream_version(versions[LIBVIRT_PACKAGE]) if versions and versions.get(LIBVIRT_PACKAGE) else None,
            'apt_lists': apt_lists_present(fs)}


def apt_lists_present(fs):
    """Whether apt has package lists. Image builders empty them and leave the folder's mtime
    fresh, so apt's cache_valid_time would skip the update that an install then needs."""
    return any('_Packages' in name for name in fs.listdir(APT_LISTS))
