# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parser for libvirt's configuration file syntax (virConf).

Handles what libvirt's own parser accepts: `#` comments anywhere outside
strings, `key = value` entries ended by a newline or `;`, integers, strings
in double, single or triple double quotes, and lists in brackets that may
span lines and hold comments and a trailing comma.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ConfError(ValueError):
    pass


class _Reader:
    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.line = 1

    def peek(self, count=1):
        return self.text[self.pos:self.pos + count]

    def advance(self, count=1):
        chunk = self.text[self.pos:self.pos + count]
        self.line += chunk.count('\n')
        self.pos += count
        return chunk

    def at_end(self):
        return self.pos >= len(self.text)

    def skip_blanks(self, newlines=False):
        """Skip spaces and comments; also newlines when inside a list."""
        while not self.at_end():
            char = self.peek()
            if char in ' \t\r' or (newlines and char == '\n'):
                self.advance()
            elif char == '#':
                while not self.at_end() and self.peek() != '\n':
                    self.advance()
            else:
                return

    def error(self, message):
        raise ConfError('line %d: %s' % (self.line, message))


def _parse_name(reader):
    start = reader.pos
    if not (reader.peek().isalpha() or reader.peek() == '_'):
        reader.error('expected a setting name')
    while not reader.at_end() and (reader.peek().isalnum() or reader.peek() in '_.-'):
        reader.advance()
    return reader.text[start:reader.pos]


def _parse_string(reader):
    if reader.peek(3) == '"""':
        reader.advance(3)
        end = reader.text.find('"""', reader.pos)
        if end < 0:
            reader.error('unterminated triple-quoted string')
        value = reader.text[reader.pos:end]
        reader.advance(end - reader.pos + 3)
        return value
    quote = reader.advance()
    end = reader.pos
    while end < len(reader.text) and reader.text[end] not in (quote, '\n'):
        end += 1
    if end >= len(reader.text) or reader.text[end] != quote:
        reader.error('unterminated string')
    value = reader.text[reader.pos:end]
    reader.advance(end - reader.pos + 1)
    return value


def _parse_value(reader, in_list=False):
    reader.skip_blanks(newlines=in_list)
    char = reader.peek()
    if char in ('"', "'"):
        return _parse_string(reader)
    if char == '[':
        if in_list:
            reader.error('nested lists are not allowed')
        reader.advance()
        items = []
        while True:
            reader.skip_blanks(newlines=True)
            if reader.peek() == ']':
                reader.advance()
                return items
            items.append(_parse_value(reader, in_list=True))
            reader.skip_blanks(newlines=True)
            if reader.peek() == ',':
                reader.advance()
            elif reader.peek() != ']':
                reader.error('expected , or ] in list')
    if char in '+-' or char.isdigit():
        start = reader.pos
        reader.advance()
        while reader.peek().isdigit():
            reader.advance()
        try:
            return int(reader.text[start:reader.pos])
        except ValueError:
            reader.error('bad number')
    reader.error('expected a string, number or list')


class Assignment:
    """One `name = value` statement; text[start:end] runs from the name to the end of the value."""

    def __init__(self, name, value, start, end, line):
        self.name = name
        self.value = value
        self.start = start
        self.end = end
        self.line = line

    def __repr__(self):
        return 'Assignment(%r, %r, line=%d)' % (self.name, self.value, self.line)


def scan_libvirt_conf(text):
    """Every assignment in file order, with where it sits, for callers that edit the text."""
    reader = _Reader(text or '')
    found = []
    while True:
        reader.skip_blanks(newlines=True)
        if reader.at_end():
            return found
        if reader.peek() == ';':
            reader.advance()
            continue
        start, line = reader.pos, reader.line
        name = _parse_name(reader)
        reader.skip_blanks()
        if reader.peek() != '=':
            reader.error('expected = after %s' % name)
        reader.advance()
        value = _parse_value(reader)
        found.append(Assignment(name, value, start, reader.pos, line))
        reader.skip_blanks()
        if not reader.at_end() and reader.peek() not in '\n;':
            reader.error('unexpected text after %s' % name)


def parse_libvirt_conf(text):
    """{name: value} of the settings in a libvirt .conf text.

    The first assignment of a name wins, as in libvirt (virConfGetValue returns the first match).
    """
    settings = {}
    for found in scan_libvirt_conf(text):
        settings.setdefault(found.name, found.value)
    return settings


def read_libvirt_conf(fs, path):
    """(settings, error): settings is None when the file is absent; error when it does not parse."""
    text = fs.read(path)
    if text is None:
        return None, None
    try:
        return parse_libvirt_conf(text), None
    except ConfError as exc:
        return {}, '%s: %s' % (path, exc)
