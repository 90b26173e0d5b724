# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kvm_guests' input under one shape, and what the argument spec cannot check about it.

build(settings) takes the role's variables (see roles/kvm_guests/vars/main.yml,
__kvm_guests_settings) and returns the merged profiles, the base images and the guests with
every default filled in, plus one message per input error. Each message is worded as the
role's assertions worded it before they moved here, and starts from the variable to fix.

Values are read the way the role's Jinja read them: "default(x, true)" replaces every false
value, "| int" turns what it cannot read into 0, and "is boolean" wants a real boolean.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests.disk_places import (
    default_format, disk_place, pool_disk_errors, pools_by_name)
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.places import (
    inside, is_system_place, system_place_rule)

# Guest names are also hostnames and directory names: 1-63 letters, digits, '.' and '-',
# starting and ending with a letter or digit.
NAME_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?\Z')
# libvirt network, portgroup, nwfilter and base image names.
OBJECT_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z')
# Unicast MAC addresses, lower case.
MAC_RE = re.compile(r'^[0-9a-f][02468ace](:[0-9a-f]{2}){5}\Z')
CHECKSUM_RE = re.compile(r'^(sha256:[0-9a-fA-F]{64}|sha384:[0-9a-fA-F]{96}|sha512:[0-9a-fA-F]{128})\Z')
DIR_RE = re.compile(r'^/[^\'"<>&\x00-\x1f\x7f]*[^/\x00-\x1f\x7f]\Z')
CPU_MODEL_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*\Z')
USER_DATA_RE = re.compile(r'^(#cloud-config|#!|Content-Type:|#include)')
URL_RE = re.compile(r'^(https?|ftp)://')

STATES = ('running', 'shutoff', 'undefined')
DISK_FORMATS = ('qcow2', 'raw')
IMAGE_SOURCES = ('src', 'path', 'url')
CLOUD_INIT_KEYS = ('user_data', 'meta_data', 'network_config')
PROFILE_BOOLEANS = ('memballoon', 'secure_boot', 'tpm', 'console_log')
CPU_MODES = ('host-passthrough', 'host-model', 'fleet')


def text(value):
    """A value as a Jinja expression in a message renders it (ansible-core 2.19: None is '')."""
    if value is None:
        return ''
    return value if isinstance(value, str) else str(value)


def or_default(value, default):
    """Jinja's default(default, true): every false value is replaced."""
    return value if value else default


def given(value, default):
    """The default only where no value was given (None)."""
    return default if value is None else value


