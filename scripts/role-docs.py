#!/usr/bin/env python
"""Generate, or check, the variables table of each role's README from its argument spec.

Why: every role documents its variables three times, in meta/argument_specs.yml (what
ansible-core validates and ansible-doc shows), in defaults/main.yml (the values the role
really uses: ansible-core never applies an argument spec's default to a role) and in the
README. Written by hand, the three drift apart. This script makes the argument spec the
source of the README's table and fails when any of the three disagree.

    scripts/role-docs.py [--check] [ROLE...]   report, exit 1 on any disagreement (default)
    scripts/role-docs.py --write [ROLE...]     rewrite the generated tables, then report the
                                               disagreements a rewrite cannot fix

The table sits in the README's "## Variables" section between the BEGIN and END markers
below; the prose around it stays hand-written. --write puts the markers in place of the
section's first table the first time. The check fails when, for a role:
  - the README's table is not what the argument spec renders to (a diff is printed);
  - an option's default in the argument spec differs from defaults/main.yml;
  - an option is missing from defaults/main.yml (unless it is required and has no default),
    or defaults/main.yml sets a variable the argument spec does not document;
  - an entry point other than main declares other option names than main;
  - an argument spec carries a default that is a template (defaults/main.yml holds it: ansible-doc
    and antsibull-docs check a spec's default against the option's type, and a template is no
    value until the play runs; the README's table shows the template from defaults/main.yml);
  - the README's "## Variables of other roles" section does not list, as the code span opening
    each bullet, exactly the other roles' variables (and kvmcloud_role_packages) that the role's
    tasks, handlers, vars, defaults and templates use.
"""

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN generated from meta/argument_specs.yml: scripts/role-docs.py --write -->"
END = "<!-- END generated -->"
HEADER = ["| Variable | Type | Default | Required | Description |", "|---|---|---|---|---|"]
# A list or dict default longer than this is not worth a table cell.
MAX_FLOW_DEFAULT = 60
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path):
    """The YAML document at path, or None when the file does not exist."""
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=Loader)


# ---- Rendering ----------------------------------------------------------------------------

def code(text):
    """A Markdown code span holding text."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def escape_plain(text):
    """Text outside code spans, with the characters Markdown would interpret escaped."""
    return re.sub(r"([\\`*<])", r"\\\1", text)


# Ansible's markup: classic C() I() B() M() U() L() R() and the newer O() V() RV() E() P().
MARKUP = re.compile(r"\b(RV|[CVOEMPIBLUR])\(|\bHORIZONTALLINE\b")
ESCAPING = {"O", "V", "RV", "E", "P"}  # these take \) and \\ escapes in their content


def markup_argument(text, start, escaping):
    """The content of a markup call opening at start, and the index after its ')'."""
    if not escaping:
        end = text.find(")", start)
        return (text[start:], len(text)) if end < 0 else (text[start:end], end + 1)
    content, i = [], start
    while i < len(text) and text[i] != ")":
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        content.append(text[i])
        i += 1
    return "".join(content), i + 1


def markup_to_markdown(text):
    """Ansible documentation markup in text converted to Markdown."""
    out, pos = [], 0
    while (match := MARKUP.search(text, pos)) is not None:
        out.append(escape_plain(text[pos:match.start()]))
        kind = match.group(1)
        if kind is None:  # HORIZONTALLINE
            pos = match.end()
            continue
        arg, pos = markup_argument(text, match.end(), kind in ESCAPING)
        out.append(render_markup(kind, arg))
    out.append(escape_plain(text[pos:]))
    return "".join(out)


def render_markup(kind, arg):
    """One markup call, such as C(x) or L(text,url), as Markdown."""
    if kind in ("C", "V", "O", "RV", "E", "M"):
        return code(arg)
    if kind == "P":
        return code(arg.split("#", 1)[0])
    if kind == "I":
        return f"*{escape_plain(arg)}*"
    if kind == "B":
        return f"**{escape_plain(arg)}**"
    if kind == "U":
        return f"<{arg}>"
    text, _comma, target = arg.rpartition(",")  # L(text,url) and R(text,anchor)
    if kind == "L":
        return f"[{escape_plain(text)}]({target.strip()})"
    return escape_plain(text)


def description(spec):
    """The option's description as one line of Markdown: paragraphs joined by spaces."""
    paragraphs = spec.get("description", [])
    if isinstance(paragraphs, str):
        paragraphs = [paragraphs]
    return " ".join(" ".join(markup_to_markdown(str(p)).split()) for p in paragraphs)


