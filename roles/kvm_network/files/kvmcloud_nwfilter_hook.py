# libvirt qemu hook installed by kvmcloud.hypervisor.kvm_network (N3).
#
# libvirt runs every executable in /etc/libvirt/hooks/qemu.d/ as
#   SCRIPT DOMAIN OPERATION SUB-OPERATION EXTRA
# with the domain XML on stdin. On "prepare begin" a non-zero exit stops the guest from
# starting, and libvirt shows what the script wrote on stderr. This hook refuses a guest
# whose NIC on a restricted network lacks the anti-spoofing filter the policy names.
#
# The policy file (JSON, written by the role):
#   {"filter": "clean-traffic", "ip_learning": "any" | "dhcp",
#    "networks": [libvirt network names], "bridges": [bridge names]}
#
# Python 3 standard library only: it runs on the hypervisor, outside Ansible. The role
# adds the interpreter line when it installs the file.

from __future__ import absolute_import, division, print_function

import json
import sys
import xml.etree.ElementTree as ET

__metaclass__ = type

POLICY_PATH = '/etc/kvmcloud/nwfilter-hook.json'
PREFIX = 'kvmcloud kvm_network hook'


class PolicyError(Exception):
    pass


def load_policy(text):
    """The policy from its JSON text; PolicyError when it is not one the hook can apply."""
    try:
        policy = json.loads(text)
    except ValueError as exc:
        raise PolicyError('the policy is not JSON: %s' % exc)
    if not isinstance(policy, dict) or not isinstance(policy.get('filter'), str) or not policy['filter']:
        raise PolicyError('the policy names no filter')
    if policy.get('ip_learning', 'any') not in ('any', 'dhcp'):
        raise PolicyError('ip_learning must be "any" or "dhcp", not %r' % (policy.get('ip_learning'),))
    for key in ('networks', 'bridges'):
        if not isinstance(policy.get(key, []), list):
            raise PolicyError('%s must be a list' % key)
    return {'filter': policy['filter'], 'ip_learning': policy.get('ip_learning', 'any'),
            'networks': set(policy.get('networks', [])), 'bridges': set(policy.get('bridges', []))}


def restricted_attachment(interface, policy):
    """How the NIC reaches a restricted network ("network NAME" or "bridge NAME"), or None."""
    source = interface.find('source')
    if source is None:
        return None
    kind = interface.get('type')
    if kind == 'network':
        if source.get('network') in policy['networks']:
            return 'network %s' % source.get('network')
        # A running or starting guest's live XML also names the network's bridge.
        if source.get('bridge') in policy['bridges']:
            return 'network %s (bridge %s)' % (source.get('network'), source.get('bridge'))
    elif kind == 'bridge' and source.get('bridge') in policy['bridges']:
        return 'bridge %s' % source.get('bridge')
    return None


def filter_problem(interface, policy):
    """What is missing from the NIC's filter reference, or None when it is complete."""
    wanted = policy['filter']
    refs = [ref for ref in interface.findall('filterref') if ref.get('filter') == wanted]
    if not refs:
        found = [ref.get('filter') for ref in interface.findall('filterref')]
        return "lacks <filterref filter='%s'/>%s" % (
            wanted, ' (it references %s)' % ', '.join(found) if found else '')
    if policy['ip_learning'] == 'dhcp':
        params = dict((param.get('name'), param.get('value')) for param in refs[0].findall('parameter'))
        if params.get('CTRL_IP_LEARNING') != 'dhcp':
            return ("has <filterref filter='%s'/> without <parameter name='CTRL_IP_LEARNING' value='dhcp'/>"
                    % wanted)
    return None


def violations(domain_xml, policy):
    """One message per NIC on a restricted network whose filter is missing or incomplete."""
    try:
        root = ET.fromstring(domain_xml)
    except ET.ParseError as exc:
        return ['the domain XML cannot be read: %s' % exc]
    problems = []
    for index, interface in enumerate(root.findall('devices/interface')):
        where = restricted_attachment(interface, policy)
        if where is None:
            continue
        problem = filter_problem(interface, policy)
        if problem:
            mac = interface.find('mac')
            name = mac.get('address') if mac is not None else 'number %d' % (index + 1)
            problems.append('interface %s on restricted %s %s' % (name, where, problem))
    return problems


def decide(argv, read_stdin, read_policy):
    """(exit code, message) for one hook call. read_stdin and read_policy return text."""
    domain_xml = read_stdin()
    if len(argv) < 3 or (argv[1], argv[2]) != ('prepare', 'begin'):
        return 0, ''
    try:
        policy = load_policy(read_policy())
    except (IOError, OSError, PolicyError) as exc:
        # Fail closed: without its policy the hook cannot tell a safe guest from another.
        return 1, '%s: guest %s not started: cannot read %s: %s' % (PREFIX, argv[0], POLICY_PATH, exc)
    problems = violations(domain_xml, policy)
    if not problems:
        return 0, ''
    return 1, '%s: guest %s not started: %s. Add the filter to each such interface (kvm_network_nwfilter).' % (
        PREFIX, argv[0], '; '.join(problems))


def read_policy_file():
    with open(POLICY_PATH) as handle:
        return handle.read()


def main():
    # libvirt writes the whole XML even when the hook has no use for it; read it all.
    code, message = decide(sys.argv[1:], sys.stdin.read, read_policy_file)
    if message:
        sys.stderr.write(message + '\n')
    return code


if __name__ == '__main__':
    sys.exit(main())
