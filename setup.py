"""Build script for the C engine.

Metadata lives in pyproject.toml; this file only describes the extension.

Environment switches (used by the Makefile, not needed for a normal install):
  HOTRELOAD_STRICT=1    -Wall -Wextra -Werror
  HOTRELOAD_DEBUG=1     -O0 -g3 -UNDEBUG (assertions on)
  HOTRELOAD_SANITIZE=1  AddressSanitizer and UndefinedBehaviorSanitizer
"""
import glob
import os

from setuptools import Extension, setup

ENGINE = "src/hotreload/_engine"
# The public C API header (hotreload.get_include()); capi.c implements it.
INCLUDE = "src/hotreload/include"


def flag(name):
    return os.environ.get(name, "") not in ("", "0")


compile_args = ["-std=c11", "-fvisibility=hidden"]
link_args = []
if flag("HOTRELOAD_STRICT"):
    compile_args += ["-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers"]
if flag("HOTRELOAD_DEBUG"):
    compile_args += ["-O0", "-g3", "-UNDEBUG"]
if flag("HOTRELOAD_SANITIZE"):
    sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    compile_args += sanitize + ["-O1", "-g"]
    link_args += sanitize

# Objects built with one set of switches must never be linked into a build
# with another: setuptools only recompiles a source older than its object,
# so a sanitized build would otherwise reuse the plain objects (and a plain
# one the sanitized).  Each set gets a build folder of its own.
variant = "-".join(
    name.lower() for name in ("STRICT", "DEBUG", "SANITIZE") if flag(f"HOTRELOAD_{name}")
) or "default"

setup(
    options={"build": {"build_base": f"build/{variant}"}},
    ext_modules=[
        Extension(
            "hotreload._hotreload",
            sources=sorted(glob.glob(f"{ENGINE}/*/*.c")),
            # Listed so that editing a header rebuilds every engine file.
            depends=sorted(glob.glob(f"{ENGINE}/*.h") + glob.glob(f"{INCLUDE}/hotreload/*.h")),
            include_dirs=[ENGINE, INCLUDE],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        )
    ]
)
