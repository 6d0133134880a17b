"""hotreload: in-place, transactional hot reload for CPython.

New code is poured into the live objects: functions, classes and modules keep
their identity, so every existing reference (``from m import f`` copies,
bound methods, partials, callbacks, instances) runs the new code, and live
data survives.  A reload applies completely or changes nothing.

    import hotreload
    hotreload.install()          # record sources of modules imported from now on
    import game
    ...                          # edit game.py
    report = hotreload.reload(game)
    print(report)                # game: 3 updated, 1 added in 4.2 ms

The engine is the C extension ``hotreload._hotreload``; this module documents
it, converts arguments and logs.
"""
from __future__ import annotations

import logging
import os
import site
import sys
import sysconfig
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Union

from hotreload import _hotreload
from hotreload._hotreload import ReloadError

# The one place the version is written: pyproject.toml reads it from here
# (setuptools reads a literal assignment from the text, without importing
# the package, whose engine is not built yet then); `hotreload --version`
# prints it.  Kept a plain string literal for that reason.
__version__ = "0.1.0"

__all__ = [
    "install",
    "uninstall",
    "installed",
    "reload",
    "reload_changed",
    "patch",
    "configure",
    "hotfix",
    "call_on_main_thread",
    "reloading",
    "recorded",
    "get_include",
    "Report",
    "ReloadError",
    "Watcher",
    "Reloader",
    "Event",
    "load_ipython_extension",
    "unload_ipython_extension",
]

# Tools on top of the engine, imported on first use so that `import hotreload`
# stays as light as the import hook it provides (PEP 562).
_LAZY = {
    "Watcher": "hotreload.watch",
    "Reloader": "hotreload.changes",
    "Event": "hotreload.changes",
    "load_ipython_extension": "hotreload.ipython",
    "unload_ipython_extension": "hotreload.ipython",
}
# Submodules reachable as attributes (``hotreload.fleet.Agent``) without
# an import of their own; imported on first use, like the tools above.
_LAZY_MODULES = ("fleet",)

if TYPE_CHECKING:
    # What type checkers see instead of __getattr__: the real names and
    # types of the lazy tools.  A module-level __getattr__ they could see
    # would make every misspelt name (hotreload.Watchr) valid, of type Any.
    from hotreload import fleet
    from hotreload.changes import Event, Reloader
    from hotreload.ipython import load_ipython_extension, unload_ipython_extension
    from hotreload.watch import Watcher
else:
    def __getattr__(name: str) -> Any:
        if name in _LAZY or name in _LAZY_MODULES:
            import importlib

            if name in _LAZY_MODULES:
                return importlib.import_module(f"hotreload.{name}")
            return getattr(importlib.import_module(_LAZY[name]), name)
        raise AttributeError(f"module 'hotreload' has no attribute {name!r}")

log = logging.getLogger("hotreload")


