# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the config_files module accepts, shared with its action plugin, which answers for the module
only where the module would accept the entry."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# An octal mode as a string: '644', '0644', '2755', '02755'.
MODE_PATTERN = re.compile(r'^0?[0-7]{3,4}$')