def flow(value):
    """value as compact YAML flow: [a, b], {k: v}, "quoted" only where plain would misread."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        return str(value)
    plain = re.fullmatch(r"[\w./@+-]+(?: [\w./@+-]+)*", value)
    if plain and yaml.load(value, Loader=Loader) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def is_template(value):
    return isinstance(value, str) and "{{" in value


def default_cell(spec, top_level, template=None):
    """The Default column: the spec's default (or defaults/main.yml's template) as YAML flow."""
    if "default" not in spec:
        return code(flow(template)) if template is not None else ""
    value = spec["default"]
    rendered = flow(value)
    if top_level and isinstance(value, (dict, list)) and len(rendered) > MAX_FLOW_DEFAULT:
        return f"see {code('defaults/main.yml')}"
    return code(rendered)


def type_cell(spec):
    """The Type column: the type, a list's elements and the choices."""
    cell = spec.get("type", "str")
    if cell == "list" and "elements" in spec:
        cell = f"list of {spec['elements']}"
    if "choices" in spec:
        cell += ", one of " + ", ".join(code(flow(choice)) for choice in spec["choices"])
    return cell


def child_prefix(name, spec):
    """How the sub-options of an option are named: list[].sub or dict.sub."""
    return f"{name}[]." if spec.get("type") == "list" else f"{name}."


def walk(options, prefix=""):
    """(name, spec, top_level) for every option and sub-option, parents first."""
    for name, spec in (options or {}).items():
        spec = spec or {}
        yield prefix + name, spec, not prefix
        yield from walk(spec.get("options"), child_prefix(prefix + name, spec))


def table_row(name, spec, top_level, defaults):
    template = defaults.get(name) if top_level and is_template(defaults.get(name)) else None
    cells = [
        code(name),
        type_cell(spec),
        default_cell(spec, top_level, template),
        "yes" if spec.get("required") else "no",
        description(spec),
    ]
    return "| " + " | ".join(cell.replace("|", r"\|") for cell in cells) + " |"


def render_block(options, defaults):
    """The generated part of the README, markers included, as a list of lines."""
    rows = [table_row(*option, defaults) for option in walk(options)]
    return [BEGIN, *HEADER, *rows, END]


# ---- Checks between the spec, the defaults and the entry points ----------------------------

def canonical(value):
    """A form of value in which true and 1, or "1" and 1, stay different."""
    return json.dumps(value, sort_keys=True, default=str)


def check_defaults(options, defaults):
    """Disagreements between the top-level options and defaults/main.yml."""
    problems = []
    for name, spec in options.items():
        spec = spec or {}
        if name not in defaults:
            if "default" in spec or not spec.get("required"):
                problems.append(f"{name}: in meta/argument_specs.yml but not in defaults/main.yml")
        elif is_template(defaults[name]):
            if "default" in spec:
                problems.append(f"{name}: meta/argument_specs.yml repeats the template default "
                                f"{flow(spec['default'])}; leave it to defaults/main.yml")
        elif "default" not in spec:
            problems.append(f"{name}: no default in meta/argument_specs.yml, "
                            f"defaults/main.yml has {flow(defaults[name])}")
        elif canonical(spec["default"]) != canonical(defaults[name]):
            problems.append(f"{name}: default differs: meta/argument_specs.yml has "
                            f"{flow(spec['default'])}, defaults/main.yml has {flow(defaults[name])}")
    for name in defaults:
        if name not in options:
            problems.append(f"{name}: in defaults/main.yml but not in meta/argument_specs.yml")
    return problems


