"""Griffe extension for the API reference: the project's docstrings end with an
``Example:`` section whose doctest lines are not indented under the title (so that
they read naturally and run as doctests). Griffe's Google-style parser knows only
an indented ``Examples:`` section and would render these lines as plain text
(``>>>`` as quotes, outputs as Markdown). When a docstring is loaded, this
extension renames the title and indents what follows it, so the doctests render as
Python console code."""

import re

import griffe

EXAMPLE_TITLE = re.compile(r"^Example:[ \t]*$", re.M)


def as_examples_section(docstring):
    """``Example:`` + unindented lines -> ``Examples:`` + indented lines."""
    match = EXAMPLE_TITLE.search(docstring)
    if match is None:
        return docstring
    body = docstring[match.end():].split("\n")
    indented = "\n".join("    " + line if line.strip() else line for line in body)
    return docstring[:match.start()] + "Examples:" + indented


class ExampleSections(griffe.Extension):
    """Applies `as_examples_section` to every docstring."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = as_examples_section(obj.docstring.value)
