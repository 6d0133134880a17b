"""The hotreload engine (C).  The public API is in ``hotreload``; this stub is
the whole contract of the extension module it calls."""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union
import os
from types import ModuleType

class ReloadError(Exception):
    """A reload was refused or failed; nothing was changed."""

    module: Optional[str]
    object: Optional[str]
    reason: str

_ReportDict = Dict[str, Any]  # keys: modules, updated, added, removed, kept, replaced,
                              # stale (lists of str), instances (dict), seconds (float)

def install() -> None: ...
def uninstall() -> None: ...
def installed() -> bool: ...
def reload(*modules: Union[ModuleType, str]) -> _ReportDict: ...
def reload_changed(
    missing: Optional[List[str]] = ..., also: Sequence[Union[ModuleType, str]] = ...
) -> _ReportDict: ...  # also: reloaded in the same transaction
def patch(old: Any, new: Any) -> _ReportDict: ...
def hotfix(source: Optional[str], filename: str) -> _ReportDict: ...  # None: read the file
def call_on_main_thread(callable: Callable[[], object]) -> None: ...
def reloading() -> bool: ...
def recorded() -> List[str]: ...
def changed(
    paths: Optional[Iterable[str]] = ..., missing: Optional[List[str]] = ...
) -> Tuple[List[str], List[str]]: ...  # (changed, looked at); gone files' modules -> missing
def source_allowed(path: Union[str, "os.PathLike[str]"]) -> bool: ...  # the folder policy
def source_path(name: str) -> Optional[str]: ...  # the file a module was recorded from
def watch_unrecorded(name: str, path: str) -> bool: ...  # a module imported before install()
def _configure(
    deny: Optional[Sequence[str]] = ...,
    allow: Optional[Sequence[str]] = ...,
    follow_symlinks: Optional[bool] = ...,
    shared_files: Optional[bool] = ...,
) -> Dict[str, Any]: ...  # deny, allow: tuples of folders; follow_symlinks, shared_files: bool
def _check_writers(path: Union[str, "os.PathLike[str]"]) -> None: ...  # ReloadError: others can write it
def _records() -> Dict[str, tuple]: ...
def _split(source: bytes, indent: int = ...) -> List[Dict[str, Any]]: ...
def _simple_reads(statement: bytes) -> Optional[Set[str]]: ...
