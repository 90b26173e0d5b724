# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Set or remove keys in a libvirt .conf text while leaving everything else byte for byte.

Several roles own different keys of the same file, so each edit touches only the
assignments of the keys it is given; comments, blank lines and other keys stay.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.libvirt_conf import scan_libvirt_conf

MARKER = '# Managed by kvmcloud.hypervisor (keys below and any key set in place above)'

# The comment that records the keys one caller set, so a key it no longer sets can go.
RECORD = '# Keys set by %s: %s'
_RECORD = re.compile(r'^# Keys set by (?P<owner>[A-Za-z0-9_.-]+):(?P<keys>[A-Za-z0-9_ ]*)\n?', re.M)
_OWNER = re.compile(r'[A-Za-z0-9_.-]+\Z')

# What libvirt's virConfParseName accepts.
_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*\Z')


def normalize_value(name, value):
    """The value as libvirt would parse it back: bools become 1/0. ValueError if it has no libvirt form."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, str)):
        return value
    if isinstance(value, list):
        items = []
        for item in value:
            if isinstance(item, list) or not isinstance(item, (bool, int, str)):
                raise ValueError('%s: list items must be strings or integers, got %r' % (name, item))
            items.append(normalize_value(name, item))
        return items
    # Ansible hands over its own dict and float subclasses: name the kind, not the class.
    kind = 'mapping' if isinstance(value, dict) else 'float' if isinstance(value, float) else type(value).__name__
    raise ValueError('%s: value must be a bool, int, string or list, got a %s' % (name, kind))


def render_value(value):
    """libvirt syntax for a normalized value.

    libvirt's parser knows no escapes: a string runs to the next quote of its kind,
    so a backslash is literal and a `"` inside a value needs single quotes.
    """
    if isinstance(value, list):
        return '[ %s ]' % ', '.join(render_value(item) for item in value) if value else '[ ]'
    if isinstance(value, int):
        return str(value)
    if '\n' in value or '\r' in value:
        raise ValueError('%r: a line break cannot be written in a one-line libvirt string' % value)
    if '"' not in value:
        return '"%s"' % value
    if "'" not in value:
        return "'%s'" % value
    raise ValueError('%r: a string holding both quote characters cannot be written in libvirt syntax' % value)


def _removal(text, found):
    """(start, end, '') cutting one assignment: its whole line(s) when it stands alone, else just the statement."""
    line_start = text.rfind('\n', 0, found.start) + 1
    after = found.end
    while after < len(text) and text[after] in ' \t':
        after += 1
    if after < len(text) and text[after] == ';':
        after += 1
        while after < len(text) and text[after] in ' \t':
            after += 1
    line_end = text.find('\n', after)
    line_end = len(text) if line_end < 0 else line_end + 1
    rest = text[after:line_end].strip()
    if not text[line_start:found.start].strip() and (not rest or rest.startswith('#')):
        # A trailing comment explains the removed value, so it goes with it.
        return line_start, line_end, ''
    return found.start, after, ''


def recorded_keys(text, owner):
    """The keys the comment of owner lists in text, [] when there is none."""
    for found in _RECORD.finditer(text or ''):
        if found.group('owner') == owner:
            return found.group('keys').split()
    return []


def _is_record_of(line, owner):
    found = _RECORD.match(line)
    return found is not None and found.group('owner') == owner


def _with_record(text, owner, keys):
    """text with owner's record comment listing keys, just below MARKER (added when missing)."""
    lines = [line for line in text.splitlines(True) if not _is_record_of(line, owner)]
    if not keys:
        return ''.join(lines)
    if lines and not lines[-1].endswith('\n'):
        lines[-1] += '\n'
    record = RECORD % (owner, ' '.join(sorted(keys))) + '\n'
    if MARKER + '\n' not in lines:
        return ''.join(lines) + MARKER + '\n' + record
    at = lines.index(MARKER + '\n')
    return ''.join(lines[:at + 1] + [record] + lines[at + 1:])


def edit_libvirt_conf(text, settings, record=None):
    """(new_text, changed_keys) after applying settings {name: value or None}.

    With record (a name for the caller, such as kvm_host), the keys it sets are listed in a
    comment under MARKER, and keys listed there that settings no longer name are removed:
    libvirt then uses its default again.

    A key already holding the desired value (in every assignment of it) is left alone.
    Otherwise its last assignment is rewritten in place and earlier ones are dropped, so the
    result does not depend on which duplicate libvirt reads. None removes every assignment.
    New keys go to the end, under MARKER. Raises ConfError if text does not parse and
    ValueError for a name or value libvirt cannot read.
    """
    text = text or ''
    if record is not None and not _OWNER.match(record):
        raise ValueError('record=%r: a name of letters, digits and ._- only' % record)
    if record:
        dropped = [key for key in recorded_keys(text, record) if key not in settings]
        settings = dict(settings, **dict((key, None) for key in dropped))
    by_name = {}
    for found in scan_libvirt_conf(text):
        by_name.setdefault(found.name, []).append(found)

    cuts = []
    appended = []
    changed = []
    for name, value in settings.items():
        if not _NAME.match(name):
            raise ValueError('%r is not a valid libvirt setting name' % name)
        present = by_name.get(name, [])
        if value is None:
            if present:
                changed.append(name)
                cuts.extend(_removal(text, found) for found in present)
            continue
        desired = normalize_value(name, value)
        # 1 never equals "1" in Python, and bools are already 1/0, so == is libvirt's equality.
        if present and all(found.value == desired for found in present):
            continue
        changed.append(name)
        try:
            line = '%s = %s' % (name, render_value(desired))
        except ValueError as exc:
            raise ValueError('%s: %s' % (name, exc))
        if not present:
            appended.append(line)
            continue
        cuts.extend(_removal(text, found) for found in present[:-1])
        cuts.append((present[-1].start, present[-1].end, line))

    # Cut from the end so earlier offsets stay valid.
    for start, end, replacement in sorted(cuts, reverse=True):
        text = text[:start] + replacement + text[end:]

    if appended:
        if text and not text.endswith('\n'):
            text += '\n'
        if MARKER not in text.splitlines():
            text += MARKER + '\n'
        text += ''.join(line + '\n' for line in appended)
    if record:
        text = _with_record(text, record, [key for key, value in settings.items() if value is not None])
    return text, sorted(changed)
