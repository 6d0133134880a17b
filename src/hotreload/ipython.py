"""The IPython / Jupyter extension: reload changed modules before each cell.

    %load_ext hotreload
    %hotreload            # or: %hotreload status
    %hotreload off        # stop reloading before cells
    %hotreload on
    %hotreload now        # reload changed modules now

Loading the extension calls ``hotreload.install()``.  Modules imported
before it are reloadable too: the first change to such a module runs its
new source in full (functions and classes are patched, data is kept) and
the module is recorded from then on.  A refused reload is printed briefly
(once per content of the file) and the cell runs anyway, on the code that
was there.
"""
from __future__ import annotations

import sys
from typing import Any, List, Optional

import hotreload
from hotreload import _hotreload
from hotreload.changes import Event, Reloader

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

PREFIX = "[hotreload] "


class Extension:
    """The state of the extension in one IPython shell."""

    def __init__(self, shell) -> None:
        self.shell = shell
        self.enabled = True
        self.reloader = Reloader()

    def pre_run_cell(self, info=None) -> None:
        """IPython's ``pre_run_cell`` event: reload what changed."""
        if self.enabled:
            self.tell(self.reloader.apply(), successes=False)

    def tell(self, events: List[Event], successes: bool) -> None:
        for event in events:
            if event.problem:
                print(PREFIX + event.format(), file=sys.stderr)
            elif successes:
                print(PREFIX + event.format())

    def magic(self, line: str) -> None:
        """%hotreload [status|on|off|now]: see the module docstring."""
        command = line.strip() or "status"
        if command == "status":
            print(self.status())
        elif command == "on":
            self.enabled = True
            print(PREFIX + "on: changed modules are reloaded before each cell")
        elif command == "off":
            self.enabled = False
            print(PREFIX + "off: cells run without reloading (%hotreload on to resume)")
        elif command == "now":
            events = self.reloader.apply()
            self.tell(events, successes=True)
            if not events:
                print(PREFIX + "nothing to reload")
        else:
            print(f"{PREFIX}unknown subcommand {command!r}: use status, on, off or now",
                  file=sys.stderr)

    def status(self) -> str:
        lines = [
            f"{PREFIX}{'on' if self.enabled else 'off'}; import hook "
            f"{'installed' if hotreload.installed() else 'not installed'}; "
            f"{len(hotreload.recorded())} modules recorded",
        ]
        last: Optional[Event] = self.reloader.last
        lines.append(f"  last: {last.message if last else 'no reload yet'}")
        for event in self.reloader.standing_errors():
            lines.append(f"  waiting for a good save: {event.message}")
        return "\n".join(lines)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext hotreload``: install the import hook, reload changed
    modules before each cell, and add the ``%hotreload`` magic."""
    hotreload.install()
    extension = Extension(ipython)
    ipython.events.register("pre_run_cell", extension.pre_run_cell)
    ipython.register_magic_function(extension.magic, magic_kind="line", magic_name="hotreload")
    _extensions[id(ipython)] = extension


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext hotreload``: stop reloading before cells and remove the
    magic.  The import hook stays installed (records cost nothing)."""
    extension = _extensions.pop(id(ipython), None)
    if extension is None:
        return
    ipython.events.unregister("pre_run_cell", extension.pre_run_cell)
    ipython.magics_manager.magics["line"].pop("hotreload", None)


_extensions: dict = {}
