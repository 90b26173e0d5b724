# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_guests_plan
short_description: kvm_guests' input under one shape, with the input errors
version_added: 0.4.0
description:
  - Merges the profiles over their defaults, and fills in every default of the base images and the guests
    (disk paths, NIC filters, seed path), as the kvmcloud.hypervisor.kvm_guests role and its template use them.
  - Checks what the role's argument spec cannot express and returns one message per error, each starting from
    the variable to fix.
  - Lists what M(kvmcloud.hypervisor.kvm_guests_state) must read on the host for this input.
options:
  _input:
    description:
      - The role's settings (the role's C(__kvm_guests_settings)) - C(guests), C(base_images), C(profiles),
        C(default_profile), C(profile_defaults), C(builtin_profiles), C(profile_choices), C(nwfilter),
        C(nwfilter_ip_learning), C(emulated_cpu_model), C(emulated_tb_cache_mib), C(shutdown_timeout_seconds),
        C(base_image_dir), C(storage_dir), C(definition_dir), C(console_log_dir), C(libvirt_config_dir), and
        kvm_network's C(network_bridges) and C(network_libvirt_networks).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Gather the guests under one shape
  ansible.builtin.set_fact:
    __kvm_guests_plan: "{{ __kvm_guests_settings | kvmcloud.hypervisor.kvm_guests_plan }}"

- name: The input is valid
  ansible.builtin.assert:
    that: __kvm_guests_plan.errors | length == 0
    fail_msg: "{{ __kvm_guests_plan.errors | join('\n') }}"
"""

RETURN = r"""
_value:
  description:
    - C(profiles) (name to merged profile), C(images), C(guests) (every guest, defaults filled in), C(wanted) and
      C(unwanted) (the guests that stay defined, and those declared undefined), C(declared) (true when there is
      any guest or image), C(tpm) (a guest that stays defined has a vTPM), C(errors) (input errors, possibly
      empty) and C(query) (arguments for M(kvmcloud.hypervisor.kvm_guests_state)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

SETTINGS = ('guests', 'base_images', 'profiles', 'default_profile', 'profile_defaults', 'builtin_profiles',
            'profile_choices', 'nwfilter', 'nwfilter_ip_learning', 'emulated_cpu_model', 'emulated_tb_cache_mib',
            'shutdown_timeout_seconds', 'base_image_dir', 'storage_dir', 'definition_dir', 'console_log_dir',
            'network_bridges', 'network_libvirt_networks', 'libvirt_config_dir')


def kvm_guests_plan(settings):
    # Imported here: to find one filter, Ansible imports every filter file of the collection.
    from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.guests import plan, shape
    if not isinstance(settings, dict):
        raise AnsibleFilterError('kvm_guests_plan expects a dict of settings, got %s' % type(settings).__name__)
    missing = [key for key in SETTINGS if key not in settings]
    if missing:
        raise AnsibleFilterError('kvm_guests_plan: settings lack %s' % ', '.join(missing))
    shaped = shape.build(settings)
    shaped['query'] = plan.state_query(shaped, settings)
    return shaped


class FilterModule(object):
    def filters(self):
        return {'kvm_guests_plan': kvm_guests_plan}
