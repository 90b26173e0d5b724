# -*- coding: utf-8 -*-
# Copyright (c) kvmcloud.hypervisor developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kvm_audit_textfile
short_description: A kvm_audit result as Prometheus metrics for the node exporter's textfile collector
version_added: 0.4.0
description:
  - One series per control and status (C(pass), C(fail), C(not_applicable), C(unknown)), 1 for the
    status the control has and 0 for the others, so an alert can match C(status="fail") and a graph
    shows when a control moved.
  - The controls left out of the audit get C(kvmcloud_audit_control_evaluated 0); the others 1.
  - No timestamp or evidence text. The file changes only when a status does, so a rerun on an
    unchanged host changes nothing.
options:
  _input:
    description: The registered result of M(kvmcloud.hypervisor.kvm_audit).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The audit result is in the textfile collector's directory
  kvmcloud.hypervisor.config_files:
    files:
      - path: /var/lib/prometheus/node-exporter/kvmcloud_audit.prom
        content: "{{ audit_result | kvmcloud.hypervisor.kvm_audit_textfile }}"
        mode: "0644"
"""

RETURN = r"""
_value:
  description: The metrics in Prometheus' text exposition format.
  type: str
"""

from ansible.errors import AnsibleFilterError

STATUSES = ("pass", "fail", "not_applicable", "unknown")


def label(value):
    """A label value as the exposition format quotes it."""
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def kvm_audit_textfile(result):
    if not isinstance(result, dict) or not isinstance(result.get("controls"), list):
        raise AnsibleFilterError("kvm_audit_textfile expects the registered result of kvmcloud.hypervisor.kvm_audit")
    lines = [
        "# HELP kvmcloud_audit_control_status Hardening baseline control status from kvmcloud.hypervisor.kvm_audit "
        "at the last run: 1 for the status the control has.",
        "# TYPE kvmcloud_audit_control_status gauge",
    ]
    evaluated = []
    for control in result["controls"]:
        if control.get("status") not in STATUSES:
            raise AnsibleFilterError("kvm_audit_textfile: control %r has status %r" % (control.get("id"), control.get("status")))
        evaluated.append(control["id"])
        for status in STATUSES:
            lines.append("kvmcloud_audit_control_status{control=%s,title=%s,status=%s} %d" % (
                label(control["id"]), label(control.get("title", "")), label(status), status == control["status"]))
    lines += [
        "# HELP kvmcloud_audit_control_evaluated Whether the last run evaluated the control (0: left out, such as H5).",
        "# TYPE kvmcloud_audit_control_evaluated gauge",
    ]
    lines += ["kvmcloud_audit_control_evaluated{control=%s} 1" % label(cid) for cid in evaluated]
    lines += ["kvmcloud_audit_control_evaluated{control=%s} 0" % label(cid) for cid in result.get("not_evaluated", [])]
    lines += [
        "# HELP kvmcloud_audit_passed Whether no control failed at the last run.",
        "# TYPE kvmcloud_audit_passed gauge",
        "kvmcloud_audit_passed %d" % (not any(c["status"] == "fail" for c in result["controls"])),
    ]
    return "\n".join(lines) + "\n"


class FilterModule(object):
    def filters(self):
        return {"kvm_audit_textfile": kvm_audit_textfile}