def option_names(entry_point):
    """The names of an entry point's options and sub-options."""
    return {option[0] for option in walk((entry_point or {}).get("options"))}


def check_entry_points(entry_points):
    """Entry points whose option names (sub-options included) differ from main's."""
    main = option_names(entry_points["main"])
    problems = []
    for entry, spec in entry_points.items():
        names = option_names(spec)
        if entry == "main" or names == main:
            continue
        for label, diff in (("not in main", names - main), ("missing, main has them", main - names)):
            if diff:
                problems.append(f"entry point {entry}: options {label}: {', '.join(sorted(diff))}")
    return problems


# ---- The README ------------------------------------------------------------------------

def find_block(lines):
    """(start, end) of the generated block, END line included, or None."""
    if BEGIN not in lines:
        return None
    start = lines.index(BEGIN)
    try:
        return start, lines.index(END, start) + 1
    except ValueError:
        return None


def first_table_in_variables(lines):
    """(start, end) of the first table of the "## Variables" section; empty after the
    heading when the section has none; None without the section."""
    if "## Variables" not in lines:
        return None
    heading = lines.index("## Variables")
    i = heading + 1
    while i < len(lines) and not lines[i].startswith("## "):
        if lines[i].startswith("|"):
            end = i
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            return i, end
        i += 1
    return heading + 2, heading + 2


def expected_readme(lines, block):
    """The README's lines with the generated block in place, or None when it has no place."""
    span = find_block(lines) or first_table_in_variables(lines)
    if span is None:
        return None
    start, end = span
    return lines[:start] + block + lines[end:]


def rows_by_name(lines):
    """The table rows among lines, keyed by the variable's name in the first cell."""
    rows = {}
    for line in lines:
        cells = line.split(" | ")
        if line.startswith("| `") and len(cells) > 1:
            rows[cells[0][2:].strip("` ")] = line
    return rows


def differing_rows(old_lines, new_lines):
    """Names of the variables whose rows were added, removed or changed."""
    old, new = rows_by_name(old_lines), rows_by_name(new_lines)
    names = [n for n in new if old.get(n) != new[n]] + [n for n in old if n not in new]
    return names


def check_readme(readme, block, write):
    """Problems with the README's table; with write, the table rewritten first."""
    relative = readme.relative_to(ROOT)
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    lines = text.split("\n")
    if BEGIN in lines and find_block(lines) is None:
        return [f"{relative}: the BEGIN marker has no END marker after it"]
    wanted = expected_readme(lines, block)
    if wanted is None:
        return [f"{relative}: no '## Variables' section to hold the generated table"]
    if wanted == lines:
        return []
    if write:
        readme.write_text("\n".join(wanted), encoding="utf-8")
        print(f"wrote {relative}")
        return []
    span = find_block(lines)
    names = differing_rows(lines[span[0]:span[1]] if span else [], block)
    why = "rows differ: " + ", ".join(names) if span and names else (
        "table not generated yet" if not span else "table layout differs")
    diff = difflib.unified_diff(lines, wanted, f"a/{relative}", f"b/{relative}", lineterm="", n=1)
    return [f"{relative}: out of date ({why}); run scripts/role-docs.py --write\n"
            + "\n".join(diff)]


# ---- Variables a role reads from other roles -------------------------------------------

OTHERS_HEADING = "## Variables of other roles"
# Set by playbooks/kvm_host.yml, read by the roles that install packages; and the facts a role
# sets for another (kvm_network's preview, for kvm_guests').
SHARED_VARIABLES = {"kvmcloud_role_packages", "kvm_network_previewed_networks"}
# Where a role uses variables; files/ and meta/ only mention them in prose.
USING_DIRS = ("tasks", "handlers", "vars", "defaults", "templates")


