# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Input checks of kvm_monitoring that its argument spec cannot express, and the choice of the
address the node exporter listens on, from the host's network facts.

Messages start from the variable to fix. Patterns match the whole string.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

INTERFACE = re.compile(r'[A-Za-z0-9_.@:-]{1,15}')
# Names the exporter toolkit's web config takes as YAML keys, and a basic auth client sends.
USER_NAME = re.compile(r'[A-Za-z0-9_.-]+')
# What the exporter toolkit accepts: bcrypt, any of its prefixes, cost 04 to 31.
BCRYPT = re.compile(r'\$2[aby]?\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}')
HASH_HINT = 'make one with `htpasswd -nbBC 10 NAME PASSWORD` (apache2-utils) or Python bcrypt.hashpw'


def kvm_monitoring_errors(params):
    """params: listen_interface, node_exporter_port, libvirt_exporter_port, tls_cert, tls_key,
    basic_auth_users, libvirt_metrics_interval. The TLS files are on the controller: they are read here."""
    errors = []
    interface = params['listen_interface']
    if interface and not (isinstance(interface, str) and INTERFACE.fullmatch(interface)):
        errors.append('kvm_monitoring_listen_interface = %r is not an interface name (at most 15 letters, '
                      'digits and _.@:-). Name the management interface, or leave it empty for the '
                      'interface of the IPv4 default route.' % (interface,))
    ports = {}
    for name in ('node_exporter_port', 'libvirt_exporter_port'):
        port = params[name]
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            errors.append('kvm_monitoring_%s = %r is not a TCP port (1-65535).' % (name, port))
        else:
            ports[name] = port
    if len(ports) == 2 and ports['node_exporter_port'] == ports['libvirt_exporter_port']:
        errors.append('kvm_monitoring_node_exporter_port and kvm_monitoring_libvirt_exporter_port are both %d: '
                      'the two exporters need a port each.' % ports['node_exporter_port'])
    for name in ('tls_cert', 'tls_key'):
        path = params[name]
        if not path:
            errors.append('kvm_monitoring_%s is empty: the node exporter serves its metrics over TLS only. Set it '
                          'to a PEM file on the controller (the %s).'
                          % (name, 'certificate, chain included' if name == 'tls_cert' else 'certificate\'s private key'))
        elif not os.path.isfile(path):
            errors.append('kvm_monitoring_%s = %r: no such file on the controller. Give the path of the PEM file '
                          'there; the role copies it to the host.' % (name, path))
    errors.extend(_user_errors(params['basic_auth_users']))
    interval = params['libvirt_metrics_interval']
    if not isinstance(interval, int) or isinstance(interval, bool) or not 5 <= interval <= 3600:
        errors.append('kvm_monitoring_libvirt_metrics_interval = %r: seconds between two copies of the libvirt '
                      'metrics, 5 to 3600.' % (interval,))
    return errors


def _user_errors(users):
    if not isinstance(users, list) or not users:
        return ['kvm_monitoring_basic_auth_users is empty: the node exporter answers only the users listed there '
                '(basic auth). Add at least one {name: NAME, password_hash: BCRYPT_HASH}; %s.' % HASH_HINT]
    errors, seen = [], {}
    for index, user in enumerate(users):
        where = 'kvm_monitoring_basic_auth_users[%d]' % index
        if not isinstance(user, dict) or set(user) != {'name', 'password_hash'}:
            errors.append('%s = %r: each entry is a dict with exactly the keys name and password_hash.' % (where, user))
            continue
        name, digest = user['name'], user['password_hash']
        if not (isinstance(name, str) and USER_NAME.fullmatch(name)):
            errors.append('%s.name = %r: letters, digits and _.- only.' % (where, name))
        elif name in seen:
            errors.append('%s.name = %r: already the name of entry [%d]; each user once.' % (where, name, seen[name]))
        else:
            seen[name] = index
        if not (isinstance(digest, str) and BCRYPT.fullmatch(digest)):
            # The value itself is left out: it may be a password pasted in by mistake.
            errors.append('%s.password_hash (of %r) is not a bcrypt hash ($2y$10$ and 53 characters): the exporter '
                          'compares passwords to bcrypt hashes only; %s.' % (where, name, HASH_HINT))
    return errors


def listen_address(network, interface):
    """The address the node exporter listens on: the first global address of INTERFACE (or of the
    interface of the IPv4, then IPv6, default route when it is empty), which must be one of the
    host's management interfaces. NETWORK is ansible_facts.kvm_network (kvm_network_facts).
    Returns {'interface', 'address', 'error'}; address is bracketed for IPv6."""
    links = network.get('links', {})
    management = network.get('management_interfaces', [])
    chosen = interface or next(iter(network.get('default_route_interfaces', [])), '')
    result = {'interface': chosen, 'address': '', 'error': ''}
    if not chosen:
        result['error'] = ('kvm_monitoring_listen_interface is empty and the host has no default route: name the '
                           'management interface the node exporter listens on.')
    elif chosen not in links:
        result['error'] = ('kvm_monitoring_listen_interface = %r: the host has no such interface (it has %s).'
                           % (chosen, ', '.join(sorted(links)) or 'none'))
    elif chosen not in management:
        result['error'] = ('kvm_monitoring_listen_interface = %r is not a management interface of this host (%s): '
                           'the exporters listen only where the host is managed from, never on a guest bridge. '
                           'Name one of those, or leave the variable empty for the default route\'s interface.'
                           % (chosen, ', '.join(management) or 'none found'))
    else:
        link = links[chosen]
        ipv4 = [a.partition('/')[0] for a in link.get('ipv4', [])]
        ipv6 = [a.partition('/')[0] for a in link.get('ipv6', []) if not a.lower().startswith('fe80')]
        if ipv4:
            result['address'] = ipv4[0]
        elif ipv6:
            result['address'] = '[%s]' % ipv6[0]
        else:
            result['error'] = ('kvm_monitoring_listen_interface: %s has no global address for the node exporter '
                               'to listen on.' % chosen)
    return result