def to_int(value):
    """Jinja's int filter: what it cannot read is 0."""
    try:
        if isinstance(value, str):
            return int(value, 10)
        return int(value)
    except (TypeError, ValueError, OverflowError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return 0


def matches(pattern, value):
    """Ansible's match test: the value as text, matched from its start."""
    if value is None:
        value = 'None'
    elif not isinstance(value, str):
        value = str(value)
    return pattern.match(value) is not None


def duplicates(values):
    """Values given more than once, in the order of their first appearance."""
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return [value for value, count in counts.items() if count > 1]


def whole_number(value):
    """An int, or a string of digits read as one; None for anything else (bools, floats, and
    strings such as "10'/>" that Jinja's int would read as 0 and the template would copy)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r'[0-9]{1,9}', value):
        return int(value)
    return None


def number_in(value, low, high):
    number = whole_number(value)
    return number is not None and low <= number <= high


# Profile values written into the domain XML as numbers.
PROFILE_NUMBERS = ('iothreads', 'memballoon_stats_period_seconds')


def merge_profiles(settings):
    """Each profile: the defaults, then the built-in profile of that name, then the user's."""
    defaults = settings['profile_defaults']
    builtin = settings['builtin_profiles'] or {}
    user = settings['profiles'] or {}
    profiles = {}
    invalid = {}
    for name in list(builtin) + [key for key in user if key not in builtin]:
        profile = dict(defaults)
        profile.update(builtin.get(name) or {})
        given = user.get(name)
        if isinstance(given, dict):
            profile.update(given)
        elif given:
            invalid[name] = given
        for key in PROFILE_NUMBERS:
            number = whole_number(profile.get(key))
            if number is not None:
                profile[key] = number
        profiles[name] = profile
    return profiles, invalid


def shape_images(settings):
    images = []
    for image in settings['base_images'] or []:
        checksum = text(or_default(image.get('checksum'), ''))
        kinds = [kind for kind in IMAGE_SOURCES if kind in image]
        kind = kinds[0] if kinds else ''
        image_format = or_default(image.get('format'), 'qcow2')
        source = image.get(kind, '') if kind else ''
        images.append({
            'name': image.get('name'),
            'format': image_format,
            'checksum': checksum,
            'algorithm': checksum.split(':')[0],
            'digest': checksum.split(':')[-1].lower(),
            'kind': kind,
            'kinds': kinds,
            'source': '' if source is None else source,
            'dest': '%s/%s.%s' % (settings['base_image_dir'], text(image.get('name')), text(image_format)),
        })
    return images


def shape_guests(settings, images, pools):
    """pools: {name: pool} of kvm_host's pools declared present (disk_places.pools_by_name)."""
    paths = dict((image['name'], image['dest']) for image in images)
    formats = dict((image['name'], image['format']) for image in images)
    guests = []
    for entry in settings['guests'] or []:
        name = entry.get('name')
        state = or_default(entry.get('state'), 'running')
        directory = '%s/%s' % (settings['storage_dir'], text(name))
        disks = []
        for index, disk in enumerate(or_default(entry.get('disks'), [])):
            disk_format = or_default(disk.get('format'), default_format(disk.get('pool'), pools))
            base = or_default(disk.get('base_image'), '')
            shaped = {
                'index': index,
                'size_gib': disk.get('size_gib'),
                'format': disk_format,
                'base_image': base,
                'base_path': paths.get(base, ''),
                'base_format': formats.get(base, ''),
                'pool': text(or_default(disk.get('pool'), '')),
                'lun': disk.get('lun'),
            }
            shaped.update(disk_place(shaped, pools, text(name), directory))
            disks.append(shaped)
        nics = []
        for nic in or_default(entry.get('nics'), []):
            nwfilter = nic.get('nwfilter')
            nics.append({
                'network': or_default(nic.get('network'), ''),
                'portgroup': or_default(nic.get('portgroup'), ''),
                'mac': text(or_default(nic.get('mac'), '')).lower(),
                'nwfilter': settings['nwfilter'] if nwfilter is None else nwfilter,
            })
        cloud_init = or_default(entry.get('cloud_init'), {})
        autostart = entry.get('autostart')
        guests.append({
            'name': name,
            'profile': or_default(entry.get('profile'), settings['default_profile']),
            # 0 is a value to refuse, not a request for the default.
            'vcpus': to_int(given(entry.get('vcpus'), 1)),
            'cpu_mode': or_default(entry.get('cpu_mode'), settings.get('cpu_mode', 'host-passthrough')),
            'memory_mib': to_int(given(entry.get('memory_mib'), 1024)),
            'disks': disks,
            'nics': nics,
            'cloud_init': cloud_init,
            'state': state,
            'autostart': autostart if autostart is not None else state == 'running',
            'remove_disks': bool(entry.get('remove_disks')),
            'dir': directory,
            'seed_path': (directory + '/seed.iso') if cloud_init else '',
        })
    return guests


# Input checks. Each returns a list of messages; the wording is the role's.

def check_places(settings):
    """The role's directories are its own: not at the top level or in a system tree (for the
    two it removes from), and none inside another (a guest named like the directory below
    would take it along)."""
    places = [('kvm_guests_base_image_dir', settings['base_image_dir']),
              ('kvm_guests_storage_dir', settings['storage_dir']),
              ('kvm_guests_definition_dir', settings['definition_dir']),
              ('kvm_guests_console_log_dir', settings['console_log_dir'])]
    problems = []
    # The role removes whole guest directories under the storage directory (remove_disks).
    for var, path in places[:2]:
        if is_system_place(path):
            problems.append('%s (%s) is %s' % (var, path, system_place_rule()))
    for var, path in places:
        for other_var, other in places:
            if var != other_var and inside(path, other):
                problems.append('%s (%s) lies inside %s (%s)' % (var, path, other_var, other))
    if not problems:
        return []
    return ['%s. The role removes guest directories under kvm_guests_storage_dir: give it and the base image'
            ' directory places of their own, such as /var/lib/libvirt/images/guests and'
            ' /var/lib/libvirt/images/base.' % '; '.join(problems)]


def check_settings(settings):
    dirs = [('kvm_guests_base_image_dir', settings['base_image_dir']), ('kvm_guests_storage_dir', settings['storage_dir']),
            ('kvm_guests_definition_dir', settings['definition_dir']),
            ('kvm_guests_console_log_dir', settings['console_log_dir'])]
    nwfilter = settings['nwfilter']
    errors = ["%s (%s) must be an absolute path without quotes, '<', '>', '&', control characters or a trailing"
              " '/'." % (var, text(path)) for var, path in dirs if not matches(DIR_RE, path)]
    if len(set(path for _var, path in dirs)) != len(dirs):
        errors.append('%s must be four different directories (got %s).'
                      % (', '.join(var for var, _path in dirs), ', '.join(text(path) for _var, path in dirs)))
    if settings.get('cpu_mode', 'host-passthrough') not in CPU_MODES:
        errors.append('kvm_guests_cpu_mode (%s) must be host-passthrough, host-model or fleet.'
                      % text(settings.get('cpu_mode')))
    if settings.get('fleet_cpu_model') and not matches(CPU_MODEL_RE, settings['fleet_cpu_model']):
        errors.append('kvm_guests_fleet_cpu_model (%s) must be empty (the baseline of the play\'s hosts) or a CPU'
                      ' model name libvirt knows, such as Skylake-Server-IBRS (virsh cpu-models x86_64).'
                      % text(settings['fleet_cpu_model']))
    if not matches(CPU_MODEL_RE, settings['emulated_cpu_model']):
        errors.append('kvm_guests_emulated_cpu_model (%s) must be a CPU model name such as qemu64.'
                      % text(settings['emulated_cpu_model']))
    if nwfilter not in ('', None) and not matches(OBJECT_NAME_RE, nwfilter):
        errors.append('kvm_guests_nwfilter (%s) must be a filter name such as clean-traffic.' % text(nwfilter))
    if settings['nwfilter_ip_learning'] not in ('any', 'dhcp'):
        errors.append('kvm_guests_nwfilter_ip_learning (%s) must be any or dhcp.' % text(settings['nwfilter_ip_learning']))
    if to_int(settings['shutdown_timeout_seconds']) < 10:
        errors.append('kvm_guests_shutdown_timeout_seconds (%s) must be at least 10: a guest needs time to shut'
                      ' down over ACPI.' % text(settings['shutdown_timeout_seconds']))
    if to_int(settings['emulated_tb_cache_mib']) < 32:
        errors.append('kvm_guests_emulated_tb_cache_mib (%s) must be at least 32.' % text(settings['emulated_tb_cache_mib']))
    return errors or check_places(settings)


def check_profiles(settings, profiles, invalid):
    defaults = settings['profile_defaults']
    choices = settings['profile_choices']
    errors = []
    for name, profile in profiles.items():
        problems = []
        if name in invalid:
            problems.append('it must be a mapping of settings (got %s)' % json.dumps(invalid[name]))
        unknown = [key for key in profile if key not in defaults]
        if unknown:
            problems.append('keys must be among %s (unknown: %s)' % (', '.join(defaults), ', '.join(unknown)))
        problems.extend('%s (%s) must be one of %s' % (key, text(profile.get(key)), '/'.join(values))
                        for key, values in choices.items() if profile.get(key) not in values)
        # O_DIRECT is what io=native needs; QEMU refuses it on top of the host page cache.
        if profile.get('disk_io') == 'native' and profile.get('disk_cache') not in ('none', 'directsync'):
            problems.append('disk_io native needs cache none or directsync (got disk_cache %s)'
                            % text(profile.get('disk_cache')))
        if not number_in(profile.get('iothreads'), 1, 16):
            problems.append('iothreads 1-16, a whole number (got %s)' % text(profile.get('iothreads')))
        if not number_in(profile.get('memballoon_stats_period_seconds'), 0, 86400):
            problems.append('memballoon_stats_period_seconds 0-86400, a whole number (got %s)'
                            % text(profile.get('memballoon_stats_period_seconds')))
        problems.extend('%s (%s) must be true or false' % (key, text(profile.get(key)))
                        for key in PROFILE_BOOLEANS if not isinstance(profile.get(key), bool))
        errors.extend('kvm_guests_profiles entry %s: %s.' % (name, problem) for problem in problems)
    return errors


def check_images(images):
    names = [image['name'] for image in images]
    errors = []
    for index, image in enumerate(images):
        source = image['source']
        problems = []
        if not matches(OBJECT_NAME_RE, image['name']):
            problems.append("the name may hold letters, digits, '.', '_' and '-'")
        elif names.count(image['name']) > 1:
            problems.append('the name is given more than once')
        if len(image['kinds']) != 1 or len(text(source)) == 0:
            problems.append('give exactly one of src (an absolute path on the controller), path (an absolute path on'
                            ' the host) or url (http, https or ftp), found %s' % (', '.join(image['kinds']) or 'none'))
        elif image['kind'] == 'url' and not matches(URL_RE, source):
            problems.append('url (%s) must be http, https or ftp' % text(source))
        elif image['kind'] != 'url' and not matches(re.compile('^/'), source):
            problems.append('%s (%s) must be an absolute path' % (image['kind'], text(source)))
        if not matches(CHECKSUM_RE, image['checksum']):
            problems.append('checksum must be sha256:, sha384: or sha512: with the hex digest')
        if image['format'] not in DISK_FORMATS:
            problems.append('format must be qcow2 or raw (got %s)' % text(image['format']))
        errors.extend('kvm_guests_base_images[%d] entry %s: %s.' % (index, text(image['name']), problem)
                      for problem in problems)
    return errors


def check_names(settings, guests, profiles):
    names = [guest['name'] for guest in guests]
    invalid = [name for name in names if not matches(NAME_RE, name)]
    repeated = duplicates(names)
    errors = []
    if invalid or repeated:
        errors.append(
            "kvm_guests_list: guest names must be unique and 1-63 letters, digits, '.' or '-', starting and ending"
            " with a letter or digit (they are also hostnames and directory names): check %s."
            % ', '.join(text(name) for name in invalid + repeated))
    if settings['default_profile'] not in profiles:
        errors.append('kvm_guests_default_profile (%s) must be one of %s.'
                      % (text(settings['default_profile']), ', '.join(profiles)))
    return errors


def entry_of(guests, guest):
    """How a message names a guest: kvm_guests_list[INDEX] entry NAME."""
    index = next(position for position, other in enumerate(guests) if other is guest)
    return 'kvm_guests_list[%d] entry %s' % (index, text(guest['name']))


def check_guests(guests, profiles, cpu_mode):
    """One message per rule an entry breaks, each with its value and the fix. cpu_mode is
    kvm_guests_cpu_mode, which check_settings checks: a guest that takes it is not blamed for it."""
    errors = []
    for guest in guests:
        disks = guest['disks']
        problems = []
        if guest['profile'] not in profiles:
            problems.append('profile (%s) must be one of %s: pick one, or declare it in kvm_guests_profiles'
                            % (text(guest['profile']), ', '.join(profiles)))
        if guest['state'] not in STATES:
            problems.append('state (%s) must be running, shutoff or undefined' % text(guest['state']))
        if not isinstance(guest['autostart'], bool):
            problems.append('autostart (%s) must be true or false' % text(guest['autostart']))
        if guest['cpu_mode'] not in CPU_MODES and guest['cpu_mode'] != cpu_mode:
            problems.append('cpu_mode (%s) must be host-passthrough, host-model or fleet, or left out for'
                            ' kvm_guests_cpu_mode' % text(guest['cpu_mode']))
        if not 1 <= guest['vcpus'] <= 255:
            problems.append('vcpus 1-255 (got %s): give a whole number in that range' % guest['vcpus'])
        # OVMF with Secure Boot and a current kernel do not get far on less.
        if not 256 <= guest['memory_mib'] <= 4194304:
            problems.append('memory_mib 256-4194304 (got %s): a guest booting UEFI needs at least 256'
                            % guest['memory_mib'])
        if len(disks) > 20:
            problems.append('it has %d disks, at most 20 are allowed' % len(disks))
        # Nothing else boots the guest: no installer ISO, no network boot.
        if guest['state'] != 'undefined' and (not disks or disks[0]['base_image'] == ''):
            problems.append('the first disk must be an overlay of a base image (base_image), because the guest'
                            ' boots from it: give it base_image, one of kvm_guests_base_images')
        errors.extend('%s: %s.' % (entry_of(guests, guest), problem) for problem in problems)
    return errors


def check_disks(guests, wanted, images, pools):
    image_names = ', '.join(text(image['name']) for image in images) or 'none'
    errors = []
    for guest in wanted:
        for disk in guest['disks']:
            size = disk['size_gib']
            problems = []
            # A LUN has the size its target gave it.
            if disk['pool_type'] == 'iscsi':
                if size is not None:
                    problems.append('size_gib must be left out on iSCSI pool %s (got %s): a LUN has the size its'
                                    ' target gives it' % (disk['pool'], text(size)))
            elif not (matches(re.compile(r'^[0-9]+\Z'), size) and 1 <= to_int(size) <= 65536):
                problems.append('size_gib must be a whole number 1-65536 (got %s)' % text(size))
            if disk['format'] not in DISK_FORMATS:
                problems.append('format must be qcow2 or raw (got %s)' % text(disk['format']))
            if disk['base_image'] != '' and disk['base_path'] == '':
                problems.append('base_image %s must name one of kvm_guests_base_images (%s)'
                                % (text(disk['base_image']), image_names))
            # An overlay must be qcow2: raw has no header to name a backing file.
            if disk['overlay'] and disk['format'] in DISK_FORMATS and disk['format'] != 'qcow2':
                problems.append('an overlay of base_image %s must be qcow2 (got %s): raw has no header to name'
                                ' its backing file' % (text(disk['base_image']), text(disk['format'])))
            problems += pool_disk_errors(disk, pools)
            label = 'disks[%d]' % disk['index'] if disk['pool'] else 'disk ' + disk['path'].rsplit('/', 1)[-1]
            errors.extend('%s %s: %s.' % (entry_of(guests, guest), label, problem) for problem in problems)
    return errors


def check_nics(guests, wanted, restricted):
    errors = []
    for guest in wanted:
        for index, nic in enumerate(guest['nics']):
            nwfilter = nic['nwfilter']
            problems = []
            if not matches(OBJECT_NAME_RE, nic['network']):
                problems.append('the network (%s) must be the name of a libvirt network' % text(nic['network']))
            if nic['portgroup'] != '' and not matches(OBJECT_NAME_RE, nic['portgroup']):
                problems.append('portgroup (%s) must be a name' % text(nic['portgroup']))
            if nic['mac'] != '' and not matches(MAC_RE, nic['mac']):
                problems.append('mac (%s) must be a unicast address such as 52:54:00:12:34:56' % text(nic['mac']))
            if nwfilter not in ('', None) and not matches(OBJECT_NAME_RE, nwfilter):
                problems.append('nwfilter (%s) must be a filter name' % text(nwfilter))
            if nic['network'] in restricted and nwfilter in ('', None):
                problems.append('nwfilter must not be "" on %s, a restricted network of kvm_network (restricted: %s):'
                                ' its hook would refuse to start the guest; leave nwfilter out to get the role\'s'
                                % (text(nic['network']), ', '.join(text(name) for name in restricted)))
            errors.extend("%s nics[%d] on '%s': %s." % (entry_of(guests, guest), index, text(nic['network']), problem)
                          for problem in problems)
    return errors


def check_macs(wanted):
    macs = [nic['mac'] for guest in wanted for nic in guest['nics'] if nic['mac']]
    repeated = duplicates(macs)
    if not repeated:
        return []
    return ['kvm_guests_list gives these MAC addresses more than once: %s.' % ', '.join(repeated)]


def check_cloud_init(guests, wanted):
    errors = []
    for guest in wanted:
        cloud_init = guest['cloud_init']
        if not cloud_init:
            continue
        if isinstance(cloud_init, dict):
            ok = (all(key in CLOUD_INIT_KEYS for key in cloud_init)
                  and ('user_data' not in cloud_init or isinstance(cloud_init['user_data'], dict)
                       or matches(USER_DATA_RE, cloud_init['user_data']))
                  and isinstance(or_default(cloud_init.get('meta_data'), {}), dict)
                  and isinstance(or_default(cloud_init.get('network_config'), {}), dict))
            got = 'keys ' + ', '.join(text(key) for key in cloud_init)
        else:
            ok = False
            got = 'a ' + type(cloud_init).__name__
        if ok:
            continue
        errors.append(
            '%s: cloud_init takes user_data (a dict, written as #cloud-config, or text'
            ' starting with #cloud-config, #!, #include or Content-Type:), meta_data (a dict) and network_config'
            ' (a dict, network config version 2); got %s.' % (entry_of(guests, guest), got))
    return errors


def restricted_networks(settings):
    """The libvirt networks where kvm_network's hook requires the filter on every guest NIC."""
    out = []
    for bridge in settings.get('network_bridges') or []:
        if bridge.get('restricted', True) and bridge.get('libvirt_network', True):
            out.append(bridge.get('name'))
    for network in settings.get('network_libvirt_networks') or []:
        if network.get('restricted', True):
            out.append(network.get('name'))
    return out


def build(settings):
    """The role's input under one shape, and the input errors (an empty list when there are none).

    settings: guests, base_images, profiles, default_profile, profile_defaults, builtin_profiles,
    profile_choices, nwfilter, nwfilter_ip_learning, cpu_mode, fleet_cpu_model, emulated_cpu_model, emulated_tb_cache_mib,
    shutdown_timeout_seconds, base_image_dir, storage_dir, definition_dir, console_log_dir,
    kvm_network's network_bridges and network_libvirt_networks (when this play sees them), and
    kvm_host's storage_pools.
    """
    profiles, invalid_profiles = merge_profiles(settings)
    images = shape_images(settings)
    pools = pools_by_name(settings.get('storage_pools'))
    guests = shape_guests(settings, images, pools)
    wanted = [guest for guest in guests if guest['state'] != 'undefined']
    unwanted = [guest for guest in guests if guest['state'] == 'undefined']
    fleet_member = settings.get('cpu_mode') == 'fleet' or any(guest['cpu_mode'] == 'fleet' for guest in wanted)
    errors = (check_settings(settings)
              + check_profiles(settings, profiles, invalid_profiles)
              + check_images(images)
              + check_names(settings, guests, profiles)
              + check_guests(guests, profiles, settings.get('cpu_mode'))
              + check_disks(guests, wanted, images, pools)
              + check_nics(guests, wanted, restricted_networks(settings))
              + check_macs(wanted)
              + check_cloud_init(guests, wanted))
    return {
        'profiles': profiles,
        'images': images,
        'guests': guests,
        'wanted': wanted,
        'unwanted': unwanted,
        # A host of the fleet may receive guests from the others: it takes part without guests of its own.
        'declared': len(guests) + len(images) > 0 or settings.get('cpu_mode') == 'fleet',
        # swtpm only when a guest that stays defined has a vTPM.
        'tpm': any((profiles.get(guest['profile']) or {}).get('tpm') for guest in wanted),
        # A host in the fleet gives its CPU to the baseline, which is worked out unless a model is named.
        'fleet_member': fleet_member,
        'fleet_cpu_baseline': fleet_member and not settings.get('fleet_cpu_model'),
        'errors': errors,
    }
