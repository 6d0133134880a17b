"""hotreload: in-place, transactional hot reload for CPython."""
from hotreload import _hotreload  # noqa: F401
