"""The built docs site, as headless Chromium renders it: a page per module, filter and role.

The plugins come from ansible-doc's listing of the installed collection, the roles from that
listing and the roles/ folder, the guides
from docs/docsite/extra-docs.yml, so a new one without a page fails here. Each page is loaded
in Chromium (its DOM after scripts ran), must carry its title and its options, and must not be
antsibull-docs' page for malformed documentation. Every link from one page of the site to
another must reach a file of the site and, where it names an anchor, an element with that id.
Links leaving the site (docs.ansible.com, Galaxy) are listed, not followed: our machines reach
no web site.

Usage: check_site.py BUILD_HTML_DIR COLLECTION_ROOT
"""

import concurrent.futures
import html.parser
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import urllib.parse

import yaml

COLLECTION = 'kvmcloud.hypervisor'
PAGES_DIR = 'collections/kvmcloud/hypervisor'
# What each kind of page shows once its documentation parsed (antsibull-docs' templates).
KIND_MARKERS = {
    'module': 'Parameters',
    'filter': 'Input',
    'role': 'Entry point main',
}
CHROMIUM = ['chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync']


class Page(html.parser.HTMLParser):
    """The parts of a rendered page the checks read: headings, ids, links and visible text."""

    def __init__(self):
        super().__init__()
        self.h1 = []
        self.ids = set()
        self.links = []
        self.text = []
        self._in_h1 = False
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get('id'):
            self.ids.add(attrs['id'])
        if tag == 'a' and attrs.get('href'):
            self.links.append(attrs['href'])
        if tag == 'h1':
            self._in_h1 = True
        if tag in ('script', 'style'):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag == 'h1':
            self._in_h1 = False
        if tag in ('script', 'style') and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if self._skip:
            return
        if self._in_h1:
            self.h1.append(data)
        self.text.append(data)

    @property
    def title(self):
        return ' '.join(''.join(self.h1).split()).rstrip('\uf0c1 ')

    @property
    def words(self):
        return ' '.join(' '.join(self.text).split())


def listed(kind):
    """Short names of the collection's plugins or roles of KIND, as ansible-doc lists them."""
    out = subprocess.run(['ansible-doc', '-t', kind, '-l', COLLECTION, '--json'],
                         check=True, capture_output=True, text=True).stdout
    names = json.loads(out)
    if kind == 'role':  # {collection: {roles: {name: ...}}} or {fqcn: ...}, by ansible-core release
        names = names.get(COLLECTION, {}).get('roles', names)
    if not names:
        raise RuntimeError('ansible-doc lists no %s of %s: its pages cannot be checked' % (kind, COLLECTION))
    return sorted(name.split('.')[-1] for name in names)


def without_options(modules):
    """The modules whose documentation declares no option: their pages have no 'Parameters'
    section, and show their return values instead. One ansible-doc call for all of them."""
    out = subprocess.run(['ansible-doc', '-t', 'module', '--json'] + ['%s.%s' % (COLLECTION, name) for name in modules],
                         check=True, capture_output=True, text=True).stdout
    docs = json.loads(out)
    return {name for name in modules if not docs['%s.%s' % (COLLECTION, name)]['doc'].get('options')}


def roles(collection_root):
    """The collection's roles: ansible-doc's listing and the roles/ folder, so a role that
    ansible-doc misses still needs its page."""
    on_disk = [name for name in os.listdir(os.path.join(collection_root, 'roles'))
               if os.path.isfile(os.path.join(collection_root, 'roles', name, 'meta', 'argument_specs.yml'))]
    return sorted(set(on_disk) | set(listed('role')))


def expected_pages(collection_root):
    """{relative path: (kind, what its h1 must say, a section it must show)} for every page the
    site must have."""
    pages = {}
    for kind in KIND_MARKERS:
        names = roles(collection_root) if kind == 'role' else listed(kind)
        optionless = without_options(names) if kind == 'module' else set()
        for name in names:
            marker = 'Return Values' if name in optionless else KIND_MARKERS[kind]
            pages['%s/%s_%s.html' % (PAGES_DIR, name, kind)] = (kind, '%s.%s %s' % (COLLECTION, name, kind), marker)
    with open(os.path.join(collection_root, 'docs', 'docsite', 'extra-docs.yml'), encoding='utf-8') as handle:
        extra = yaml.safe_load(handle)
    for section in extra['sections']:
        for doc in section['toctree']:
            pages['%s/docsite/%s.html' % (PAGES_DIR, doc)] = ('guide', None, None)
    return pages