@dataclass
class Report:
    """What a reload did.

    Every list holds qualified names such as ``"game.Player.attack"``:

    - ``modules``: the modules reloaded, in the order they were processed;
    - ``updated``: functions and classes (and class members) that kept their
      identity and took the new code;
    - ``added`` / ``removed``: names that appeared in / left the source;
    - ``kept``: names the new code would have rebound but whose live value
      was kept (``__reload_keep__``, or data of a module without a recorded
      source);
    - ``replaced``: names bound to a new object (changed data statements, a
      decorator that now returns another kind of object);
    - ``stale``: live functions made at run time (closures, lambdas) that keep
      their old code because their definition no longer exists, or its new
      code needs a variable their closure does not have.

    ``instances`` maps each class name to the number of live instances its
    ``__reload_instance__`` hook ran on; ``classes`` groups the lists by class.
    ``seconds`` is the time the engine took.
    """

    modules: List[str] = field(default_factory=list)
    updated: List[str] = field(default_factory=list)
    added: List[str] = field(default_factory=list)
    removed: List[str] = field(default_factory=list)
    kept: List[str] = field(default_factory=list)
    replaced: List[str] = field(default_factory=list)
    stale: List[str] = field(default_factory=list)
    instances: Dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def classes(self) -> Dict[str, Dict[str, Any]]:
        """Per patched class: its members ``updated``, ``added``, ``removed``
        (member names) and the number of ``instances`` its hook ran on."""
        classes = {name: {"updated": [], "added": [], "removed": [], "instances": 0}
                   for name in self.updated if self._is_class(name)}
        classes.update((name, {"updated": [], "added": [], "removed": [], "instances": 0})
                       for name in self.instances if name not in classes)
        for kind in ("updated", "added", "removed"):
            for name in getattr(self, kind):
                owner, _, member = name.rpartition(".")
                if owner in classes:
                    classes[owner][kind].append(member)
        for name, count in self.instances.items():
            classes[name]["instances"] = count
        return classes

    def _is_class(self, name: str) -> bool:
        # A class is an updated name that other reported names are members of.
        prefix = name + "."
        return any(other.startswith(prefix)
                   for kind in ("updated", "added", "removed", "replaced")
                   for other in getattr(self, kind)) or name in self.instances

    def __str__(self) -> str:
        if not (self.modules or self.updated or self.added or self.removed):
            return "nothing to reload"
        parts = [
            f"{len(getattr(self, kind))} {kind}"
            for kind in ("updated", "added", "removed", "replaced", "kept", "stale")
            if getattr(self, kind)
        ]
        hooked = sum(self.instances.values())
        if hooked:
            parts.append(f"{hooked} instances migrated")
        changes = ", ".join(parts) if parts else "no change"
        where = ", ".join(self.modules) if self.modules else "patch"
        return f"{where}: {changes} in {self.seconds * 1000:.1f} ms"


ModuleRef = Union[ModuleType, str]


def _default_deny() -> list[str]:
    """The standard library and site-packages folders, where code is not reloaded."""
    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    folders.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    if site.ENABLE_USER_SITE and site.USER_SITE:
        folders.add(site.USER_SITE)
    return sorted({os.path.realpath(f) for f in folders} | folders)


def _folders(paths: Iterable[str] | None) -> list[str] | None:
    """Each folder as given and, when it differs, as its real path: a module
    may be imported through either, and symbolic links are checked against
    the real one."""
    if paths is None:
        return None
    out = {}
    for path in paths:
        given = os.path.abspath(os.fspath(path))
        out.update(dict.fromkeys([given, os.path.realpath(given)]))
    return list(out)


def configure(
    *,
    deny: Iterable[str] | None = None,
    allow: Iterable[str] | None = None,
    follow_symlinks: bool | None = None,
    shared_files: bool | None = None,
) -> Dict[str, Any]:
    """Set the folders hotreload trusts (see README, "Trust model").

    ``deny``: folders whose modules are not reloaded (default: the standard
    library and site-packages).  ``allow``: folders allowed even inside a
    denied one; when there is an allow list, hotfix script files are read
    from its folders only.  ``follow_symlinks``: a module or hotfix file whose
    symbolic links lead out of the folders that allow it (or into a denied
    one) is refused unless this is true (default false).  ``shared_files``:
    a module source or hotfix file that users other than this process's
    (effective) user and root can change (the file or any folder above it
    belongs to another user, or is writable by its group or by all, sticky
    folders such as /tmp excepted) is refused unless this is true (default
    false).  Arguments left out keep their value.  Returns the settings in
    force.
    """
    return _hotreload._configure(
        deny=_folders(deny), allow=_folders(allow), follow_symlinks=follow_symlinks,
        shared_files=shared_files,
    )


def install() -> None:
    """Record the source of every module imported from now on (idempotent)."""
    _hotreload.install()


def uninstall() -> None:
    """Stop recording (idempotent); records already made are kept."""
    _hotreload.uninstall()


def installed() -> bool:
    """Whether the import hook is in ``sys.meta_path``."""
    return _hotreload.installed()


def _finish(raw: dict) -> Report:
    report = Report(**raw)
    if report.modules or report.updated:
        log.info("reloaded %s", report)
    return report


def reload(*modules: ModuleRef) -> Report:
    """Reload modules (objects or dotted names) in place, in one transaction.

    Raises ReloadError, with nothing changed, if any of them cannot be reloaded.
    It is raised, not logged: the caller decides what to tell (hotreload's
    own callers, the watcher, ``hotreload run`` and the IPython extension,
    tell it once).
    """
    return _finish(_hotreload.reload(*modules))