def all_role_variables():
    """Every role's documented variables, and the shared ones."""
    names = set(SHARED_VARIABLES)
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        names |= set(((load_yaml(spec) or {}).get("argument_specs") or {}).get("main", {}).get("options") or {})
    return names


def used_variables_of_others(role, known):
    """The variables of other roles (and shared ones) that the role's own files use, with the
    internal ones (`__<role>_...`, set or registered by another role's tasks)."""
    words = set()
    for folder in USING_DIRS:
        for path in (role / folder).rglob("*"):
            if path.is_file():
                text = "\n".join(line for line in path.read_text(encoding="utf-8").split("\n")
                                 if not line.lstrip().startswith("#"))
                words |= set(re.findall(r"\b_{0,2}[a-z][a-z0-9_]*\b", text))
    others = tuple("__%s_" % other.name for other in role.parent.iterdir() if other.name != role.name)
    return ({word for word in words & known if not word.startswith(role.name + "_")}
            | {word for word in words if word.startswith(others)})


def listed_variables_of_others(lines):
    """The variables the README's section lists, one code span opening each bullet; None without it."""
    if OTHERS_HEADING not in lines:
        return None
    listed = set()
    for line in lines[lines.index(OTHERS_HEADING) + 1:]:
        if line.startswith("## "):
            break
        match = re.match(r"- `([a-z0-9_]+)`", line)
        if match:
            listed.add(match.group(1))
    return listed


def check_variables_of_others(role, known):
    readme = role / "README.md"
    used = used_variables_of_others(role, known)
    listed = listed_variables_of_others(readme.read_text(encoding="utf-8").split("\n"))
    relative = readme.relative_to(ROOT)
    if listed is None:
        return [f"{relative}: no '{OTHERS_HEADING}' section (the role uses: {', '.join(sorted(used)) or 'none'})"]
    problems = []
    if used - listed:
        problems.append(f"{relative}: '{OTHERS_HEADING}' misses {', '.join(sorted(used - listed))}, which the role uses")
    if listed - used:
        problems.append(f"{relative}: '{OTHERS_HEADING}' lists {', '.join(sorted(listed - used))}, which the role does not use")
    return problems


# ---- Main ----------------------------------------------------------------------------------

def check_role(role, write, known):
    """Every problem of one role, each naming the role. known: all_role_variables()."""
    specs = (load_yaml(role / "meta" / "argument_specs.yml") or {}).get("argument_specs") or {}
    if "main" not in specs:
        return [f"{role.name}: meta/argument_specs.yml has no entry point main"]
    options = specs["main"].get("options") or {}
    defaults = load_yaml(role / "defaults" / "main.yml") or {}
    problems = [f"{role.name}: {p}" for p in check_defaults(options, defaults)]
    problems += [f"{role.name}: {p}" for p in check_entry_points(specs)]
    problems += check_readme(role / "README.md", render_block(options, defaults), write)
    problems += check_variables_of_others(role, known)
    return problems


def roles_to_check(names):
    roles = sorted(p.parent.parent for p in ROOT.glob("roles/*/meta/argument_specs.yml"))
    if not names:
        return roles
    unknown = set(names) - {role.name for role in roles}
    if unknown:
        sys.exit(f"no such role with meta/argument_specs.yml: {', '.join(sorted(unknown))}")
    return [role for role in roles if role.name in names]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report disagreements (default)")
    mode.add_argument("--write", action="store_true", help="rewrite the generated tables")
    parser.add_argument("roles", nargs="*", metavar="ROLE", help="only these roles")
    args = parser.parse_args()
    problems = []
    known = all_role_variables()
    for role in roles_to_check(args.roles):
        try:
            problems += check_role(role, args.write, known)
        except (OSError, yaml.YAMLError, AttributeError, TypeError) as error:
            problems.append(f"{role.name}: cannot read: {error}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"role-docs: {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
