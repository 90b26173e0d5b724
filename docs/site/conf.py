# Copyright (c) Ansible Project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Created with antsibull-docs 2.28.0 (`antsibull-docs sphinx-init --use-current kvmcloud.hypervisor`),
# then changed where our machines differ: they reach no documentation site, so there is no
# intersphinx inventory to load, and references into Ansible's own docs become plain links to
# docs.ansible.com (ansible_docs_links below) instead of failing the build.

import re

from docutils import nodes

project = 'kvmcloud.hypervisor'
copyright = 'kvmcloud.hypervisor contributors'

title = 'kvmcloud.hypervisor documentation'
html_short_title = 'kvmcloud.hypervisor documentation'

extensions = ['sphinx.ext.autodoc', 'sphinx_antsibull_ext']

pygments_style = 'ansible'

highlight_language = 'YAML+Jinja'

html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False

display_version = False

html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = 'any'

nitpicky = True

ANSIBLE_DOCS = 'https://docs.ansible.com/projects/ansible/devel/'
# Labels of Ansible's docs that antsibull-docs' pages refer to, and their pages there.
ANSIBLE_DOCS_LABELS = {
    'ansible_configuration_settings': 'reference_appendices/config.html',
    'action_plugins': 'plugins/action.html',
    'common_return_values': 'reference_appendices/common_return_values.html',
}
# A plugin of another collection (ansible.builtin, ansible.posix, community.general...): its page
# in the Ansible package's docs. Our own collection's labels are never sent there.
# An option's label adds __<anchor>.
OTHER_PLUGIN = re.compile(r'^ansible_collections\.(?!kvmcloud\.hypervisor\.)(\w+)\.(\w+)\.(\w+?)_([a-z]+)(?:__(\S+))?$')


def ansible_docs_links(app, env, node, contnode):
    """A reference Sphinx cannot resolve here, pointing into Ansible's docs: link it there."""
    if node.get('reftype') != 'ref':
        return None
    target = node.get('reftarget', '')
    match = OTHER_PLUGIN.match(target)
    if match:
        namespace, name, plugin, kind, anchor = match.groups()
        url = '%scollections/%s/%s/%s_%s.html' % (ANSIBLE_DOCS, namespace, name, plugin, kind)
        if anchor:
            url += '#' + anchor
    elif target in ANSIBLE_DOCS_LABELS:
        url = ANSIBLE_DOCS + ANSIBLE_DOCS_LABELS[target]
    else:
        return None  # ours, or unknown: Sphinx warns and the build fails (-W)
    return nodes.reference('', '', contnode, refuri=url, internal=False)


def setup(app):
    app.connect('missing-reference', ansible_docs_links)
