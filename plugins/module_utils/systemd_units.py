# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Enablement and settings of systemd units, read from unit files.

Reading the unit directories costs nothing; `systemctl` costs a process
and a D-Bus round trip per call, and is absent in minimal containers.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


UNIT_DIRS = ('/etc/systemd/system', '/run/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system')
ADMIN_DIRS = ('/etc/systemd/system', '/run/systemd/system')


def unit_state(fs, unit):
    """'masked', 'enabled', 'disabled' or 'not-found', as systemctl is-enabled would say."""
    for directory in ADMIN_DIRS:
        if fs.readlink(directory + '/' + unit) == '/dev/null':
            return 'masked'
    if not any(fs.exists(directory + '/' + unit) for directory in UNIT_DIRS):
        return 'not-found'
    for directory in ADMIN_DIRS:
        for entry in fs.listdir(directory):
            if entry.endswith(('.wants', '.requires')) and fs.exists('%s/%s/%s' % (directory, entry, unit)):
                return 'enabled'
    return 'disabled'


def parse_show(text):
    """{Id: {property: value}} from the output of `systemctl show --property=Id,... UNIT...`,
    which prints one block of NAME=VALUE lines per unit, blocks separated by a blank line.
    A property printed on several lines (Listen, one line per address) keeps its first."""
    units = {}
    for block in (text or '').split('\n\n'):
        properties = {}
        for line in block.splitlines():
            name, sep, value = line.partition('=')
            if sep:
                properties.setdefault(name, value)
        if 'Id' in properties:
            units[properties['Id']] = properties
    return units


def systemctl_show(fs, runner, units, properties, timestamp=None):
    """The properties of every unit from one `systemctl show` call, as parse_show returns
    them, or None when there is no systemctl or it fails (no systemd running).

    timestamp='unix' prints timestamps as @SECONDS (systemd 248 and later). An older systemctl
    refuses the option: it is asked once more without it, and prints them in local time."""
    systemctl = fs.find_bin('systemctl')
    if systemctl is None:
        return None
    wanted = ['Id'] + [name for name in properties if name != 'Id']
    argv = [systemctl, 'show', '--property=' + ','.join(wanted), '--'] + list(units)
    rc, out, _err = runner.run(argv[:2] + ['--timestamp=' + timestamp] + argv[2:] if timestamp else argv)
    if rc != 0 and timestamp:
        rc, out, _err = runner.run(argv)
    if rc != 0:
        return None
    return parse_show(out)


def unix_seconds(value):
    """Seconds since the epoch from a timestamp systemctl printed with --timestamp=unix
    ('@1700000000'); None for an empty value (never happened) or another format."""
    if not value or not value.startswith('@'):
        return None
    try:
        return int(value[1:])
    except ValueError:
        return None


def parse_unit(text, settings=None):
    """Merge one unit file or drop-in into settings: {key: [values]}.

    An empty assignment resets a list, as systemd does for ListenStream=.
    """
    settings = {} if settings is None else settings
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith(('#', ';', '[')):
            continue
        key, sep, value = line.partition('=')
        if not sep:
            continue
        key = key.strip()
        value = value.strip()
        if value == '':
            settings[key] = []
        else:
            settings.setdefault(key, []).append(value)
    return settings


def unit_settings(fs, unit):
    """Effective settings of a unit: main file, then drop-ins in name order."""
    settings = {}
    for directory in UNIT_DIRS:
        text = fs.read(directory + '/' + unit)
        if text is not None:
            parse_unit(text, settings)
            break
    dropins = {}
    # Earlier directories win for drop-ins of the same name.
    for directory in reversed(UNIT_DIRS):
        for name in fs.listdir('%s/%s.d' % (directory, unit)):
            if name.endswith('.conf'):
                dropins[name] = '%s/%s.d/%s' % (directory, unit, name)
    for name in sorted(dropins):
        parse_unit(fs.read(dropins[name]), settings)
    return settings


def last(settings, key, default=None):
    values = settings.get(key) or []
    return values[-1] if values else default