def render(path, profile):
    """The DOM of file PATH after Chromium loaded it, parsed. A browser that exits without a
    page is tried once more, in a fresh profile, and the failure is printed either way. PATH
    goes in as a file URI: a '#', '%' or '?' in the checkout's path would otherwise break it."""
    for attempt in (1, 2):
        result = subprocess.run(CHROMIUM + ['--user-data-dir=%s-%d' % (profile, attempt), '--dump-dom', pathlib.Path(path).as_uri()],
                                capture_output=True, text=True, timeout=120, check=False)
        if result.returncode == 0 and '<html' in result.stdout:
            break
        # Without a session bus Chromium logs dbus errors on every start: they are not the cause.
        stderr = [line for line in result.stderr.splitlines() if 'dbus' not in line and line.strip()]
        failure = 'chromium could not render %s (exit %d, try %d): %s' % (
            path, result.returncode, attempt, '\n'.join(stderr)[-800:])
        print(failure, flush=True)
    else:
        raise RuntimeError(failure)
    page = Page()
    page.feed(result.stdout)
    return page


def check(site, collection_root):
    problems = []
    pages = expected_pages(collection_root)
    missing = [path for path in pages if not os.path.isfile(os.path.join(site, path))]
    problems += ['no page %s' % path for path in missing]
    to_render = ['index.html'] + [path for path in pages if path not in missing]
    with tempfile.TemporaryDirectory() as profiles:
        # Two browsers at a time (two cores); each its own profile, as Chromium wants.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = dict((path, pool.submit(render, os.path.join(site, path), os.path.join(profiles, str(i))))
                           for i, path in enumerate(to_render))
            rendered = dict((path, future.result()) for path, future in futures.items())

    for path, (kind, title, marker) in sorted(pages.items()):
        if path not in rendered:
            continue
        page = rendered[path]
        if title and not (page.title == title or page.title.startswith(title + ' \u2013 ')):
            problems.append('%s: heading %r, expected %r' % (path, page.title, title))
        if not page.title:
            problems.append('%s: no heading' % path)
        if 'was malformed' in page.words:
            problems.append('%s: antsibull-docs says the documentation was malformed' % path)
        elif marker and marker not in page.words:
            problems.append('%s: no %r section' % (path, marker))

    external = set()
    checked = 0
    for path, page in sorted(rendered.items()):
        for href in page.links:
            url = urllib.parse.urlparse(href)
            if url.scheme in ('http', 'https', 'mailto'):
                external.add('%s://%s' % (url.scheme, url.netloc))
                continue
            if url.scheme not in ('', 'file'):
                problems.append('%s: link %s of scheme %s' % (path, href, url.scheme))
                continue
            if url.scheme == 'file':
                target = url.path
            elif url.path.startswith('/'):  # the site's root, where it is served
                target = os.path.join(site, url.path.lstrip('/'))
            elif url.path:
                target = os.path.normpath(os.path.join(os.path.dirname(os.path.join(site, path)), url.path))
            else:
                target = os.path.join(site, path)
            checked += 1
            if os.path.isdir(target):
                target = os.path.join(target, 'index.html')
            if not os.path.isfile(target):
                problems.append('%s: link %s leads to no file' % (path, href))
                continue
            if url.fragment and target.endswith('.html'):
                relative = os.path.relpath(target, site)
                ids = rendered[relative].ids if relative in rendered else ids_of(target)
                if urllib.parse.unquote(url.fragment) not in ids:
                    problems.append('%s: link %s names no element of %s' % (path, href, relative))
    print('rendered %d pages in Chromium (%d modules, filters and roles, %d guides); %d links within the site '
          'resolve; links leaving it, not followed: %s'
          % (len(rendered), sum(1 for kind, _title, _marker in pages.values() if kind != 'guide'),
             sum(1 for kind, _title, _marker in pages.values() if kind == 'guide'), checked, ', '.join(sorted(external)) or 'none'))
    return problems


def ids_of(path):
    page = Page()
    with open(path, encoding='utf-8') as handle:
        page.feed(handle.read())
    return page.ids


def main():
    site, collection_root = (os.path.abspath(arg) for arg in sys.argv[1:3])
    problems = check(site, collection_root)
    for problem in problems:
        print('FAIL ' + problem)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