# Modules that run source pushed by a fleet (hotreload.fleet) rather than
# their file's: module name -> the fleet version that pushed it.  A save of
# such a file is not applied (it would silently undo the push): it is told
# once per file content, and the module keeps running what was pushed until
# the next push (README, "Fleet").
_pushed: Dict[str, int] = {}
_pushed_told: Dict[str, bytes] = {}


def _leave_pushed(names: Iterable[str]) -> List[str]:
    """``names`` without the modules that run pushed source; each left out
    is logged once per content of its file."""
    kept = []
    for name in names:
        version = _pushed.get(name)
        if version is None:
            kept.append(name)
            continue
        path = _hotreload.source_path(name)
        try:
            with open(path, "rb") as f:
                content = f.read()
        except (OSError, TypeError):
            content = b""
        if _pushed_told.get(name) != content:
            _pushed_told[name] = content
            log.warning("%s: its file %s changed, but the module runs the source pushed "
                        "by fleet version %d: the save is not applied (push the file to "
                        "the fleet to run it)", name, path, version)
    return kept


def reload_changed() -> Report:
    """Reload every recorded module whose source file no longer holds the recorded text,
    and every module imported before install() that a Reloader (the watcher, the
    IPython extension) watches whose file changed since it began watching.
    Modules that run source pushed by a fleet are left as pushed (logged once)."""
    missing: list[str] = []
    if _pushed:
        names, _ = _hotreload.changed(None, missing)
        report = _finish(_hotreload.reload(*_leave_pushed(names)))
    else:
        report = _finish(_hotreload.reload_changed(missing))  # ReloadError: raised, not logged
    for name in missing:
        log.warning("%s: its source file is gone or cannot be read; the module was left "
                    "as it is", name)
    return report


def patch(old: Callable[..., Any], new: Callable[..., Any]) -> Report:
    """Make function or class ``old`` behave as ``new``, in place.

    Every reference to ``old`` (copies, bound methods, partials, instances)
    runs the new code.  Raises ReloadError, with nothing changed, if it cannot.
    """
    return _finish(_hotreload.patch(old, new))


def _script(path_or_source: Union[str, "os.PathLike[str]"]) -> tuple[str, Optional[str]]:
    """The file name and source text of a hotfix script given as a path to a
    ``.py`` file or as its source text.  For a file the text is None: the
    engine reads the file itself, after the folder policy."""
    if isinstance(path_or_source, os.PathLike) or (
        isinstance(path_or_source, str) and "\n" not in path_or_source
        and path_or_source.endswith(".py")
    ):
        return os.path.abspath(os.fspath(path_or_source)), None
    return "<hotfix>", path_or_source


def hotfix(path_or_source: Union[str, "os.PathLike[str]"]) -> Report:
    """Run a hotfix script as one transaction.

    The argument is a path to a ``.py`` file, or the script's source text.  The
    ``hotreload.patch(old, new)`` calls the script makes are collected and
    applied together when it ends; if the script raises (or a patch is
    refused), none is applied and ReloadError says why.  Other statements of
    the script (``weapon_data.gun.damage = 100``) act as they run.

    A script file is read only from the folders ``configure()`` trusts (from
    the allow list when there is one), and not through a symbolic link that
    leads out of them; a source text is trusted as the caller is.
    """
    filename, source = _script(path_or_source)
    return _finish(_hotreload.hotfix(source, filename))  # ReloadError: raised, not logged


def reloading() -> bool:
    """Whether a reload or hotfix is under way (a new one would be refused)."""
    return _hotreload.reloading()


def recorded() -> List[str]:
    """The names of the modules whose source is recorded, sorted."""
    return _hotreload.recorded()


def call_on_main_thread(callable: Callable[[], object]) -> None:
    """Run ``callable()`` on the main thread at its next safe point between
    bytecodes (CPython's pending calls).  Callable from any thread; errors are
    reported through ``sys.unraisablehook`` and never raised into the main
    thread's code."""
    _hotreload.call_on_main_thread(callable)


def get_include() -> str:
    """The folder holding ``hotreload/hotreload_api.h``, the C API for programs
    that embed CPython: compile them with ``-I`` this folder (as with
    ``numpy.get_include()``).  See the README's section for engine authors."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")


configure(deny=_default_deny())
