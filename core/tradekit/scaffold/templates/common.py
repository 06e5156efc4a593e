"""Templates every generated plugin shares: packaging, package, conformance test, README, .gitignore."""

from __future__ import annotations

from string import Template

PYPROJECT = Template("""\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "${dist}"
version = "0.1.0"
description = "${summary}"
readme = "README.md"
requires-python = ">=3.11"
license = "MIT"
keywords = ["tradekit", "trading", "${kind}"]
dependencies = [${dependencies}]

[project.optional-dependencies]
test = ["pytest"]

# This is what plugs the class into tradekit: an entry point in the group of its
# kind. The name on the left is what users type (and the name of its settings
# table, [plugins.${kind}.${name}]).
[project.entry-points."${group}"]
${name} = "${entry_point_value}"

[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
${package} = ["py.typed"]

[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.ruff]
line-length = 110

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP"]
""")

PACKAGE_INIT = Template('''\
"""${dist}: the tradekit ${kind_label} ``${name}``.

${summary}

The plugin is :class:`${class_name}` in :mod:`${package}.${module}`, published
under the entry point ``${name}`` in the ``${group}`` group.
"""

from ${package}.${module} import ${class_name}

__all__ = ["${class_name}"]
''')

CONFORMANCE_TEST = Template('''\
"""tradekit's conformance rules for ${kind_label}s, run against ``${name}``.

Every ``test_*`` method of :class:`${suite}` is one rule of the contract a
${kind_label} keeps; a broken rule fails with its id in brackets (``[${kind}.<rule>]``)
and says what went wrong. Change ``settings`` to the values you want checked.
"""

from __future__ import annotations

from tradekit.testing.conformance import ${suite}

from ${package}.${module} import ${class_name}


class Test${class_name}Conformance(${suite}):
    """The rules every ${kind_label} keeps, with this plugin's settings."""

    plugin = ${class_name}
    # As users write them in tradekit.toml, under [plugins.${kind}.${name}].
    settings = ${conformance_settings}
''')

GITIGNORE = """\
# Python
__pycache__/
*.py[cod]
.venv/
venv/

# Packaging (python -m build)
build/
dist/
*.egg-info/

# Tools
.pytest_cache/
.mypy_cache/
.ruff_cache/

# What tradekit writes when you try the plugin here
tradekit-journal.sqlite3*
tradekit-output/
*.log
"""

README = Template("""\
# ${dist}

${summary}

A plugin for [tradekit](https://pypi.org/project/tradekit/): the ${kind_label} `${name}`, class
`${class_name}` in `src/${package}/${module}.py`, found by tradekit through the entry point
`${name}` in the `${group}` group (see `pyproject.toml`).

## Install

From PyPI, once published:

```
pip install ${dist}
```

From this folder, while you work on it (editable, with the test tools):

```
python -m pip install -e ".[test]"
```

Check that tradekit sees it, that it loads and that its settings validate with your config:

```
tradekit plugins list --kind ${kind}
tradekit plugins info ${name}
tradekit plugins doctor --kind ${kind}
```

## Use

${usage}

## Settings

Set them in `tradekit.toml` under `[plugins.${kind}.${name}]`, or as environment variables
(`TRADEKIT_PLUGINS__${env_kind}__${env_name}__<SETTING>`). Unknown keys are refused.

| setting | default | meaning |
|---|---|---|
${settings_rows}

## Test

```
python -m pip install -e ".[test]"
pytest
```

- `tests/test_conformance.py` runs tradekit's conformance suite for ${kind_label}s
  (`tradekit.testing.conformance.${suite}`) against the plugin: every rule a ${kind_label} must keep.
  A broken rule fails with its id in brackets, e.g. `[${kind}.<rule>]`, and says what went wrong.
- `tests/test_${module}.py` tests what this ${kind_label} does, and that the entry point finds it.

## Publish

Set `version` in `pyproject.toml` for each release (and add your name in an `authors` entry), then:

```
python -m pip install build twine
python -m build                      # writes dist/${package}-<version>.tar.gz and a wheel
python -m twine check dist/*
python -m twine upload --repository testpypi dist/*   # try it on TestPyPI first
python -m twine upload dist/*
```

After that, `pip install ${dist}` is all a user needs: tradekit finds the plugin by its entry point.
Installing it never starts anything: users choose it by name in their command or `tradekit.toml`.
""")
